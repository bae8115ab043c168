import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// The 32-bit system-call entries: SYSENTER through the vDSO, SYSCALL from a 32-bit
/// task (`cstar`), and `int $0x80`, with the user task's width (`abi=`).
final class CompatEntryTests: XCTestCase {
    /// A 3.16-shaped SYSENTER entry written for this test: the frame built from ebp and
    /// thread_info's vDSO return point, the flags pushed with IF, and SYSEXIT.
    static let sysenter = """
    .percpu kernel_stack stack
    .extern do_syscall32
    .path sysenter_entry entry=sysenter thread-size=16384
    sysenter_entry:
    \tswapgs
    \tmovq PER_CPU_VAR(kernel_stack), %rsp
    \taddq $40, %rsp                    # KERNEL_STACK_OFFSET: rsp = the stack top
    \tmovl %ebp, %ebp                   # the user's esp, zero-extended
    \tmovl %eax, %eax
    \tmovl (0x30-16384)(%rsp), %r10d    # thread_info's sysenter_return: the vDSO's return point
    \tpushq $0x2b                       # ss
    \tpushq %rbp                        # sp
    \tpushfq
    \torl $0x200, (%rsp)                # flags, with the IF SYSENTER cleared
    \tpushq $0x23                       # cs
    \tpushq %r10                        # ip
    \tpushq %rax                        # orig_ax
    \tpushq %rdi
    \tpushq %rsi
    \tpushq %rdx
    \tpushq %rcx
    \tpushq $-38                        # ax
    \(SpecHarness.pushPtRegsFromR8)\
    \tmovq %rsp, %rdi
    \tcall do_syscall32
    \tmovq %rax, 80(%rsp)               # pt_regs.ax: the result
    \(SpecHarness.popPtRegs)\
    \taddq $8, %rsp                     # orig_ax
    \tcmpq $0x23, 8(%rsp)               # SYSEXIT/SYSRETL load cs 0x23 and ss 0x2b:
    \tjne 9f                            # a tracer's other selectors leave by IRET
    \tcmpq $0x2b, 32(%rsp)              # (a trap here, for brevity)
    \tjne 9f
    \tmovl (%rsp), %edx                 # eip
    \tmovl 24(%rsp), %ecx               # esp
    \txorl %r8d, %r8d                   # r8–r11: scratch of the entry and of C, zeroed
    \txorl %r9d, %r9d
    \txorl %r10d, %r10d
    \txorl %r11d, %r11d
    \tswapgs
    \tsysexit                           # <-exit
    9:\tud2
    """

    /// A compat SYSCALL entry: the frame pushed below the stack top, SYSRETL with the
    /// zero-extended esp.
    static let cstar = """
    .percpu kernel_stack stack
    .percpu old_rsp
    .extern trace_enter stop
    .path cstar entry=compat-syscall kstack-offset=0
    cstar:
    \tswapgs
    \tmovl %esp, %r8d
    \tmovq PER_CPU_VAR(kernel_stack), %rsp
    \tmovl %eax, %eax
    \tpushq $0x2b                       # ss
    \tpushq %r8                         # sp
    \tpushq %r11                        # flags
    \tpushq $0x23                       # cs
    \tpushq %rcx                        # ip
    \tpushq %rax                        # orig_ax
    \tpushq %rdi
    \tpushq %rsi
    \tpushq %rdx
    \tpushq %rcx
    \tpushq $-38                        # ax
    \(SpecHarness.pushPtRegsFromR8)\
    \tmovq %rsp, %rdi
    \tcall trace_enter
    \(SpecHarness.popPtRegs)\
    \taddq $8, %rsp                     # orig_ax
    \tcmpq $0x23, 8(%rsp)               # SYSEXIT/SYSRETL load cs 0x23 and ss 0x2b:
    \tjne 9f                            # a tracer's other selectors leave by IRET
    \tcmpq $0x2b, 32(%rsp)              # (a trap here, for brevity)
    \tjne 9f
    \tmovl (%rsp), %ecx                 # eip
    \tmovl 16(%rsp), %r11d              # eflags
    \tmovl 24(%rsp), %esp               # esp, zero-extended
    \txorl %r8d, %r8d                   # r8 held the user's esp: zeroed, as r9 and r10
    \txorl %r9d, %r9d
    \txorl %r10d, %r10d
    \tswapgs
    \tsysretl                           # <-exit
    9:\tud2
    """

