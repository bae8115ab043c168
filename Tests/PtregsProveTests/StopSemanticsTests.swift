@testable import PtregsProve
import SpecElaboration
import XCTest

/// Ptrace stops (issue 14, item 8): a stop is a point where a tracer *may* be attached
/// and *may* write any field it observes — the runs where it writes nothing, some
/// fields or all are all checked — and a `maystop` function stops only in some runs.
final class StopSemanticsTests: XCTestCase {
    /// An int $0x80 path that builds pt_regs by pushes, calls a stop, and pops every
    /// register back for IRET. `r8` is what it pushes in r8's place.
    static func int80(r8: String = "%r8", stop: String = "stop") -> String {
        """
        .extern trace_stop \(stop) reason="a tracer may be attached here"
        .path sys80 entry=int80
        sys80:
        \tswapgs
        \tmovl %eax, %eax      # the 32-bit syscall number
        \tpushq %rax
        \tpushq %rdi
        \tpushq %rsi
        \tpushq %rdx
        \tpushq %rcx
        \tpushq $-38
        \tpushq \(r8)          # <-push-r8
        \tpushq %r9
        \tpushq %r10
        \tpushq %r11
        \tpushq %rbx
        \tpushq %rbp
        \tpushq %r12
        \tpushq %r13
        \tpushq %r14
        \tpushq %r15
        \tmovq %rsp, %rdi
        \tcall trace_stop      # <-stop
        \tpopq %r15
        \tpopq %r14
        \tpopq %r13
        \tpopq %r12
        \tpopq %rbp
        \tpopq %rbx
        \tpopq %r11
        \tpopq %r10
        \tpopq %r9
        \tpopq %r8            # <-pop-r8
        \tpopq %rax
        \tpopq %rcx
        \tpopq %rdx
        \tpopq %rsi
        \tpopq %rdi
        \taddq $8, %rsp
        \tswapgs
        \tiretq               # <-exit
        """
    }

    func input(_ cx: Counterexample?, _ prefix: String) -> UInt64? {
        cx?.inputs.first { $0.0.hasPrefix(prefix) }?.1
    }

    /// The stop's trace note: which fields the tracer wrote in the replayed run.
    func stopNote(_ cx: Counterexample?, _ spec: String) -> String? {
        cx?.steps.first { $0.sourceLocation.line == SpecHarness.line("<-stop", in: spec) }?.notes.first
    }

    // MARK: stop

