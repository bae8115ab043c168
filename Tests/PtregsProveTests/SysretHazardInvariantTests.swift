import PtregsProve
import SpecElaboration
import XCTest

/// Invariant `sysret`, SYSRET/SYSEXIT hazards (docs/model.md, "6. SYSRET/SYSEXIT hazards";
/// Sources/StackSemantics/Invariants/SysretHazard.swift).
final class SysretHazardInvariantTests: XCTestCase {
    /// Returns by SYSRET only when pt_regs.ip is below TASK_SIZE_MAX and flags has no
    /// TF, RF or VM; otherwise by IRET from the pt_regs frame (the later kernels' check).
    static let checkedSysret = """
    \tcmpq $0x33, CS(%rsp)
    \tjne 1f
    \tcmpq $0x2b, SS(%rsp)
    \tjne 1f
    \tmovq RIP(%rsp), %rcx
    \tmovq $0x00007ffffffff000, %r11
    \tcmpq %r11, %rcx
    \tjae 1f
    \tmovq EFLAGS(%rsp), %r11
    \ttestq $0x30100, %r11
    \tjnz 1f
    \tmovq RSP(%rsp), %rsp
    \tswapgs
    \tsysretq
    1:\tmovq RCX(%rsp), %rcx
    \tmovq R11(%rsp), %r11
    \taddq $RIP, %rsp
    \tswapgs
    \tiretq
    """

    static func result(_ report: CheckReport, _ path: String) throws -> InvariantResult {
        try XCTUnwrap(report.paths.first { $0.name == path }?.results.first { $0.invariant == .sysretHazard })
    }

    func testSyscallFastPathReturningTheCPUsRipAndFlagsProves() {
        // rcx and r11 still hold what SYSCALL put there: trusted, whatever their bits.
        let report = SpecHarness.check(GSParityInvariantTests.syscallPath("sc", body: GSParityInvariantTests.goodBody))
        SpecHarness.assertOthersProved(report, path: "sc", except: [])
    }

    func testTracedSysretWithoutChecks() throws {
        // CVE-2014-4699: a ptrace stop writes a non-canonical ip into pt_regs, and the
        // SYSRET path returns it: Intel CPUs raise #GP in ring 0 on the user's rsp. The
        // same stop may set TF or RF in flags, which SYSRET cannot restore faithfully.
        let spec = PtraceInvariantTests.tracedSyscall()
        let report = SpecHarness.check(spec)
        let r = try Self.result(report, "tracesys")
        XCTAssertEqual(Set(r.violations.map(\.mechanism.description)), ["sysret rip at sysretq", "sysret flags at sysretq"])
        let rip = try XCTUnwrap(r.violations.first { $0.mechanism.subject == "rip" }?.counterexample)
        XCTAssertEqual(rip.location.line, SpecHarness.line("<-exit", in: spec))
        XCTAssertTrue(rip.requirement.contains("sysretq must not return to a non-canonical address in rcx"), rip.requirement)
        // The replayed run's ip came from the tracer, and is non-canonical.
        let written = try XCTUnwrap(rip.inputs.first { $0.0.hasPrefix("ptrace.ip@") }?.1, "inputs: \(rip.inputs)")
        XCTAssertNotEqual((written &+ (1 << 47)) >> 48, 0, "ip 0x\(String(written, radix: 16)) is canonical")
        XCTAssertTrue(rip.inputs.contains { $0.0.hasPrefix("ptrace.wrote.ip@") && $0.1 == 1 }, "inputs: \(rip.inputs)")
        let flags = try XCTUnwrap(r.violations.first { $0.mechanism.subject == "flags" }?.counterexample)
        let r11 = try XCTUnwrap(SpecHarness.value(flags, "r11").flatMap { UInt64($0.dropFirst(2), radix: 16) })
        XCTAssertNotEqual(r11 & 0x30100, 0)
    }

    func testTracedSysretBehindTheCanonicalAndFlagsChecksProves() {
        let report = SpecHarness.check(PtraceInvariantTests.tracedSyscall(exit: Self.checkedSysret))
        SpecHarness.assertOthersProved(report, path: "tracesys", except: [])
    }

    func testExpectationsNameSysretMechanisms() throws {
        let spec = PtraceInvariantTests.tracedSyscall() + "\n.expect sysret rip flags at sysretq"
        let report = SpecHarness.check(spec)
        XCTAssertEqual(try Self.result(report, "tracesys").status, .pass)
        let limited = SpecHarness.check(PtraceInvariantTests.tracedSyscall() + "\n.limit sysret rip at sysretq reason=\"putreg refuses it\"")
        let r = try Self.result(limited, "tracesys")
        XCTAssertEqual(r.limits.map(\.mechanism.subject), ["rip"])
        XCTAssertEqual(r.unexpected.map(\.mechanism.subject), ["flags"])
    }

    /// SYSEXIT paths: rip in rdx, rsp in rcx.
    static func sysexit(_ name: String, rsp: String, _ instruction: String) -> String {
        """
        .percpu kernel_stack stack
        .path \(name) entry=syscall
        \(name):
        \tswapgs
        \tmovq %rcx, %rdx
        \tmovq \(rsp), %rcx
        \tswapgs
        \t\(instruction)     # <-exit
        """
    }

    func testSysexitWithTheUsersRipAndRspProves() {
        let report = SpecHarness.check(Self.sysexit("se", rsp: "%rsp", "sysexitq"))
        SpecHarness.assertOthersProved(report, path: "se", except: [])
    }

    func testSysexitqWithARspFromAnotherRegister() throws {
        let spec = Self.sysexit("se", rsp: "%rdi", "sysexitq")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "se", .sysretHazard, blamedLine: SpecHarness.line("<-exit", in: spec),
                                   requirementContains: "must not load rsp with a non-canonical address in rcx")
        XCTAssertEqual(try Self.result(report, "se").violations.map(\.mechanism.description), ["sysret rsp at sysexitq"])
    }

    func testThirtyTwoBitSysexitZeroExtendsAndCannotFault() {
        // sysexitl takes edx and ecx zero-extended: always canonical (the other
        // invariants see the wrong rsp).
        let report = SpecHarness.check(Self.sysexit("se", rsp: "%rdi", "sysexit"))
        SpecHarness.assertProved(report, path: "se", .sysretHazard)
    }

    func testUnknownSysretMechanismIsAnInputError() {
        let report = SpecHarness.check(Self.sysexit("se", rsp: "%rsp", "sysexitq") + "\n.expect sysret rcx at sysexitq")
        XCTAssertTrue(report.diagnostics.first?.message.contains("unknown sysret mechanism 'rcx' (expected one of: rip, rsp, flags)") == true,
                      "\(report.diagnostics)")
    }
}
