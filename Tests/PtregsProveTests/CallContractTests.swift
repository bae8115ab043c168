import PtregsProve
import SpecElaboration
import XCTest

/// Invariant `args` and `result=` (docs/model.md, "7. Call arguments";
/// Sources/StackSemantics/Invariants/CallArguments.swift): what an `.extern`'s argument
/// registers must hold at each call, and what it returns in rax.
final class CallContractTests: XCTestCase {
    /// A THUNK in the style of Linux 3.16's thunk_64.S: nine caller-clobbered registers
    /// saved, then the thunk's own return address — the word right above them — passed
    /// to the C function as its first argument. `extra` goes before the saves (and its
    /// undo after the restores).
    static func thunk(extraSave: String = "", extraRestore: String = "", contract: String = "rdi=return-address") -> String {
        """
        .extern trace_hardirqs_on_caller \(contract) reason="its argument is the address the thunk was called from"
        .path trace_hardirqs_on_thunk entry=function preserves=all
        trace_hardirqs_on_thunk:
        \(extraSave)
        \tpushq %rdi
        \tpushq %rsi
        \tpushq %rdx
        \tpushq %rcx
        \tpushq %rax
        \tpushq %r8
        \tpushq %r9
        \tpushq %r10
        \tpushq %r11
        \tmovq 9*8(%rsp), %rdi          # <-arg
        \tcall trace_hardirqs_on_caller  # <-call
        \tpopq %r11
        \tpopq %r10
        \tpopq %r9
        \tpopq %r8
        \tpopq %rax
        \tpopq %rcx
        \tpopq %rdx
        \tpopq %rsi
        \tpopq %rdi
        \(extraRestore)
        \tret
        """
    }

    static func argsResult(_ report: CheckReport, _ path: String) throws -> InvariantResult {
        try XCTUnwrap(report.paths.first { $0.name == path }?.results.first { $0.invariant == .callArguments })
    }

    func testThunkPassingItsReturnAddressProves() {
        let report = SpecHarness.check(Self.thunk())
        SpecHarness.assertOthersProved(report, path: "trace_hardirqs_on_thunk", except: [])
    }

