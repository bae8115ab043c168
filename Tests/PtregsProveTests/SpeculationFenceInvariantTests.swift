import Foundation
@testable import PtregsProve
import SpecElaboration
import XCTest

/// Invariant `spec-fence`, a fence after a conditional swapgs (docs/model.md,
/// "7. Speculation fence after a conditional swapgs";
/// Sources/StackSemantics/Invariants/SpeculationFence.swift).
final class SpeculationFenceInvariantTests: XCTestCase {
    /// A 5.3-style entry by a hardware frame: the cs test decides the swapgs, FENCE_SWAPGS_USER_ENTRY
    /// after the swapgs, FENCE_SWAPGS_KERNEL_ENTRY at the jump target on the skip arm.
    static func errorEntry(userFence: Bool = true, kernelFence: Bool = true, from: String = "either") -> String {
        """
        .extern do_trap
        .path err entry=interrupt from=\(from)
        err:
        \ttestl $3, 8(%rsp)
        \tjz 1f                      # <-branch
        \tswapgs
        \t\(userFence ? "lfence" : "nop")
        \tjmp 2f
        1:\t\(kernelFence ? "lfence" : "nop")
        2:\tcall do_trap
        \ttestl $3, 8(%rsp)
        \tjz 3f
        \tswapgs
        3:\tiretq
        """
    }

    /// 5.3's paranoid_entry: the GS base read from MSR_GS_BASE decides, one fence at the
    /// join (both arms pass it), then `ret` to the handler's C call.
    static func paranoidEntry(fence: String = "lfence") -> String {
        """
        .extern do_nmi
        .path nmi entry=interrupt from=either
        nmi:
        \tcall paranoid_entry
        \tcall do_nmi
        \ttestl %ebx, %ebx
        \tjnz 1f
        \tswapgs
        1:\tiretq
        paranoid_entry:
        \tmovl $1, %ebx
        \tmovl $0xc0000101, %ecx
        \trdmsr
        \ttestl %edx, %edx
        \tjs 1f                      # <-branch
        \tswapgs
        \txorl %ebx, %ebx
        1:\t\(fence)
        \tret
        """
    }

    static let invariants: Set<Invariant> = [.speculationFence, .gsParity]

    static func mechanisms(_ report: CheckReport, _ path: String) throws -> [String] {
        try XCTUnwrap(report.paths.first { $0.name == path }?.results.first { $0.invariant == .speculationFence })
            .violations.map(\.mechanism.description).sorted()
    }

    // MARK: proofs

    func testFencedErrorEntryProves() {
        let report = SpecHarness.check(Self.errorEntry(), invariants: Self.invariants)
        SpecHarness.assertProved(report, path: "err", .speculationFence)
        SpecHarness.assertProved(report, path: "err", .gsParity)
    }

    func testFencedParanoidEntryThroughItsRetProves() {
        let report = SpecHarness.check(Self.paranoidEntry(), invariants: Self.invariants)
        SpecHarness.assertProved(report, path: "nmi", .speculationFence)
        SpecHarness.assertProved(report, path: "nmi", .gsParity)
    }

    func testFromKernelModeOnlyTheSwapgsArmNeedsAFence() throws {
        // Kernel mode arrives with the kernel's base: skipping the swapgs speculatively
        // is harmless, running it is not.
        SpecHarness.assertProved(SpecHarness.check(Self.errorEntry(kernelFence: false, from: "kernel"), invariants: Self.invariants), path: "err", .speculationFence)
        let report = SpecHarness.check(Self.errorEntry(userFence: false, from: "kernel"), invariants: Self.invariants)
        XCTAssertEqual(try Self.mechanisms(report, "err"), ["spec-fence not-taken at \"jz 1f\""])
    }

    func testFromUserModeOnlyTheSkipArmNeedsAFence() throws {
        SpecHarness.assertProved(SpecHarness.check(Self.errorEntry(userFence: false, from: "user"), invariants: Self.invariants), path: "err", .speculationFence)
        let report = SpecHarness.check(Self.errorEntry(kernelFence: false, from: "user"), invariants: Self.invariants)
        XCTAssertEqual(try Self.mechanisms(report, "err"), ["spec-fence taken at \"jz 1f\""])
    }

