import PtregsProve
import SpecElaboration
import XCTest

/// Invariant 2, frame balanced (docs/model.md, "2. Frame balanced";
/// Sources/StackSemantics/Invariants/FrameBalance.swift).
final class FrameInvariantTests: XCTestCase {
    // MARK: proofs

    func testFunctionWithLocalFrameAndPushesProves() {
        let report = SpecHarness.check("""
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbp
        \tmovq %rsp, %rbp
        \tsubq $32, %rsp
        \tmovq %rdi, 8(%rsp)
        \tcall schedule
        \tmovq 8(%rsp), %rdi
        \tmovq %rbp, %rsp
        \tpopq %rbp
        \tret
        """)
        SpecHarness.assertOthersProved(report, path: "f", except: [])
    }

    func testRetWithByteCountDroppingAnArgumentProves() {
        // The return address is moved above an 8-byte slot the path adds; `ret $8` drops it.
        let report = SpecHarness.check("""
        .path f entry=function
        f:
        \tpopq %r11
        \tsubq $8, %rsp
        \tpushq %r11
        \tret $8
        """)
        SpecHarness.assertOthersProved(report, path: "f", except: [])
    }

    func testExceptionWithErrorCodeDropsItBeforeIretProves() {
        let report = SpecHarness.check("""
        .path page_fault entry=exception-errcode from=kernel
        page_fault:
        \tpushq %rax
        \tmovq 8(%rsp), %rax
        \tpopq %rax
        \taddq $8, %rsp
        \tiretq
        """)
        SpecHarness.assertOthersProved(report, path: "page_fault", except: [])
    }

    func testSyscallLeavingWithTheStashedUserRspProves() {
        let report = SpecHarness.check("""
        .percpu old_rsp
        .percpu kernel_stack stack
        .path sc entry=syscall
        sc:
        \tswapgs
        \tmovq %rsp, PER_CPU_VAR(old_rsp)
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tpushq %rcx
        \tpopq %rcx
        \tmovq PER_CPU_VAR(old_rsp), %rsp
        \tswapgs
        \tsysretq
        """)
        SpecHarness.assertOthersProved(report, path: "sc", except: [])
    }

    // MARK: violations

