import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// From v4.15 the way back to user space leaves the task stack: it pops the registers,
/// keeps the old rsp in rdi, loads the per-CPU trampoline stack's top
/// (`cpu_tss_rw + TSS_sp0`, a `.percpu … stack`), copies the IRET frame (and the user's
/// rdi) there by `pushq N*8(%rdi)`, and irets from the copy. The reads through rdi are
/// reads of the task stack's slots; the copy's words are checked as any IRET frame's,
/// and iretq must find it in the trampoline stack's top five words.
final class TrampolineExitTests: XCTestCase {
    /// A 6.8-shaped entry_SYSCALL_64 written for this test: pt_regs pushed on the task
    /// stack, and both ways out through the trampoline stack — SYSRET after copying the
    /// user's rsp and rdi, IRET after copying the frame.
    static let syscall68 = """
    #define TSS_sp0 4
    #define TSS_sp2 20
    #define X86_top_of_stack 24
    .percpu cpu_tss_rw+TSS_sp0 stack
    .percpu cpu_tss_rw+TSS_sp2
    .percpu pcpu_hot+X86_top_of_stack stack
    .extern do_syscall_64 observes=all
    .path entry_SYSCALL_64 entry=syscall kstack=pcpu_hot+X86_top_of_stack kstack-offset=0
    entry_SYSCALL_64:
    \tswapgs
    \tmovq %rsp, PER_CPU_VAR(cpu_tss_rw + TSS_sp2)
    \tmovq PER_CPU_VAR(pcpu_hot + X86_top_of_stack), %rsp
    \tpushq $0x2b
    \tpushq PER_CPU_VAR(cpu_tss_rw + TSS_sp2)
    \tpushq %r11
    \tpushq $0x33
    \tpushq %rcx
    \tpushq %rax
    \tpushq %rdi
    \tpushq %rsi
    \tpushq %rdx
    \tpushq %rcx
    \tpushq $-38
    \(SpecHarness.pushPtRegsFromR8)\
    \tmovq %rsp, %rdi
    \tmovslq %eax, %rsi
    \tcall do_syscall_64
    \ttestb %al, %al
    \tjz swapgs_restore_regs_and_return_to_usermode
    \tmovq RCX(%rsp), %rcx
    \tmovq RIP(%rsp), %r11
    \tcmpq %rcx, %r11
    \tjne swapgs_restore_regs_and_return_to_usermode
    \tmovq R11(%rsp), %r11
    \tcmpq %r11, EFLAGS(%rsp)
    \tjne swapgs_restore_regs_and_return_to_usermode
    \tpopq %r15
    \tpopq %r14
    \tpopq %r13
    \tpopq %r12
    \tpopq %rbp
    \tpopq %rbx
    \taddq $8, %rsp                   # r11: already loaded
    \tpopq %r10
    \tpopq %r9
    \tpopq %r8
    \tpopq %rax
    \taddq $8, %rsp                   # rcx: already loaded
    \tpopq %rdx
    \tpopq %rsi
    \tmovq %rsp, %rdi
    \tmovq PER_CPU_VAR(cpu_tss_rw + TSS_sp0), %rsp
    \tpushq RSP-RDI(%rdi)             # <-sp copy
    \tpushq (%rdi)
    \tpopq %rdi
    \tpopq %rsp
    \tswapgs
    \tsysretq                         # <-sysret
    swapgs_restore_regs_and_return_to_usermode:
    \(SpecHarness.popPtRegsToRsi)\
    \tmovq %rsp, %rdi                 # user rdi, orig_ax, ip, cs, flags, sp, ss
    \tmovq PER_CPU_VAR(cpu_tss_rw + TSS_sp0), %rsp
    \tpushq 6*8(%rdi)                 # ss
    \tpushq 5*8(%rdi)                 # sp
    \tpushq 4*8(%rdi)                 # flags
    \tpushq 3*8(%rdi)                 # cs
    \tpushq 2*8(%rdi)                 # ip
    \tpushq (%rdi)                    # the user's rdi
    \tpopq %rdi
    \tswapgs
    \tiretq                           # <-iret
    """