    func testUnconditionalSwapgsNeedsNoFence() {
        // The SYSCALL entry swaps on every run: no branch decides it. Its work loop's
        // branch and the result check are unrelated to GS.
        let spec = """
        .percpu old_rsp
        .percpu kernel_stack stack
        .extern schedule
        .path sc entry=syscall
        sc:
        \tswapgs
        \tmovq %rsp, PER_CPU_VAR(old_rsp)
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        1:\ttestl %eax, %eax
        \tjz 2f
        \tcall schedule
        \tdecl %eax
        \tjmp 1b
        2:\tcmpq $0, PER_CPU_VAR(old_rsp)
        \tje 3f
        \tincq PER_CPU_VAR(old_rsp)
        3:\tmovq PER_CPU_VAR(old_rsp), %rsp
        \tswapgs
        \tsysretq
        """
        let report = SpecHarness.check(spec, invariants: Self.invariants)
        SpecHarness.assertProved(report, path: "sc", .speculationFence)
        SpecHarness.assertProved(report, path: "sc", .gsParity)
    }

    func testBranchUnrelatedToSwapgsNeedsNoFence() {
        // After the fenced decision, a branch whose arms both reach per-CPU data with the
        // same GS base (one of them through a C call) decides nothing.
        let spec = Self.errorEntry().replacingOccurrences(of: "2:\tcall do_trap\n", with: """
        2:\ttestl %eax, %eax
        \tjz 4f
        \tincl PER_CPU_VAR(irq_count)
        4:\tcall do_trap

        """)
        let report = SpecHarness.check(".percpu irq_count\n" + spec, invariants: Self.invariants)
        SpecHarness.assertProved(report, path: "err", .speculationFence)
        SpecHarness.assertProved(report, path: "err", .gsParity)
    }

    // MARK: violations

    func testDroppingTheUserFenceIsFound() throws {
        // From kernel mode the CPU may run the swapgs arm speculatively.
        let spec = Self.errorEntry(userFence: false)
        let report = SpecHarness.check(spec, invariants: Self.invariants)
        let cx = SpecHarness.assertViolated(report, path: "err", .speculationFence, blamedLine: SpecHarness.line("<-branch", in: spec),
                                            requirementContains: "runs its not-taken arm speculatively to `call do_trap`")
        XCTAssertEqual(cx?.steps.last?.text, "jz 1f")
        XCTAssertEqual(cx?.steps.last?.kernelGS, true, "the replayed run is a kernel-mode one")
        XCTAssertTrue(cx?.inputs.contains { $0.0 == "entry.cs" && $0.1 & 3 == 0 } == true, "inputs: \(cx?.inputs ?? [])")
        XCTAssertEqual(try Self.mechanisms(report, "err"), ["spec-fence not-taken at \"jz 1f\""])
        SpecHarness.assertProved(report, path: "err", .gsParity)
    }

    func testDroppingTheKernelFenceIsFound() throws {
        // From user mode the CPU may skip the swapgs speculatively: the fence at the jump
        // target is on the skip arm only, so the other arm's fence does not cover it.
        let spec = Self.errorEntry(kernelFence: false)
        let report = SpecHarness.check(spec, invariants: Self.invariants)
        let cx = SpecHarness.assertViolated(report, path: "err", .speculationFence, blamedLine: SpecHarness.line("<-branch", in: spec),
                                            requirementContains: "runs its taken arm speculatively")
        XCTAssertEqual(cx?.steps.last?.kernelGS, false, "the replayed run is a user-mode one")
        XCTAssertTrue(cx?.inputs.contains { $0.0 == "entry.cs" && $0.1 & 3 != 0 } == true, "inputs: \(cx?.inputs ?? [])")
        XCTAssertEqual(try Self.mechanisms(report, "err"), ["spec-fence taken at \"jz 1f\""])
    }

    func testFenceOnlyOnOneArmOfTheJoinLeavesTheOther() throws {
        // `jz 1f; swapgs; jmp 2f; 1: lfence; 2:` — the fence sits at the join label on the
        // skip arm only.
        let report = SpecHarness.check(Self.errorEntry(userFence: false, kernelFence: true), invariants: Self.invariants)
        XCTAssertEqual(try Self.mechanisms(report, "err"), ["spec-fence not-taken at \"jz 1f\""])
        // A fence at the join both arms pass covers both.
        let joined = Self.errorEntry(userFence: false, kernelFence: false).replacingOccurrences(of: "\tjmp 2f\n1:\tnop\n2:\t", with: "1:\tlfence\n\t")
        XCTAssertTrue(joined.contains("1:\tlfence\n\tcall do_trap"), joined)
        SpecHarness.assertProved(SpecHarness.check(joined, invariants: Self.invariants), path: "err", .speculationFence)
    }

