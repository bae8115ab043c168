import PtregsProve
import SpecElaboration
import XCTest

/// `.unmodelled NAME bits=MASK`: unmodelled memory that holds only declared bits (the
/// TIF_* flags of thread_info), so counterexamples are flags a real kernel can have.
final class UnmodelledBitsTests: XCTestCase {
    static func spec(declared: Bool, sigpendingPush: Bool) -> String {
        """
        #define TI_flags 16
        #define _TIF_SIGPENDING (1 << 2)
        #define _TIF_NEED_RESCHED (1 << 3)
        \(declared ? ".unmodelled TI_flags bits=_TIF_SIGPENDING|_TIF_NEED_RESCHED reason=\"the TIF bits this spec knows\"" : "")
        .percpu thread_info pointer
        .path irq entry=interrupt from=user
        irq:
        \tswapgs
        \tmovq PER_CPU_VAR(thread_info), %rcx
        \ttestl $0x100, TI_flags(%rcx)     # an undefined TIF bit
        \tjz 1f
        \tpushq %rax
        1:\ttestl $_TIF_SIGPENDING, TI_flags(%rcx)
        \tjz 2f
        \(sigpendingPush ? "\tpushq %rax" : "\tnop")
        2:\tswapgs
        \tiretq                 # <-iret
        """
    }

    func testAnUndeclaredBitIsNeverSet() {
        // Only bit 8 leads to the unbalanced frame, and no declared flag is bit 8.
        SpecHarness.assertProved(SpecHarness.check(Self.spec(declared: true, sigpendingPush: false), invariants: [.frameBalance]), path: "irq", .frameBalance)
        let undeclared = Self.spec(declared: false, sigpendingPush: false)
        let cx = SpecHarness.assertViolated(SpecHarness.check(undeclared, invariants: [.frameBalance]), path: "irq", .frameBalance,
                                            blamedLine: SpecHarness.line("<-iret", in: undeclared))
        XCTAssertTrue(cx?.inputs.contains { $0.0.hasPrefix("unmodelled[TI_flags(%rcx)]") && $0.1 & 0x100 != 0 } == true, "\(cx?.inputs ?? [])")
    }

    func testACounterexampleSetsOnlyDeclaredBits() throws {
        let spec = Self.spec(declared: true, sigpendingPush: true)
        let cx = try XCTUnwrap(SpecHarness.assertViolated(SpecHarness.check(spec, invariants: [.frameBalance]), path: "irq", .frameBalance,
                                                          blamedLine: SpecHarness.line("<-iret", in: spec)))
        let flags = cx.inputs.filter { $0.0.hasPrefix("unmodelled[TI_flags(%rcx)]") }
        XCTAssertFalse(flags.isEmpty, "\(cx.inputs)")
        XCTAssertTrue(flags.allSatisfy { $0.1 & ~UInt64(0xc) == 0 }, "only TIF_SIGPENDING and TIF_NEED_RESCHED: \(flags)")
        XCTAssertTrue(flags.contains { $0.1 & 0x4 != 0 }, "the SIGPENDING run: \(flags)")
    }

    func testBitsThatAreAlwaysSet() {
        // FSGSBASE's paranoid entry writes the per-CPU offset it reads into GS: a kernel
        // address (sign bit set), so the kernel's base is live after it.
        func spec(declared: Bool) -> String {
            """
            \(declared ? ".unmodelled pcpu_unit_offsets bits=-1 set=1<<63 reason=\"a per-CPU offset is a kernel address\"" : "")
            .percpu irq_count
            .path f entry=function
            f:
            \tpushq %rbx
            \trdgsbase %rbx
            \tmovq pcpu_unit_offsets(%rip), %rax
            \twrgsbase %rax
            \tincl PER_CPU_VAR(irq_count)    # <-percpu
            \twrgsbase %rbx
            \tpopq %rbx
            \tret
            """
        }
        SpecHarness.assertProved(SpecHarness.check(spec(declared: true), invariants: [.gsParity]), path: "f", .gsParity)
        let undeclared = spec(declared: false)
        SpecHarness.assertViolated(SpecHarness.check(undeclared, invariants: [.gsParity]), path: "f", .gsParity,
                                   blamedLine: SpecHarness.line("<-percpu", in: undeclared))
        XCTAssertTrue(SpecHarness.check(".unmodelled w bits=1 set=2\n.path f entry=function\nf:\n\tret\n").diagnostics.first?.message
                        .contains("set= names bits that bits= does not allow") == true)
    }

    /// Runs with other values are not checked, so every report says the verdicts depend on
    /// the declaration, as it does for `.assume`: once per declaration in text, per path
    /// in JSON.
    func testReportsSayTheVerdictsDependOnIt() {
        let report = SpecHarness.check(Self.spec(declared: true, sigpendingPush: false) + "\n.path quiet entry=function\nquiet:\n\tret\n", invariants: [.frameBalance])
        XCTAssertEqual(report.paths.first { $0.name == "irq" }?.assumptions.map(\.description),
                       [".unmodelled TI_flags bits=0xc reason=\"the TIF bits this spec knows\""])
        XCTAssertEqual(report.paths.first { $0.name == "quiet" }?.assumptions, [], "a path that does not read it does not depend on it")
        let text = TextReport(colour: false).render(report)
        XCTAssertTrue(text.contains("proved: irq: frame balanced (under .unmodelled)"), text)
        XCTAssertTrue(text.contains("proved: quiet: frame balanced\n"), text)
        XCTAssertTrue(text.contains("spec.pts:4:1: note: 1 path (irq) checked only on runs where every read of TI_flags(…), memory the model does not hold, has no bit outside 0xc set (the TIF bits this spec knows)"), text)
        XCTAssertTrue(text.contains("1 path checked under .unmodelled"), text)
        let json = JSONReport.render(report)
        XCTAssertTrue(json.contains("\"memoryBits\" : \"0xc\""), json)
        XCTAssertTrue(SpecHarness.check(".unmodelled TI_flags bits=4\n.path f entry=function\nf:\n\tret\n").diagnostics.first?.message
                        .contains("reason= says why TI_flags holds only those bits") == true)
    }

    func testDeclarationErrors() {
        let message = SpecHarness.declarationError
        XCTAssertTrue(message(".unmodelled TI_flags").contains("bits= says which bits of TI_flags may be set"))
        XCTAssertTrue(message(".unmodelled TI_flags(%rcx) bits=4").contains("expected '.unmodelled NAME bits=EXPR"))
        XCTAssertTrue(message(".unmodelled TI_flags bits=4 mask=3").contains("unknown .unmodelled attribute 'mask'"))
        XCTAssertTrue(message(".unmodelled TI_flags bits=4 reason=\"TIF\"\n.unmodelled TI_flags bits=8 reason=\"TIF\"").contains("duplicate .unmodelled 'TI_flags'"))
        XCTAssertTrue(message(".unmodelled TI_flags bits=UNDEFINED_MASK").contains("UNDEFINED_MASK"))
    }
}
