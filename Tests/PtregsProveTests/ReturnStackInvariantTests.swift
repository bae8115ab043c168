import PtregsProve
import SpecElaboration
import XCTest

/// Invariant 4, the return stack stays balanced (docs/model.md, "4. Return stack balanced";
/// Sources/StackSemantics/Invariants/ReturnStack.swift).
final class ReturnStackInvariantTests: XCTestCase {
    // MARK: proofs

    func testNestedInternalCallsReturnInOrderProves() {
        let report = SpecHarness.check("""
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbx
        \tcall outer
        \tpopq %rbx
        \tret
        outer:
        \tcall inner
        \tcall schedule
        \tret
        inner:
        \tret
        """)
        SpecHarness.assertOthersProved(report, path: "f", except: [])
    }

    func testPoppedReturnAddressPushedBackUnchangedProves() {
        // docs/model.md, "4. Return stack balanced": `popq %r11 … pushq %r11 … ret` with the same value is fine.
        let report = SpecHarness.check("""
        .path f entry=function
        f:
        \tcall stub
        \tret
        stub:
        \tpopq %r11
        \tsubq $8, %rsp
        \tmovq %rdi, (%rsp)
        \taddq $8, %rsp
        \tpushq %r11
        \tret
        """)
        SpecHarness.assertOthersProved(report, path: "f", except: [])
    }

    func testSyscallCallingAnInternalStubProves() {
        let report = SpecHarness.check("""
        .percpu old_rsp
        .percpu kernel_stack stack
        .path sc entry=syscall
        sc:
        \tswapgs
        \tmovq %rsp, PER_CPU_VAR(old_rsp)
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tcall stub
        \tmovq PER_CPU_VAR(old_rsp), %rsp
        \tswapgs
        \tsysretq
        stub:
        \tpushq %rbp
        \tpopq %rbp
        \tret
        """)
        SpecHarness.assertOthersProved(report, path: "sc", except: [])
    }

    // MARK: violations

    func testPopReturnAddressThenJmpToTheExit() {
        // The ia32 shape: a called stub drops its return address and jumps to the sysret
        // exit; the call it came from is never returned through.
        let spec = """
        .percpu old_rsp
        .percpu kernel_stack stack
        .path sc entry=syscall
        sc:
        \tswapgs
        \tmovq %rsp, PER_CPU_VAR(old_rsp)
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tcall stub          # <-call
        \tmovq PER_CPU_VAR(old_rsp), %rsp
        \tswapgs
        \tsysretq
        stub:
        \tpopq %rax
        \tjmp sysret_exit
        sysret_exit:
        \tmovq PER_CPU_VAR(old_rsp), %rsp
        \tswapgs
        \tsysretq            # <-blamed
        """
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "sc", .returnStack, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                   requirementContains: "sysretq leaves with 1 return-stack entry never returned through: the call `call stub` at spec.pts:\(SpecHarness.line("<-call", in: spec))")
        SpecHarness.assertOthersProved(report, path: "sc", except: [.returnStack])
    }

    func testPopReturnAddressThenJmpBackToTheCaller() {
        // The stub pops its return address and jumps back: the frame is fine, but the
        // path's ret now finds the stub's entry on top of the shadow stack.
        let spec = """
        .path f entry=function
        f:
        \tcall stub          # <-call
        back:
        \tret                # <-blamed
        stub:
        \tpopq %r11
        \tjmp back
        """
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "f", .returnStack, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "ret must return to the address pushed by the call at spec.pts:\(SpecHarness.line("<-call", in: spec))")
        XCTAssertEqual(cx?.steps.last?.returnStackDepth, 2)
    }

    func testRetThroughAModifiedReturnAddress() {
        let spec = """
        .path f entry=function
        f:
        \tcall helper        # <-call
        \tret
        helper:
        \taddq $8, (%rsp)
        \tret                # <-blamed
        """
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "f", .returnStack, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "ret must return to the address pushed by the call at spec.pts:\(SpecHarness.line("<-call", in: spec))")
        XCTAssertNotEqual(SpecHarness.value(cx, "popped"), SpecHarness.value(cx, "pushed"))
    }

    func testRetThroughAReturnAddressOverwrittenWithARegister() {
        let spec = """
        .path f entry=function
        f:
        \tcall helper        # <-call
        \tret
        helper:
        \tmovq %rdi, (%rsp)
        \tret                # <-blamed
        """
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "f", .returnStack, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                   requirementContains: "ret must return to the address pushed by the call at spec.pts:\(SpecHarness.line("<-call", in: spec))")
    }

    func testCallLeftUnreturnedAtIret() {
        // The handler is called, then leaves through its own iretq with the call's entry
        // still on the return stack (its return address dropped, so the frame is right).
        let spec = """
        .path irq entry=interrupt from=kernel
        irq:
        \tcall handler       # <-call
        \tiretq
        handler:
        \taddq $8, %rsp
        \tiretq              # <-blamed
        """
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "irq", .returnStack, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                   requirementContains: "iretq leaves with 1 return-stack entry never returned through: the call `call handler` at spec.pts:\(SpecHarness.line("<-call", in: spec))")
        SpecHarness.assertOthersProved(report, path: "irq", except: [.returnStack])
    }

    func testRetWithNoCallToReturnFrom() {
        let spec = """
        .percpu kernel_stack stack
        .path sc entry=syscall
        sc:
        \tswapgs
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tret                # <-blamed
        """
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "sc", .returnStack, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                   requirementContains: "ret with no call to return from")
    }
}