    func testFenceAfterThePerCPUAccessIsTooLate() throws {
        let spec = """
        .percpu irq_count
        .extern do_IRQ
        .path irq entry=interrupt from=either
        irq:
        \ttestl $3, 8(%rsp)
        \tjz 1f                      # <-branch
        \tswapgs
        1:\tincl PER_CPU_VAR(irq_count)
        \tlfence
        \tcall do_IRQ
        \ttestl $3, 8(%rsp)
        \tjz 2f
        \tswapgs
        2:\tiretq
        """
        let report = SpecHarness.check(spec, invariants: Self.invariants)
        SpecHarness.assertViolated(report, path: "irq", .speculationFence, blamedLine: SpecHarness.line("<-branch", in: spec),
                                   requirementContains: "`incl PER_CPU_VAR(irq_count)`")
        XCTAssertEqual(try Self.mechanisms(report, "irq"), ["spec-fence not-taken at \"jz 1f\"", "spec-fence taken at \"jz 1f\""])
        // Before the access, it proves.
        let fixed = spec.replacingOccurrences(of: "1:\tincl PER_CPU_VAR(irq_count)\n\tlfence\n", with: "1:\tlfence\n\tincl PER_CPU_VAR(irq_count)\n")
        SpecHarness.assertProved(SpecHarness.check(fixed, invariants: Self.invariants), path: "irq", .speculationFence)
    }

    func testMfenceIsNoSpeculationBarrier() throws {
        let report = SpecHarness.check(Self.paranoidEntry(fence: "mfence"), invariants: Self.invariants)
        SpecHarness.assertViolated(report, path: "nmi", .speculationFence, blamedLine: SpecHarness.line("<-branch", in: Self.paranoidEntry(fence: "mfence")))
        XCTAssertEqual(try Self.mechanisms(report, "nmi"), ["spec-fence not-taken at \"js 1f\"", "spec-fence taken at \"js 1f\""])
        for barrier in ["serialize", "movq %rax, %cr3"] {
            SpecHarness.assertProved(SpecHarness.check(Self.paranoidEntry(fence: barrier), invariants: Self.invariants), path: "nmi", .speculationFence)
        }
        // A move to cr8 (the task priority) does not serialise.
        XCTAssertEqual(try Self.mechanisms(SpecHarness.check(Self.paranoidEntry(fence: "movq %rax, %cr8"), invariants: Self.invariants), "nmi").count, 2)
    }

    func testBranchInALoopDecidingTheSwapgsIsChecked() throws {
        // A retry loop around the decision: each visit of the branch is judged.
        let spec = """
        .extern do_trap
        .path err entry=interrupt from=either
        err:
        \tmovl $2, %ebx
        0:\ttestl $3, 8(%rsp)
        \tjz 1f                      # <-branch
        \tswapgs
        \tlfence
        \tcall do_trap
        \tswapgs
        \tjmp 2f
        1:\tcall do_trap
        2:\tdecl %ebx
        \tjnz 0b
        \tiretq
        """
        let report = SpecHarness.check(spec, invariants: [.speculationFence])
        SpecHarness.assertViolated(report, path: "err", .speculationFence, blamedLine: SpecHarness.line("<-branch", in: spec))
        XCTAssertEqual(try Self.mechanisms(report, "err"), ["spec-fence taken at \"jz 1f\""])
        let fixed = spec.replacingOccurrences(of: "1:\tcall do_trap", with: "1:\tlfence\n\tcall do_trap")
        SpecHarness.assertProved(SpecHarness.check(fixed, invariants: [.speculationFence]), path: "err", .speculationFence)
    }

    // MARK: ALTERNATIVE sites

    /// The kernel's `ALTERNATIVE "", "lfence", X86_FEATURE_FENCE_SWAPGS_*`: the feature is
    /// the kernel's statement that the CPU needs the fence, so the site is a fence on both
    /// arms — by the feature word the unit's own headers give that name (cpp). A site whose
    /// arms have none (`mfence`), or whose fence is patched in on any other feature, is not.
    static func alternativeFence(_ replacement: String, feature: String, defines: String) throws -> CheckReport {
        let code = defines + "\n" + FrontEndSourceTests.alternativeMacros + "\n" + """
        nmi:
        \tmovl $0xc0000101, %ecx
        \trdmsr
        \ttestl %edx, %edx
        \tjs 1f
        \tswapgs
        1:
        \tALTERNATIVE "", "\(replacement)", \(feature)
        \tcall do_nmi
        \tiretq
        """
        return try FrontEndSourceTests.check("checks/alt.pts", ["arch/x86/entry/alt.S": code + "\n",
                                                                "checks/alt.pts": ".source \"arch/x86/entry/alt.S\"\n.extern do_nmi\n.path nmi entry=interrupt from=kernel\n"])
    }

