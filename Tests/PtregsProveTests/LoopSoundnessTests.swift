import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// Violations that only the second time round a loop shows. The loop check widens the
/// state at the loop head; these must still be found (they once were not: a field the
/// first stop defines was dropped where the loop's entry and its back edge meet).
final class LoopSoundnessTests: XCTestCase {
    /// A signal-delivery loop that resets orig_ax to -1 before every stop: what the
    /// tracer wrote at the first stop is gone at the second.
    static let resetEveryRound = """
    .percpu thread_info pointer
    .extern notify stop observes=orig_ax reason="a signal-delivery stop"
    .path twice entry=interrupt from=user
    twice:
    \tpushq $-1
    \tsubq $15*8, %rsp
    \tmovq PER_CPU_VAR(thread_info), %rcx
    \tjmp check
    work:
    \tmovq $-1, ORIG_RAX(%rsp)
    \tmovq %rsp, %rdi
    \tcall notify
    check:
    \ttestl $1, 0(%rcx)
    \tjnz work
    \taddq $16*8, %rsp
    \tiretq
    """

    func testSecondRoundViolationIsFound() {
        let report = SpecHarness.check(Self.resetEveryRound, invariants: [.ptraceConsistency])
        let cx = SpecHarness.assertViolated(report, path: "twice", .ptraceConsistency, blamedLine: 12, requirementContains: "orig_ax")
        // The replay goes round the loop: the stop is reached twice.
        XCTAssertEqual(cx?.steps.filter { $0.text == "call notify" }.count, 2)
    }

    /// The same loop entered from the side (its body before its head in the code): the
    /// head is reached only through the back edge.
    func testSecondRoundViolationIsFoundWhenTheLoopIsEnteredFromTheSide() {
        let spec = Self.resetEveryRound.replacingOccurrences(of: "\tjmp check\n", with: "")
        let report = SpecHarness.check(spec, invariants: [.ptraceConsistency])
        SpecHarness.assertViolated(report, path: "twice", .ptraceConsistency, blamedLine: 11, requirementContains: "orig_ax")
    }

    /// Keeping what the tracer wrote (no reset) proves.
    func testKeepingTheTracersValueProves() {
        let spec = Self.resetEveryRound.replacingOccurrences(of: "\tmovq $-1, ORIG_RAX(%rsp)\n", with: "")
        let report = SpecHarness.check(spec, invariants: [.ptraceConsistency])
        SpecHarness.assertProved(report, path: "twice", .ptraceConsistency)
    }

    // MARK: Loop invariants are shown inductive, never assumed

    /// rdx and rsi are both 0 on entry and both 1 after one trip; after two they differ
    /// (rdx = 1, rsi = 0) and the saved rbx is overwritten. A widening that lets both
    /// share one choice among {0, 1} assumed they stay equal.
    static let sharedChoice = """
    .percpu thread_info pointer
    .path f entry=function
    f:\tpushq %rbx
    \tmovq PER_CPU_VAR(thread_info), %rcx
    \tmovq (%rcx), %rcx
    \txorl %edx, %edx
    \txorl %esi, %esi
    1:\tdecq %rcx
    \tjs 2f
    \tmovl $1, %edx
    \txorq $1, %rsi
    \tjmp 1b
    2:\tcmpq %rdx, %rsi
    \tje 3f
    \tmovq $0, (%rsp)
    3:\tpopq %rbx
    \tret
    """

    func testRegistersSharingAChoiceThatDriftApartAreNotProved() {
        let report = SpecHarness.check(Self.sharedChoice, invariants: [.restoreMatchesSave])
        guard let r = SpecHarness.result(report, path: "f", .restoreMatchesSave), case .violated(let cx) = r.verdict else {
            return XCTFail("expected a violation, got \(SpecHarness.result(report, path: "f", .restoreMatchesSave).map { SpecHarness.describe($0.verdict) } ?? "none")")
        }
        // The replay goes round the loop twice (rsi = 1, then 0) and takes the overwrite.
        XCTAssertEqual(cx.steps.filter { $0.text == "xorq $1, %rsi" }.count, 2)
        XCTAssertTrue(cx.steps.contains { $0.text == "movq $0, (%rsp)" })
    }

    /// The same loop where both registers change alike proves: the comparison after the
    /// loop always finds them equal.
    func testRegistersSharingAChoiceThatStayEqualProve() {
        let spec = Self.sharedChoice.replacingOccurrences(of: "\tmovl $1, %edx\n", with: "\txorq $1, %rdx\n")
        let report = SpecHarness.check(spec, invariants: [.restoreMatchesSave])
        SpecHarness.assertProved(report, path: "f", .restoreMatchesSave)
    }

    /// Registers equal to one unknown value on entry (one loop variable), stepped by
    /// different amounts: after one trip they differ and the return address is lost.
    static let drifting = """
    .percpu thread_info pointer
    .path g entry=function
    g:\tmovq PER_CPU_VAR(thread_info), %rcx
    \tmovq 8(%rcx), %rdx
    \tmovq %rdx, %rsi
    \tmovq (%rcx), %rcx
    1:\tdecq %rcx
    \tjs 2f
    \taddq $1, %rdx
    \taddq $2, %rsi
    \tjmp 1b
    2:\tcmpq %rdx, %rsi
    \tje 3f
    \tmovq $0, (%rsp)
    3:\tret
    """

