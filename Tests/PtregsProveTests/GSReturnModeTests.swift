import PtregsProve
import SpecElaboration
import XCTest

/// Invariant `gs` at a return to kernel mode, at faulting instructions, and through exit
/// work loops (Sources/StackSemantics/Invariants/GSParity.swift, LoopFacts.swift).
final class GSReturnModeTests: XCTestCase {
    /// A paranoid exception (3.16's save_paranoid/paranoid_exit shape): the GS base is
    /// decided by reading MSR_GS_BASE, ebx says whether the exit swaps back, and a C
    /// handler gets pt_regs. `fixup`: the handler may move pt_regs.ip to a fixup
    /// (fixup_exception), as do_stack_segment does.
    static func paranoid(fixup: Bool) -> String {
        """
        .percpu irq_count
        .extern do_trap clobbers=none \(fixup ? "writes=ip " : "")reason="fixup_exception may move regs->ip to a fixup"
        .path ss entry=exception from=either
        ss:
        \tsubq $128, %rsp
        \tmovq %rax, 80(%rsp)
        \tmovq %rcx, 88(%rsp)
        \tmovq %rdx, 96(%rsp)
        \tmovq %rdi, 112(%rsp)
        \tmovq %rbx, 40(%rsp)
        \tmovl $1, %ebx
        \tmovl $0xc0000101, %ecx
        \trdmsr
        \ttestl %edx, %edx
        \tjs 1f
        \tswapgs
        \txorl %ebx, %ebx
        1:\tlfence
        \tincl PER_CPU_VAR(irq_count)
        \tmovq %rsp, %rdi
        \tcall do_trap
        \ttestl %ebx, %ebx
        \tjnz 2f
        \tswapgs
        2:\tmovq 40(%rsp), %rbx
        \tmovq 112(%rsp), %rdi
        \tmovq 96(%rsp), %rdx
        \tmovq 88(%rsp), %rcx
        \tmovq 80(%rsp), %rax
        \taddq $128, %rsp
        irq_return:
        \tiretq                 # <-iret
        """
    }

    func testAParanoidExitRestoresTheInterruptedKernelContextsBase() {
        // A #SS on irq_return's iretq arrives with the user's base and a kernel cs; the
        // exit swaps back and returns to that very iretq on the user's base: correct.
        let report = SpecHarness.check(Self.paranoid(fixup: false))
        SpecHarness.assertProved(report, path: "ss", .gsParity)
    }

    func testAParanoidExitToAFixupOnTheUsersBase() throws {
        // CVE-2014-9322: the handler moved pt_regs.ip to a fixup (bad_iret), and the exit
        // still swaps back, so the fixup runs kernel code on the user's base.
        let spec = Self.paranoid(fixup: true)
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "ss", .gsParity, blamedLine: SpecHarness.line("<-iret", in: spec),
                                            requirementContains: "iretq with the user's GS base live must return to user mode or to the kernel context it interrupted")
        let inputs = Dictionary(cx?.inputs ?? [], uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(inputs["entry.cs"].map { $0 & 3 }, 0, "a kernel-mode exception: \(inputs)")
        XCTAssertEqual(try XCTUnwrap(SpecHarness.result(report, path: "ss", .gsParity)).violations.map(\.mechanism.description), ["gs exit at iretq"])
    }

    func testASwapgsOnTheWayToAKernelModeReturn() throws {
        // An interrupt from kernel mode (kernel base live) that swaps before its iretq.
        let spec = """
        .percpu irq_count
        .path irq entry=interrupt from=kernel
        irq:
        \tincl PER_CPU_VAR(irq_count)
        \tswapgs
        \tiretq                 # <-iret
        """
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "irq", .gsParity, blamedLine: SpecHarness.line("<-iret", in: spec),
                                   requirementContains: "not to kernel cs")
    }

    // MARK: faults

    /// A user access with an exception-table entry, inside or outside a swapgs pair.
    static func userAccess(insideSwapgs: Bool) -> String {
        let body = insideSwapgs ? "\tswapgs\n1:\tmovl (%rdi), %eax        # <-fault\n2:\tswapgs\n" : "1:\tmovl (%rdi), %eax        # <-fault\n2:\tnop\n"
        return """
        .path f entry=function
        f:
        \(body)\tret
        fix:
        \txorl %eax, %eax
        \tjmp 2b
        \t.pushsection "__ex_table", "a"
        \t.long 1b - .
        \t.long fix - .
        \t.popsection
        """
    }

    func testAFaultingAccessOnTheKernelsBaseProves() {
        SpecHarness.assertProved(SpecHarness.check(Self.userAccess(insideSwapgs: false)), path: "f", .gsParity)
    }

    func testAFaultingAccessOnTheUsersBase() throws {
        // The fault reaches a kernel-mode handler that does not recognise the site
        // (only iretq and %gs loads are), so it runs per-CPU code on the user's base.
        let spec = Self.userAccess(insideSwapgs: true)
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "f", .gsParity, blamedLine: SpecHarness.line("<-fault", in: spec),
                                            requirementContains: "can fault (it has an exception-table entry) with the user's GS base live")
        XCTAssertTrue(cx?.inputs.contains { $0.0.hasPrefix("fault@") && $0.1 != 0 } == true, "the run faults: \(cx?.inputs ?? [])")
        XCTAssertEqual(try XCTUnwrap(SpecHarness.result(report, path: "f", .gsParity)).violations.map(\.mechanism.description),
                       ["gs fault at \"movl (%rdi), %eax\""])
    }

    // MARK: loops

    /// An interrupt's exit work loop: a signal-delivery stop (a tracer may rewrite cs,
    /// always with a user selector) until a flag clears, then swapgs and iretq.
    /// `kernelToo`: the entry also comes from kernel mode and swaps only from user mode,
    /// but the exit swaps always — a kernel-mode return on the user's base.
    static func workLoop(kernelToo: Bool) -> String {
        """
        .percpu thread_info pointer
        .extern notify stop reason="a signal-delivery stop"
        .path irq entry=interrupt from=\(kernelToo ? "either" : "user")
        irq:
        \tpushq $-1
        \tsubq $15*8, %rsp
        \(kernelToo ? "\ttestl $3, CS(%rsp)\n\tjz 3f\n" : "")\tswapgs
        3:\tlfence
        \tmovq PER_CPU_VAR(thread_info), %rbx
        \tjmp check
        work:
        \tmovq %rsp, %rdi
        \tcall notify
        check:
        \ttestl $1, 0(%rbx)
        \tjnz work
        \tswapgs
        \taddq $16*8, %rsp
        \tiretq                 # <-iret
        """
    }

    func testAStopInTheExitLoopKeepsAUserCs() {
        // Widening turns the saved cs into a loop variable; the fact "a user selector"
        // is proved inductive with it, so gs proves instead of "unknown: loop".
        let report = SpecHarness.check(Self.workLoop(kernelToo: false))
        SpecHarness.assertProved(report, path: "irq", .gsParity)
    }

    func testTheLoopFactIsNotAssumedForAKernelModeEntry() throws {
        let spec = Self.workLoop(kernelToo: true)
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "irq", .gsParity, blamedLine: SpecHarness.line("<-iret", in: spec),
                                   requirementContains: "iretq with the user's GS base live must return to user mode")
    }
}
