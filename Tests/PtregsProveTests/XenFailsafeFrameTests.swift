import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// `xen-frame=`: a Xen PV callback (xen_failsafe_callback) enters with the words Xen
/// pushed below the IRET frame — the interrupted context's rcx and r11, then its ds, es,
/// fs and gs — and with rcx and r11 holding the hypervisor's values.
final class XenFailsafeFrameTests: XCTestCase {
    /// A 3.16-shaped category-1 failsafe written for this test: rcx and r11 reloaded from
    /// Xen's words, the words dropped, pt_regs built for a C handler, and the IRET exit.
    static let failsafe = """
    .extern xen_handler observes=all
    .path xen_failsafe_callback entry=interrupt from=kernel xen-frame=rcx,r11,ds,es,fs,gs
    xen_failsafe_callback:
    \tmovq (%rsp), %rcx               # <-rcx
    \tmovq 8(%rsp), %r11
    \taddq $0x30, %rsp                # <-drop
    \tpushq $-1                       # orig_ax
    \tpushq %rdi
    \tpushq %rsi
    \tpushq %rdx
    \tpushq %rcx
    \tpushq %rax
    \(SpecHarness.pushPtRegsFromR8)\
    \tmovq %rsp, %rdi
    \tcall xen_handler                # <-handler
    \(SpecHarness.popPtRegs)\
    \taddq $8, %rsp
    \tiretq                           # <-exit
    """

    func testTheFailsafeFrameProves() {
        let report = SpecHarness.check(Self.failsafe)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "xen_failsafe_callback", inv) }
    }

    func testRcxAndR11SwappedAreCaught() {
        let spec = Self.failsafe.replacingOccurrences(of: "\tmovq (%rsp), %rcx               # <-rcx\n\tmovq 8(%rsp), %r11\n",
                                                      with: "\tmovq 8(%rsp), %rcx               # <-rcx\n\tmovq (%rsp), %r11\n")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "xen_failsafe_callback", .ptraceConsistency, blamedLine: SpecHarness.line("<-handler", in: spec),
                                   requirementContains: "pt_regs.cx seen by xen_handler")
        SpecHarness.assertViolated(report, path: "xen_failsafe_callback", .restoreMatchesSave, blamedLine: SpecHarness.line("popq %r11", in: spec))
    }

    func testTheHypervisorsRcxIsNotTheUsers() {
        // Without the reload rcx is Xen's value: pt_regs.cx gets it.
        let spec = Self.failsafe.replacingOccurrences(of: "\tmovq (%rsp), %rcx               # <-rcx\n", with: "")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "xen_failsafe_callback", .ptraceConsistency, blamedLine: SpecHarness.line("<-handler", in: spec),
                                   requirementContains: "pt_regs.cx seen by xen_handler")
    }

    func testAWordLeftOnTheStackIsCaught() {
        // gs not dropped: pt_regs lands one word low and iretq's frame with it.
        let spec = Self.failsafe.replacingOccurrences(of: "addq $0x30, %rsp", with: "addq $0x28, %rsp")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "xen_failsafe_callback", .frameBalance, blamedLine: SpecHarness.line("<-exit", in: spec),
                                   requirementContains: "iretq must find the hardware frame")
    }

    func testXenFrameIsCheckedWhereItIsWritten() {
        let syscall = SpecHarness.check(".percpu kernel_stack stack\n.path s entry=syscall xen-frame=rcx,r11\ns:\n\tsysretq\n")
        XCTAssertTrue(syscall.diagnostics.contains { $0.description.contains("xen-frame= applies to interrupt and exception entries") }, "\(syscall.diagnostics)")
        let unknown = SpecHarness.check(Self.failsafe.replacingOccurrences(of: "xen-frame=rcx,r11,ds,es,fs,gs", with: "xen-frame=rcx,r11,cs"))
        XCTAssertTrue(unknown.diagnostics.contains { $0.description.contains("'cs' is none of them") }, "\(unknown.diagnostics)")
        let twice = SpecHarness.check(Self.failsafe.replacingOccurrences(of: "xen-frame=rcx,r11,ds,es,fs,gs", with: "xen-frame=rcx,rcx"))
        XCTAssertTrue(twice.diagnostics.contains { $0.description.contains("names a word twice") }, "\(twice.diagnostics)")
    }
}