    /// Pushing $0 for r8 and popping it back gives the user r8 = 0 in every run where
    /// the tracer does not write r8 — the stop no longer hides it.
    func testInt80PushZeroForR8ThroughAStopIsViolatedInTheRunWithoutATracerWrite() {
        let spec = Self.int80(r8: "$0")
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "sys80", .restoreMatchesSave, blamedLine: SpecHarness.line("<-pop-r8", in: spec),
                                            requirementContains: "r8 must hold the user's value (pt_regs.r8) when `iretq`")
        XCTAssertTrue(cx?.requirement.contains("which held pushed by `pushq $0` (line \(SpecHarness.line("<-push-r8", in: spec)))") == true, cx?.requirement ?? "")
        XCTAssertEqual(input(cx, "ptrace.wrote.r8@"), 0, "the replayed run is one where the tracer left r8 alone")
        XCTAssertEqual(SpecHarness.value(cx, "r8"), "0x0")
        let note = stopNote(cx, spec)
        XCTAssertTrue(note?.hasPrefix("tracer stop: the tracer wrote") == true, note ?? "no note")
        XCTAssertFalse(note?.contains(" r8,") == true || note?.hasSuffix(" r8") == true, note ?? "")
        // The tracer sees the 0 too.
        SpecHarness.assertViolated(report, path: "sys80", .ptraceConsistency, blamedLine: SpecHarness.line("<-stop", in: spec),
                                   requirementContains: "pt_regs.r8 seen by trace_stop")
    }

    /// Every register saved and given back from pt_regs: whatever the tracer writes (all,
    /// some, nothing) is what the user gets, so everything proves.
    func testStopWhoseWritesArePropagatedProves() {
        let report = SpecHarness.check(Self.int80())
        SpecHarness.assertOthersProved(report, path: "sys80", except: [])
    }

    /// The syscall slow path with the SYSRET exit from pt_regs (the tracer's ip, flags
    /// and sp honoured) and with IRET: proved under the may-write stop.
    func testTracedSyscallHonouringWritesProvesUnderTheMayWriteStop() {
        for exit in [PtraceInvariantTests.sysretFromPtRegs, PtraceInvariantTests.iretFromPtRegs] {
            let report = SpecHarness.check(PtraceInvariantTests.tracedSyscall(exit: exit))
            // SYSRET returning what the tracer wrote is CVE-2014-4699's hazard (SysretHazardInvariantTests).
            SpecHarness.assertOthersProved(report, path: "tracesys", except: exit == PtraceInvariantTests.sysretFromPtRegs ? [.sysretHazard] : [])
        }
    }

    /// A callee-saved register not reloaded after the stop is wrong only in the runs
    /// where the tracer writes it: the counterexample is such a run.
    func testStaleRegisterAfterAStopIsViolatedInTheRunWhereTheTracerWroteIt() {
        let restores = PtraceInvariantTests.restoreAll.replacingOccurrences(of: "\tmovq RBX(%rsp), %rbx\n", with: "")
        let spec = PtraceInvariantTests.tracedSyscall().replacingOccurrences(of: PtraceInvariantTests.restoreAll, with: restores)
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "tracesys", .restoreMatchesSave, blamedLine: SpecHarness.line("<-exit", in: spec),
                                            requirementContains: "rbx must hold the user's value (pt_regs.bx) when `sysretq`")
        XCTAssertTrue(cx?.requirement.contains("rbx still holds its value from the path's entry") == true, cx?.requirement ?? "")
        XCTAssertEqual(input(cx, "ptrace.wrote.bx@"), 1)
        XCTAssertTrue(stopNote(cx, spec)?.contains("bx") == true, stopNote(cx, spec) ?? "no note")
    }

    // MARK: maystop

    func testMaystopParses() throws {
        let report = SpecHarness.check(".extern syscall_trace_enter maystop ax=-38\n.path f entry=function\nf:\n\tret\n")
        XCTAssertEqual(report.diagnostics, [])
        let bad = SpecHarness.check(".extern f mightstop\n.path g entry=function\ng:\n\tret\n")
        XCTAssertTrue(bad.diagnostics.first?.message.contains("'maystop'") == true, "\(bad.diagnostics)")
    }

    /// A `maystop` call: the pushed $0 reaches the user in the runs where no stop
    /// happens (or the tracer leaves r8) — restore — and the tracer sees it only in
    /// runs where the stop happens — ptrace.
    func testMaystopChecksTheRunsWithAndWithoutTheStop() {
        let spec = Self.int80(r8: "$0", stop: "maystop")
        let report = SpecHarness.check(spec)
        let restore = SpecHarness.assertViolated(report, path: "sys80", .restoreMatchesSave, blamedLine: SpecHarness.line("<-pop-r8", in: spec))
        XCTAssertTrue(input(restore, "ptrace.stop@") == 0 || input(restore, "ptrace.wrote.r8@") == 0, "\(restore?.inputs ?? [])")
        let ptrace = SpecHarness.assertViolated(report, path: "sys80", .ptraceConsistency, blamedLine: SpecHarness.line("<-stop", in: spec),
                                                requirementContains: "pt_regs.r8 seen by trace_stop")
        XCTAssertEqual(input(ptrace, "ptrace.stop@"), 1, "the tracer sees pt_regs only when the stop happens")
    }

    /// The same path saving r8: proved whether the stop happens or not.
    func testMaystopWithCorrectCodeProves() {
        let report = SpecHarness.check(Self.int80(stop: "maystop"))
        SpecHarness.assertOthersProved(report, path: "sys80", except: [])
    }

    /// Without the stop a maystop function observes nothing: a pt_regs field nobody
    /// wrote is a violation only in the runs where it stops.
    func testMaystopObservesOnlyWhenItStops() {
        let spec = PtraceInvariantTests.tracedSyscall(fill: PtraceInvariantTests.fillPtRegs.replacingOccurrences(of: "\tmovq %r15, R15(%rsp)\n", with: ""))
            .replacingOccurrences(of: ".extern syscall_trace_enter stop ax=-38", with: ".extern syscall_trace_enter maystop ax=-38")
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "tracesys", .ptraceConsistency, blamedLine: SpecHarness.line("<-stop", in: spec),
                                            requirementContains: "pt_regs.r15 seen by syscall_trace_enter")
        XCTAssertEqual(input(cx, "ptrace.stop@"), 1)
    }

    // MARK: probes

    /// The concrete probes try runs where the tracer writes every field, none and some,
    /// and (maystop) where the call stops and where it does not — on every path, whether
    /// or not it reads a saved cs (seeds 3–5 run only on those that do).
    func testProbesExploreTracerWritesAndNone() {
        for seeds in [Array(0..<9), [0, 1, 2, 6, 7, 8]] {
            for name in ["ptrace.wrote.cx@12", "ptrace.stop@12"] {
                let values = Set(seeds.map { PathProof.probeOracle($0)(name) })
                XCTAssertEqual(values, [0, 1], "\(name) over seeds \(seeds)")
            }
            // Tracer writes with TIF work flags both clear and set.
            let pairs = Set(seeds.map { (PathProof.probeOracle($0)("unmodelled[TI_flags(%rcx)]@3"), PathProof.probeOracle($0)("ptrace.wrote.cx@12")) }.map { "\($0.0 == 0)/\($0.1)" })
            XCTAssertTrue(pairs.isSuperset(of: ["true/0", "true/1", "false/0", "false/1"]), "\(pairs)")
        }
    }
}
