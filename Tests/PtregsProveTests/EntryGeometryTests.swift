import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// Where a syscall entry's frame lies: 3.16 loads `kernel_stack` (the stack top minus
/// 5*8, the IRET frame's room) and saves below it; from v4.1 the entry loads the stack
/// top itself and builds pt_regs, IRET frame first, by pushes (`kstack-offset=0`).
final class EntryGeometryTests: XCTestCase {
    /// A v4.1-shaped entry written for this test: the hardware frame's five words, then
    /// orig_ax and the C-clobbered registers pushed, room for the rest, one call, the
    /// pops, and an IRET exit.
    static let pushedFrame = """
    .percpu rsp_scratch
    .percpu cpu_current_top_of_stack stack
    .extern do_syscall
    .path entry_SYSCALL_64 entry=syscall kstack=cpu_current_top_of_stack kstack-offset=0
    entry_SYSCALL_64:
    \tswapgs
    \tmovq %rsp, PER_CPU_VAR(rsp_scratch)
    \tmovq PER_CPU_VAR(cpu_current_top_of_stack), %rsp
    \tpushq $0x2b                     # ss
    \tpushq PER_CPU_VAR(rsp_scratch)  # sp
    \tpushq %r11                      # flags
    \tpushq $0x33                     # cs
    \tpushq %rcx                      # ip
    \tpushq %rax                      # orig_ax
    \tpushq %rdi
    \tpushq %rsi
    \tpushq %rdx
    \tpushq %rcx
    \tpushq $-38                      # ax = -ENOSYS
    \tpushq %r8
    \tpushq %r9
    \tpushq %r10
    \tpushq %r11
    \tsubq $(6*8), %rsp
    \tmovq %rsp, %rdi
    \tcall do_syscall
    \taddq $(6*8), %rsp
    \tpopq %r11
    \tpopq %r10
    \tpopq %r9
    \tpopq %r8
    \tpopq %rax
    \tpopq %rcx
    \tpopq %rdx
    \tpopq %rsi
    \tpopq %rdi
    \taddq $8, %rsp                   # orig_ax
    \tswapgs
    \tiretq                           # <-exit
    """

