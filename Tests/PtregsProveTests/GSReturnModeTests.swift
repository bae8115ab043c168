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
    static func workLoop(kernelToo: Bool, bodyWritesKernelCS: Bool = false) -> String {
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
        \tcall notify\(bodyWritesKernelCS ? "\n\tmovq $0x10, CS(%rsp)         # a kernel selector, on the second round" : "")
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

    func testTheLoopFactIsNotKeptWhenTheBodyBreaksIt() throws {
        // The entry is from user mode, but the body writes __KERNEL_CS into the frame:
        // "a user selector" fails over the back edge, so it is dropped and the iretq on
        // the user's base back to kernel mode is found (a run that goes round once).
        let spec = Self.workLoop(kernelToo: false, bodyWritesKernelCS: true)
        let report = SpecHarness.check(spec, invariants: [.gsParity])
        SpecHarness.assertViolated(report, path: "irq", .gsParity, blamedLine: SpecHarness.line("<-iret", in: spec),
                                   requirementContains: "iretq with the user's GS base live must return to user mode")
    }

    func testTheLoopFactIsNotAssumedForAKernelModeEntry() throws {
        let spec = Self.workLoop(kernelToo: true)
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "irq", .gsParity, blamedLine: SpecHarness.line("<-iret", in: spec),
                                   requirementContains: "iretq with the user's GS base live must return to user mode")
    }
}

/// The GS base at a per-CPU stack pointer read, a tracer's reach, `vector=`, and
/// `.assume feature` (GSParity.swift, Interpreter.swift).
final class GSStackSwitchTests: XCTestCase {
    /// A kernel-or-user exception that decides GS by the saved cs and, in kernel mode,
    /// by the saved rip (its own iretq, and — `recognisesTruncated` — that address
    /// truncated to 32 bits, the K8 erratum), then switches to a per-CPU stack.
    static func handler(recognisesTruncated: Bool) -> String {
        """
        .percpu irq_stack stack
        .extern do_irq
        .path gp entry=exception from=either
        gp:
        \ttestl $3, 8(%rsp)
        \tjnz 1f
        \tpushq %rax
        \tleaq irq_return(%rip), %rax
        \tcmpq %rax, 8(%rsp)
        \(recognisesTruncated ? "\tje 3f\n\tmovl %eax, %eax\n\tcmpq %rax, 8(%rsp)\n" : "")3:\tpopq %rax
        \tjne 2f
        1:\tswapgs
        2:\tlfence
        \tmovq %rsp, %rbx
        \tmovq PER_CPU_VAR(irq_stack), %rsp      # <-switch
        \tcall do_irq
        \tmovq %rbx, %rsp
        \ttestl $3, 8(%rsp)
        \tjz irq_return
        \tswapgs
        irq_return:
        \tiretq
        """
    }

    func testAPerCPUStackReadOnTheBaseThePathConditionImplies() {
        // The merged GS bit does not show it, but every run here has the kernel's base:
        // the stack switch is followed and both invariants prove.
        let report = SpecHarness.check(Self.handler(recognisesTruncated: true), invariants: [.gsParity, .frameBalance])
        SpecHarness.assertProved(report, path: "gp", .gsParity)
        SpecHarness.assertProved(report, path: "gp", .frameBalance)
    }

    func testAPerCPUStackReadOnTheUsersBaseIsAGSViolationAndTheRestUnknown() throws {
        // The K8-truncated iretq address is not recognised: that fault arrives with the
        // user's base, and the per-CPU stack pointer is read from user memory. gs says so
        // with a replayed run; frame cannot be proved for the runs not followed.
        let spec = Self.handler(recognisesTruncated: false)
        let report = SpecHarness.check(spec, invariants: [.gsParity, .frameBalance])
        let cx = SpecHarness.assertViolated(report, path: "gp", .gsParity, blamedLine: SpecHarness.line("<-switch", in: spec),
                                            requirementContains: "the per-CPU access to irq_stack must run with the kernel's GS base")
        XCTAssertTrue(cx?.inputs.contains { $0.0 == "entry.ip" && $0.1 < 0x1_0000_0000 } == true, "the truncated address: \(cx?.inputs ?? [])")
        let frame = try XCTUnwrap(SpecHarness.result(report, path: "gp", .frameBalance))
        guard case .unknown(let why) = frame.verdict else { return XCTFail("frame: \(SpecHarness.describe(frame.verdict))") }
        XCTAssertTrue(why.contains("read a per-CPU stack pointer with the user's GS base"), why)
    }

