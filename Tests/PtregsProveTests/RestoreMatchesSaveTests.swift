import PtregsProve
import SpecElaboration
import XCTest

final class RestoreMatchesSaveTests: XCTestCase {
    func testPushPopAroundCallProves() {
        let report = SpecHarness.check("""
        .extern preempt_schedule
        .path f entry=function
        f:
            pushq %rbx
            pushq %rbp
            call preempt_schedule
            popq %rbp
            popq %rbx
            ret
        """)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "f", inv) }
    }

    func testRestoreFromNeverWrittenSlotIsBlamed() {
        let report = SpecHarness.check("""
        .extern preempt_schedule
        .path f entry=function
        f:
            subq $16, %rsp
            movq %rbx, 8(%rsp)
            call preempt_schedule
            movq (%rsp), %rbx
            addq $16, %rsp
            ret
        """)
        let cx = SpecHarness.assertViolated(report, path: "f", .restoreMatchesSave, blamedLine: 7, requirementContains: "rbx must hold its value from the path's entry")
        XCTAssertEqual(SpecHarness.touched(cx, "entry stack-0x10")?.holds, "garbage")
        XCTAssertEqual(cx?.observation?.instruction, "ret")
        SpecHarness.assertProved(report, path: "f", .frameBalance)
    }
}