    /// int $0x80 with a tracer stop after the saves.
    static let int80 = """
    .extern trace_enter stop
    .path int80 entry=int80
    int80:
    \tswapgs
    \tmovl %eax, %eax                   # the 32-bit syscall number
    \tpushq %rax                        # orig_ax
    \tpushq %rdi
    \tpushq %rsi
    \tpushq %rdx
    \tpushq %rcx
    \tpushq $-38                        # ax
    \(SpecHarness.pushPtRegsFromR8)\
    \tmovq %rsp, %rdi
    \tcall trace_enter
    \(SpecHarness.popPtRegs)\
    \taddq $8, %rsp
    \tswapgs
    \tiretq
    """

    func testSysenterThroughTheVDSOProves() {
        let report = SpecHarness.check(Self.sysenter)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "sysenter_entry", inv) }
    }

    func testSysenterReturnsWhatATracerWroteToIp() {
        // A tracer may write ip at the stop; edx read before the stop returns the old one.
        let stopping = Self.sysenter.replacingOccurrences(of: ".extern do_syscall32\n", with: ".extern do_syscall32 stop\n")
        for inv in Invariant.allCases { SpecHarness.assertProved(SpecHarness.check(stopping), path: "sysenter_entry", inv) }
        let stale = stopping
            .replacingOccurrences(of: "\tmovq %rsp, %rdi\n\tcall do_syscall32\n", with: "\tmovl 120(%rsp), %r12d\n\tmovq %rsp, %rdi\n\tcall do_syscall32\n")
            .replacingOccurrences(of: "\tmovl (%rsp), %edx                 # eip\n", with: "\tmovl %r12d, %edx\n")
        SpecHarness.assertViolated(SpecHarness.check(stale), path: "sysenter_entry", .ptraceConsistency,
                                   blamedLine: SpecHarness.line("<-exit", in: stale), requirementContains: "sysexit must return the user's rip")
    }

    func testSysexitToAnIpOtherThanTheStoredOneIsCaught() {
        // No tracer stop on the path: the return point is the kernel's choice, and what
        // binds sysexit is the ip the kernel stored in pt_regs (C code and ptrace saw it).
        for replacement in ["movl $0, %edx", "movl 8(%rsp), %edx", "movl %r10d, %edx\n\tincl %edx"] {
            let spec = Self.sysenter.replacingOccurrences(of: "movl (%rsp), %edx", with: replacement)
            SpecHarness.assertViolated(SpecHarness.check(spec), path: "sysenter_entry", .ptraceConsistency,
                                       blamedLine: SpecHarness.line("<-exit", in: spec), requirementContains: "the return point the kernel stored there")
        }
        // The stored word itself, read through another register, is right.
        let viaR10 = Self.sysenter.replacingOccurrences(of: "movl (%rsp), %edx", with: "movl %r10d, %edx")
        SpecHarness.assertProved(SpecHarness.check(viaR10), path: "sysenter_entry", .ptraceConsistency)
    }

    func testSysexitWithTheWrongEspIsCaught() {
        let spec = Self.sysenter.replacingOccurrences(of: "movl 24(%rsp), %ecx", with: "movl 16(%rsp), %ecx")
        SpecHarness.assertViolated(SpecHarness.check(spec), path: "sysenter_entry", .frameBalance,
                                   blamedLine: SpecHarness.line("<-exit", in: spec), requirementContains: "sysexit must leave with the user's rsp")
    }

    func testA32BitTaskDoesNotSeeR8ToR15() {
        // r8 zeroed on the way out: invisible to a 32-bit task (sysenter), a clobbered
        // register for a 64-bit one using int $0x80 (abi=64, the default).
        let sysenter = Self.sysenter.replacingOccurrences(of: "\tswapgs\n\tsysexit", with: "\txorl %r8d, %r8d\n\tswapgs\n\tsysexit")
        SpecHarness.assertProved(SpecHarness.check(sysenter), path: "sysenter_entry", .restoreMatchesSave)
        let int80 = Self.int80.replacingOccurrences(of: "\tswapgs\n\tiretq", with: "\txorl %r8d, %r8d\n\tswapgs\n\tiretq")
        let report = SpecHarness.check(int80)
        guard let r = SpecHarness.result(report, path: "int80", .restoreMatchesSave), case .violated = r.verdict else {
            return XCTFail("a 64-bit task using int $0x80 gets r8 back zeroed")
        }
        XCTAssertEqual(r.violations.map(\.mechanism.subject), ["r8"])
        let as32 = SpecHarness.check(int80.replacingOccurrences(of: "entry=int80", with: "entry=int80 abi=32"))
        SpecHarness.assertProved(as32, path: "int80", .restoreMatchesSave)
    }

    /// A 32-bit task sees ebx, and after a far jump to a 64-bit segment rbx whole: the
    /// high half must be its own or zero, as r8–r15 are — never kernel bits (a kernel
    /// address's high half would be a KASLR leak). Comparing only the low halves proved it.
    func testA32BitTaskIsOwedTheHighHalvesOrZero() throws {
        let as32 = Self.int80.replacingOccurrences(of: "entry=int80", with: "entry=int80 abi=32")
        let leaking = as32.replacingOccurrences(of: "\tswapgs\n\tiretq", with: "\tmovl %ebx, %ebx\n\tbtsq $63, %rbx\n\tswapgs\n\tiretq")
        let r = try XCTUnwrap(SpecHarness.result(SpecHarness.check(leaking), path: "int80", .restoreMatchesSave))
        XCTAssertEqual(r.violations.map(\.mechanism.subject), ["rbx"])
        let cx = try XCTUnwrap(r.violations.first?.counterexample)
        XCTAssertTrue(cx.requirement.contains("its high half the user's or zero"), cx.requirement)
        // IRETQ loads rsp (and rip, rflags) whole: the frame's high halves are owed too.
        let frameLeak = as32.replacingOccurrences(of: "\tswapgs\n\tiretq", with: "\tbtsq $40, 24(%rsp)\n\tswapgs\n\tiretq")
        let f = try XCTUnwrap(SpecHarness.result(SpecHarness.check(frameLeak), path: "int80", .ptraceConsistency))
        XCTAssertEqual(f.violations.map(\.mechanism.description), ["ptrace sp at iretq"])
        XCTAssertTrue(f.violations.first?.counterexample.requirement.contains("its high half the user's or zero") == true)
        // Zero-extending it (what the entry's `movl %ebx, %ebx` does) is fine.
        let zeroed = as32.replacingOccurrences(of: "\tswapgs\n\tiretq", with: "\tmovl %ebx, %ebx\n\tswapgs\n\tiretq")
        SpecHarness.assertProved(SpecHarness.check(zeroed), path: "int80", .restoreMatchesSave)
    }

    func testA32BitTaskIsOwedItsR12ToR15OrZeroAndR8ToR11AsDeclared() {
        // A kernel pointer left in r8: a 32-bit task far-jumps to a 64-bit segment and
        // reads it. `r8-r11=` says what r8–r11 are owed.
        let leak = Self.sysenter.replacingOccurrences(of: "\tswapgs\n\tsysexit", with: "\tmovq %rsp, %r8\n\tswapgs\n\tsysexit")
        // By default r8–r11 are owed nothing (3.x left user-derived scratch there).
        SpecHarness.assertProved(SpecHarness.check(leak), path: "sysenter_entry", .restoreMatchesSave)
        let report = SpecHarness.check(leak.replacingOccurrences(of: "entry=sysenter", with: "entry=sysenter r8-r11=preserve-or-zero"))
        SpecHarness.assertViolated(report, path: "sysenter_entry", .restoreMatchesSave,
                                   blamedLine: SpecHarness.line("movq %rsp, %r8", in: leak), requirementContains: "r8 must hold the user's value or zero")
        XCTAssertEqual(SpecHarness.result(report, path: "sysenter_entry", .restoreMatchesSave)?.violations.map(\.mechanism.subject), ["r8"])
        // The entry's scratch r10 (the vDSO return point) left unzeroed: not the user's.
        let scratch = Self.sysenter.replacingOccurrences(of: "\txorl %r10d, %r10d\n", with: "")
            .replacingOccurrences(of: "entry=sysenter", with: "entry=sysenter r8-r11=preserve-or-zero")
        SpecHarness.assertViolated(SpecHarness.check(scratch), path: "sysenter_entry", .restoreMatchesSave,
                                   blamedLine: SpecHarness.line("popq %r10", in: scratch), requirementContains: "r10 must hold the user's value or zero")
        // A kernel value in r12 (callee-saved: always owed its value or zero).
        let r12 = Self.sysenter.replacingOccurrences(of: "\tswapgs\n\tsysexit", with: "\tmovq %rsp, %r12\n\tswapgs\n\tsysexit")
        SpecHarness.assertViolated(SpecHarness.check(r12),
                                   path: "sysenter_entry", .restoreMatchesSave,
                                   blamedLine: SpecHarness.line("movq %rsp, %r12", in: r12), requirementContains: "r12 must hold the user's value or zero")
        // Pinned: the zeroing code proves `zero` and breaks `preserve`.
        let pinned = { (spec: String, owed: String) in spec.replacingOccurrences(of: "entry=sysenter", with: "entry=sysenter r8-r11=\(owed)") }
        SpecHarness.assertProved(SpecHarness.check(pinned(Self.sysenter, "zero")), path: "sysenter_entry", .restoreMatchesSave)
        let preserve = SpecHarness.check(pinned(Self.sysenter, "preserve"))
        guard let r = SpecHarness.result(preserve, path: "sysenter_entry", .restoreMatchesSave), case .violated = r.verdict else {
            return XCTFail("r8-r11=preserve: zeroed r8–r11 are not the user's")
        }
        XCTAssertEqual(Set(r.violations.map(\.mechanism.subject)), Set(["r8", "r9", "r10", "r11"]))
        // Preserving code (r8–r11 restored from pt_regs, as since 4.17) proves `preserve`
        // and breaks `zero` — when r10 was not used as scratch.
        let restoring = Self.int80.replacingOccurrences(of: "entry=int80", with: "entry=int80 abi=32")
        SpecHarness.assertProved(SpecHarness.check(restoring.replacingOccurrences(of: "abi=32", with: "abi=32 r8-r11=preserve")), path: "int80", .restoreMatchesSave)
        let zeroOwed = SpecHarness.check(restoring.replacingOccurrences(of: "abi=32", with: "abi=32 r8-r11=zero"))
        guard let z = SpecHarness.result(zeroOwed, path: "int80", .restoreMatchesSave), case .violated = z.verdict else {
            return XCTFail("r8-r11=zero: preserved r8–r11 are not zero")
        }
        XCTAssertEqual(Set(z.violations.map(\.mechanism.subject)), Set(["r8", "r9", "r10", "r11"]))
        // r8-r11= is about 32-bit tasks only.
        let wrong = SpecHarness.check(Self.int80.replacingOccurrences(of: "entry=int80", with: "entry=int80 r8-r11=zero"))
        XCTAssertTrue(wrong.diagnostics.contains { $0.message.contains("r8-r11= applies to a 32-bit task") }, "\(wrong.diagnostics)")
    }

    func testCompatSyscallProvesWithItsOwnUserView() {
        let report = SpecHarness.check(Self.cstar)
        for inv in Invariant.allCases where inv != .sysretHazard { SpecHarness.assertProved(report, path: "cstar", inv) }
        // r11 comes back from pt_regs.flags, which the tracer at the stop may have
        // given TF: the SYSRET hazard is real in this code.
        guard let hazard = SpecHarness.result(report, path: "cstar", .sysretHazard), case .violated = hazard.verdict else {
            return XCTFail("a tracer's TF returned by sysretl must be reported")
        }
        XCTAssertEqual(hazard.violations.map(\.mechanism.subject), ["flags"])
        // Read as a 64-bit SYSCALL the same code returns the wrong cs and a truncated rsp.
        let as64 = SpecHarness.check(Self.cstar.replacingOccurrences(of: "entry=compat-syscall", with: "entry=syscall"))
        guard let r = SpecHarness.result(as64, path: "cstar", .ptraceConsistency), case .violated = r.verdict else {
            return XCTFail("the 64-bit view must differ")
        }
        XCTAssertTrue(r.violations.contains { $0.mechanism.subject == "cs" }, "\(r.violations.map(\.mechanism))")
    }

    func testOrigAxIsTheZeroExtendedSyscallNumber() {
        // CVE-2010-3301's shape: without `movl %eax, %eax` a 64-bit task's int $0x80
        // leaves the upper half of rax in orig_ax, where the syscall number is read.
        SpecHarness.assertProved(SpecHarness.check(Self.int80), path: "int80", .ptraceConsistency)
        let spec = Self.int80.replacingOccurrences(of: "\tmovl %eax, %eax                   # the 32-bit syscall number\n", with: "")
        let report = SpecHarness.check(spec)
        guard let r = SpecHarness.result(report, path: "int80", .ptraceConsistency), case .violated = r.verdict else {
            return XCTFail("orig_ax with the upper half of rax must be reported")
        }
        XCTAssertEqual(r.violations.map(\.mechanism.subject), ["orig_ax"])
    }

    func testAbiIsCheckedWhereItIsWritten() {
        func diagnostics(_ spec: String) -> String { SpecHarness.check(spec).diagnostics.map(\.description).joined(separator: "\n") }
        XCTAssertTrue(diagnostics(Self.cstar.replacingOccurrences(of: "entry=compat-syscall", with: "entry=compat-syscall abi=64")).contains("32-bit tasks only"))
        XCTAssertTrue(diagnostics(Self.int80.replacingOccurrences(of: "entry=int80", with: "entry=int80 abi=16")).contains("abi=32 or abi=64"))
        XCTAssertTrue(diagnostics(".path f entry=function abi=32\nf:\n\tret\n").contains("abi= applies to"))
    }
}

