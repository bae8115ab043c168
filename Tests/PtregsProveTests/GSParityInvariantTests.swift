import PtregsProve
import SpecElaboration
import XCTest

/// Invariant `gs`, GS-base parity (docs/model.md, "5. GS-base parity";
/// Sources/StackSemantics/Invariants/GSParity.swift).
final class GSParityInvariantTests: XCTestCase {
    /// The SYSCALL fast path: swapgs in, per-CPU old_rsp and kernel_stack, swapgs out.
    static func syscallPath(_ name: String, body: String) -> String {
        """
        .percpu old_rsp
        .percpu kernel_stack stack
        .path \(name) entry=syscall
        \(name):
        \(body)
        """
    }

    static let goodBody = """
    \tswapgs
    \tmovq %rsp, PER_CPU_VAR(old_rsp)
    \tmovq PER_CPU_VAR(kernel_stack), %rsp
    \tmovq PER_CPU_VAR(old_rsp), %rsp
    \tswapgs
    \tsysretq            # <-exit
    """

    static func result(_ report: CheckReport, _ path: String) throws -> InvariantResult {
        try XCTUnwrap(report.paths.first { $0.name == path }?.results.first { $0.invariant == .gsParity })
    }

    // MARK: proofs

    func testSwapgsInAndOutProves() {
        let report = SpecHarness.check(Self.syscallPath("sc", body: Self.goodBody))
        SpecHarness.assertOthersProved(report, path: "sc", except: [])
    }

    func testInterruptThatSwapsOnlyFromUserModeProves() {
        // The cs test decides both swapgs; ebx carries the decision to the exit, set on
        // every way in.
        let report = SpecHarness.check(Self.interruptWithEbxDecision(failsafe: false))
        SpecHarness.assertOthersProved(report, path: "irq", except: [.speculationFence])   // 3.16-style: no lfence after the decision
    }

    func testHandlerThatRecognisesTheIretqFaultProves() {
        // The fixed CVE-2014-9322 shape: a kernel-mode fault whose saved rip is the
        // iretq (or its 32-bit truncation, the K8 erratum) swaps like a user-mode one.
        let report = SpecHarness.check(Self.faultHandler(recognisesIretq: true))
        SpecHarness.assertOthersProved(report, path: "gp", except: [.speculationFence])   // 3.16-style: no lfence after the decision
    }

    // MARK: violations