    func testOneMorePushWithTheOldOffsetPassesASavedRegister() throws {
        // The series' hazard: one more save and `9*8(%rsp)` is the first save (rbx), not
        // the return address. Every register still comes back: only the argument is wrong.
        let spec = Self.thunk(extraSave: "\tpushq %rbx", extraRestore: "\tpopq %rbx")
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "trace_hardirqs_on_thunk", .callArguments, blamedLine: SpecHarness.line("<-arg", in: spec),
                                            requirementContains: "rdi must hold the return address of trace_hardirqs_on_thunk")
        XCTAssertEqual(try Self.argsResult(report, "trace_hardirqs_on_thunk").violations.map(\.mechanism.description), ["args rdi at trace_hardirqs_on_caller"])
        // What rdi held: the slot the load read, and what was there.
        XCTAssertTrue(cx?.requirement.contains("read entry stack-0x8, which held saved rbx (pushed)") == true, cx?.requirement ?? "")
        XCTAssertEqual(cx?.observation?.location.line, SpecHarness.line("<-call", in: spec))
        XCTAssertNotNil(SpecHarness.value(cx, "rdi"))
        XCTAssertNotEqual(SpecHarness.value(cx, "rdi"), SpecHarness.value(cx, "expected"))
        for inv in Invariant.allCases where inv != .callArguments { SpecHarness.assertProved(report, path: "trace_hardirqs_on_thunk", inv) }
        // The same code with the offset moved with the push proves.
        let fixed = SpecHarness.check(spec.replacingOccurrences(of: "movq 9*8(%rsp)", with: "movq 10*8(%rsp)"))
        SpecHarness.assertOthersProved(fixed, path: "trace_hardirqs_on_thunk", except: [])
    }

    func testExpectationNamesTheArgumentAndTheCall() throws {
        let spec = Self.thunk(extraSave: "\tpushq %rbx", extraRestore: "\tpopq %rbx") + "\n.expect args rdi at trace_hardirqs_on_caller"
        XCTAssertEqual(try Self.argsResult(SpecHarness.check(spec), "trace_hardirqs_on_thunk").status, .pass)
        let wrong = SpecHarness.check(Self.thunk() + "\n.expect args rbx at trace_hardirqs_on_caller")
        XCTAssertNotEqual(try Self.argsResult(wrong, "trace_hardirqs_on_thunk").status, .pass)
    }

    func testThirtyTwoBitNameComparesTheLowHalf() {
        // `edi=`: only the low 32 bits are the argument.
        let spec = Self.thunk(contract: "edi=return-address").replacingOccurrences(of: "\tmovq 9*8(%rsp), %rdi          # <-arg",
                                                                                    with: "\tmovq 9*8(%rsp), %rdi\n\tbtsq $40, %rdi")
        SpecHarness.assertProved(SpecHarness.check(spec), path: "trace_hardirqs_on_thunk", .callArguments)
        let full = SpecHarness.check(spec.replacingOccurrences(of: "edi=return-address", with: "rdi=return-address"))
        guard case .violated? = SpecHarness.result(full, path: "trace_hardirqs_on_thunk", .callArguments)?.verdict else {
            return XCTFail("rdi= with bit 40 flipped must be violated")
        }
    }

    // MARK: pt_regs pointers

    /// pt_regs pushed on a syscall's kernel stack, then `do_notify_resume(regs, …)`.
    static func pushedPtRegs(pointer: String) -> String {
        PtraceInvariantTests.tracedSyscall(beforeStop: "", exit: PtraceInvariantTests.iretFromPtRegs)
            .replacingOccurrences(of: ".extern syscall_trace_enter stop ax=-38", with: ".extern syscall_trace_enter stop ax=-38 rdi=ptregs")
            .replacingOccurrences(of: "\tmovq %rsp, %rdi\n\tcall syscall_trace_enter", with: "\t\(pointer)        # <-ptr\n\tcall syscall_trace_enter")
    }

    func testPtRegsPointerInRdiProves() {
        let report = SpecHarness.check(Self.pushedPtRegs(pointer: "movq %rsp, %rdi"))
        SpecHarness.assertProved(report, path: "tracesys", .callArguments)
    }

    func testPtRegsPointerOffByEightIsViolated() throws {
        let spec = Self.pushedPtRegs(pointer: "leaq 8(%rsp), %rdi")
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "tracesys", .callArguments, blamedLine: SpecHarness.line("<-ptr", in: spec),
                                            requirementContains: "rdi must hold the pt_regs pointer at `call syscall_trace_enter`")
        XCTAssertEqual(try Self.argsResult(report, "tracesys").violations.map(\.mechanism.description), ["args rdi at syscall_trace_enter"])
        let held = try XCTUnwrap(SpecHarness.value(cx, "rdi").flatMap { UInt64($0.dropFirst(2), radix: 16) })
        let expected = try XCTUnwrap(SpecHarness.value(cx, "expected").flatMap { UInt64($0.dropFirst(2), radix: 16) })
        XCTAssertEqual(held &- expected, 8)
    }

    /// EntryGeometryTests.syncRegs with pt_regs contracts on both calls.
    static let movedFrame = EntryGeometryTests.syncRegs
        .replacingOccurrences(of: ".extern sync_regs moves-frame=cpu_current_top_of_stack", with: ".extern sync_regs moves-frame=cpu_current_top_of_stack rdi=ptregs")
        .replacingOccurrences(of: ".extern do_trap\n", with: ".extern do_trap rdi=ptregs\n")

    func testAfterMovesFrameThePointerIsTheCopy() {
        let report = SpecHarness.check(Self.movedFrame)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "asm_exc", inv) }
    }

    func testPassingTheFrameThatWasMovedAwayIsViolated() {
        // The entry-stack pt_regs, kept in rbx (already saved) across the move: a frame
        // the path has left.
        let spec = Self.movedFrame
            .replacingOccurrences(of: "\tpopq %r12                  # save the return address\n",
                                  with: "\tpopq %r12                  # save the return address\n\tmovq %rsp, %rbx\n")
            .replacingOccurrences(of: "\tmovq %rsp, %rdi\n\tcall do_trap", with: "\tmovq %rbx, %rdi            # <-old\n\tcall do_trap")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "asm_exc", .callArguments, blamedLine: SpecHarness.line("<-old", in: spec),
                                   requirementContains: "rdi must hold the pt_regs pointer at `call do_trap`")
    }

    // MARK: System-call numbers

    /// CompatEntryTests.sysenter passing the syscall number in esi.
    static func sysenterNumber(_ load: String, contract: String = "esi=syscall-nr") -> String {
        CompatEntryTests.sysenter
            .replacingOccurrences(of: ".extern do_syscall32\n", with: ".extern do_syscall32 rdi=ptregs \(contract)\n")
            .replacingOccurrences(of: "\tmovq %rsp, %rdi\n\tcall do_syscall32", with: "\tmovq %rsp, %rdi\n\(load)\n\tcall do_syscall32")
    }

    func testThirtyTwoBitSyscallNumberProves() {
        let report = SpecHarness.check(Self.sysenterNumber("\tmovl ORIG_RAX(%rsp), %esi"))
        SpecHarness.assertProved(report, path: "sysenter_entry", .callArguments)
        // Its upper half is not the argument.
        let upper = SpecHarness.check(Self.sysenterNumber("\tmovq ORIG_RAX(%rsp), %rsi\n\tbtsq $40, %rsi"))
        SpecHarness.assertProved(upper, path: "sysenter_entry", .callArguments)
        guard case .violated? = SpecHarness.result(SpecHarness.check(Self.sysenterNumber("\tmovq ORIG_RAX(%rsp), %rsi\n\tbtsq $40, %rsi", contract: "rsi=syscall-nr")),
                                                    path: "sysenter_entry", .callArguments)?.verdict else {
            return XCTFail("rsi= compares all 64 bits")
        }
    }

    func testSyscallNumberFromTheResultSlotIsViolated() {
        // pt_regs.ax holds -ENOSYS, not the number.
        let spec = Self.sysenterNumber("\tmovl RAX(%rsp), %esi          # <-nr")
        SpecHarness.assertViolated(SpecHarness.check(spec), path: "sysenter_entry", .callArguments, blamedLine: SpecHarness.line("<-nr", in: spec),
                                   requirementContains: "esi must hold the user's system-call number")
    }

    func testTableCallsTakeTheTablesArgumentContract() {
        // After the stop a tracer may have changed orig_ax: the table call's rax must be
        // reloaded from it; syscall_trace_enter clobbered it.
        let spec = PtraceInvariantTests.tracedSyscall().replacingOccurrences(of: ".extern sys_call_table\n", with: ".extern sys_call_table rax=syscall-nr\n")
        SpecHarness.assertProved(SpecHarness.check(spec), path: "tracesys", .callArguments)
        let stale = spec.replacingOccurrences(of: "\tmovq ORIG_RAX(%rsp), %rax\n", with: "")
        SpecHarness.assertViolated(SpecHarness.check(stale), path: "tracesys", .callArguments, blamedLine: SpecHarness.line("<-stop", in: spec),
                                   requirementContains: "clobbers it, and nothing restored it")
    }

    func testTheNumberSyscallTraceEnterReturnsIsTheTracersChoice() {
        // 3.16's tracesys: the table is indexed by what syscall_trace_enter returned —
        // orig_ax as the tracer left it — not by a reload. Proves only with result=.
        let spec = PtraceInvariantTests.tracedSyscall()
            .replacingOccurrences(of: ".extern sys_call_table\n", with: ".extern sys_call_table rax=syscall-nr\n")
            .replacingOccurrences(of: ".extern syscall_trace_enter stop ax=-38", with: ".extern syscall_trace_enter stop ax=-38 result=syscall-nr")
            .replacingOccurrences(of: "\tmovq ORIG_RAX(%rsp), %rax\n", with: "")
        SpecHarness.assertProved(SpecHarness.check(spec), path: "tracesys", .callArguments)
        // The number as it was before the stop is not the one to run.
        let before = spec.replacingOccurrences(of: "result=syscall-nr", with: "")
            .replacingOccurrences(of: "\tcall *sys_call_table", with: "\tmovq %r12, %rax        # <-early\n\tcall *sys_call_table")
            .replacingOccurrences(of: "\tmovq %rsp, %rdi\n\tcall syscall_trace_enter", with: "\tmovq %rax, %r12\n\tmovq %rsp, %rdi\n\tcall syscall_trace_enter")
        let cx = SpecHarness.assertViolated(SpecHarness.check(before), path: "tracesys", .callArguments, blamedLine: SpecHarness.line("<-early", in: before),
                                            requirementContains: "rax must hold the user's system-call number")
        XCTAssertTrue(cx?.inputs.contains { $0.0.hasPrefix("ptrace.wrote.orig_ax@") && $0.1 == 1 } == true, "inputs: \(cx?.inputs ?? [])")
    }

    func testAConstantArgument() {
        let spec = """
        .extern f rsi=0 edx=-1
        .path p entry=function
        p:
        \txorl %esi, %esi
        \tmovl $-1, %edx
        \tcall f
        \tret
        """
        SpecHarness.assertProved(SpecHarness.check(spec), path: "p", .callArguments)
        let wrong = spec.replacingOccurrences(of: "\tmovl $-1, %edx", with: "\tmovl $1, %edx   # <-c")
        SpecHarness.assertViolated(SpecHarness.check(wrong), path: "p", .callArguments, blamedLine: SpecHarness.line("<-c", in: wrong),
                                   requirementContains: "edx must hold the constant -1")
    }

    func testAWordThePathCannotGiveIsUnknown() {
        let spec = PtraceInvariantTests.tracedSyscall().replacingOccurrences(of: ".extern sys_call_table\n", with: ".extern sys_call_table rdi=return-address\n")
        SpecHarness.assertUnknown(SpecHarness.check(spec), path: "tracesys", .callArguments, reasonContains: "has no return address")
    }

    // MARK: Results

    /// `get_regs` returns the pt_regs pointer; the code hands it on to do_trap.
    static func resultUse(_ contract: String) -> String {
        """
        .extern get_regs \(contract)
        .extern do_trap rdi=ptregs
        .path irq entry=interrupt from=user
        irq:
        \tpushq $-1
        \tpushq %rdi
        \tpushq %rsi
        \tpushq %rdx
        \tpushq %rcx
        \tpushq %rax
        \(SpecHarness.pushPtRegsFromR8)\
        \tswapgs
        \tcall get_regs
        \tmovq %rax, %rdi            # <-use
        \tcall do_trap
        \tswapgs
        \(SpecHarness.popPtRegs)\
        \taddq $8, %rsp
        \tiretq
        """
    }

    func testAResultContractIsUsedAfterTheCall() {
        let report = SpecHarness.check(Self.resultUse("result=ptregs"))
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "irq", inv) }
        // Without it rax is whatever the C function left there.
        let spec = Self.resultUse("")
        SpecHarness.assertViolated(SpecHarness.check(spec), path: "irq", .callArguments, blamedLine: SpecHarness.line("<-use", in: spec),
                                   requirementContains: "rdi must hold the pt_regs pointer")
    }

    func testAFunctionReturningItsArgument() {
        let spec = Self.resultUse("result=arg:rdi").replacingOccurrences(of: "\tcall get_regs", with: "\tmovq %rsp, %rdi\n\tcall get_regs")
        SpecHarness.assertProved(SpecHarness.check(spec), path: "irq", .callArguments)
        let other = Self.resultUse("result=arg:rsi").replacingOccurrences(of: "\tcall get_regs", with: "\tmovq %rsp, %rdi\n\tcall get_regs")
        guard case .violated? = SpecHarness.result(SpecHarness.check(other), path: "irq", .callArguments)?.verdict else {
            return XCTFail("rax is rsi's value, not the pointer")
        }
    }

    func testTailAndRegisterCallsAreChecked() {
        // A tail call (`jmp f`) and a call through a register holding f's address both
        // take f's contract.
        let tail = """
        .extern f rdi=0
        .path p entry=function
        p:
        \txorl %edi, %edi
        \tjmp f
        """
        SpecHarness.assertProved(SpecHarness.check(tail), path: "p", .callArguments)
        guard case .violated? = SpecHarness.result(SpecHarness.check(tail.replacingOccurrences(of: "\txorl %edi, %edi\n", with: "")), path: "p", .callArguments)?.verdict else {
            return XCTFail("rdi is the caller's at the tail call")
        }
        let indirect = """
        .extern f rdi=0
        .path p entry=function
        p:
        \tleaq f(%rip), %rax
        \tmovl $1, %edi       # <-one
        \tcall *%rax
        \tret
        """
        SpecHarness.assertViolated(SpecHarness.check(indirect), path: "p", .callArguments, blamedLine: SpecHarness.line("<-one", in: indirect),
                                   requirementContains: "rdi must hold the constant 0")
    }

    /// An exception with an error code handing pt_regs and the code to its handler, as
    /// 3.16's errorentry does.
    static func errorEntry(_ load: String) -> String {
        """
        .extern do_trap rdi=ptregs rsi=error-code
        .path trap entry=exception-errcode from=kernel
        trap:
        \tpushq %rdi
        \tpushq %rsi
        \tpushq %rdx
        \tpushq %rcx
        \tpushq %rax
        \(SpecHarness.pushPtRegsFromR8)\
        \tmovq %rsp, %rdi
        \t\(load)          # <-code
        \tcall do_trap
        \(SpecHarness.popPtRegs)\
        \taddq $8, %rsp
        \tiretq
        """
    }

    func testErrorCodeArgument() {
        SpecHarness.assertProved(SpecHarness.check(Self.errorEntry("movq ORIG_RAX(%rsp), %rsi")), path: "trap", .callArguments)
        let spec = Self.errorEntry("movq ORIG_RAX+8(%rsp), %rsi")
        SpecHarness.assertViolated(SpecHarness.check(spec), path: "trap", .callArguments, blamedLine: SpecHarness.line("<-code", in: spec),
                                   requirementContains: "rsi must hold the error code the CPU pushed")
    }

    // MARK: Spelling

    func testMisspeltWordsListTheValidOnes() {
        let bad = SpecHarness.check(Self.thunk(contract: "rdi=return-adress"))
        XCTAssertTrue(bad.diagnostics.contains {
            $0.message.contains("unknown argument value 'return-adress' in 'rdi=' (did you mean 'return-address'?): expected ptregs, return-address, syscall-nr, orig_ax or error-code, or a constant expression")
        }, "\(bad.diagnostics)")
        let returns = SpecHarness.check(Self.thunk(contract: "returns=ptregs"))
        XCTAssertTrue(returns.diagnostics.contains { $0.message.contains("with 'result='") }, "\(returns.diagnostics)")
        let result = SpecHarness.check(Self.thunk(contract: "result=arg:rsp"))
        XCTAssertTrue(result.diagnostics.contains { $0.message.contains("result=arg:REG names the 64-bit argument register") }, "\(result.diagnostics)")
        let narrow = SpecHarness.check(Self.thunk(contract: "sil=0"))
        XCTAssertTrue(narrow.diagnostics.contains { $0.message.contains("names a 64-bit register (rdi=) or its low 32 bits (edi=), not 'sil'") }, "\(narrow.diagnostics)")
        let preserved = SpecHarness.check(Self.thunk(contract: "result=0 clobbers=rdi"))
        XCTAssertTrue(preserved.diagnostics.contains { $0.message.contains("rax cannot be preserved") }, "\(preserved.diagnostics)")
    }

    func testPercentNamesTheRegisterWhereAFieldHasItsName() throws {
        // `r8=` is pt_regs.r8's expected value at a stop; `%r8=` the argument register.
        let spec = """
        .extern f %r8=5
        .path p entry=function
        p:
        \tmovl $5, %r8d
        \tcall f
        \tret
        """
        SpecHarness.assertProved(SpecHarness.check(spec), path: "p", .callArguments)
        let wrong = SpecHarness.check(spec.replacingOccurrences(of: "$5, %r8d", with: "$6, %r8d"))
        guard case .violated? = SpecHarness.result(wrong, path: "p", .callArguments)?.verdict else { return XCTFail("r8 holds 6") }
    }
}