/// A 32-bit entry through an exit work loop with a tracer stop in it (as 3.16's
/// int_ret_from_sys_call): the loop head joins runs where the tracer wrote ip, flags
/// or sp with runs where it did not, and SYSENTER's saves are zero-extended (`movl
/// %ebp, %ebp`) while the task's values are 32 bits wide.
final class CompatWorkLoopTests: XCTestCase {
    static let sysenterLoop = """
    .percpu kernel_stack stack
    .extern do_syscall32
    .extern work_pending reason="returns whether TIF work is pending"
    .extern exit_work stop
    .path sysenter_entry entry=sysenter thread-size=16384
    sysenter_entry:
    \tswapgs
    \tmovq PER_CPU_VAR(kernel_stack), %rsp
    \taddq $40, %rsp
    \tmovl %ebp, %ebp                   # the user's esp, zero-extended
    \tmovl %eax, %eax
    \tmovl (0x30-16384)(%rsp), %r10d    # the vDSO's return point
    \tpushq $0x2b                       # ss
    \tpushq %rbp                        # sp
    \tpushfq
    \torl $0x200, (%rsp)                # flags
    \tpushq $0x23                       # cs
    \tpushq %r10                        # ip
    \tpushq %rax                        # orig_ax
    \tpushq %rdi
    \tpushq %rsi
    \tpushq %rdx
    \tpushq %rcx
    \tpushq $-38                        # ax
    \(SpecHarness.pushPtRegsFromR8)\
    \tmovq %rsp, %rdi
    \tcall do_syscall32
    \tmovq %rax, 80(%rsp)               # pt_regs.ax: the result
    work:
    \tcall work_pending
    \ttestl %eax, %eax
    \tjz done
    \tmovq %rsp, %rdi
    \tcall exit_work                    # <-stop
    \tjmp work
    done:
    \(SpecHarness.popPtRegs)\
    \taddq $8, %rsp                     # orig_ax
    \tswapgs
    \tiretq                             # <-exit
    """