    func testRegistersEqualOnEntryThatDriftApartAreNotProved() {
        let report = SpecHarness.check(Self.drifting, invariants: [.returnStack])
        SpecHarness.assertViolated(report, path: "g", .returnStack, blamedLine: 15, requirementContains: "ret must return")
    }

    func testRegistersEqualOnEntryThatStayEqualProve() {
        let spec = Self.drifting.replacingOccurrences(of: "addq $2, %rsi", with: "addq $1, %rsi")
        let report = SpecHarness.check(spec, invariants: [.returnStack])
        SpecHarness.assertProved(report, path: "g", .returnStack)
    }

    /// Nested loops: the outer body moves rdx away from rsi before the inner loop, so the
    /// state entering the inner loop differs from one outer trip to the next. The inner
    /// head's widened state must be checked against every such entry.
    static let nested = """
    .percpu thread_info pointer
    .path h entry=function
    h:\tmovq PER_CPU_VAR(thread_info), %rcx
    \txorl %edx, %edx
    \txorl %esi, %esi
    \tmovq (%rcx), %r8
    1:\tdecq %r8
    \tjs 4f
    \txorq $1, %rdx
    \tmovq 8(%rcx), %r9
    2:\tdecq %r9
    \tjs 1b
    \txorq $1, %rsi
    \txorq $1, %rdx
    \tjmp 2b
    4:\tcmpq %rdx, %rsi
    \tje 5f
    \tmovq $0, (%rsp)
    5:\tret
    """

    func testNestedLoopWhoseInnerEntryChangesIsNotProved() {
        let report = SpecHarness.check(Self.nested, invariants: [.returnStack])
        SpecHarness.assertViolated(report, path: "h", .returnStack, blamedLine: 19, requirementContains: "ret must return")
    }

    func testNestedLoopThatKeepsTheRegistersEqualProves() {
        let spec = Self.nested.replacingOccurrences(of: "\txorq $1, %rdx\n\tmovq 8(%rcx), %r9", with: "\tmovq 8(%rcx), %r9")
        let report = SpecHarness.check(spec, invariants: [.returnStack])
        SpecHarness.assertProved(report, path: "h", .returnStack)
    }

    /// Loops in sequence: the first steps rdx, the second rsi, each an unknown number of
    /// times; they end equal only when both ran equally often.
    static let sequential = """
    .percpu thread_info pointer
    .path k entry=function
    k:\tmovq PER_CPU_VAR(thread_info), %rcx
    \txorl %edx, %edx
    \txorl %esi, %esi
    \tmovq (%rcx), %r8
    1:\tdecq %r8
    \tjs 2f
    \txorq $1, %rdx
    \tjmp 1b
    2:\tmovq 8(%rcx), %r8
    3:\tdecq %r8
    \tjs 4f
    \txorq $1, %rsi
    \tjmp 3b
    4:\tcmpq %rdx, %rsi
    \tje 5f
    \tmovq $0, (%rsp)
    5:\tret
    """

    func testSequentialLoopsThatDriftApartAreNotProved() {
        let report = SpecHarness.check(Self.sequential, invariants: [.returnStack])
        SpecHarness.assertViolated(report, path: "k", .returnStack, blamedLine: 19, requirementContains: "ret must return")
    }

    func testSequentialLoopsThatStepBothProve() {
        let spec = Self.sequential.replacingOccurrences(of: "\txorq $1, %rdx\n", with: "\txorq $1, %rdx\n\txorq $1, %rsi\n")
            .replacingOccurrences(of: "\txorq $1, %rsi\n\tjmp 3b", with: "\txorq $1, %rsi\n\txorq $1, %rdx\n\tjmp 3b")
        let report = SpecHarness.check(spec, invariants: [.returnStack])
        SpecHarness.assertProved(report, path: "k", .returnStack)
    }

    /// `--explain` says how each loop head's conditions were decided.
    func testExplainNamesTheLoopInvariantChecks() throws {
        let spec = Self.drifting.replacingOccurrences(of: "addq $2, %rsi", with: "addq $1, %rsi")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let file = root.appendingPathComponent("spec.pts")
        try spec.write(to: file, atomically: true, encoding: .utf8)
        let program = try Elaborator(loader: SpecLoader(root: root.path)).elaborate(text: spec, file: file, displayName: "spec.pts")
        let path = try XCTUnwrap(program.paths.first)
        let e = Explainer.explain(program: program, path: path, options: ProverOptions())
        XCTAssertFalse(e.report.loopInductions.isEmpty)
        XCTAssertTrue(e.report.loopInductions.contains { $0.side == "back edge" && $0.location.line == 7 })
        XCTAssertTrue(TextReport(colour: false).render(e).contains("loop invariants"))
    }
}

