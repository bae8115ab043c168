import PtregsProve
import SpecElaboration
import XCTest

/// Invariant 1, restore matches save (docs/model.md, "1. Restore matches save";
/// Sources/StackSemantics/Invariants/RestoreMatchesSave.swift).
final class RestoreInvariantTests: XCTestCase {
    /// A 64-bit syscall path that builds a full pt_regs (SYSCALL's rcx = user rip and
    /// r11 = user rflags go to ip/flags as well), calls the handler and goes back
    /// through IRET, restoring each register from its own field. `saves` and
    /// `restores` replace the register saves and restores; `between` runs after the
    /// handler, before the restores.
    static func syscallViaIret(saves: String = RestoreInvariantTests.saves, between: String = "",
                               restores: String = RestoreInvariantTests.restores) -> String {
        """
        .percpu old_rsp
        .percpu kernel_stack stack
        .extern sys_call_table
        .path sc entry=syscall
        sc:
        \tswapgs
        \tmovq %rsp, PER_CPU_VAR(old_rsp)
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tsubq $16*8, %rsp
        \(saves)
        \tmovq %rax, ORIG_RAX(%rsp)
        \tmovq %rcx, RIP(%rsp)
        \tmovq $0x33, CS(%rsp)
        \tmovq %r11, EFLAGS(%rsp)
        \tmovq PER_CPU_VAR(old_rsp), %rcx
        \tmovq %rcx, RSP(%rsp)
        \tmovq $0x2b, SS(%rsp)
        \tmovq %r10, %rcx
        \tcall *sys_call_table(,%rax,8)
        \tmovq %rax, RAX(%rsp)
        \(between)
        \(restores)
        \taddq $RIP, %rsp
        \tswapgs
        \tiretq
        """
    }

    static let saves = """
    \tmovq %rdi, RDI(%rsp)
    \tmovq %rsi, RSI(%rsp)
    \tmovq %rdx, RDX(%rsp)
    \tmovq %rcx, RCX(%rsp)
    \tmovq %r8, R8(%rsp)
    \tmovq %r9, R9(%rsp)
    \tmovq %r10, R10(%rsp)
    \tmovq %r11, R11(%rsp)
    """

    static let restores = """
    \tmovq R11(%rsp), %r11
    \tmovq R10(%rsp), %r10
    \tmovq R9(%rsp), %r9
    \tmovq R8(%rsp), %r8
    \tmovq RAX(%rsp), %rax
    \tmovq RCX(%rsp), %rcx
    \tmovq RDX(%rsp), %rdx
    \tmovq RSI(%rsp), %rsi
    \tmovq RDI(%rsp), %rdi
    """

    // MARK: proofs

    func testSyscallSavingAndRestoringEveryRegisterThroughIretProves() {
        let report = SpecHarness.check(Self.syscallViaIret())
        SpecHarness.assertOthersProved(report, path: "sc", except: [])
    }

    func testCalleeSavedFrameWithLocalSlotsProves() {
        // A C-style frame: callee-saved registers saved in local slots, restored from them.
        let report = SpecHarness.check("""
        .extern schedule
        .path f entry=function
        f:
        \tsubq $24, %rsp
        \tmovq %rbx, 16(%rsp)
        \tmovq %r12, 8(%rsp)
        \tmovq %rbp, (%rsp)
        \tcall schedule
        \txorl %ebx, %ebx
        \tmovq $1, %r12
        \tmovq (%rsp), %rbp
        \tmovq 8(%rsp), %r12
        \tmovq 16(%rsp), %rbx
        \taddq $24, %rsp
        \tret
        """)
        SpecHarness.assertOthersProved(report, path: "f", except: [])
    }

    /// Frederic's review of "always allocate complete struct pt_regs": the interrupt
    /// macro pushes the previous stack pointer from rdi and ret_from_intr pops it into
    /// rsi. A pop into another register is a move, not a restore: it proves.
    func testFredericPushRdiPopRsiProves() {
        let report = SpecHarness.check("""
        .percpu irq_count
        .percpu irq_stack_ptr stack
        .extern do_IRQ
        .path common_interrupt entry=interrupt from=kernel
        common_interrupt:
        \tpushq $-1
        \tsubq $15*8, %rsp
        \tmovq %rdi, RDI(%rsp)
        \tmovq %rsi, RSI(%rsp)
        \tmovq %rdx, RDX(%rsp)
        \tmovq %rcx, RCX(%rsp)
        \tmovq %rax, RAX(%rsp)
        \tmovq %r8, R8(%rsp)
        \tmovq %r9, R9(%rsp)
        \tmovq %r10, R10(%rsp)
        \tmovq %r11, R11(%rsp)
        \tmovq %rsp, %rdi
        \tincl PER_CPU_VAR(irq_count)
        \tmovq PER_CPU_VAR(irq_stack_ptr), %rsp
        \tpushq %rdi
        \tcall do_IRQ
        \tpopq %rsi
        \tdecl PER_CPU_VAR(irq_count)
        \tmovq %rsi, %rsp
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
        \tiretq
        """)
        SpecHarness.assertOthersProved(report, path: "common_interrupt", except: [])
    }