    static let fenceFeatures = """
    #define X86_FEATURE_ALWAYS\t\t( 3*32+21)
    #define X86_FEATURE_XENPV\t\t( 8*32+16)
    #define X86_FEATURE_FENCE_SWAPGS_USER\t(11*32+ 4)
    #define X86_FEATURE_FENCE_SWAPGS_KERNEL\t(11*32+ 5)
    """

    func testAlternativeFenceOnTheFenceFeatureCountsOnBothArms() throws {
        for feature in ["X86_FEATURE_FENCE_SWAPGS_KERNEL", "X86_FEATURE_ALWAYS"] {
            let fenced = try Self.alternativeFence("lfence", feature: feature, defines: Self.fenceFeatures)
            XCTAssertEqual(fenced.diagnostics, [])
            SpecHarness.assertProved(fenced, path: "nmi", .speculationFence)
        }
        let unfenced = try Self.alternativeFence("mfence", feature: "X86_FEATURE_FENCE_SWAPGS_KERNEL", defines: Self.fenceFeatures)
        XCTAssertEqual(try Self.mechanisms(unfenced, "nmi"), ["spec-fence not-taken at \"js 1f\""])
    }

    /// The kernel leaves X86_FEATURE_FENCE_SWAPGS_USER off on CPUs with PTI, whose CR3
    /// write is the barrier instead. At paranoid_entry's join there is no CR3 write after
    /// the site (which is why the kernel fences it on _KERNEL): trusting _USER there
    /// proved a route a PTI CPU runs unfenced.
    func testUserFenceWithoutACR3WriteIsNoFence() throws {
        let report = try Self.alternativeFence("lfence", feature: "X86_FEATURE_FENCE_SWAPGS_USER", defines: Self.fenceFeatures)
        XCTAssertEqual(try Self.mechanisms(report, "nmi"), ["spec-fence not-taken at \"js 1f\""])
        guard case .violated(let cx)? = SpecHarness.result(report, path: "nmi", .speculationFence)?.verdict else { return XCTFail("expected violated") }
        XCTAssertTrue(cx.requirement.contains("which the kernel leaves off on CPUs with PTI"), cx.requirement)
    }

    /// error_entry's shape from 5.3 on: the swapgs arm has FENCE_SWAPGS_USER_ENTRY and then
    /// SWITCH_TO_KERNEL_CR3 (a CR3 write patched in on X86_FEATURE_PTI), the kernel-mode
    /// arm FENCE_SWAPGS_KERNEL_ENTRY. A _USER fence on the kernel-mode arm, or the CR3
    /// switch taken out of the user arm, leaves a PTI CPU unfenced.
    static func errorEntryWithPTI(userArmFeature: String = "X86_FEATURE_FENCE_SWAPGS_USER", kernelArmFeature: String = "X86_FEATURE_FENCE_SWAPGS_KERNEL", cr3Switch: Bool = true) throws -> CheckReport {
        let code = fenceFeatures + "\n#define X86_FEATURE_PTI\t\t( 7*32+11)\n" + FrontEndSourceTests.alternativeMacros + "\n" + """
        .macro SWITCH_TO_KERNEL_CR3 scratch_reg:req
        \tALTERNATIVE "jmp .Lend_\\@", "", X86_FEATURE_PTI
        \tmov %cr3, \\scratch_reg
        \tandq $~0x1000, \\scratch_reg
        \tmov \\scratch_reg, %cr3
        .Lend_\\@:
        .endm
        err:
        \ttestb $3, 8(%rsp)
        \tjz 1f
        \tswapgs
        \tALTERNATIVE "", "lfence", \(userArmFeature)
        \t\(cr3Switch ? "SWITCH_TO_KERNEL_CR3 scratch_reg=%rax" : "nop")
        \tjmp 2f
        1:
        \tALTERNATIVE "", "lfence", \(kernelArmFeature)
        2:
        \tcall do_trap
        \ttestb $3, 8(%rsp)
        \tjz 3f
        \tswapgs
        3:
        \tiretq
        """
        return try FrontEndSourceTests.check("checks/err.pts", ["arch/x86/entry/err.S": code + "\n",
                                                                "checks/err.pts": ".source \"arch/x86/entry/err.S\"\n.extern do_trap\n.path err entry=interrupt from=either\n"])
    }

