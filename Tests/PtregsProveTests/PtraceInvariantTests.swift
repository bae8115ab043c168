import PtregsProve
import SpecElaboration
import XCTest

/// Invariant 3, ptrace-visible consistency (docs/model.md, "3. ptrace-visible fields consistent";
/// Sources/StackSemantics/Invariants/PtraceConsistency.swift).
final class PtraceInvariantTests: XCTestCase {
    static let fillPtRegs = """
    \tmovq %rdi, RDI(%rsp)
    \tmovq %rsi, RSI(%rsp)
    \tmovq %rdx, RDX(%rsp)
    \tmovq %rcx, RCX(%rsp)
    \tmovq $-38, RAX(%rsp)
    \tmovq %r8, R8(%rsp)
    \tmovq %r9, R9(%rsp)
    \tmovq %r10, R10(%rsp)
    \tmovq %r11, R11(%rsp)
    \tmovq %rbx, RBX(%rsp)
    \tmovq %rbp, RBP(%rsp)
    \tmovq %r12, R12(%rsp)
    \tmovq %r13, R13(%rsp)
    \tmovq %r14, R14(%rsp)
    \tmovq %r15, R15(%rsp)
    \tmovq %rax, ORIG_RAX(%rsp)
    \tmovq %rcx, RIP(%rsp)
    \tmovq $0x33, CS(%rsp)
    \tmovq %r11, EFLAGS(%rsp)
    \tmovq PER_CPU_VAR(old_rsp), %rcx
    \tmovq %rcx, RSP(%rsp)
    \tmovq $0x2b, SS(%rsp)
    """

    static let restoreAll = """
    \tmovq R15(%rsp), %r15
    \tmovq R14(%rsp), %r14
    \tmovq R13(%rsp), %r13
    \tmovq R12(%rsp), %r12
    \tmovq RBP(%rsp), %rbp
    \tmovq RBX(%rsp), %rbx
    \tmovq R10(%rsp), %r10
    \tmovq R9(%rsp), %r9
    \tmovq R8(%rsp), %r8
    \tmovq RAX(%rsp), %rax
    \tmovq RDX(%rsp), %rdx
    \tmovq RSI(%rsp), %rsi
    \tmovq RDI(%rsp), %rdi
    """

    /// The traced syscall slow path: a full pt_regs, the syscall-entry stop (which sees
    /// ax = -ENOSYS), the handler with the arguments as ptrace left them, and SYSRET
    /// with rcx, r11 and rsp taken from pt_regs.ip/flags/sp.
    static func tracedSyscall(fill: String = PtraceInvariantTests.fillPtRegs, beforeStop: String = "",
                              exit: String = PtraceInvariantTests.sysretFromPtRegs) -> String {
        """
        .percpu old_rsp
        .percpu kernel_stack stack
        .extern sys_call_table
        .extern syscall_trace_enter stop ax=-38
        .path tracesys entry=syscall
        tracesys:
        \tswapgs
        \tmovq %rsp, PER_CPU_VAR(old_rsp)
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tsubq $16*8, %rsp
        \(fill)
        \(beforeStop)
        \tmovq %rsp, %rdi
        \tcall syscall_trace_enter   # <-stop
        \tmovq ORIG_RAX(%rsp), %rax
        \tmovq R10(%rsp), %rcx
        \tmovq RDI(%rsp), %rdi
        \tmovq RSI(%rsp), %rsi
        \tmovq RDX(%rsp), %rdx
        \tmovq R8(%rsp), %r8
        \tmovq R9(%rsp), %r9
        \tcall *sys_call_table(,%rax,8)
        \tmovq %rax, RAX(%rsp)
        \(restoreAll)
        \(exit)
        """
    }

    /// SYSRET loads cs=0x33 and ss=0x2b: only when pt_regs holds those may it return (a
    /// tracer's other selector leaves by IRET — here, a trap for brevity).
    static let sysretFromPtRegs = """
    \tcmpq $0x33, CS(%rsp)
    \tjne 9f
    \tcmpq $0x2b, SS(%rsp)
    \tjne 9f
    \tmovq EFLAGS(%rsp), %r11
    \tmovq RIP(%rsp), %rcx
    \tmovq RSP(%rsp), %rsp
    \tswapgs
    \tsysretq            # <-exit
    9:\tud2
    """

    static let iretFromPtRegs = """
    \tmovq RCX(%rsp), %rcx
    \tmovq R11(%rsp), %r11
    \taddq $RIP, %rsp
    \tswapgs
    \tiretq              # <-exit
    """

    // MARK: proofs

    func testTracedSyscallHonouringPtraceWritesOnSysretProves() {
        // Every ptrace write is honoured — including a non-canonical ip or TF/RF in
        // flags, which SYSRET must not return (CVE-2014-4699; SysretHazardInvariantTests).
        let report = SpecHarness.check(Self.tracedSyscall())
        SpecHarness.assertOthersProved(report, path: "tracesys", except: [.sysretHazard])
    }