    /// The whole interrupt macro of the series: from either mode, swapgs under the saved
    /// cs test, the irq stack switched to with `cmovzq` when irq_count was -1, the
    /// previous stack pushed from rdi and popped into rsi on the way out.
    func testFredericInterruptMacroFromEitherModeWithIrqStackSwitchProves() {
        let report = SpecHarness.check("""
        .percpu irq_count
        .percpu irq_stack_ptr stack
        .extern do_IRQ
        .path common_interrupt entry=interrupt from=either
        common_interrupt:
        \tpushq $-1
        \tsubq $15*8, %rsp
        \tmovq %rdi, RDI(%rsp)
        \tmovq %rsi, RSI(%rsp)
        \tmovq %rdx, RDX(%rsp)
        \tmovq %rcx, RCX(%rsp)
        \tmovq %rax, RAX(%rsp)
        \tmovq %r8, R8(%rsp)
        \tmovq %r9, R9(%rsp)
        \tmovq %r10, R10(%rsp)
        \tmovq %r11, R11(%rsp)
        \tmovq %rsp, %rdi
        \ttestl $3, CS(%rsp)
        \tje 1f
        \tswapgs
        1:\tincl PER_CPU_VAR(irq_count)
        \tcmovzq PER_CPU_VAR(irq_stack_ptr), %rsp
        \tpushq %rdi
        \tcall do_IRQ
        \tpopq %rsi
        \tdecl PER_CPU_VAR(irq_count)
        \tmovq %rsi, %rsp
        \ttestl $3, CS(%rsp)
        \tje 2f
        \tswapgs
        2:\tmovq R11(%rsp), %r11
        \tmovq R10(%rsp), %r10
        \tmovq R9(%rsp), %r9
        \tmovq R8(%rsp), %r8
        \tmovq RAX(%rsp), %rax
        \tmovq RCX(%rsp), %rcx
        \tmovq RDX(%rsp), %rdx
        \tmovq RSI(%rsp), %rsi
        \tmovq RDI(%rsp), %rdi
        \taddq $16*8, %rsp
        \tiretq
        """)
        // The 3.16 macro has no lfence after its swapgs decision (CVE-2019-1125).
        SpecHarness.assertOthersProved(report, path: "common_interrupt", except: [.speculationFence])
    }

    // MARK: violations
    //
    // Judged where the value is observed (the exit), blamed by provenance on the
    // instruction that put the wrong value in the register.