    func testUserFenceFollowedByThePTICR3WriteIsAFence() throws {
        let report = try Self.errorEntryWithPTI()
        XCTAssertEqual(report.diagnostics, [])
        SpecHarness.assertProved(report, path: "err", .speculationFence)
    }

    func testUserFenceOnTheKernelModeArmIsNoFence() throws {
        let report = try Self.errorEntryWithPTI(kernelArmFeature: "X86_FEATURE_FENCE_SWAPGS_USER")
        XCTAssertEqual(try Self.mechanisms(report, "err"), ["spec-fence taken at \"jz 1f\""])
    }

    /// An ALTERNATIVE with an empty original pads its site with nops to the replacement's
    /// length, so a label after it (`jmp 2f` from the other arm) is past the site. Taken
    /// as the next instruction, that jump ran the kernel-mode arm's fence.
    func testJumpPastAnEmptyOriginalSiteDoesNotPassItsFence() throws {
        let report = try Self.errorEntryWithPTI(userArmFeature: "X86_FEATURE_XENPV", cr3Switch: false)
        XCTAssertEqual(try Self.mechanisms(report, "err"), ["spec-fence not-taken at \"jz 1f\""])
        guard case .violated(let cx)? = SpecHarness.result(report, path: "err", .speculationFence)?.verdict else { return XCTFail("expected violated") }
        XCTAssertTrue(cx.requirement.contains("patches its fence in on X86_FEATURE_XENPV"), cx.requirement)
    }

    func testUserFenceWithTheCR3SwitchRemovedIsNoFence() throws {
        let report = try Self.errorEntryWithPTI(cr3Switch: false)
        XCTAssertEqual(try Self.mechanisms(report, "err"), ["spec-fence not-taken at \"jz 1f\""])
        // The kernel's own fence feature on the user arm needs no CR3 write.
        let kernelFeature = try Self.errorEntryWithPTI(userArmFeature: "X86_FEATURE_FENCE_SWAPGS_KERNEL", cr3Switch: false)
        SpecHarness.assertProved(kernelFeature, path: "err", .speculationFence)
    }

    func testAlternativeFenceOnAnotherFeatureIsNoFence() throws {
        // A fence patched in only on Xen PV guests: every native CPU runs the route
        // unfenced. Trusting any feature proved this.
        let xen = try Self.alternativeFence("lfence", feature: "X86_FEATURE_XENPV", defines: Self.fenceFeatures)
        XCTAssertEqual(try Self.mechanisms(xen, "nmi"), ["spec-fence not-taken at \"js 1f\""])
        let r = try XCTUnwrap(SpecHarness.result(xen, path: "nmi", .speculationFence))
        guard case .violated(let cx) = r.verdict else { return XCTFail("expected violated") }
        XCTAssertTrue(cx.requirement.contains("patches its fence in on X86_FEATURE_XENPV, not X86_FEATURE_FENCE_SWAPGS_USER/_KERNEL"), cx.requirement)
        // A bare feature number no header names is no statement about the CPU either.
        let bare = try Self.alternativeFence("lfence", feature: "9", defines: "")
        XCTAssertEqual(try Self.mechanisms(bare, "nmi"), ["spec-fence not-taken at \"js 1f\""])
        guard case .violated(let cx2)? = SpecHarness.result(bare, path: "nmi", .speculationFence)?.verdict else { return XCTFail("expected violated") }
        XCTAssertTrue(cx2.requirement.contains("patches its fence in on word 0x9"), cx2.requirement)
    }

    // MARK: expectations

    func testExpectationsNameTheArm() throws {
        let spec = Self.errorEntry(userFence: false)
        let accepted = SpecHarness.check(spec + "\n.expect spec-fence not-taken at \"jz 1f\"", invariants: Self.invariants)
        XCTAssertEqual(accepted.exitCode, 0)
        let wrongArm = SpecHarness.check(spec + "\n.expect spec-fence taken at \"jz 1f\"", invariants: Self.invariants)
        XCTAssertEqual(wrongArm.exitCode, 1)
        let stale = SpecHarness.check(Self.errorEntry() + "\n.expect spec-fence not-taken at \"jz 1f\"", invariants: Self.invariants)
        XCTAssertEqual(stale.exitCode, 1)
        let bad = SpecHarness.check(spec + "\n.expect spec-fence percpu at \"jz 1f\"")
        XCTAssertTrue(bad.diagnostics.first?.message.contains("unknown spec-fence mechanism 'percpu' (expected one of: taken, not-taken)") == true,
                      "\(bad.diagnostics)")
    }