    func testBothTrampolineExitsProve() {
        let report = SpecHarness.check(Self.syscall68)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "entry_SYSCALL_64", inv) }
    }

    func testACopyWithTheWrongOffsetIsCaught() {
        // cs copied from ip's slot: the frame iretq pops has the user's rip for cs.
        let spec = Self.syscall68.replacingOccurrences(of: "\tpushq 3*8(%rdi)                 # cs", with: "\tpushq 2*8(%rdi)                 # cs")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "entry_SYSCALL_64", .ptraceConsistency, blamedLine: SpecHarness.line("<-iret", in: spec),
                                   requirementContains: "iretq must return the user's cs")
    }

    func testTheSysretCopyOfTheWrongSlotIsCaught() {
        // The user's rsp copied from si's slot instead of sp's.
        let spec = Self.syscall68.replacingOccurrences(of: "pushq RSP-RDI(%rdi)", with: "pushq RSI-RDI(%rdi)")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "entry_SYSCALL_64", .frameBalance, blamedLine: SpecHarness.line("<-sysret", in: spec),
                                   requirementContains: "sysretq must leave with the user's rsp")
    }

    func testAMissingWordIsCaught() {
        // The user's rdi not copied: popq %rdi takes the copied ip, iretq's frame is
        // one word off the trampoline stack's top and the pops past it.
        let spec = Self.syscall68.replacingOccurrences(of: "\tpushq (%rdi)                    # the user's rdi\n", with: "")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "entry_SYSCALL_64", .frameBalance, blamedLine: SpecHarness.line("<-iret", in: spec),
                                   requirementContains: "must not lie above the top of cpu_tss_rw+4's stack")
        let frame = SpecHarness.result(report, path: "entry_SYSCALL_64", .frameBalance)
        XCTAssertTrue(frame?.violations.contains { $0.mechanism.subject == "rsp" } == true, "\(frame?.violations.map(\.mechanism) ?? [])")
        SpecHarness.assertViolated(report, path: "entry_SYSCALL_64", .restoreMatchesSave, blamedLine: SpecHarness.line("<-iret", in: spec) - 2)
    }

    func testAFrameLowerOnTheTrampolineStackIsCaught() {
        // Right words, one spare word above them: the only thing wrong is where iretq
        // finds the copy, which the frame invariant alone catches.
        let spec = Self.syscall68.replacingOccurrences(of: "\tpushq 6*8(%rdi)                 # ss\n", with: "\tsubq $8, %rsp\n\tpushq 6*8(%rdi)                 # ss\n")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "entry_SYSCALL_64", .frameBalance, blamedLine: SpecHarness.line("<-iret", in: spec),
                                   requirementContains: "must find the frame in its top five words")
        SpecHarness.assertProved(report, path: "entry_SYSCALL_64", .ptraceConsistency)
        SpecHarness.assertProved(report, path: "entry_SYSCALL_64", .restoreMatchesSave)
    }

    func testAReadAboveTheTrampolineTopIsCaught() {
        // Past the trampoline stack's top is not this path's memory.
        let spec = Self.syscall68.replacingOccurrences(of: "\tpushq (%rdi)                    # the user's rdi\n", with: "\tpushq (%rdi)                    # the user's rdi\n\tmovq 48(%rsp), %rdi             # <-above\n")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "entry_SYSCALL_64", .frameBalance, blamedLine: SpecHarness.line("<-above", in: spec),
                                   requirementContains: "must not lie above the top of")
    }

    /// A v4.15-shaped exception from user mode: sync_regs moves pt_regs from the entry
    /// stack to the task stack, and the exit copies the IRET frame to the trampoline.
    static let exception = """
    #define TSS_sp0 4
    .percpu cpu_tss_rw+TSS_sp0 stack
    .percpu cpu_current_top_of_stack stack
    .extern sync_regs moves-frame=cpu_current_top_of_stack
    .extern do_trap stop
    .path asm_exc entry=exception from=user
    asm_exc:
    \tpushq $-1                       # orig_ax
    \tpushq %rdi
    \tpushq %rsi
    \tpushq %rdx
    \tpushq %rcx
    \tpushq %rax
    \(SpecHarness.pushPtRegsFromR8)\
    \tswapgs
    \tmovq %rsp, %rdi
    \tcall sync_regs
    \tmovq %rax, %rsp
    \tmovq %rsp, %rdi
    \tcall do_trap
    \(SpecHarness.popPtRegsToRsi)\
    \tmovq %rsp, %rdi
    \tmovq PER_CPU_VAR(cpu_tss_rw + TSS_sp0), %rsp
    \tpushq 6*8(%rdi)
    \tpushq 5*8(%rdi)
    \tpushq 4*8(%rdi)
    \tpushq 3*8(%rdi)
    \tpushq 2*8(%rdi)
    \tpushq (%rdi)
    \tpopq %rdi
    \tswapgs
    \tiretq                           # <-iret
    """

    func testACopyFromTheMovedFrameProves() {
        // A tracer stopping in do_trap writes the moved frame; the copy carries its writes.
        let report = SpecHarness.check(Self.exception)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "asm_exc", inv) }
    }
}