    func testSysretDropsATracersCSAndSS() throws {
        // Without the selector test, SYSRET returns in 64-bit mode with __USER_DS whatever
        // cs/ss the tracer wrote (putreg takes any RPL-3 selector): ptrace shows a mode
        // the task does not run in. 4.x's opportunistic SYSRET tests both.
        let exit = Self.sysretFromPtRegs.replacingOccurrences(of: "\tcmpq $0x33, CS(%rsp)\n\tjne 9f\n\tcmpq $0x2b, SS(%rsp)\n\tjne 9f\n", with: "")
        let spec = Self.tracedSyscall(exit: exit)
        let report = SpecHarness.check(spec)
        let r = try XCTUnwrap(SpecHarness.result(report, path: "tracesys", .ptraceConsistency))
        XCTAssertEqual(Set(r.violations.map(\.mechanism.description)), ["ptrace cs at sysretq", "ptrace ss at sysretq"])
        let cs = try XCTUnwrap(r.violations.first { $0.mechanism.subject == "cs" }?.counterexample)
        XCTAssertEqual(cs.location.line, SpecHarness.line("<-exit", in: spec))
        XCTAssertTrue(cs.requirement.contains("loads cs=0x33 whatever pt_regs.cs holds"), cs.requirement)
        let written = try XCTUnwrap(cs.inputs.first { $0.0.hasPrefix("ptrace.cs@") }?.1, "inputs: \(cs.inputs)")
        XCTAssertNotEqual(written, 0x33)
        XCTAssertTrue(cs.inputs.contains { $0.0.hasPrefix("ptrace.wrote.cs@") && $0.1 == 1 }, "inputs: \(cs.inputs)")
        // A tracer's ss is a 16-bit selector (putreg's set_segment_reg takes a u16), so a
        // 16-bit compare is as good as the kernel's 64-bit one; an 8-bit one is not.
        for (compare, holds) in [("cmpw", true), ("cmpb", false)] {
            let narrow = Self.tracedSyscall(exit: Self.sysretFromPtRegs.replacingOccurrences(of: "cmpq $0x2b, SS(%rsp)", with: "\(compare) $0x2b, SS(%rsp)"))
            let n = try XCTUnwrap(SpecHarness.result(SpecHarness.check(narrow), path: "tracesys", .ptraceConsistency))
            XCTAssertEqual(n.violations.map(\.mechanism.description), holds ? [] : ["ptrace ss at sysretq"], compare)
        }
        // Testing only cs leaves ss.
        let csOnly = Self.tracedSyscall(exit: Self.sysretFromPtRegs.replacingOccurrences(of: "\tcmpq $0x2b, SS(%rsp)\n\tjne 9f\n", with: ""))
        XCTAssertEqual(try XCTUnwrap(SpecHarness.result(SpecHarness.check(csOnly), path: "tracesys", .ptraceConsistency)).violations.map(\.mechanism.description),
                       ["ptrace ss at sysretq"])
    }

    func testATracersCSIsAnyUserSelectorNotOnlyTheKernelsTwo() throws {
        // putreg takes any non-zero 16-bit selector with RPL 3 — an LDT code segment too —
        // so ruling out __USER32_CS does not make the selector __USER_CS: SYSRET would
        // drop an LDT selector the tracer wrote.
        let exit = Self.sysretFromPtRegs.replacingOccurrences(of: "\tcmpq $0x33, CS(%rsp)\n\tjne 9f\n", with: "\tcmpq $0x23, CS(%rsp)\n\tje 9f\n")
        let spec = Self.tracedSyscall(exit: exit)
        let r = try XCTUnwrap(SpecHarness.result(SpecHarness.check(spec), path: "tracesys", .ptraceConsistency))
        XCTAssertEqual(r.violations.map(\.mechanism.description), ["ptrace cs at sysretq"])
        let cs = try XCTUnwrap(r.violations.first?.counterexample)
        let loaded = try XCTUnwrap(cs.values.first { $0.0.contains("cs") }?.1, "values: \(cs.values)")
        XCTAssertFalse(["0x33", "0x23"].contains(loaded), "the tracer's selector: \(cs.values)")
        // Comparing with __USER_CS itself is the check.
        XCTAssertEqual(try XCTUnwrap(SpecHarness.result(SpecHarness.check(Self.tracedSyscall()), path: "tracesys", .ptraceConsistency)).violations.count, 0)
    }

    func testTracedSyscallLeavingThroughIretProves() {
        let report = SpecHarness.check(Self.tracedSyscall(exit: Self.iretFromPtRegs))
        SpecHarness.assertOthersProved(report, path: "tracesys", except: [])
    }

    func testInterruptFromUserHandingPtRegsToAnObserverProves() {
        // A C function that reads the pt_regs of an interrupt (observes=ip,cs,flags,sp,ss,di).
        let report = SpecHarness.check("""
        .extern do_IRQ observes=ip,cs,flags,sp,ss,di clobbers=none
        .path irq entry=interrupt from=user
        irq:
        \tswapgs
        \tsubq $16*8, %rsp
        \tmovq %rdi, RDI(%rsp)
        \tmovq %rsp, %rdi
        \tcall do_IRQ
        \tmovq RDI(%rsp), %rdi
        \taddq $16*8, %rsp
        \tswapgs
        \tiretq
        """)
        SpecHarness.assertOthersProved(report, path: "irq", except: [])
    }

