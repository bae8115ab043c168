import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// Tool bugs and poor diagnostics found while writing the invariant tests, each stated
/// as the correct expectation. All are fixed; the tests stay as regression tests.
final class ToolBugRegressionTests: XCTestCase {
    // MARK: verdicts

    /// A path whose only way on is a jump back to itself never reaches an exit, so it
    /// has no exit obligations and every invariant "proves" vacuously. "A path with no
    /// exit" is bad input (issue 5); only running off the end of the code is caught.
    func testPathThatLoopsForeverWithoutAnExitIsAnError() throws {
        let report = SpecHarness.check(".path f entry=function\nf:\n\tnop\n\tjmp f\n")
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertTrue(report.diagnostics.first?.message.contains("no exit") == true, "\(report.diagnostics)")
    }

    /// A syscall entry has no caller: a `ret` on it pops whatever lies on the kernel
    /// stack. checkFrameAtExit skips `.ret` when the entry rsp is not a modelled stack,
    /// so frame proves.
    func testSyscallPathLeavingThroughRetBreaksTheFrame() throws {
        let spec = """
        .percpu kernel_stack stack
        .path sc entry=syscall
        sc:
        \tswapgs
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tret                # <-blamed
        """
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "sc", .frameBalance, blamedLine: SpecHarness.line("<-blamed", in: spec))
    }

    /// A called stub pops its return address and jumps back to `back: ret`. That ret
    /// (run in the stub's call context) pops the caller's return address, so the real
    /// run leaves the path there with rsp = entry+8: the frame is balanced and only the
    /// return stack is violated. The path graph instead continues at the static
    /// continuation of the stub's call, runs `ret` a second time at entry+8, and reports
    /// a "replayed" frame violation for a run the CPU cannot take.
    func testNoFrameViolationAfterAReturnThatLeavesThroughTheCallersAddress() throws {
        let report = SpecHarness.check("""
        .path f entry=function
        f:
        \tcall stub
        back:
        \tret
        stub:
        \tpopq %r11
        \tjmp back
        """)
        SpecHarness.assertViolated(report, path: "f", .returnStack, blamedLine: 5)
        SpecHarness.assertProved(report, path: "f", .frameBalance)
    }

    // MARK: input the tool accepts silently

    /// `popq %rbx,,`: the operand splitter drops empty operands that have no blank in
    /// them, so a stray comma is ignored and the instruction decodes as `popq %rbx`.
    func testEmptyOperandWithoutBlanksIsAnError() throws {
        let report = SpecHarness.check(".path f entry=function\nf:\n\tpushq %rbx\n\tpopq %rbx,,\n\tret\n")
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertEqual(report.diagnostics.first?.location.line, 4)
    }

    /// `M %rax,, %rbx` for `.macro M a, b`: the empty argument vanishes and b gets %rbx;
    /// gas would bind b to the empty string and reject the third argument.
    func testEmptyMacroArgumentWithoutBlanksIsAnError() throws {
        let report = SpecHarness.check(".macro M a, b\n\tpushq \\a\n\tpopq \\b\n.endm\n.path f entry=function\nf:\n\tM %rax,, %rbx\n\tret\n")
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertEqual(report.diagnostics.first?.location.line, 7)
        XCTAssertTrue(report.diagnostics.first?.message.contains("empty macro argument") == true, "\(report.diagnostics)")
    }

    // MARK: poor diagnostics

    /// `popq %rbx, ,` says "'popq' takes 1 operand, got 1": the count leaves out the
    /// empty operand that is the problem.
    func testEmptyOperandMessageDoesNotContradictItself() throws {
        let report = SpecHarness.check(".path f entry=function\nf:\n\tpushq %rbx\n\tpopq %rbx, ,\n\tret\n")
        XCTAssertEqual(report.exitCode, 2)
        let m = report.diagnostics.first?.message ?? ""
        XCTAssertFalse(m.contains("takes 1 operand, got 1"), m)
        XCTAssertTrue(m.contains("empty"), m)
    }

    /// `movq %rax, (%rsp` (no closing parenthesis) says "expected an expression" at the
    /// `%`: the memory operand is parsed as a displacement expression.
    func testUnbalancedParenthesisInAMemoryOperandSaysSo() throws {
        let report = SpecHarness.check(".path f entry=function\nf:\n\tmovq %rax, (%rsp\n\tret\n")
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertEqual(report.diagnostics.first?.location.description, "spec.pts:3:13")
        XCTAssertTrue(report.diagnostics.first?.message.contains("')'") == true, "\(report.diagnostics)")
    }

    /// `movq $(1+, %rax`: the unclosed parenthesis swallows the comma, and the message is
    /// "'movq' takes 2 operands, got 1".
    func testUnbalancedParenthesisInAnImmediateSaysSo() throws {
        let report = SpecHarness.check(".path f entry=function\nf:\n\tmovq $(1+, %rax\n\tret\n")
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertTrue(report.diagnostics.first?.message.contains("')'") == true, "\(report.diagnostics)")
    }

    /// A long plain file is not a macro blow-up: the expansion bound counts only what
    /// macros produce, so 50,000 `nop`s elaborate and prove.
    func testStatementBoundWithoutMacrosDoesNotBlameMacros() throws {
        let text = ".path f entry=function\nf:\n" + String(repeating: "\tnop\n", count: 50_000) + "\tret\n"
        let report = SpecHarness.check(text)
        XCTAssertEqual(report.diagnostics, [])
        XCTAssertEqual(report.exitCode, 0)
    }

    /// At a ptrace stop that sees a never-written field, the blamed step's touched slots
    /// are shown after the stop ran, so every field reads "ptrace value of … written at
    /// the … stop" and the garbage the tracer saw is only in the stack picture.
    func testStopTraceShowsTheFieldAsTheStopSawIt() throws {
        let spec = PtraceInvariantTests.tracedSyscall(fill: PtraceInvariantTests.fillPtRegs.replacingOccurrences(of: "\tmovq %r15, R15(%rsp)\n", with: ""))
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "tracesys", .ptraceConsistency, blamedLine: SpecHarness.line("<-stop", in: spec))
        XCTAssertEqual(SpecHarness.touched(cx, "pt_regs.r15")?.holds, "garbage")
    }

    /// Swapped saves: the restore of rsi from RSI(%rsp) printed "matching save = none
    /// (never saved there)" although the slot holds rdi's save; the words should say
    /// what is there.
    func testSwappedSlotValuesNameWhatTheSlotHolds() throws {
        let saves = RestoreInvariantTests.saves
            .replacingOccurrences(of: "movq %rdi, RDI(%rsp)", with: "movq %rdi, RSI(%rsp)")
            .replacingOccurrences(of: "movq %rsi, RSI(%rsp)", with: "movq %rsi, RDI(%rsp)")
        let spec = RestoreInvariantTests.syscallViaIret(saves: saves)
        let report = SpecHarness.check(spec)
        guard let r = SpecHarness.result(report, path: "sc", .restoreMatchesSave), case .violated(let cx) = r.verdict else {
            return XCTFail("expected a violation")
        }
        XCTAssertFalse(cx.requirement.contains("never saved there"), cx.requirement)
        XCTAssertTrue(cx.requirement.contains("which held saved rdi"), cx.requirement)
    }

    // MARK: decisions to confirm

    /// Issue 5 lists "empty file" among bad input that gets a clear error and exit 2;
    /// the tool accepts it with no paths and exit 0 (ElaborationErrorTests asserts that).
    func testEmptyFileIsBadInputAsIssue5Says() throws {
        let report = SpecHarness.check("")
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertEqual(report.diagnostics.first?.location.description, "spec.pts:1:1")
    }
}