    func testFramePushedBelowTheStackTopProves() {
        let report = SpecHarness.check(Self.pushedFrame)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "entry_SYSCALL_64", inv) }
    }

    func testTheSameCodeUnder316GeometryMissesTheIretFrame() {
        // Without kstack-offset=0 the model takes cpu_current_top_of_stack for 3.16's
        // kernel_stack, 40 bytes below the top: the pushes land 40 bytes too high.
        let spec = Self.pushedFrame.replacingOccurrences(of: " kstack-offset=0", with: "")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "entry_SYSCALL_64", .frameBalance, blamedLine: SpecHarness.line("<-exit", in: spec),
                                   requirementContains: "iretq must find the hardware frame")
    }

    func testOneWordTooFewBeforeTheCallIsCaught() {
        // The frame is one word short (r11 not pushed, but still popped): the pops read
        // one slot too high and iretq's five words reach past the stack top.
        let spec = Self.pushedFrame.replacingOccurrences(of: "\tpushq %r10\n\tpushq %r11\n", with: "\tpushq %r10\n")
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "entry_SYSCALL_64", .frameBalance, blamedLine: SpecHarness.line("<-exit", in: spec),
                                            requirementContains: "must not lie above the entry frame")
        XCTAssertEqual(cx?.steps.last?.rsp, "cpu_current_top_of_stack-0x20")
    }

    func testARestoreFromTheWrongSlotIsCaught() {
        // rdx and rsi popped in the wrong order: each gets the other's user value back.
        let spec = Self.pushedFrame.replacingOccurrences(of: "\tpopq %rdx\n\tpopq %rsi\n", with: "\tpopq %rsi\n\tpopq %rdx\n")
        let report = SpecHarness.check(spec)
        guard let r = SpecHarness.result(report, path: "entry_SYSCALL_64", .restoreMatchesSave),
              case .violated = r.verdict else { return XCTFail("expected the swapped restores to be reported") }
        let subjects = r.violations.map { $0.mechanism.description }
        XCTAssertTrue(subjects.contains { $0.contains("rdx") } && subjects.contains { $0.contains("rsi") }, "\(subjects)")
    }

    func testKstackOffsetIsCheckedWhereItIsWritten() {
        let notAligned = SpecHarness.check(Self.pushedFrame.replacingOccurrences(of: "kstack-offset=0", with: "kstack-offset=4"))
        XCTAssertTrue(notAligned.diagnostics.contains { $0.description.contains("4:84") && $0.description.contains("multiple of 8") },
                      "\(notAligned.diagnostics)")
        let onAFunction = SpecHarness.check(".path f entry=function kstack-offset=0\nf:\n\tret\n")
        XCTAssertTrue(onAFunction.diagnostics.contains { $0.description.contains("1:38") && $0.description.contains("applies to syscall, compat-syscall and sysenter paths") },
                      "\(onAFunction.diagnostics)")
    }

    /// 3.16-shaped: thread_info at the base of the task stack, reached from rsp with
    /// THREAD_INFO(%rsp, RIP-ARGOFFSET) = (off - THREAD_SIZE + KERNEL_STACK_OFFSET)(%rsp).
    static let threadInfo = """
    .percpu old_rsp
    .percpu kernel_stack stack
    .path sc entry=syscall thread-size=16384
    sc:
    \tswapgs
    \tmovq %rsp, PER_CPU_VAR(old_rsp)
    \tmovq PER_CPU_VAR(kernel_stack), %rsp
    \tsubq $80, %rsp                       # ARGOFFSET
    \tmovq %rcx, 80(%rsp)                  # RIP
    \tmovq %r11, 96(%rsp)                  # EFLAGS
    \tandl $~0x2, (20+80-16384+40)(%rsp)   # TI_status: 4 bytes, not a frame slot
    \ttestl $0x100, (16+80-16384+40)(%rsp) # TI_flags
    \tjnz 1f
    1:\tmovq 80(%rsp), %rcx
    \tmovq 96(%rsp), %r11
    \taddq $80, %rsp
    \tmovq PER_CPU_VAR(old_rsp), %rsp
    \tswapgs
    \tsysretq                              # <-exit
    """

    func testThreadInfoAtTheStackBaseIsNotTheFrame() {
        let report = SpecHarness.check(Self.threadInfo)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "sc", inv) }
    }

    func testWithoutThreadSizeTheNarrowAccessIsUnknownNotProved() {
        let report = SpecHarness.check(Self.threadInfo.replacingOccurrences(of: " thread-size=16384", with: ""))
        guard case .unknown(let why)? = report.paths.first?.results.first?.verdict else { return XCTFail("expected unknown") }
        XCTAssertTrue(why.contains("not 8-byte aligned"), why)
    }

    func testAThreadSizeThatMissesThreadInfoLeavesTheAccessChecked() {
        // THREAD_SIZE written as 8 KiB while the code uses 16 KiB: the accesses are no
        // thread_info the spec declared, so they stay stack accesses (here: unaligned).
        let report = SpecHarness.check(Self.threadInfo.replacingOccurrences(of: "thread-size=16384", with: "thread-size=8192"))
        guard case .unknown? = report.paths.first?.results.first?.verdict else { return XCTFail("expected unknown") }
    }

    func testAValueReadFromThreadInfoIsUnknownNotTheSavedOne() {
        // rcx reloaded from thread_info instead of the RIP slot: sysretq returns to
        // whatever thread_info holds there.
        let spec = Self.threadInfo.replacingOccurrences(of: "1:\tmovq 80(%rsp), %rcx", with: "1:\tmovq (16+80-16384+40)(%rsp), %rcx")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "sc", .ptraceConsistency, blamedLine: SpecHarness.line("<-exit", in: spec),
                                   requirementContains: "rip")
    }

    func testThreadSizeMustBeAStackSize() {
        let report = SpecHarness.check(Self.threadInfo.replacingOccurrences(of: "thread-size=16384", with: "thread-size=1000"))
        XCTAssertTrue(report.diagnostics.contains { $0.description.contains("power of two") }, "\(report.diagnostics)")
    }

    /// v4.15-shaped error_entry: the exception arrives on the entry stack, the registers
    /// are pushed below the return address, and sync_regs copies pt_regs to the task
    /// stack, which the path continues on.
    static let syncRegs = """
    # v4.15-shaped: an exception from user mode on the entry stack; error_entry copies
    # pt_regs to the task stack (sync_regs) and returns on it.
    .percpu cpu_current_top_of_stack stack
    .extern sync_regs moves-frame=cpu_current_top_of_stack
    .extern do_trap
    .path asm_exc entry=exception from=user
    asm_exc:
    \tpushq $-1                  # orig_ax
    \tcall error_entry
    \tmovq %rsp, %rdi
    \tcall do_trap
    \tjmp error_exit

    error_entry:
    \tcld
    \tpushq %rsi                 # PUSH_AND_CLEAR_REGS save_ret=1
    \tmovq 8(%rsp), %rsi         # the return address
    \tmovq %rdi, 8(%rsp)         # di where it was
    \tpushq %rdx
    \tpushq %rcx
    \tpushq %rax
    \(SpecHarness.pushPtRegsFromR8)\
    \tpushq %rsi                 # the return address again
    \tswapgs
    \tpopq %r12                  # save the return address
    \tmovq %rsp, %rdi            # pt_regs
    \tcall sync_regs
    \tmovq %rax, %rsp            # onto the task stack
    \tpushq %r12
    \tret

    error_exit:
    \tswapgs
    \(SpecHarness.popPtRegs)\
    \taddq $8, %rsp              # orig_ax
    \tiretq
    """

    func testAFrameCopiedToTheTaskStackProves() {
        let report = SpecHarness.check(Self.syncRegs)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "asm_exc", inv) }
        // A tracer writing the copy is seen by the exit that restores from it.
        let stopping = SpecHarness.check(Self.syncRegs.replacingOccurrences(of: ".extern do_trap\n", with: ".extern do_trap stop\n"))
        for inv in Invariant.allCases { SpecHarness.assertProved(stopping, path: "asm_exc", inv) }
    }

    func testWithoutTheContractTheNewStackIsUnknown() {
        let report = SpecHarness.check(Self.syncRegs.replacingOccurrences(of: " moves-frame=cpu_current_top_of_stack", with: ""))
        guard case .unknown(let why)? = report.paths.first?.results.first?.verdict else { return XCTFail("expected unknown") }
        XCTAssertTrue(why.contains("not a modelled stack"), why)
    }

    func testStayingOnTheOldStackAfterTheCopyIsCaught() {
        // The copy is the task's pt_regs from then on (a tracer writes it): leaving
        // through the entry stack's stale frame is a frame violation.
        let spec = Self.syncRegs.replacingOccurrences(of: "\tmovq %rax, %rsp            # onto the task stack\n", with: "")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "asm_exc", .frameBalance, blamedLine: SpecHarness.line("iretq", in: spec),
                                   requirementContains: "in the copy of the frame")
    }

    func testTheCopyCarriesTheSavedValues() {
        // rsi and rdx restored the wrong way round from the copy: each is the other's.
        let spec = Self.syncRegs.replacingOccurrences(of: "\tpopq %rdx\n\tpopq %rsi\n", with: "\tpopq %rsi\n\tpopq %rdx\n")
        let report = SpecHarness.check(spec)
        guard let r = SpecHarness.result(report, path: "asm_exc", .restoreMatchesSave), case .violated = r.verdict else {
            return XCTFail("the swapped restores from the copy must be reported")
        }
        XCTAssertTrue(r.violations.contains { $0.mechanism.subject == "rsi" }, "\(r.violations.map(\.mechanism))")
    }

    func testMovesFrameNamesAStackVariable() {
        let report = SpecHarness.check(Self.syncRegs.replacingOccurrences(of: ".percpu cpu_current_top_of_stack stack", with: ".percpu cpu_current_top_of_stack"))
        XCTAssertTrue(report.diagnostics.contains { $0.description.contains("moves-frame= names the per-CPU variable") }, "\(report.diagnostics)")
    }

    /// v4.15-shaped error_entry checked on its own: a function whose caller left the
    /// hardware frame and orig_ax above the return address.
    static let errorEntry = """
    # v4.15-shaped error_entry: called by the entry with the hardware frame and orig_ax
    # above its return address; it saves the registers below them and returns on pt_regs.
    .path error_entry entry=function returns=ptregs from=either
    error_entry:
    \tcld
    \tpushq %rsi                 # pt_regs.si, where the return address goes for now
    \tmovq 8(%rsp), %rsi         # the return address
    \tmovq %rdi, 8(%rsp)         # pt_regs.di, where the return address was
    \tpushq %rdx
    \tpushq %rcx
    \tpushq %rax
    \(SpecHarness.pushPtRegsFromR8)\
    \tpushq %rsi                 # the return address, below pt_regs
    \txorl %esi, %esi
    \txorl %edx, %edx
    \txorl %ecx, %ecx
    \txorl %r8d, %r8d
    \txorl %r9d, %r9d
    \txorl %r10d, %r10d
    \txorl %r11d, %r11d
    \txorl %ebx, %ebx
    \txorl %ebp, %ebp
    \txorl %r12d, %r12d
    \txorl %r13d, %r13d
    \txorl %r14d, %r14d
    \txorl %r15d, %r15d
    \ttestb $3, 144(%rsp)        # CS+8: from user mode?
    \tjz 1f
    \tswapgs
    1:\tret                        # <-exit
    """

    func testAFunctionThatReturnsWithPtRegsBuiltProves() {
        let report = SpecHarness.check(Self.errorEntry)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "error_entry", inv) }
    }

    func testPtRegsHandedBackMustHoldTheInterruptedRegisters() {
        // rbx and rbp pushed the wrong way round: the handler sees each in the other's field.
        let spec = Self.errorEntry.replacingOccurrences(of: "\tpushq %rbx\n\tpushq %rbp\n", with: "\tpushq %rbp\n\tpushq %rbx\n")
        let report = SpecHarness.check(spec)
        guard let r = SpecHarness.result(report, path: "error_entry", .ptraceConsistency), case .violated = r.verdict else {
            return XCTFail("the swapped saves must be reported")
        }
        XCTAssertEqual(Set(r.violations.map(\.mechanism.description)), ["ptrace bp at ret", "ptrace bx at ret"])
    }

    func testReturningWithoutPuttingTheReturnAddressBackIsCaught() {
        // Without the last push the ret pops pt_regs.r15 as its return address.
        let spec = Self.errorEntry.replacingOccurrences(of: "\tpushq %rsi                 # the return address, below pt_regs\n", with: "")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "error_entry", .returnStack, blamedLine: SpecHarness.line("<-exit", in: spec))
        SpecHarness.assertViolated(report, path: "error_entry", .frameBalance, blamedLine: SpecHarness.line("<-exit", in: spec),
                                   requirementContains: "must point at the pt_regs it built")
    }

    func testReturnsPtRegsIsForFunctions() {
        let report = SpecHarness.check(".path i entry=interrupt returns=ptregs\ni:\n\tiretq\n")
        XCTAssertTrue(report.diagnostics.contains { $0.description.contains("returns=ptregs applies to function paths") }, "\(report.diagnostics)")
    }

    /// v6.8's form of the same: error_entry tail-calls sync_regs, which returns the copy
    /// to the entry, which moves onto it.
    static var syncRegsTailCall: String {
        syncRegs
            .replacingOccurrences(of: "\tcall error_entry\n", with: "\tcall error_entry\n\tmovq %rax, %rsp            # onto the copy\n")
            .replacingOccurrences(of: "\tpopq %r12                  # save the return address\n\tmovq %rsp, %rdi            # pt_regs\n\tcall sync_regs\n\tmovq %rax, %rsp            # onto the task stack\n\tpushq %r12\n\tret\n",
                                  with: "\tleaq 8(%rsp), %rdi         # pt_regs, above the return address\n\tjmp sync_regs              # <-tail\n")
    }

    func testATailCallReturnsWhereTheRetWould() {
        let spec = Self.syncRegsTailCall
        XCTAssertTrue(spec.contains("jmp sync_regs"))
        let report = SpecHarness.check(spec)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "asm_exc", inv) }
        // Handing sync_regs a pointer 8 bytes off copies a shifted frame: every register
        // comes back from its neighbour's field.
        let shifted = SpecHarness.check(spec.replacingOccurrences(of: "leaq 8(%rsp), %rdi", with: "leaq 16(%rsp), %rdi"))
        guard let r = SpecHarness.result(shifted, path: "asm_exc", .restoreMatchesSave), case .violated = r.verdict else {
            return XCTFail("the shifted copy must be reported")
        }
    }

    func testReturnAndRetpolineThunksAreTheirInstructions() {
        // `jmp __x86_return_thunk` is the kernel's RET; `call __x86_indirect_thunk_rax`
        // calls through rax.
        let spec = """
        .extern work indirect clobbers=caller
        .path f entry=function
        f:
        \tpushq %rbx
        \tcall __x86_indirect_thunk_rax
        \tpopq %rbx
        \tjmp __x86_return_thunk
        """
        let report = SpecHarness.check(spec)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "f", inv) }
        let unbalanced = SpecHarness.check(spec.replacingOccurrences(of: "\tpopq %rbx\n", with: ""))
        SpecHarness.assertViolated(unbalanced, path: "f", .returnStack, blamedLine: 6)
    }
}