    func testRestoreFromNeverWrittenPtRegsSlot() {
        // SAVE_REST left out: rbx is reloaded from a field nobody wrote.
        let spec = Self.syscallViaIret(restores: Self.restores + "\n\tmovq RBX(%rsp), %rbx  # <-blamed")
            .replacingOccurrences(of: "\tiretq", with: "\tiretq  # <-exit")
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "sc", .restoreMatchesSave, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "rbx must hold the user's value (pt_regs.bx) when `iretq` (line \(SpecHarness.line("<-exit", in: spec))) returns")
        XCTAssertTrue(cx?.requirement.contains("`movq RBX(%rsp), %rbx` (line \(SpecHarness.line("<-blamed", in: spec))) read pt_regs.bx (kernel_stack-0x58), which held garbage (never written)") == true, cx?.requirement ?? "")
        XCTAssertEqual(SpecHarness.touched(cx, "pt_regs.bx")?.holds, "garbage")
        XCTAssertEqual(cx?.observation?.location.line, SpecHarness.line("<-exit", in: spec))
        SpecHarness.assertOthersProved(report, path: "sc", except: [.restoreMatchesSave])
    }

    func testSwappedSlotsRdiInRsiAndRsiInRdi() {
        // rdi saved into RSI(%rsp) and rsi into RDI(%rsp), each restored from its own field:
        // both registers are wrong at the exit, each blamed on its own restore.
        let saves = Self.saves
            .replacingOccurrences(of: "movq %rdi, RDI(%rsp)", with: "movq %rdi, RSI(%rsp)  # <-save-rdi")
            .replacingOccurrences(of: "movq %rsi, RSI(%rsp)", with: "movq %rsi, RDI(%rsp)")
        let restores = Self.restores
            .replacingOccurrences(of: "movq RSI(%rsp), %rsi", with: "movq RSI(%rsp), %rsi  # <-blamed")
            .replacingOccurrences(of: "movq RDI(%rsp), %rdi", with: "movq RDI(%rsp), %rdi  # <-also")
        let spec = Self.syscallViaIret(saves: saves, restores: restores)
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "sc", .restoreMatchesSave, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "rsi must hold the user's value (pt_regs.si)")
        XCTAssertEqual(SpecHarness.touched(cx, "pt_regs.si")?.holds, "saved rdi (line \(SpecHarness.line("<-save-rdi", in: spec)))")
        XCTAssertTrue(cx?.requirement.contains("which held saved rdi (line \(SpecHarness.line("<-save-rdi", in: spec)))") == true, cx?.requirement ?? "")
        XCTAssertTrue(cx?.requirement.contains("also wrong there: rdi (blamed on `movq RDI(%rsp), %rdi`, line \(SpecHarness.line("<-also", in: spec)))") == true, cx?.requirement ?? "")
        XCTAssertEqual(cx?.related.map(\.location.line), [SpecHarness.line("<-also", in: spec)])
    }

    func testSlotOverwrittenBetweenSaveAndRestore() {
        // FIXUP_TOP_OF_STACK's `movq $-1, RCX(%rsp)`, then RESTORE_ARGS reloads rcx from it.
        let spec = Self.syscallViaIret(between: "\tmovq $-1, RCX(%rsp)  # <-overwrite",
                                       restores: Self.restores.replacingOccurrences(of: "movq RCX(%rsp), %rcx", with: "movq RCX(%rsp), %rcx  # <-blamed"))
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "sc", .restoreMatchesSave, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "rcx must hold the user's value (pt_regs.cx) when `iretq`")
        XCTAssertEqual(SpecHarness.touched(cx, "pt_regs.cx")?.holds, "the constant -1 (line \(SpecHarness.line("<-overwrite", in: spec)))")
        XCTAssertEqual(SpecHarness.value(cx, "rcx"), "0xffffffffffffffff")
        XCTAssertTrue(cx?.requirement.contains("read pt_regs.cx (kernel_stack-0x28), which held the constant -1 (line \(SpecHarness.line("<-overwrite", in: spec)))") == true,
                      cx?.requirement ?? "")
    }

    /// A pop of garbage into rbx that a second pop replaces before anyone looks: nothing
    /// observes the garbage, so it proves (the old home-slot rule called it a violation).
    func testPopOfGarbageReplacedBeforeTheExitProves() {
        let report = SpecHarness.check("""
        .path f entry=function
        f:
        \tpushq %rbx
        \tsubq $8, %rsp
        \tpopq %rbx
        \tpopq %rbx
        \tret
        """)
        SpecHarness.assertOthersProved(report, path: "f", except: [])
    }

    func testPopOfGarbageObservedAtTheExit() {
        let spec = """
        .path f entry=function
        f:
        \tpushq %rbx
        \tsubq $8, %rsp
        \tpopq %rbx          # <-blamed
        \taddq $8, %rsp
        \tret                # <-exit
        """
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "f", .restoreMatchesSave, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "`popq %rbx` (line 5) read entry stack-0x10, which held garbage (never written)")
        XCTAssertEqual(SpecHarness.touched(cx, "entry stack-0x10")?.holds, "garbage")
        XCTAssertEqual(cx?.observation?.location.line, SpecHarness.line("<-exit", in: spec))
    }

    func testOffByEightReloadIsCaughtWhereTheRegisterIsGivenBack() {
        // rbx reloaded 8 bytes off, from the slot of rbp: judged at the ret, blamed on the load.
        let spec = """
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbx
        \tpushq %rbp        # <-save-rbp
        \tcall schedule
        \tmovq (%rsp), %rbp
        \tmovq (%rsp), %rbx  # <-blamed
        \taddq $16, %rsp
        \tret                # <-exit
        """
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "f", .restoreMatchesSave, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "rbx must hold its value from the path's entry when the path returns at `ret` (line 10)")
        XCTAssertTrue(cx?.requirement.contains("read entry stack-0x10, which held saved rbp (pushed) (line \(SpecHarness.line("<-save-rbp", in: spec)))") == true, cx?.requirement ?? "")
        SpecHarness.assertOthersProved(report, path: "f", except: [.restoreMatchesSave])
    }

    func testCallerClobberedRegisterNotRestoredBeforeIret() {
        // The handler clobbers rdx; the exit forgets to reload it from pt_regs. The wrong
        // value is the one the call left: blamed there, observed at the iretq.
        let spec = Self.syscallViaIret(restores: Self.restores.replacingOccurrences(of: "\tmovq RDX(%rsp), %rdx\n", with: ""))
            .replacingOccurrences(of: "\tiretq", with: "\tiretq  # <-exit")
            .replacingOccurrences(of: "\tcall *sys_call_table(,%rax,8)", with: "\tcall *sys_call_table(,%rax,8)  # <-blamed")
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "sc", .restoreMatchesSave, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "rdx must hold the user's value (pt_regs.dx) when `iretq`")
        XCTAssertTrue(cx?.requirement.contains("which clobbers it, and nothing restored it") == true, cx?.requirement ?? "")
        XCTAssertEqual(cx?.observation?.location.line, SpecHarness.line("<-exit", in: spec))
    }
}