    func testAVectorIretqCannotRaiseNeverArrivesAtItsFaultSite() {
        // A handler that recognises no fault site: wrong for #GP, right for #DE.
        let spec = """
        .percpu irq_count
        .path de entry=exception from=either VECTOR
        de:
        \ttestl $3, 8(%rsp)
        \tjz 1f
        \tswapgs
        1:\tlfence
        \tincl PER_CPU_VAR(irq_count)   # <-percpu
        \ttestl $3, 8(%rsp)
        \tjz irq_return
        \tswapgs
        irq_return:
        \tiretq
        """
        SpecHarness.assertProved(SpecHarness.check(spec.replacingOccurrences(of: "VECTOR", with: "vector=0")), path: "de", .gsParity)
        let gp = spec.replacingOccurrences(of: "VECTOR", with: "vector=13")
        SpecHarness.assertViolated(SpecHarness.check(gp), path: "de", .gsParity, blamedLine: SpecHarness.line("<-percpu", in: gp))
        let none = spec.replacingOccurrences(of: "VECTOR", with: "")
        SpecHarness.assertViolated(SpecHarness.check(none), path: "de", .gsParity, blamedLine: SpecHarness.line("<-percpu", in: none))
        let bad = SpecHarness.check(".path f entry=function vector=0\nf:\n\tret\n")
        XCTAssertTrue(bad.diagnostics.first?.message.contains("vector= applies to exception entries") == true, "\(bad.diagnostics)")
    }

    func testADebugExceptionMayArriveAnywhereOnEitherBase() throws {
        // #DB (an instruction breakpoint between swapgs and the iretq back to user space)
        // arrives in kernel mode on the user's base: deciding by the saved cs alone is
        // wrong there (the shape behind CVE-2018-8897); asking the MSR is right.
        func spec(msr: Bool) -> String {
            let decide = msr ? "\tmovl $0xc0000101, %ecx\n\trdmsr\n\ttestl %edx, %edx\n\tjs 1f\n" : "\ttestl $3, 40(%rsp)\n\tjz 1f\n"
            return """
            .percpu irq_count
            .path db entry=exception from=either vector=1
            db:
            \tpushq %rax
            \tpushq %rcx
            \tpushq %rdx
            \tpushq %rbx
            \tmovl $1, %ebx
            \(decide)\tswapgs
            \txorl %ebx, %ebx
            1:\tlfence
            \tincl PER_CPU_VAR(irq_count)   # <-percpu
            \ttestl %ebx, %ebx
            \tjnz 2f
            \tswapgs
            2:\tpopq %rbx
            \tpopq %rdx
            \tpopq %rcx
            \tpopq %rax
            \tiretq
            """
        }
        SpecHarness.assertProved(SpecHarness.check(spec(msr: true), invariants: [.gsParity]), path: "db", .gsParity)
        let byCS = spec(msr: false)
        let cx = SpecHarness.assertViolated(SpecHarness.check(byCS, invariants: [.gsParity]), path: "db", .gsParity,
                                            blamedLine: SpecHarness.line("<-percpu", in: byCS))
        XCTAssertTrue(cx?.inputs.contains { $0.0 == "entry.cs" && $0.1 & 3 == 0 } == true, "a kernel-mode #DB: \(cx?.inputs ?? [])")
    }

