import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// `entry=jump` (landing on a complete pt_regs, as ret_from_fork does) and calls through
/// a function pointer with an `.extern … indirect` contract.
final class EntryKindTests: XCTestCase {
    static let landing = """
    .extern kthread_fn indirect
    .path child entry=jump
    child:
    \tcall *%rbx
    \tmovq R15(%rsp), %r15
    \tmovq R14(%rsp), %r14
    \tmovq R13(%rsp), %r13
    \tmovq R12(%rsp), %r12
    \tmovq RBP(%rsp), %rbp
    \tmovq RBX(%rsp), %rbx
    \tmovq R11(%rsp), %r11
    \tmovq R10(%rsp), %r10
    \tmovq R9(%rsp), %r9
    \tmovq R8(%rsp), %r8
    \tmovq RAX(%rsp), %rax
    \tmovq RCX(%rsp), %rcx
    \tmovq RDX(%rsp), %rdx
    \tmovq RSI(%rsp), %rsi
    \tmovq RDI(%rsp), %rdi
    \taddq $16*8, %rsp
    \ttestl $3, 8(%rsp)     # the saved cs
    \tjz 1f               # a kernel thread's frame: no swapgs (invariant gs)
    \tswapgs             # back to user space
    1:\tiretq
    """

    func testJumpEntryRestoringItsPtRegsProves() {
        let report = SpecHarness.check(Self.landing)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "child", inv) }
    }

    func testJumpEntryHasNoCallerToReturnTo() {
        let report = SpecHarness.check(".path child entry=jump\nchild:\n\tret\n")
        SpecHarness.assertViolated(report, path: "child", .returnStack, blamedLine: 3, requirementContains: "no call")
        SpecHarness.assertViolated(report, path: "child", .frameBalance, blamedLine: 3, requirementContains: "must leave by sysretq or iretq")
    }

    func testUnresolvedIndirectCallWithoutAContractIsUnknown() {
        let report = SpecHarness.check(Self.landing.replacingOccurrences(of: ".extern kthread_fn indirect\n", with: ""))
        guard case .unknown(let why)? = report.paths.first?.results.first?.verdict else {
            return XCTFail("expected unknown")
        }
        XCTAssertTrue(why.contains("indirect call through %rbx"), why)
        XCTAssertEqual(report.exitCode, 3)
    }
}
