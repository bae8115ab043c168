import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// Issue 14 item 5: `iret`, `sysret`, `sysretl`, `sysexit` are the 32-bit forms (gas,
/// 64-bit mode: `cf`, `0f 07`, `0f 35`, no REX.W), not `iretq`, `sysretq`, `sysexitq`.
/// The 32-bit IRETs are rejected; `sysretl` and `sysexitl` give the user the low halves of
/// rcx/rdx, zero-extended, and are checked as such.
final class FrontEndExitFormTests: XCTestCase {
    func testIretIsRejectedAsThe32BitForm() {
        let spec = ".path h entry=interrupt\nh:\n\tiret\n"
        FrontEnd.assertError(SpecHarness.check(spec), "spec.pts:3:2",
                             "'iret' is the 32-bit IRET (gas encodes it as cf, which pops 4-byte eip, cs, eflags, esp and ss): only iretq (48 cf) is modelled")
    }

    /// Siblings: the explicit 32-bit and the 16-bit spellings.
    func testIretlAndIretwAreRejected() {
        FrontEnd.assertError(SpecHarness.check(".path h entry=interrupt\nh:\n\tiretl\n"), "spec.pts:3:2",
                             "'iretl' is the 32-bit IRET (gas encodes it as cf, which pops 4-byte eip, cs, eflags, esp and ss): only iretq (48 cf) is modelled")
        FrontEnd.assertError(SpecHarness.check(".path h entry=interrupt\nh:\n\tiretw\n"), "spec.pts:3:2",
                             "'iretw' is the 16-bit IRET (66 cf, which pops 2-byte fields): only iretq (48 cf) is modelled")
    }

    func testIretqStillProves() {
        FrontEnd.assertProves(SpecHarness.check(".path h entry=interrupt\nh:\n\tiretq\n"))
    }

    /// A syscall that returns at once: rcx still holds the user's 64-bit rip.
    static func sysret(_ mnemonic: String) -> String {
        """
        .percpu old_rsp
        .percpu kernel_stack stack
        .path sc entry=syscall
        sc:
        \tswapgs
        \tmovq %rsp, PER_CPU_VAR(old_rsp)
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tmovq PER_CPU_VAR(old_rsp), %rsp
        \tswapgs
        \t\(mnemonic)
        """
    }

    func testSysretqGivesBackTheWholeRip() {
        FrontEnd.assertProves(SpecHarness.check(Self.sysret("sysretq")))
    }

    /// `sysretl` returns to eip = ecx: a 64-bit user rip does not survive it.
    func testSysretlGivesBackOnlyTheLowHalfOfRcx() {
        for m in ["sysretl", "sysret"] {
            let report = SpecHarness.check(Self.sysret(m))
            let r = SpecHarness.result(report, path: "sc", .ptraceConsistency)
            // And the 64-bit task comes back in compatibility mode: SYSRETL loads cs 0x23.
            XCTAssertEqual(Set(r?.violations.map(\.mechanism.description) ?? []), ["ptrace ip at sysretl", "ptrace cs at sysretl"])
            let cx = r?.violations.first { $0.mechanism.subject == "ip" }?.counterexample
            XCTAssertEqual(cx?.location.line, 10)
            XCTAssertTrue(cx?.requirement.contains("the user's rip from pt_regs.ip (in rcx)") == true, cx?.requirement ?? "")
            let rcx = cx?.values.first { $0.0 == "rcx" }?.1 ?? ""
            XCTAssertLessThanOrEqual(rcx.count, 10, "\(m): rcx is the zero-extended ecx, got \(rcx)")
            XCTAssertEqual(cx?.instruction, m)
        }
    }

    /// Sibling: SYSEXIT's two forms, rip = rdx and rsp = rcx.
    static func sysexit(_ mnemonic: String) -> String {
        """
        .percpu old_rsp
        .percpu kernel_stack stack
        .path sc entry=syscall
        sc:
        \tswapgs
        \tmovq %rsp, PER_CPU_VAR(old_rsp)
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tmovq %rcx, %rdx
        \tmovq PER_CPU_VAR(old_rsp), %rcx
        \tswapgs
        \t\(mnemonic)
        """
    }

    func testSysexitqProvesAndSysexitlDoesNot() {
        FrontEnd.assertProves(SpecHarness.check(Self.sysexit("sysexitq")))
        for m in ["sysexitl", "sysexit"] {
            let report = SpecHarness.check(Self.sysexit(m))
            SpecHarness.assertViolated(report, path: "sc", .frameBalance, blamedLine: 11,
                                       requirementContains: "sysexit must leave with the user's rsp (in rcx)")
            let r = SpecHarness.result(report, path: "sc", .ptraceConsistency)
            XCTAssertEqual(Set(r?.violations.map(\.mechanism.description) ?? []), ["ptrace ip at sysexit", "ptrace sp at sysexit", "ptrace cs at sysexit"])
            let cx = r?.violations.first { $0.mechanism.subject == "ip" }?.counterexample
            XCTAssertEqual(cx?.location.line, 11)
            XCTAssertTrue(cx?.requirement.contains("the user's rip from pt_regs.ip (in rdx)") == true, cx?.requirement ?? "")
        }
    }

    /// The decoder's reading of each spelling, as gas encodes it (checked against `as`
    /// when it is installed: REX.W, 0x48, marks the 64-bit form).
    func testEachSpellingDecodesToTheFormGasEncodes() throws {
        let table: [(String, String, Bool?)] = [
            ("sysretq", "48 0f 07", true), ("sysretl", "0f 07", false), ("sysret", "0f 07", false),
            ("sysexitq", "48 0f 35", true), ("sysexitl", "0f 35", false), ("sysexit", "0f 35", false),
            ("iretq", "48 cf", true), ("iretl", "cf", nil), ("iret", "cf", nil), ("iretw", "66 cf", nil),
        ]
        for (m, bytes, is64) in table {
            let spec = ".percpu kernel_stack stack\n.path h entry=syscall\nh:\n\t\(m)\n"
            let (programs, _, report) = try FrontEnd.elaborate(spec)
            if GasProbe.available { XCTAssertEqual(GasProbe.encoding(of: m), bytes, "gas's encoding of \(m)") }
            guard let is64 else {
                XCTAssertEqual(report.exitCode, 2, "\(m) must be rejected")
                continue
            }
            let op = programs.first?.instructions.first?.operation
            switch op {
            case .sysret(let w)?, .sysexit(let w)?: XCTAssertEqual(w == .q, is64, m)
            case .iret?: XCTAssertTrue(is64, m)
            default: XCTFail("\(m) decoded to \(String(describing: op))")
            }
        }
    }
}
