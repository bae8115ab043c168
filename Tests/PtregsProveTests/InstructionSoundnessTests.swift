import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// Instruction semantics that once let a broken path prove: each case is a minimal
/// spec whose concrete behaviour on the CPU breaks an invariant (or keeps it), and a
/// sibling that must keep the other verdict.
final class InstructionSoundnessTests: XCTestCase {
    // MARK: xchg with a memory operand addressed through the exchanged register

    /// A slot at rsp holds the address of a second slot, which holds the address of the
    /// saved rbx. `xchgq %rax, (%rax)` with rax = rsp writes rsp into the first slot
    /// (the CPU computes the address before writing rax) and loads the second slot's
    /// address into rax; the code then zeroes what the second slot points to: the
    /// saved rbx. Writing rax first sent the exchange to the wrong slot and proved.
    static let exchange = """
    .path x entry=function
    x:\tpushq %rbx
    \tleaq -8(%rsp), %rcx
    \tsubq $16, %rsp
    \tleaq 16(%rsp), %rdx
    \tmovq %rdx, 8(%rsp)
    \tmovq %rcx, (%rsp)
    \tmovq %rsp, %rax
    \txchgq %rax, (%rax)
    \tmovq 8(%rsp), %rdx
    \tmovq $0, (%rdx)
    \taddq $16, %rsp
    \tpopq %rbx
    \tret
    """

    func testExchangeAddressesMemoryWithTheOldRegister() {
        let report = SpecHarness.check(Self.exchange, invariants: [.restoreMatchesSave])
        guard let r = SpecHarness.result(report, path: "x", .restoreMatchesSave), case .violated(let cx) = r.verdict else {
            return XCTFail("expected the zeroed rbx to be found")
        }
        // The replay zeroes the saved slot through the address the exchange left alone.
        XCTAssertTrue(cx.steps.contains { $0.text == "movq $0, (%rdx)" })
    }

    /// The operands the other way round (`xchgq (%rax), %rax`) mean the same.
    func testExchangeWithTheMemoryOperandFirstMeansTheSame() {
        let spec = Self.exchange.replacingOccurrences(of: "xchgq %rax, (%rax)", with: "xchgq (%rax), %rax")
        let report = SpecHarness.check(spec, invariants: [.restoreMatchesSave])
        guard let r = SpecHarness.result(report, path: "x", .restoreMatchesSave), case .violated = r.verdict else {
            return XCTFail("expected a violation")
        }
    }

    /// Exchanging a saved slot out and back again keeps it: proves.
    func testExchangeOutAndBackProves() {
        let spec = """
        .path x entry=function
        x:\tpushq %rbx
        \tmovq %rsp, %rax
        \txchgq %rax, (%rax)
        \txchgq %rax, (%rsp)
        \tpopq %rbx
        \tret
        """
        SpecHarness.assertProved(SpecHarness.check(spec), path: "x", .restoreMatchesSave)
    }

    // MARK: stack accesses at any distance

    /// More than 4 MiB below rsp is still below rsp.
    func testAReadFarBelowRspIsAFrameViolation() {
        let spec = """
        .path far entry=function
        far:\tmovq -0x400010(%rsp), %rax
        \tret
        """
        SpecHarness.assertViolated(SpecHarness.check(spec, invariants: [.frameBalance]), path: "far", .frameBalance,
                                   blamedLine: 2, requirementContains: "below rsp")
    }

    /// A store far below rsp, and a read far above the frame of an interrupt entry.
    func testFarStoresAndFarReadsAboveTheFrameAreViolations() {
        let store = """
        .path far entry=function
        far:\tmovq %rbx, -0x1000000(%rsp)
        \tret
        """
        SpecHarness.assertViolated(SpecHarness.check(store, invariants: [.frameBalance]), path: "far", .frameBalance,
                                   blamedLine: 2, requirementContains: "below rsp")
        let above = """
        .path far entry=interrupt from=kernel
        far:\tmovq 0x500000(%rsp), %rax
        \tiretq
        """
        SpecHarness.assertViolated(SpecHarness.check(above, invariants: [.frameBalance]), path: "far", .frameBalance,
                                   blamedLine: 2, requirementContains: "outside the path's frame")
    }