    func testExitSwapgsMissing() throws {
        // `swapgs; …; sysretq` without the exit swapgs: user space runs on the kernel's GS base.
        let spec = Self.syscallPath("sc", body: Self.goodBody.replacingOccurrences(of: "\tmovq PER_CPU_VAR(old_rsp), %rsp\n\tswapgs\n", with: "\tmovq PER_CPU_VAR(old_rsp), %rsp\n"))
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "sc", .gsParity, blamedLine: SpecHarness.line("<-exit", in: spec),
                                            requirementContains: "sysretq returns to user space: it must leave with the user's GS base")
        XCTAssertEqual(cx?.steps.last?.kernelGS, true)
        XCTAssertEqual(try Self.result(report, "sc").violations.map(\.mechanism.description), ["gs exit at sysretq"])
        SpecHarness.assertOthersProved(report, path: "sc", except: [.gsParity])
    }

    func testExitSwapgsDoubled() throws {
        let spec = Self.syscallPath("sc", body: Self.goodBody.replacingOccurrences(of: "\tswapgs\n\tsysretq", with: "\tswapgs\n\tswapgs\n\tsysretq"))
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "sc", .gsParity, blamedLine: SpecHarness.line("<-exit", in: spec),
                                   requirementContains: "must leave with the user's GS base")
        XCTAssertEqual(try Self.result(report, "sc").violations.map(\.mechanism.description), ["gs exit at sysretq"])
    }

    func testPerCPUAccessBeforeTheEntrySwapgs() throws {
        let spec = Self.syscallPath("sc", body: """
        \tmovq %rsp, PER_CPU_VAR(old_rsp)     # <-percpu
        \tswapgs
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tmovq PER_CPU_VAR(old_rsp), %rsp
        \tswapgs
        \tsysretq
        """)
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "sc", .gsParity, blamedLine: SpecHarness.line("<-percpu", in: spec),
                                            requirementContains: "the per-CPU access to old_rsp must run with the kernel's GS base")
        XCTAssertEqual(cx?.steps.last?.kernelGS, false)
        XCTAssertEqual(try Self.result(report, "sc").violations.map(\.mechanism.description), ["gs percpu at \"movq %rsp, PER_CPU_VAR(old_rsp)\""])
    }

    func testCallIntoCWithTheUserGSBase() throws {
        let spec = Self.syscallPath("sc", body: """
        \tswapgs
        \tmovq %rsp, PER_CPU_VAR(old_rsp)
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tswapgs
        \tcall do_work       # <-call
        \tswapgs
        \tmovq PER_CPU_VAR(old_rsp), %rsp
        \tswapgs
        \tsysretq
        """).replacingOccurrences(of: ".path", with: ".extern do_work\n.path")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "sc", .gsParity, blamedLine: SpecHarness.line("<-call", in: spec),
                                   requirementContains: "the call to do_work must run with the kernel's GS base")
        XCTAssertEqual(try Self.result(report, "sc").violations.map(\.mechanism.description), ["gs call at do_work"])
    }

    /// An interrupt entry that decides in ebx whether the exit swaps (0: swap), and —
    /// `failsafe` — a second way in that swaps but never writes ebx before jumping to
    /// the same exit.
    static func interruptWithEbxDecision(failsafe: Bool) -> String {
        """
        .percpu irq_count
        .path irq entry=interrupt from=either
        irq:
        \tpushq %rbx
        \ttestl $3, 16(%rsp)
        \tjz 1f
        \tswapgs
        \txorl %ebx, %ebx
        \tjmp 2f
        1:\tmovl $1, %ebx
        2:\tincl PER_CPU_VAR(irq_count)
        exit:
        \ttestl %ebx, %ebx
        \tjnz 3f
        \tswapgs
        3:\tpopq %rbx
        \tiretq              # <-iret
        """ + (failsafe ? """

        .path failsafe entry=interrupt from=user
        failsafe:
        \tpushq %rbx
        \tswapgs
        \tincl PER_CPU_VAR(irq_count)
        \tjmp exit
        """ : "")
    }

    func testExitDecidingOnARegisterSetOnlyOnSomePaths() throws {
        // CVE-2018-14678 (xen_failsafe_callback → error_exit): the exit swaps only when
        // ebx is 0, and one way in never writes ebx. From user mode with ebx non-zero the
        // exit skips its swapgs and user space gets the kernel's GS base.
        let spec = Self.interruptWithEbxDecision(failsafe: true)
        let report = SpecHarness.check(spec)
        SpecHarness.assertOthersProved(report, path: "irq", except: [.speculationFence])   // 3.16-style: no lfence after the decision
        let cx = SpecHarness.assertViolated(report, path: "failsafe", .gsParity, blamedLine: SpecHarness.line("<-iret", in: spec),
                                            requirementContains: "iretq with the kernel's GS base live must return to kernel mode")
        XCTAssertTrue(cx?.inputs.contains { $0.0 == "entry.rbx" && $0.1 != 0 } == true, "inputs: \(cx?.inputs ?? [])")
        XCTAssertEqual(try Self.result(report, "failsafe").violations.map(\.mechanism.description), ["gs exit at iretq"])
    }

    /// An exception handler that decides GS by the saved cs — and, `recognisesIretq`,
    /// also swaps for a kernel-mode fault whose saved rip is its own iretq.
    static func faultHandler(recognisesIretq: Bool) -> String {
        let recognise = recognisesIretq ? """
        \tleaq irq_return(%rip), %rax
        \tcmpq %rax, 16(%rsp)
        \tje 1f
        \tmovl %eax, %eax
        \tcmpq %rax, 16(%rsp)
        \tjne 2f
        """ : "\tjmp 2f"
        return """
        .percpu irq_count
        .path gp entry=exception-errcode from=either
        gp:
        \tpushq %rax
        \ttestl $3, 24(%rsp)
        \tjnz 1f
        \(recognise)
        1:\tswapgs
        2:\tincl PER_CPU_VAR(irq_count)   # <-percpu
        \tpopq %rax
        \ttestl $3, 16(%rsp)
        \tjz 3f
        \tswapgs
        3:\taddq $8, %rsp
        irq_return:
        \tiretq
        """
    }

    /// load_gs_index's shape: `mov %edi, %gs` between swapgs faults on a bad selector
    /// with the user's base live and a kernel cs, like iretq. A handler that recognises
    /// the site (error_entry's compare with gs_change) proves; one that recognises only
    /// the iretq runs per-CPU code on the user's base.
    static func gsLoadFaultHandler(recognisesGSLoad: Bool) -> String {
        """
        .percpu irq_count
        .path gp entry=exception-errcode from=either
        .path load_gs entry=function
        gp:
        \tpushq %rax
        \ttestl $3, 24(%rsp)
        \tjnz 1f
        \tleaq irq_return(%rip), %rax
        \tcmpq %rax, 16(%rsp)
        \tje 1f
        \tmovl %eax, %eax
        \tcmpq %rax, 16(%rsp)
        \tje 1f
        \t\(recognisesGSLoad ? "leaq gs_change(%rip), %rax\n\tcmpq %rax, 16(%rsp)\n\tjne 2f" : "jmp 2f")
        1:\tswapgs
        2:\tincl PER_CPU_VAR(irq_count)   # <-percpu
        \tpopq %rax
        \ttestl $3, 16(%rsp)
        \tjz 3f
        \tswapgs
        3:\taddq $8, %rsp
        irq_return:
        \tiretq
        load_gs:
        \tswapgs
        gs_change:
        \tmovl %edi, %gs
        4:\tswapgs
        \tret
        bad_gs:
        \tswapgs
        \txorl %edi, %edi
        \tmovl %edi, %gs
        \tjmp 4b
        \t.pushsection "__ex_table", "a"
        \t.long gs_change - .
        \t.long bad_gs - .
        \t.popsection
        """
    }

    func testAFaultingGSLoadArrivesWithTheUsersBase() throws {
        let good = SpecHarness.check(Self.gsLoadFaultHandler(recognisesGSLoad: true))
        // 3.x-style: its swapgs decisions have no lfence (spec-fence's, not this test's).
        SpecHarness.assertOthersProved(good, path: "gp", except: [.speculationFence])
        SpecHarness.assertOthersProved(good, path: "load_gs", except: [])
        let spec = Self.gsLoadFaultHandler(recognisesGSLoad: false)
        let bad = SpecHarness.check(spec)
        SpecHarness.assertViolated(bad, path: "gp", .gsParity, blamedLine: SpecHarness.line("<-percpu", in: spec),
                                   requirementContains: "the per-CPU access to irq_count must run with the kernel's GS base")
    }

    func testFaultOnIretqHandledWithTheKernelCsAlone() throws {
        // CVE-2014-9322/-9090 shape: iretq back to user space runs after the exit swapgs
        // and can fault; the fault arrives with a kernel cs and the user's GS base, and a
        // handler that trusts the cs runs per-CPU code on the user's base.
        let spec = Self.faultHandler(recognisesIretq: false)
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "gp", .gsParity, blamedLine: SpecHarness.line("<-percpu", in: spec),
                                            requirementContains: "the per-CPU access to irq_count must run with the kernel's GS base")
        XCTAssertTrue(cx?.inputs.contains { $0.0 == "entry.cs" && $0.1 & 3 == 0 } == true, "inputs: \(cx?.inputs ?? [])")
        XCTAssertEqual(try Self.result(report, "gp").violations.map(\.mechanism.description), ["gs percpu at \"incl PER_CPU_VAR(irq_count)\""])
    }

    // MARK: expectations

    func testExpectationsNameGSMechanisms() throws {
        let missing = Self.syscallPath("sc", body: Self.goodBody.replacingOccurrences(of: "\tmovq PER_CPU_VAR(old_rsp), %rsp\n\tswapgs\n", with: "\tmovq PER_CPU_VAR(old_rsp), %rsp\n"))
        let accepted = SpecHarness.check(missing + "\n.expect gs exit at sysretq")
        XCTAssertEqual(try Self.result(accepted, "sc").status, .pass)
        XCTAssertEqual(accepted.exitCode, 0)
        let other = SpecHarness.check(missing + "\n.expect gs percpu at sysretq")
        XCTAssertEqual(try Self.result(other, "sc").status, .fail)
        let stale = SpecHarness.check(Self.syscallPath("sc", body: Self.goodBody) + "\n.expect gs exit at sysretq")
        XCTAssertEqual(try Self.result(stale, "sc").status, .stale)
    }

    func testUnknownGSMechanismIsAnInputError() {
        let report = SpecHarness.check(Self.syscallPath("sc", body: Self.goodBody) + "\n.expect gs cs at sysretq")
        XCTAssertTrue(report.diagnostics.first?.message.contains("unknown gs mechanism 'cs' (expected one of: percpu, call, exit, load)") == true,
                      "\(report.diagnostics)")
    }

    /// A returns=ptregs helper (6.8's error_entry) is entered as the exception calling it
    /// was: in kernel mode at the iretq back to user space, with the user's GS base. The
    /// helper that recognises that iretq and swaps proves; one that trusts cs does not.
    static let errorEntry = """
    .extern mitigation_call
    .path error_entry entry=function returns=ptregs from=either
    error_entry:
    \ttestb $3, 24(%rsp)             # the saved cs (above the return address and orig_ax)
    \tjz 1f
    \tswapgs
    \tjmp 3f
    1:\tleaq native_iret(%rip), %rcx
    \tcmpq %rcx, 16(%rsp)            # the saved rip: the fault of the iretq to user mode?
    \tje 2f
    \tmovl %ecx, %eax                # or its address truncated (the K8 erratum)
    \tcmpq %rax, 16(%rsp)
    \tjne 3f
    2:\tswapgs                        # <-fixup
    3:\tcall mitigation_call          # <-call
    \tret
    .path kernel_exit entry=interrupt from=kernel
    kernel_exit:
    native_iret:
    \tiretq
    """

    func testAReturnsPtRegsHelperSeesTheIretFaultsGSBase() {
        let report = SpecHarness.check(Self.errorEntry)
        SpecHarness.assertProved(report, path: "error_entry", .gsParity)
        let spec = Self.errorEntry.replacingOccurrences(of: "2:\tswapgs                        # <-fixup\n", with: "2:\tnop\n")
        SpecHarness.assertViolated(SpecHarness.check(spec), path: "error_entry", .gsParity, blamedLine: SpecHarness.line("<-call", in: spec))
    }
}