    func testAnInterruptIsNeverTakenAtTheIretqBackToUserSpace() {
        // error_entry's check, shared by interrupts: it swaps for a saved rip at the iretq.
        // Interrupts are off there, so no interrupt arrives with that rip (and the kernel's
        // base); the swap is never wrong for one.
        let spec = """
        .extern do_irq
        .path irq entry=interrupt from=either
        irq:
        \ttestl $3, 8(%rsp)
        \tjnz 1f
        \tpushq %rax
        \tleaq irq_return(%rip), %rax
        \tcmpq %rax, 8(%rsp)
        \tpopq %rax
        \tjne 2f
        1:\tswapgs
        2:\tlfence
        \tcall do_irq
        \ttestl $3, 8(%rsp)
        \tjz irq_return
        \tswapgs
        irq_return:
        \tiretq
        """
        SpecHarness.assertProved(SpecHarness.check(spec, invariants: [.gsParity]), path: "irq", .gsParity)
    }

    func testATracerNeverTurnsAKernelModeFrameIntoAUserOne() {
        // Only a user-mode frame stops for a tracer: the kernel-mode exception keeps its
        // cs, so the user-mode exit (which would drop a word too many) is never taken.
        let spec = """
        .extern do_trap stop ptregs=0 clobbers=none
        .path bp entry=exception from=kernel
        bp:
        \tsubq $128, %rsp
        \tcall do_trap
        \taddq $128, %rsp
        \ttestl $3, 8(%rsp)
        \tjnz 1f
        \tiretq
        1:\taddq $8, %rsp
        \tiretq
        """
        SpecHarness.assertProved(SpecHarness.check(spec, invariants: [.frameBalance]), path: "bp", .frameBalance)
    }
}

/// `.assume feature NAME present|absent`: a path checked on CPUs with or without a
/// feature, every ALTERNATIVE on it patched accordingly.
final class FeatureAssumptionTests: XCTestCase {
    /// Xen PV patches the swapgs out (its hypervisor switches GS); the model's swapgs is
    /// native, so a PV run calls C on the user's base.
    static func check(_ assume: String) throws -> CheckReport {
        let code = "#define X86_FEATURE_XENPV (8*32+16)\n" + FrontEndSourceTests.alternativeMacros + "\n" + """
        irq:
        \tALTERNATIVE "swapgs", "", X86_FEATURE_XENPV
        \tcall do_irq
        \tALTERNATIVE "swapgs", "", X86_FEATURE_XENPV
        \tiretq
        """
        return try FrontEndSourceTests.check("checks/irq.pts", ["arch/x86/entry/irq.S": code + "\n",
                                                                "checks/irq.pts": ".source \"arch/x86/entry/irq.S\"\n.extern do_irq\n.path irq entry=interrupt from=user\n\(assume)\n"])
    }

    func testNativeOnlyProvesWhatPVRunsBreak() throws {
        let native = try Self.check(".assume feature X86_FEATURE_XENPV absent reason=\"native only\"")
        XCTAssertEqual(native.diagnostics, [])
        SpecHarness.assertProved(native, path: "irq", .gsParity)
        XCTAssertEqual(native.paths.first?.assumptions.first?.feature, "0x110")
        let text = TextReport(colour: false).render(native)
        XCTAssertTrue(text.contains("checked only on runs where the CPU lacks X86_FEATURE_XENPV"), text)
        // By number, as in a file read without cpp.
        SpecHarness.assertProved(try Self.check(".assume feature 8*32+16 absent reason=\"native only\""), path: "irq", .gsParity)
        let both = try Self.check("")
        guard case .violated(let cx)? = SpecHarness.result(both, path: "irq", .gsParity)?.verdict else { return XCTFail("expected violated") }
        XCTAssertTrue(cx.inputs.contains { $0.0 == "cpu.feature[0x110]" && $0.1 != 0 }, "a PV run: \(cx.inputs)")
        let pvOnly = try Self.check(".assume feature X86_FEATURE_XENPV present reason=\"PV only\"")
        XCTAssertNotNil(SpecHarness.result(pvOnly, path: "irq", .gsParity).flatMap { if case .violated = $0.verdict { return true } else { return nil } })
    }

