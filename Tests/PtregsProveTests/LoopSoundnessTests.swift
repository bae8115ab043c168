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
}
