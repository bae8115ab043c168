import PtregsProve
import SpecElaboration
import XCTest

/// Branches stay path-sensitive across merges (issue 2, §3): two tests of the same
/// condition are correlated, so the infeasible mixed combinations are not reported;
/// loops are proved with an inductive check at their head, never silently unrolled.
final class PathSensitivityTests: XCTestCase {
    // MARK: correlated branches

    /// An interrupt from either mode: on entry from user mode swapgs and a push of rax
    /// (then rax is used); on exit the same mode test pops it and swaps back. A
    /// path-insensitive checker would pop a slot nothing was pushed to (kernel entry,
    /// user exit) and iret with the frame 8 bytes off (user entry, kernel exit).
    func testInterruptFromEitherModeWithAPushOnlyFromUserProves() {
        let report = SpecHarness.check("""
        .path irq entry=interrupt from=either
        irq:
        \tpushq %rbx
        \tmovl CS-RIP+8(%rsp), %ebx      # saved cs: the mode, kept in rbx
        \tandl $3, %ebx
        \tjz 1f
        \tswapgs
        \tpushq %rax
        \txorl %eax, %eax
        1:\tnop
        \ttestl $3, %ebx
        \tjz 2f
        \tpopq %rax
        \tswapgs
        2:\tpopq %rbx
        \tiretq
        """)
        SpecHarness.assertOthersProved(report, path: "irq", except: [])
    }

    /// The same with the two tests both reading the saved cs from the hardware frame
    /// (`testl $3, CS(%rsp)` on entry and exit) and a save into a slot below it. Only
    /// the kernel-entry, user-exit mix is wrong (a reload from a slot nothing wrote),
    /// so a counterexample has one place to blame.
    static func eitherModeWithSlotSave(exitTest: String) -> String {
        """
        .path irq entry=interrupt from=either
        irq:
        \tsubq $8, %rsp
        \ttestl $3, 8+CS-RIP(%rsp)
        \tjz 1f
        \tswapgs
        \tmovq %rax, (%rsp)
        1:\tnop
        \ttestl $3, 8+\(exitTest)-RIP(%rsp)
        \tjz 2f
        \tmovq (%rsp), %rax              # <-reload
        \tswapgs
        2:\taddq $8, %rsp
        \tiretq
        """
    }

    func testTwoTestsOfTheSavedCsAreCorrelated() {
        let report = SpecHarness.check(Self.eitherModeWithSlotSave(exitTest: "CS"))
        SpecHarness.assertOthersProved(report, path: "irq", except: [])
    }