    // MARK: violations

    func testNeverWrittenFieldAtAStop() {
        // SAVE_REST forgot r15: the tracer reads kernel stack garbage as the user's r15.
        let spec = Self.tracedSyscall(fill: Self.fillPtRegs.replacingOccurrences(of: "\tmovq %r15, R15(%rsp)\n", with: ""))
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "tracesys", .ptraceConsistency, blamedLine: SpecHarness.line("<-stop", in: spec),
                                            requirementContains: "pt_regs.r15 seen by syscall_trace_enter must be the user's r15")
        XCTAssertEqual(SpecHarness.pictured(cx, "pt_regs.r15")?.holds, "garbage")
        XCTAssertEqual(cx?.steps.last?.text, "call syscall_trace_enter")
    }

    func testFieldOverwrittenWithAConstantBeforeAStop() {
        // FIXUP_TOP_OF_STACK's `movq $-1, RCX(%rsp)`: the tracer sees cx = -1, not the user's rcx.
        let spec = Self.tracedSyscall(beforeStop: "\tmovq $-1, RCX(%rsp)  # <-minus-one")
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "tracesys", .ptraceConsistency, blamedLine: SpecHarness.line("<-stop", in: spec),
                                            requirementContains: "pt_regs.cx seen by syscall_trace_enter must be the user's rcx")
        XCTAssertEqual(SpecHarness.pictured(cx, "pt_regs.cx")?.holds, "the constant -1 (line \(SpecHarness.line("<-minus-one", in: spec)))")
        XCTAssertEqual(SpecHarness.value(cx, "pt_regs.cx"), "0xffffffffffffffff")
        // The field is never restored from (rcx comes back from RIP), so restore proves.
        // (The unchecked SYSRET exit is CVE-2014-4699's: SysretHazardInvariantTests.)
        SpecHarness.assertOthersProved(report, path: "tracesys", except: [.ptraceConsistency, .sysretHazard])
    }

    func testFieldOtherThanTheContractsValueAtAStop() {
        // The stop's contract says ax = -ENOSYS; the path leaves the user's rax there.
        let spec = Self.tracedSyscall(fill: Self.fillPtRegs.replacingOccurrences(of: "movq $-38, RAX(%rsp)", with: "movq %rax, RAX(%rsp)"))
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "tracesys", .ptraceConsistency, blamedLine: SpecHarness.line("<-stop", in: spec),
                                   requirementContains: "pt_regs.ax seen by syscall_trace_enter must be -38 (the contract of syscall_trace_enter)")
    }

    func testStaleOldRspReturnedBySysretAfterAStopRewroteSp() {
        // The stop may rewrite pt_regs.sp; sysretq must not go back with the per-CPU old_rsp.
        let exit = Self.sysretFromPtRegs.replacingOccurrences(of: "movq RSP(%rsp), %rsp", with: "movq PER_CPU_VAR(old_rsp), %rsp")
        let spec = Self.tracedSyscall(exit: exit)
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "tracesys", .ptraceConsistency, blamedLine: SpecHarness.line("<-exit", in: spec),
                                            requirementContains: "sysretq must return the user's rsp from pt_regs.sp (in rsp)")
        XCTAssertTrue(cx?.inputs.contains { $0.0.hasPrefix("ptrace.sp@") } == true, "model values: \(cx?.inputs ?? [])")
        // old_rsp is still a user rsp: the frame invariant accepts it.
        SpecHarness.assertProved(report, path: "tracesys", .frameBalance)
    }

    func testSysretReturningRcxInsteadOfTheRewrittenIp() {
        // After the stop the user's rip is pt_regs.ip; reloading rcx from RCX returns something else.
        let exit = Self.sysretFromPtRegs.replacingOccurrences(of: "movq RIP(%rsp), %rcx", with: "movq RCX(%rsp), %rcx")
        let spec = Self.tracedSyscall(exit: exit)
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "tracesys", .ptraceConsistency, blamedLine: SpecHarness.line("<-exit", in: spec),
                                   requirementContains: "sysretq must return the user's rip from pt_regs.ip (in rcx)")
    }

    func testIretAfterRewritingSpFromTheStaleOldRsp() {
        // FIXUP_TOP_OF_STACK run again after the stop: pt_regs.sp gets the per-CPU old_rsp
        // back, and IRET returns it instead of the sp the tracer wrote.
        let exit = "\tmovq PER_CPU_VAR(old_rsp), %r11\n\tmovq %r11, RSP(%rsp)\n" + Self.iretFromPtRegs
        let spec = Self.tracedSyscall(exit: exit)
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "tracesys", .ptraceConsistency, blamedLine: SpecHarness.line("<-exit", in: spec),
                                   requirementContains: "iretq must return the user's sp from pt_regs.sp")
        SpecHarness.assertProved(report, path: "tracesys", .frameBalance)
    }
}