    func testFeatureAssumptionErrors() throws {
        func message(_ assume: String) throws -> String { try Self.check(assume).diagnostics.first?.message ?? "none" }
        XCTAssertTrue(try message(".assume feature X86_FEATURE_NOPE absent reason=\"x\"").contains("'X86_FEATURE_NOPE' is no feature the path's units define"))
        XCTAssertTrue(try message(".assume feature 3*32+21 absent reason=\"x\"").contains("has no ALTERNATIVE site patched on 3*32+21 (feature word 0x75): the assumption restricts nothing"))
        XCTAssertTrue(try message(".assume feature X86_FEATURE_XENPV gone reason=\"x\"").contains(".assume feature NAME present|absent"))
        XCTAssertTrue(try message(".assume feature X86_FEATURE_XENPV absent").contains("reason="))
    }
}

/// `.iret_to_kernel LABEL`: an iretq that only returns to kernel mode is no user-GS fault
/// site, and every path through it must show that it only returns to kernel mode.
final class KernelOnlyIretTests: XCTestCase {
    /// A #GP handler that recognises its own iretq (and the K8-truncated address) as the
    /// user-GS fault site, and an NMI that returns to kernel mode by an iretq of its own.
    static func spec(declared: Bool, nmiFrom: String = "kernel") -> String {
        """
        .percpu irq_count
        \(declared ? ".iret_to_kernel nmi_return reason=\"the NMI returns to kernel mode only\"" : "")
        .path gp entry=exception-errcode from=either vector=13
        gp:
        \ttestl $3, 16(%rsp)
        \tjnz 1f
        \tpushq %rax
        \tleaq irq_return(%rip), %rax
        \tcmpq %rax, 16(%rsp)
        \tje 3f
        \tmovl %eax, %eax
        \tcmpq %rax, 16(%rsp)
        3:\tpopq %rax
        \tjne 2f
        1:\tswapgs
        2:\tlfence
        \tincl PER_CPU_VAR(irq_count)    # <-percpu
        \ttestl $3, 16(%rsp)
        \tjz 4f
        \tswapgs
        4:\taddq $8, %rsp
        irq_return:
        \tiretq
        .path nmi entry=exception from=\(nmiFrom) vector=2
        nmi:
        nmi_return:
        \tiretq                          # <-nmi-iret
        """
    }

    func testADeclaredKernelOnlyIretqIsNoFaultSite() {
        let report = SpecHarness.check(Self.spec(declared: true), invariants: [.gsParity])
        SpecHarness.assertProved(report, path: "gp", .gsParity)
        SpecHarness.assertProved(report, path: "nmi", .gsParity)
        // Undeclared, the NMI's iretq may be where a #GP arrives with the user's base.
        let undeclared = Self.spec(declared: false)
        SpecHarness.assertViolated(SpecHarness.check(undeclared, invariants: [.gsParity]), path: "gp", .gsParity,
                                   blamedLine: SpecHarness.line("<-percpu", in: undeclared))
    }

    func testAPathReturningToUserThroughItBreaksTheDeclaration() {
        let spec = Self.spec(declared: true, nmiFrom: "either")
        SpecHarness.assertViolated(SpecHarness.check(spec, invariants: [.gsParity]), path: "nmi", .gsParity,
                                   blamedLine: SpecHarness.line("<-nmi-iret", in: spec),
                                   requirementContains: "declared to return only to kernel mode (.iret_to_kernel")
    }

    func testDeclarationErrors() {
        let message = SpecHarness.declarationError
        XCTAssertTrue(message(".iret_to_kernel f").contains("reason="))
        XCTAssertTrue(message(".iret_to_kernel nowhere reason=\"x\"").contains("'nowhere', which is no label of the code"))
        XCTAssertTrue(message(".iret_to_kernel f reason=\"x\"").contains("no iretq at or after 'f'"))
    }
}