    func testTestsOfDifferentFieldsAreNotCorrelated() {
        // The control: the exit tests ss instead of cs, so a kernel entry can take the
        // user exit and reload rax from a slot nothing wrote.
        let spec = Self.eitherModeWithSlotSave(exitTest: "SS")
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "irq", .restoreMatchesSave, blamedLine: SpecHarness.line("<-reload", in: spec),
                                            requirementContains: "rax must hold the user's value (pt_regs.ax) when `iretq`")
        XCTAssertEqual(SpecHarness.touched(cx, "pt_regs.orig_ax")?.holds, "garbage")
    }

    func testFunctionWithPushAndPopUnderTheSameFlagTestProves() {
        let report = SpecHarness.check("""
        .path f entry=function
        f:
        \ttestq %rax, %rax
        \tjz 1f
        \tpushq %rbx
        \txorl %ebx, %ebx
        1:\tnop
        \ttestq %rax, %rax
        \tjz 2f
        \tpopq %rbx
        2:\tret
        """)
        SpecHarness.assertOthersProved(report, path: "f", except: [])
    }

    // MARK: loops

    func testTIFWorkLoopCallingScheduleProves() {
        let report = SpecHarness.check("""
        .percpu thread_info pointer
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbx
        \tpushq %rdi
        1:\tmovq PER_CPU_VAR(thread_info), %rcx
        \ttestl $8, 16(%rcx)
        \tjz 2f
        \tcall schedule
        \tjmp 1b
        2:\tpopq %rdi
        \tpopq %rbx
        \tret
        """)
        SpecHarness.assertOthersProved(report, path: "f", except: [])
    }

    /// entry_64.S's sysret_check / sysret_careful: the exit checks the TIF flags,
    /// schedules with rdi pushed around the call, and jumps back to the check.
    func testSyscallExitWorkLoopProves() {
        let report = SpecHarness.check("""
        .percpu old_rsp
        .percpu kernel_stack stack
        .percpu thread_info pointer
        .extern sys_call_table
        .extern schedule
        .path sc entry=syscall ptregs=none   # a frame of its own, not pt_regs
        sc:
        \tswapgs
        \tmovq %rsp, PER_CPU_VAR(old_rsp)
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tsubq $8*8, %rsp
        \tmovq %rdi, 56(%rsp)
        \tmovq %rsi, 48(%rsp)
        \tmovq %rdx, 40(%rsp)
        \tmovq %rcx, 32(%rsp)
        \tmovq %r11, 24(%rsp)
        \tmovq %r8, 16(%rsp)
        \tmovq %r9, 8(%rsp)
        \tmovq %r10, (%rsp)
        \tmovq %r10, %rcx
        \tcall *sys_call_table(,%rax,8)
        \tmovl $0xffff, %edi
        sysret_check:
        \tcli
        \tmovq PER_CPU_VAR(thread_info), %rcx
        \tmovl 16(%rcx), %edx
        \tandl %edi, %edx
        \tjnz sysret_careful
        \tmovq (%rsp), %r10
        \tmovq 8(%rsp), %r9
        \tmovq 16(%rsp), %r8
        \tmovq 24(%rsp), %r11
        \tmovq 32(%rsp), %rcx
        \tmovq 40(%rsp), %rdx
        \tmovq 48(%rsp), %rsi
        \tmovq 56(%rsp), %rdi
        \tmovq PER_CPU_VAR(old_rsp), %rsp
        \tswapgs
        \tsysretq
        sysret_careful:
        \tsti
        \tpushq %rdi
        \tcall schedule
        \tpopq %rdi
        \tjmp sysret_check
        """)
        SpecHarness.assertOthersProved(report, path: "sc", except: [])
    }

    func testLoopThatGrowsTheStackEachTimeIsUnknownNotProved() {
        // A push per iteration: no inductive frame shape, so "unknown: loop" with the reason.
        let report = SpecHarness.check("""
        .percpu thread_info pointer
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbx
        1:\tmovq PER_CPU_VAR(thread_info), %rcx
        \ttestl $8, 16(%rcx)
        \tjz 2f
        \tpushq %rdi
        \tcall schedule
        \tjmp 1b
        2:\tpopq %rbx
        \tret
        """)
        for inv in Invariant.allCases {
            SpecHarness.assertUnknown(report, path: "f", inv, reasonContains: "loop: rsp at the loop head differs between iterations")
        }
    }

    func testLoopThatClobbersASaveOnTheWayRoundIsViolated() {
        // The save survives the first check; a trip round the loop destroys it, and the
        // ret gives the destroyed value back in rbx.
        let spec = """
        .percpu thread_info pointer
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbx
        \tpushq %rdi
        1:\tmovq PER_CPU_VAR(thread_info), %rcx
        \ttestl $8, 16(%rcx)
        \tjz 2f
        \tcall schedule
        \tmovq %rax, 8(%rsp)
        \tjmp 1b
        2:\tpopq %rdi
        \tpopq %rbx          # <-blamed
        \tret
        """
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "f", .restoreMatchesSave, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                   requirementContains: "rbx must hold its value from the path's entry")
        SpecHarness.assertOthersProved(report, path: "f", except: [.restoreMatchesSave])
    }

    /// The same loop destroying the save of rdi, which a function's ret does not give
    /// back: nobody observes the value popped into rdi, so it proves (the old home-slot
    /// rule called it a violation).
    func testLoopThatClobbersAnUnobservedSaveProves() {
        let report = SpecHarness.check("""
        .percpu thread_info pointer
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbx
        \tpushq %rdi
        1:\tmovq PER_CPU_VAR(thread_info), %rcx
        \ttestl $8, 16(%rcx)
        \tjz 2f
        \tcall schedule
        \tmovq %rax, (%rsp)
        \tjmp 1b
        2:\tpopq %rdi
        \tpopq %rbx
        \tret
        """)
        SpecHarness.assertOthersProved(report, path: "f", except: [])
    }
}
