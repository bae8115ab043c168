import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// Control-register moves and the FSGSBASE instructions as entry code uses them: PTI's
/// CR3 switch and the paranoid entry's GS base save and restore.
final class SystemRegisterTests: XCTestCase {
    /// v6.8's SWITCH_TO_KERNEL_CR3 / SWITCH_TO_USER_CR3 shape: cr3 read into a scratch
    /// register, changed, written back; nmi reads cr2. None of it touches the stack.
    func testControlRegisterMovesChangeNoStack() {
        let spec = """
        .path irq entry=interrupt from=kernel
        irq:
        \tpushq %rax
        \tmov %rsp, %rax                 # an unsuffixed mov of general registers stays one
        \tmov %cr3, %rax
        \tandq $~0x1000, %rax
        \tmovq %rax, %cr3
        \tmovq %cr2, %rax
        \tpopq %rax
        \tiretq
        """
        let report = SpecHarness.check(spec)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "irq", inv) }
        // What cr2 holds is unknown: returning it in rax is a restore violation.
        let leaked = SpecHarness.check(spec.replacingOccurrences(of: "\tmovq %cr2, %rax\n\tpopq %rax\n", with: "\tpopq %rax\n\tmovq %cr2, %rax   # <-cr2\n"))
        SpecHarness.assertViolated(leaked, path: "irq", .restoreMatchesSave, blamedLine: 9)
        // A control register is not a general-purpose one.
        XCTAssertTrue(SpecHarness.check(".path f entry=function\nf:\n\tmovq %cr3, (%rsp)\n\tret\n").diagnostics.contains {
            $0.description.contains("a move from %cr3 goes to a 64-bit register")
        })
    }

    /// The FSGSBASE paranoid entry from user mode: save the interrupted GS base, write
    /// the kernel's, use per-CPU data, write the saved base back before iretq.
    static let paranoid = """
    .percpu cpu_number
    .path nmi entry=interrupt from=user
    nmi:
    \tpushq %rbx
    \tpushq %rdi
    \trdgsbase %rbx                        # the interrupted (user) base
    \tmovabsq $0xffff888000000000, %rdi    # the kernel's per-CPU base
    \twrgsbase %rdi
    \tmovq PER_CPU_VAR(cpu_number), %rdi
    \twrgsbase %rbx                        # <-restore
    \tpopq %rdi
    \tpopq %rbx
    \tiretq                                # <-exit
    """

    func testTheGSBaseFollowsWrgsbase() {
        let report = SpecHarness.check(Self.paranoid)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "nmi", inv) }
        // Without the restore the task goes back to user mode with the kernel's base.
        let spec = Self.paranoid.replacingOccurrences(of: "\twrgsbase %rbx                        # <-restore\n", with: "")
        SpecHarness.assertViolated(SpecHarness.check(spec), path: "nmi", .gsParity, blamedLine: SpecHarness.line("<-exit", in: spec))
        // A per-CPU access before the kernel's base is written uses the user's.
        let early = Self.paranoid.replacingOccurrences(of: "\tmovq PER_CPU_VAR(cpu_number), %rdi\n", with: "")
            .replacingOccurrences(of: "\trdgsbase %rbx", with: "\tmovq PER_CPU_VAR(cpu_number), %rdi   # <-early\n\trdgsbase %rbx")
        SpecHarness.assertViolated(SpecHarness.check(early), path: "nmi", .gsParity, blamedLine: SpecHarness.line("<-early", in: early))
    }
}