    // MARK: certificates

    /// A kernel-mode exception whose handler first recognises a fault on its own iretq
    /// (the user's GS base live, fenced swapgs) and only then tests cs: the skip arm of
    /// that test needs no fence, because no run that reaches it has the user's base —
    /// which takes the runs' path condition to see, not a constant.
    static let iretFaultFirst = """
    .extern do_trap
    .path gp entry=exception from=kernel
    gp:
    \tpushq %rax
    \tleaq irq_return(%rip), %rax
    \tcmpq %rax, 8(%rsp)
    \tje 2f
    \tmovl %eax, %eax
    \tcmpq %rax, 8(%rsp)
    \tje 2f
    \tlfence
    \ttestl $3, 16(%rsp)
    \tjz 1f
    2:\tswapgs
    \tlfence
    \tcall do_trap
    \tswapgs
    \tjmp 3f
    1:\tcall do_trap
    3:\tpopq %rax
    irq_return:
    \tiretq
    """

    func testSkipArmNeedsNoFenceWhereEveryRunHasTheKernelBase() throws {
        let report = SpecHarness.check(Self.iretFaultFirst, invariants: Self.invariants)
        SpecHarness.assertProved(report, path: "gp", .speculationFence)
        SpecHarness.assertProved(report, path: "gp", .gsParity)
        let r = try XCTUnwrap(SpecHarness.result(report, path: "gp", .speculationFence))
        XCTAssertGreaterThan(r.obligations, 0, "the claim is not decided by construction")
        // Without the lfence after the compares, a run at the truncated iretq address
        // (the user's base) may speculatively skip on to the C call.
        let unfenced = SpecHarness.check(Self.iretFaultFirst.replacingOccurrences(of: "\tje 2f\n\tlfence\n", with: "\tje 2f\n"), invariants: Self.invariants)
        // Both compares' not-taken arms run on unfenced to the call: one mechanism at two
        // sites (lines 7 and 10), each a violation of its own.
        XCTAssertEqual(try Self.mechanisms(unfenced, "gp"), ["spec-fence not-taken at \"je 2f\"", "spec-fence not-taken at \"je 2f\""])
        XCTAssertEqual(try XCTUnwrap(SpecHarness.result(unfenced, path: "gp", .speculationFence)).violations.map(\.site.location.line).sorted(), [7, 10])
    }

    /// The proved verdicts of the fenced entries, and of entries whose unfenced arm is
    /// harmless in their mode, come with certificates z3 and cvc5 re-check.
    func testCertificatesRecheck() throws {
        for solver in ["z3", "cvc5"] where !CertificateTests.installed(solver) {
            throw XCTSkip("\(solver) is not installed (.ci/run installs it)")
        }
        let specs = [Self.errorEntry(), Self.paranoidEntry(), Self.errorEntry(kernelFence: false, from: "kernel"),
                     Self.errorEntry(userFence: false, from: "user"), Self.iretFaultFirst]
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-cert-fence-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        var inputs: [String] = []
        for (k, text) in specs.enumerated() {
            let url = root.appendingPathComponent("f\(k).pts")
            try text.write(to: url, atomically: true, encoding: .utf8)
            inputs.append(url.path)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-cert-\(UUID().uuidString)")
        var options = ProverOptions()
        options.certifyDirectory = dir
        let report = Checker(options: options).check(inputs)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertEqual(report.diagnostics.count, 0, "\(report.diagnostics)")
        let fence = report.paths.flatMap(\.results).filter { $0.invariant == .speculationFence }
        XCTAssertEqual(fence.map(\.verdict.name), ["proved", "proved", "proved", "proved", "proved"])
        XCTAssertTrue(fence.contains { $0.obligations > 0 }, "one certificate has a claim the solver must prove")
        for file in fence.compactMap(\.certificate) {
            let url = dir.appendingPathComponent(file)
            XCTAssertEqual("\(CertificateTests.answer("z3", url) ?? "missing") \(CertificateTests.answer("cvc5", url) ?? "missing")", "unsat unsat", file)
        }
        XCTAssertEqual(fence.compactMap(\.certificate).count, 5)
    }
}