    func testTheWorkLoopKeepsTheZeroExtendedSavesAndTheTracersWrites() {
        let report = SpecHarness.check(Self.sysenterLoop)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "sysenter_entry", inv) }
    }

    func testALowHalfChangedInTheLoopIsCaught() {
        // pt_regs.sp moved by 8 on every pass: the next pass's stop sees a wrong esp.
        let spec = Self.sysenterLoop.replacingOccurrences(of: "\tcall exit_work                    # <-stop\n",
                                                            with: "\tcall exit_work                    # <-stop\n\taddl $8, 152(%rsp)\n")
        SpecHarness.assertViolated(SpecHarness.check(spec), path: "sysenter_entry", .ptraceConsistency,
                                   blamedLine: SpecHarness.line("<-stop", in: spec), requirementContains: "pt_regs.sp seen by exit_work")
    }

    func testKernelBitsInASavedHighHalfInTheLoopAreCaught() {
        // The widened head shares a slot with the task's value by its low half only when
        // the slot is zero-extended: kernel bits stored into pt_regs.bx's high half on a
        // pass of the loop reach the 32-bit task's rbx (it can read them from a 64-bit
        // code segment), and must not be hidden by that sharing.
        let spec = Self.sysenterLoop.replacingOccurrences(of: "\tjmp work\n", with: "\tmovl $0xffff8880, 44(%rsp)        # <-high\n\tjmp work\n")
        let report = SpecHarness.check(spec)
        let r = SpecHarness.result(report, path: "sysenter_entry", .restoreMatchesSave)
        guard case .violated(let cx)? = r?.verdict else { return XCTFail("kernel bits in rbx's high half must be reported: \(String(describing: r?.verdict))") }
        XCTAssertEqual(r?.violations.map(\.mechanism.description), ["restore rbx at iretq"])
        XCTAssertTrue(cx.requirement.contains("its high half the user's or zero"), cx.requirement)
        XCTAssertTrue(cx.values.contains { $0.0 == "rbx" && $0.1.hasPrefix("0xffff8880") }, "\(cx.values)")
        // The same store of zero (a zero-extension) is no bug.
        let zero = spec.replacingOccurrences(of: "$0xffff8880, 44(%rsp)", with: "$0, 44(%rsp)")
        SpecHarness.assertProved(SpecHarness.check(zero), path: "sysenter_entry", .restoreMatchesSave)
    }

    func testATracersIpWriteUndoneInTheLoopIsCaught() {
        // ip saved before the stop and put back after it: a tracer's write is lost.
        let spec = Self.sysenterLoop
            .replacingOccurrences(of: "\tcall exit_work                    # <-stop\n",
                                  with: "\tmovq 128(%rsp), %r12\n\tcall exit_work                    # <-stop\n\tmovq %r12, 128(%rsp)\n")
        SpecHarness.assertViolated(SpecHarness.check(spec), path: "sysenter_entry", .ptraceConsistency,
                                   blamedLine: SpecHarness.line("<-stop", in: spec), requirementContains: "pt_regs.ip seen by exit_work")
    }

    func testA64BitTaskStillSeesTheHighHalf() {
        // The same loop for a 64-bit task using int $0x80: rsi saved zero-extended loses
        // its high half, which that task sees.
        let spec = Self.sysenterLoop
            .replacingOccurrences(of: ".path sysenter_entry entry=sysenter thread-size=16384", with: ".path sysenter_entry entry=int80")
            .replacingOccurrences(of: "\tswapgs\n\tmovq PER_CPU_VAR(kernel_stack), %rsp\n\taddq $40, %rsp\n\tmovl %ebp, %ebp                   # the user's esp, zero-extended\n\tmovl %eax, %eax\n\tmovl (0x30-16384)(%rsp), %r10d    # the vDSO's return point\n\tpushq $0x2b                       # ss\n\tpushq %rbp                        # sp\n\tpushfq\n\torl $0x200, (%rsp)                # flags\n\tpushq $0x23                       # cs\n\tpushq %r10                        # ip\n",
                                  with: "\tswapgs\n\tmovl %eax, %eax\n")
            .replacingOccurrences(of: "\tpushq %rsi\n", with: "\tmovl %esi, %esi                   # <-narrow\n\tpushq %rsi\n")
        let report = SpecHarness.check(spec)
        XCTAssertTrue(spec.contains("entry=int80") && !spec.contains("pushfq"))
        let cx = SpecHarness.assertViolated(report, path: "sysenter_entry", .restoreMatchesSave, blamedLine: SpecHarness.line("popq %rsi", in: spec))
        XCTAssertTrue(cx?.requirement.contains("rsi must hold the user's value") == true, cx?.requirement ?? "")
    }
}