    /// Just inside the frame is fine.
    func testANearReadInsideTheFrameProves() {
        let spec = """
        .path near entry=interrupt from=kernel
        near:\tmovq 32(%rsp), %rax
        \tiretq
        """
        SpecHarness.assertProved(SpecHarness.check(spec, invariants: [.frameBalance]), path: "near", .frameBalance)
    }

    // MARK: indirect calls whose target the run knows

    /// A `cmov` chooses between two functions; one of them does not preserve rbx. Each
    /// target is called with its own contract, so the run through the second breaks
    /// the path's promise to its caller (the catch-all contract preserved rbx).
    static let choice = """
    .percpu thread_info pointer
    .extern plain_c reason="C"
    .extern wrecks_rbx clobbers=rbx,rax reason="does not preserve rbx"
    .extern table_entry indirect reason="any system call handler"
    .path p entry=function
    p:\tmovq PER_CPU_VAR(thread_info), %rcx
    \tleaq plain_c(%rip), %rax
    \tleaq wrecks_rbx(%rip), %rdx
    \ttestl $1, (%rcx)
    \tcmovnzq %rdx, %rax
    \tcall *%rax
    \tret
    """

    func testACallToOneOfTwoKnownFunctionsUsesEachContract() {
        let report = SpecHarness.check(Self.choice, invariants: [.restoreMatchesSave])
        guard let r = SpecHarness.result(report, path: "p", .restoreMatchesSave), case .violated(let cx) = r.verdict else {
            return XCTFail("expected rbx to be found clobbered")
        }
        XCTAssertTrue(cx.requirement.contains("rbx"), cx.requirement)
        XCTAssertTrue(cx.inputs.contains { $0.0.hasPrefix("unmodelled[(%rcx)]") && $0.1 & 1 == 1 }, "the run takes the cmov: \(cx.inputs)")
    }

    func testACallToOneOfTwoFunctionsThatPreserveRbxProves() {
        let spec = Self.choice.replacingOccurrences(of: "clobbers=rbx,rax", with: "clobbers=rax")
        SpecHarness.assertProved(SpecHarness.check(spec, invariants: [.restoreMatchesSave]), path: "p", .restoreMatchesSave)
    }

    /// A call through a register to a label of the path's own code is not a call to C:
    /// unknown, with the reason — also when the address reaches the call through the
    /// stack.
    func testACallThroughARegisterToALocalLabelIsUnknown() {
        let spec = """
        .extern table_entry indirect reason="any system call handler"
        .path p entry=function
        p:\tleaq evil(%rip), %rax
        \tpushq %rax
        \tpopq %rbx
        \tcall *%rbx
        \tret
        evil:\tpopq %rax
        \tpopq %rax
        \tret
        """
        let report = SpecHarness.check(spec)
        for inv in Invariant.allCases {
            guard let r = SpecHarness.result(report, path: "p", inv) else { continue }
            guard case .unknown(let why) = r.verdict else { XCTFail("\(inv): \(SpecHarness.describe(r.verdict))"); continue }
            XCTAssertTrue(why.contains("local label 'evil'"), why)
        }
    }

    /// A target with no known value may still be a local label whose address the code
    /// took: unknown rather than the catch-all contract.
    func testACallThroughAnUnknownValueWhenALabelsAddressIsTakenIsUnknown() {
        let spec = """
        .percpu thread_info pointer
        .extern table_entry indirect reason="any system call handler"
        .path p entry=function
        p:\tleaq evil(%rip), %rax
        \tmovq PER_CPU_VAR(thread_info), %rcx
        \tmovq %rax, (%rcx)
        \tmovq (%rcx), %rbx
        \tcall *%rbx
        \tret
        evil:\tret
        """
        let report = SpecHarness.check(spec)
        XCTAssertEqual(report.diagnostics.count, 0, "\(report.diagnostics)")
        guard let r = report.paths.first?.results.first else { return XCTFail("no verdict") }
        guard case .unknown(let why) = r.verdict else { return XCTFail(SpecHarness.describe(r.verdict)) }
        XCTAssertTrue(why.contains("may be the local label 'evil'"), why)
    }
}