    func testRetWithAPushLeftOnTheStack() {
        let spec = """
        .path f entry=function
        f:
        \tpushq %rbx
        \tpushq %rbp
        \tpopq %rbp
        \tret                # <-blamed
        """
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "f", .frameBalance, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "after the path's ret, rsp must be the caller's (entry stack+0x8)")
        XCTAssertEqual(cx?.rsp, "entry stack-0x8")
        // The same ret pops rbx instead of the return address.
        SpecHarness.assertViolated(report, path: "f", .returnStack, blamedLine: SpecHarness.line("<-blamed", in: spec))
    }

    func testRetWithByteCountDroppingTooMuch() {
        // `ret $8` on a path that pushed nothing for it: the caller loses 8 bytes of its frame.
        let spec = """
        .path f entry=function
        f:
        \tpushq %rbx
        \tpopq %rbx
        \tret $8             # <-blamed
        """
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "f", .frameBalance, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                   requirementContains: "rsp must be the caller's")
        SpecHarness.assertOthersProved(report, path: "f", except: [.frameBalance])
    }

    func testStoreBelowRsp() {
        // No red zone in the kernel: an NMI may clobber anything below rsp.
        let spec = """
        .path f entry=function
        f:
        \tmovq %rax, -8(%rsp)   # <-blamed
        \tret
        """
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "f", .frameBalance, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "the access to entry stack-0x8 must not lie below rsp")
        XCTAssertEqual(cx?.rsp, "entry stack")
        SpecHarness.assertOthersProved(report, path: "f", except: [.frameBalance])
    }

    func testLoadBelowRspAfterAdjustingTooEarly() {
        let spec = """
        .path f entry=function
        f:
        \tsubq $16, %rsp
        \tmovq %rbx, 8(%rsp)
        \taddq $16, %rsp
        \tmovq -8(%rsp), %rbx   # <-blamed
        \tret
        """
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "f", .frameBalance, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                   requirementContains: "must not lie below rsp")
    }

    func testIretWithTheErrorCodeStillOnTheStack() {
        let spec = """
        .path page_fault entry=exception-errcode from=kernel
        page_fault:
        \tpushq %rax
        \tpopq %rax
        \tiretq              # <-blamed
        """
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "page_fault", .frameBalance, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "iretq must find the hardware frame at entry stack+0x8")
        XCTAssertEqual(cx?.rsp, "entry stack")
    }

    func testIretWithAnExtraPush() {
        let spec = """
        .path irq entry=interrupt from=kernel
        irq:
        \tpushq %rax
        \tiretq              # <-blamed
        """
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "irq", .frameBalance, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                   requirementContains: "iretq must find the hardware frame at entry stack")
    }

    func testSysretWithTheKernelRsp() {
        // The `movq PER_CPU_VAR(old_rsp), %rsp` before sysretq is missing.
        let spec = """
        .percpu old_rsp
        .percpu kernel_stack stack
        .path sc entry=syscall
        sc:
        \tswapgs
        \tmovq %rsp, PER_CPU_VAR(old_rsp)
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tpushq %rcx
        \tpopq %rcx
        \tswapgs
        \tsysretq            # <-blamed
        """
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "sc", .frameBalance, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "sysretq must leave with the user's rsp")
        XCTAssertEqual(cx?.steps.last?.rsp, "kernel_stack")
    }

    func testAccessAboveTheHardwareFrame() {
        // The interrupt frame is five words from the entry rsp; after the push 48(%rsp) is
        // entry+40, the first byte beyond it.
        let spec = """
        .path irq entry=interrupt from=kernel
        irq:
        \tpushq %rax
        \tmovq 48(%rsp), %rax  # <-blamed
        \tpopq %rax
        \tiretq
        """
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "irq", .frameBalance, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                   requirementContains: "must not lie above the entry frame")
    }

    func testLoadThroughARegisterIndexThatCanReachBelowRsp() {
        // With rdi = 0 the load reads entry-8, and most values of rdi put it far below rsp
        // or outside the frame: the index is symbolic, the check is not skipped.
        let spec = """
        .path f entry=function
        f:
        \tmovq -8(%rsp,%rdi,8), %rax   # <-blamed
        \tret
        """
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "f", .frameBalance, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "the indexed access `-8(%rsp,%rdi,8)` (here entry stack")
        XCTAssertTrue(cx?.requirement.hasSuffix("must not lie below rsp") == true || cx?.requirement.hasSuffix("must not lie outside the path's frame") == true,
                      cx?.requirement ?? "")
    }

    func testIndexedReadThatStaysAboveRspProves() {
        // The index is symbolic but bounded (0 or 1): no slot of its own, yet the
        // solver proves every value keeps the read at or above rsp.
        let spec = """
        .path f entry=function
        f:
        \tsubq $16, %rsp
        \tandq $1, %rdi
        \tmovq (%rsp,%rdi,8), %rax
        \taddq $16, %rsp
        \tret
        """
        SpecHarness.assertProved(SpecHarness.check(spec), path: "f", .frameBalance)
    }

    func testIndexedReadBelowRspThatNoProbeHitsIsFoundByTheSolver() {
        // The index is bounded (0…255 after the masks) and only its value 0 — rdi with a
        // clear low byte — reaches below rsp; the other values stay in the frame. The
        // replay checks the slot the found inputs pick under the same key.
        let spec = """
        .path f entry=function
        f:
        \tsubq $8, %rsp
        \torq $0x100, %rdi
        \tandq $0x1ff, %rdi
        \tsubq $0x100, %rdi
        \tmovq -8(%rsp,%rdi,8), %rax
        \taddq $8, %rsp
        \tret
        """
        let report = SpecHarness.check(spec, invariants: [.frameBalance])
        let cx = SpecHarness.assertViolated(report, path: "f", .frameBalance, blamedLine: 7,
                                            requirementContains: "the indexed access `-8(%rsp,%rdi,8)` (here entry stack-0x10) must not lie below rsp")
        // The model's rdi has a clear low byte.
        let rdi = cx?.inputs.first { $0.0 == "entry.rdi" }?.1
        XCTAssertNotNil(rdi)
        if let rdi { XCTAssertEqual(rdi & 0xff, 0, "rdi = \(rdi)") }
    }

    func testIndexedStoreIsUnsupported() {
        let spec = """
        .path f entry=function
        f:
        \tmovq %rax, -8(%rsp,%rdi,8)
        \tret
        """
        let report = SpecHarness.check(spec)
        guard let r = SpecHarness.result(report, path: "f", .frameBalance) else { return }
        guard case .unknown(let why) = r.verdict else { return XCTFail("expected unknown, got \(r.verdict.name)") }
        XCTAssertTrue(why.contains("whose offset has no fixed value"), why)
    }

    /// A function path's frame ends at its return address: a store above it, or pt_regs
    /// handed to C there, is the caller's frame. Both proved before.
    func testAFunctionDoesNotWriteItsCallersFrame() {
        let direct = ".path f entry=function\nf:\tmovq %rbx, 16(%rsp)\n\tret"
        SpecHarness.assertViolated(SpecHarness.check(direct, invariants: [.frameBalance]), path: "f", .frameBalance, blamedLine: 2,
                                   requirementContains: "must not lie above the entry frame (top entry stack+0x8)")
        let viaC = ".extern wr writes=ax,bx\n.path f entry=function\nf:\tsubq $8, %rsp\n\tleaq 16(%rsp), %rdi\n\tcall wr\n\taddq $8, %rsp\n\tret"
        SpecHarness.assertViolated(SpecHarness.check(viaC, invariants: [.frameBalance]), path: "f", .frameBalance, blamedLine: 5,
                                   requirementContains: "must not lie above the entry frame")
        // With the caller's pt_regs declared (ptregs=), C may use it, and no more.
        let declared = ".extern wr writes=ax,bx\n.path f entry=function ptregs=8\nf:\tleaq 8(%rsp), %rdi\n\tcall wr\n\tret"
        SpecHarness.assertProved(SpecHarness.check(declared, invariants: [.frameBalance]), path: "f", .frameBalance)
    }
}
