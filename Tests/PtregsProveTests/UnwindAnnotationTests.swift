import PtregsProve
import SpecElaboration
import XCTest

/// Invariant `cfi`, unwind annotations true (docs/model.md, "7. Unwind annotations";
/// Sources/StackSemantics/Invariants/UnwindAnnotations.swift): CFI rows in the style of
/// 3.16's dwarf2.h/calling.h, objtool hints in the style of unwind_hints.h.
final class UnwindAnnotationTests: XCTestCase {
    /// The CFI_ macros as dwarf2.h defines them with CONFIG_AS_CFI, and its push/pop helpers.
    static let dwarf2 = """
    #define CFI_STARTPROC .cfi_startproc
    #define CFI_ENDPROC .cfi_endproc
    #define CFI_DEF_CFA .cfi_def_cfa
    #define CFI_DEF_CFA_OFFSET .cfi_def_cfa_offset
    #define CFI_ADJUST_CFA_OFFSET .cfi_adjust_cfa_offset
    #define CFI_REL_OFFSET .cfi_rel_offset
    #define CFI_RESTORE .cfi_restore
    #define CFI_SIGNAL_FRAME .cfi_signal_frame
    \t.macro pushq_cfi reg
    \tpushq \\reg
    \tCFI_ADJUST_CFA_OFFSET 8
    \t.endm
    \t.macro popq_cfi reg
    \tpopq \\reg
    \tCFI_ADJUST_CFA_OFFSET -8
    \t.endm
    \t.macro INTR_FRAME offset=0
    \tCFI_STARTPROC simple
    \tCFI_SIGNAL_FRAME
    \tCFI_DEF_CFA rsp, SS+8+\\offset-RIP
    \tCFI_REL_OFFSET rsp, RSP+\\offset-RIP
    \tCFI_REL_OFFSET rip, RIP+\\offset-RIP
    \t.endm

    """

    /// objtool's hint record (v6.x's objtool.h layout and objtool_types.h numbers) and
    /// the unwind_hints.h macros over it, with the base fixed to rsp.
    static let hints = """
    #define ORC_REG_SP 5
    #define UNWIND_HINT_TYPE_END_OF_STACK 1
    #define UNWIND_HINT_TYPE_REGS 3
    #define UNWIND_HINT_TYPE_REGS_PARTIAL 4
    #define UNWIND_HINT_TYPE_FUNC 5
    .macro UNWIND_HINT type:req sp_reg=0 sp_offset=0 signal=0
    .Lhere_\\@:
    \t.pushsection .discard.unwind_hints
    \t.long .Lhere_\\@ - .
    \t.short \\sp_offset
    \t.byte \\sp_reg
    \t.byte \\type
    \t.byte \\signal
    \t.balign 4
    \t.popsection
    .endm
    .macro UNWIND_HINT_REGS offset=0 partial=0
    \t.if \\partial
    \tUNWIND_HINT type=UNWIND_HINT_TYPE_REGS_PARTIAL sp_reg=ORC_REG_SP sp_offset=\\offset
    \t.else
    \tUNWIND_HINT type=UNWIND_HINT_TYPE_REGS sp_reg=ORC_REG_SP sp_offset=\\offset
    \t.endif
    .endm
    .macro UNWIND_HINT_IRET_REGS offset=0
    \tUNWIND_HINT_REGS offset=\\offset partial=1
    .endm
    .macro UNWIND_HINT_FUNC
    \tUNWIND_HINT sp_reg=ORC_REG_SP sp_offset=8 type=UNWIND_HINT_TYPE_FUNC
    .endm
    .macro UNWIND_HINT_END_OF_STACK
    \tUNWIND_HINT type=UNWIND_HINT_TYPE_END_OF_STACK
    .endm

    """

    /// The mechanisms of a path's cfi violations (`cfi rbx at ret`).
    static func mechanisms(_ report: CheckReport, _ path: String) -> [String] {
        SpecHarness.result(report, path: path, .unwindAnnotations)?.violations.map(\.mechanism.description) ?? []
    }

    static func check(_ body: String, headers: String = dwarf2) -> CheckReport {
        SpecHarness.check(["spec.pts": body, "dwarf2.ptsh": headers], unit: "spec.pts")
    }

    /// A helper saving rbx and r12 around a C call, as 3.16 writes one.
    static func prologue(push: String = "\tpushq_cfi %rbx", relOffset: String = "\tCFI_REL_OFFSET rbx, 0") -> String {
        """
        .include "dwarf2.ptsh"
        .extern schedule
        .path save_regs entry=function
        save_regs:
        \tCFI_STARTPROC
        \(push)
        \(relOffset)
        \tpushq_cfi %r12
        \tCFI_REL_OFFSET r12, 0
        \tmovq $1, %rbx          # <-after-saves
        \tcall schedule
        \tpopq_cfi %r12
        \tCFI_RESTORE r12
        \tpopq_cfi %rbx
        \tCFI_RESTORE rbx
        \tret
        \tCFI_ENDPROC

        """
    }

    func testPushqCfiPrologueProves() {
        let report = Self.check(Self.prologue())
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "save_regs", inv) }
    }

    func testAdjustBySixteenAfterAPushIsAWrongCFA() throws {
        // The push moved rsp by 8; the annotation says 16: the unwinder finds the
        // return address 8 bytes too high.
        let spec = Self.prologue(push: "\tpushq %rbx\n\tCFI_ADJUST_CFA_OFFSET 16")
        let report = Self.check(spec)
        let cx = try XCTUnwrap(SpecHarness.assertViolated(report, path: "save_regs", .unwindAnnotations,
                                                          blamedLine: SpecHarness.line("CFI_REL_OFFSET rbx", in: spec) + 1,
                                                          requirementContains: "must be the frame's: rsp at entry + 8"))
        XCTAssertEqual(Self.mechanisms(report, "save_regs").first, "cfi cfa at \"pushq %r12\"")
        XCTAssertEqual(SpecHarness.value(cx, "CFA by the CFI"), "0xffffc90000400010")
        XCTAssertEqual(SpecHarness.value(cx, "real CFA"), "0xffffc90000400008")
        for inv in Invariant.allCases where inv != .unwindAnnotations { SpecHarness.assertProved(report, path: "save_regs", inv) }
    }

    func testPushWithoutItsAdjustIsAWrongCFA() {
        let spec = Self.prologue(push: "\tpushq %rbx")
        let report = Self.check(spec)
        SpecHarness.assertViolated(report, path: "save_regs", .unwindAnnotations,
                                   blamedLine: SpecHarness.line("CFI_REL_OFFSET rbx", in: spec) + 1,
                                   requirementContains: "the CFA the CFI describes (rsp+8")
    }

    func testRelOffsetNamingTheWrongSlot() throws {
        // rbx is at 0(%rsp) after its push; the rule says 8(%rsp), the return address.
        let spec = Self.prologue(relOffset: "\tCFI_REL_OFFSET rbx, 8")
        let report = Self.check(spec)
        let cx = try XCTUnwrap(SpecHarness.assertViolated(report, path: "save_regs", .unwindAnnotations,
                                                          blamedLine: SpecHarness.line("CFI_REL_OFFSET rbx", in: spec) + 1,
                                                          requirementContains: "the slot at CFA-8"))
        XCTAssertTrue(Self.mechanisms(report, "save_regs").allSatisfy { $0.hasPrefix("cfi rbx at") }, "\(Self.mechanisms(report, "save_regs")) \(cx.requirement)")
    }

    /// An interrupt entry annotated as 3.16's INTR_FRAME does: CFA = rsp + SS+8-RIP
    /// on the hardware frame, rsp and rip at their slots of it.
    static func interrupt(frame: String = "\tINTR_FRAME", extra: String = "") -> String {
        """
        .include "dwarf2.ptsh"
        .extern do_irq
        .path irq entry=interrupt from=kernel
        irq:
        \(frame)
        \(extra)
        \tpushq_cfi %rdi
        \tCFI_REL_OFFSET rdi, 0
        \tmovq %rsp, %rdi        # <-after-push
        \tcall do_irq
        \tpopq_cfi %rdi
        \tCFI_RESTORE rdi
        \tiretq
        \tCFI_ENDPROC

        """
    }

    func testInterruptFrameAnnotatedAs316Proves() {
        // (do_irq clobbers what C may: only the frame's invariants are asked here.)
        let report = Self.check(Self.interrupt())
        for inv in [Invariant.unwindAnnotations, .frameBalance, .returnStack] { SpecHarness.assertProved(report, path: "irq", inv) }
    }

    func testInterruptFrameWithRipRuleOnTheCSSlot() throws {
        let spec = Self.interrupt(extra: "\tCFI_REL_OFFSET rip, 8")
        let report = Self.check(spec)
        let cx = try XCTUnwrap(SpecHarness.assertViolated(report, path: "irq", .unwindAnnotations,
                                                          blamedLine: SpecHarness.line("pushq_cfi %rdi", in: spec),
                                                          requirementContains: "must hold the caller's rip"))
        XCTAssertTrue(Self.mechanisms(report, "irq").allSatisfy { $0.hasPrefix("cfi rip at") }, "\(Self.mechanisms(report, "irq")) \(cx.requirement)")
    }

    func testInterruptAnnotatedAsAFunctionHasTheWrongCFA() {
        // A plain CFI_STARTPROC says CFA = rsp+8 and rip at CFA-8: true for a call, not
        // for a hardware frame of five words.
        let spec = Self.interrupt(frame: "\tCFI_STARTPROC")
        let report = Self.check(spec)
        SpecHarness.assertViolated(report, path: "irq", .unwindAnnotations, blamedLine: SpecHarness.line("pushq_cfi %rdi", in: spec))
    }

    /// An exception entry building pt_regs as v4.15+ does, with objtool hints.
    static func exception(first: String = "", complete: String = "\tUNWIND_HINT_REGS", beforeIret: String = "\tUNWIND_HINT_IRET_REGS") -> String {
        """
        .include "dwarf2.ptsh"
        .extern do_trap
        .path asm_exc entry=exception from=user ptregs=-128
        asm_exc:
        \tUNWIND_HINT_IRET_REGS
        \tswapgs
        \(first)
        \tpushq $-1              # <-orig-ax
        \tpushq %rdi
        \tpushq %rsi
        \tpushq %rdx
        \tpushq %rcx
        \tpushq %rax
        \tpushq %r8
        \tpushq %r9
        \tpushq %r10
        \tpushq %r11
        \tpushq %rbx
        \tpushq %rbp
        \tpushq %r12
        \tpushq %r13
        \tpushq %r14
        \tpushq %r15
        \(complete)
        \tmovq %rsp, %rdi        # <-after-regs
        \tcall do_trap
        \tpopq %r15
        \tpopq %r14
        \tpopq %r13
        \tpopq %r12
        \tpopq %rbp
        \tpopq %rbx
        \tpopq %r11
        \tpopq %r10
        \tpopq %r9
        \tpopq %r8
        \tpopq %rax
        \tpopq %rcx
        \tpopq %rdx
        \tpopq %rsi
        \tpopq %rdi
        \taddq $8, %rsp
        \(beforeIret)
        \tswapgs                 # <-exit-swapgs
        \tiretq

        """
    }

    func testRegsHintAfterPtRegsIsBuiltProves() {
        let report = Self.check(Self.exception(), headers: Self.hints)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "asm_exc", inv) }
    }

    /// UNWIND_HINT_REGS choosing its base register with gas's register comparisons,
    /// as unwind_hints.h writes it.
    static let hintsWithBase = hints.replacingOccurrences(of: """
    .macro UNWIND_HINT_REGS offset=0 partial=0
    \t.if \\partial
    \tUNWIND_HINT type=UNWIND_HINT_TYPE_REGS_PARTIAL sp_reg=ORC_REG_SP sp_offset=\\offset
    \t.else
    \tUNWIND_HINT type=UNWIND_HINT_TYPE_REGS sp_reg=ORC_REG_SP sp_offset=\\offset
    \t.endif
    .endm
    """, with: """
    #define ORC_REG_BP 4
    #define ORC_REG_DI 3
    .macro UNWIND_HINT_REGS base=%rsp offset=0 partial=0
    \t.if \\base == %rsp
    \t\t.set sp_reg, ORC_REG_SP
    \t.elseif \\base == %rbp
    \t\t.set sp_reg, ORC_REG_BP
    \t.elseif \\base == %rdi
    \t\t.set sp_reg, ORC_REG_DI
    \t.else
    \t\t.error "UNWIND_HINT_REGS: bad base register"
    \t.endif
    \t.if \\partial
    \t\t.set type, UNWIND_HINT_TYPE_REGS_PARTIAL
    \t.else
    \t\t.set type, UNWIND_HINT_TYPE_REGS
    \t.endif
    \tUNWIND_HINT sp_reg=sp_reg sp_offset=\\offset type=type
    .endm
    """)

    func testRegsHintWithItsBaseInRdi() {
        XCTAssertTrue(Self.hintsWithBase.contains(".elseif \\base == %rdi"), "the header was not rewritten")
        let spec = Self.exception(complete: "").replacingOccurrences(of: "\tcall do_trap", with: "\tUNWIND_HINT_REGS base=%rdi\n\tcall do_trap")
        SpecHarness.assertProved(Self.check(spec, headers: Self.hintsWithBase), path: "asm_exc", .unwindAnnotations)
        let wrong = spec.replacingOccurrences(of: "base=%rdi", with: "base=%rdi offset=8")
        SpecHarness.assertViolated(Self.check(wrong, headers: Self.hintsWithBase), path: "asm_exc", .unwindAnnotations,
                                   blamedLine: SpecHarness.line("call do_trap", in: wrong), requirementContains: "says rdi+8 holds pt_regs")
        // rbp holds the user's rbp: no stack the model knows, so the hint is not judged.
        let elsewhere = spec.replacingOccurrences(of: "base=%rdi", with: "base=%rbp")
        let r = SpecHarness.result(Self.check(elsewhere, headers: Self.hintsWithBase), path: "asm_exc", .unwindAnnotations)
        guard case .unknown(let why)? = r?.verdict else { return XCTFail("expected unknown") }
        XCTAssertTrue(why.contains("rbp+0 is not on a modelled stack"), why)
    }

    func testRegsHintOneWordOff() throws {
        let spec = Self.exception(complete: "\tUNWIND_HINT_REGS offset=8")
        let report = Self.check(spec, headers: Self.hints)
        let cx = try XCTUnwrap(SpecHarness.assertViolated(report, path: "asm_exc", .unwindAnnotations,
                                                          blamedLine: SpecHarness.line("<-after-regs", in: spec),
                                                          requirementContains: "says rsp+8 holds pt_regs"))
        XCTAssertEqual(Self.mechanisms(report, "asm_exc"), ["cfi hint at \"movq %rsp, %rdi\""])
        XCTAssertTrue(cx.requirement.contains("(spec.pts:\(SpecHarness.line("UNWIND_HINT_REGS offset=8", in: spec)))"), cx.requirement)
    }

    func testFullRegsHintWhileOnlyTheIretFrameIsThere() {
        // partial=0 where only the hardware frame is on the stack: pt_regs would start
        // 128 bytes below rsp, where nothing has been saved yet.
        let spec = Self.exception(first: "\tUNWIND_HINT_REGS offset=-128")
        let report = Self.check(spec, headers: Self.hints)
        SpecHarness.assertViolated(report, path: "asm_exc", .unwindAnnotations, blamedLine: SpecHarness.line("<-orig-ax", in: spec),
                                   requirementContains: "says rsp-128 holds pt_regs")
    }

    func testIretRegsHintAtTheWrongOffset() {
        // After `addq $8, %rsp` rsp is at the IRET frame: offset=8 names cs as ip.
        let spec = Self.exception(beforeIret: "\tUNWIND_HINT_IRET_REGS offset=8")
        let report = Self.check(spec, headers: Self.hints)
        SpecHarness.assertViolated(report, path: "asm_exc", .unwindAnnotations, blamedLine: SpecHarness.line("<-exit-swapgs", in: spec),
                                   requirementContains: "says rsp+8 holds the IRET frame: its ip must be the interrupted rip")
    }

    func testFuncHintInAFunctionAndEndOfStack() {
        let spec = """
        .include "dwarf2.ptsh"
        .path f entry=function
        f:
        \tUNWIND_HINT_FUNC
        \tpushq %rbx
        \tUNWIND_HINT_END_OF_STACK
        \tpopq %rbx
        \tret

        """
        SpecHarness.assertProved(Self.check(spec, headers: Self.hints), path: "f", .unwindAnnotations)
        // After the push, rsp+8 is no longer the CFA.
        let wrong = spec.replacingOccurrences(of: "\tpushq %rbx\n\tUNWIND_HINT_END_OF_STACK", with: "\tpushq %rbx\n\tUNWIND_HINT_FUNC")
        SpecHarness.assertViolated(Self.check(wrong, headers: Self.hints), path: "f", .unwindAnnotations,
                                   blamedLine: SpecHarness.line("popq %rbx", in: wrong), requirementContains: "is the CFA of the function running here")
    }

    func testCFIInsideALocallyCalledRoutineIsItsOwnFrame() {
        let spec = """
        .include "dwarf2.ptsh"
        .path outer entry=function
        outer:
        \tCFI_STARTPROC
        \tcall helper
        \tret
        \tCFI_ENDPROC
        helper:
        \tCFI_STARTPROC
        \tpushq_cfi %rbx
        \tpopq_cfi %rbx          # <-in-helper
        \tret
        \tCFI_ENDPROC

        """
        SpecHarness.assertProved(Self.check(spec), path: "outer", .unwindAnnotations)
        let wrong = spec.replacingOccurrences(of: "\tpushq_cfi %rbx\n", with: "\tpushq %rbx\n")
        SpecHarness.assertViolated(Self.check(wrong), path: "outer", .unwindAnnotations, blamedLine: SpecHarness.line("<-in-helper", in: wrong),
                                   requirementContains: "rsp after the call that entered this routine + 8")
    }

    func testSyscallAnnotatedAs316IsFalseOnlyWhereRspIsTheUsers() {
        // 3.16's system_call: CFA = rsp+KERNEL_STACK_OFFSET from its first instruction,
        // true once rsp is the kernel stack (the CFA is then the top of pt_regs), false
        // while rsp is still, or again, the user's; rip in rcx, then in pt_regs.ip.
        let spec = """
        .include "dwarf2.ptsh"
        #define CFI_REGISTER .cfi_register
        #define KERNEL_STACK_OFFSET 40
        #define ARGOFFSET (SS+8-KERNEL_STACK_OFFSET)
        .percpu old_rsp
        .percpu kernel_stack stack
        .path sc entry=syscall
        sc:
        \tCFI_STARTPROC simple
        \tCFI_SIGNAL_FRAME
        \tCFI_DEF_CFA rsp, KERNEL_STACK_OFFSET
        \tCFI_REGISTER rip, rcx
        \tswapgs
        \tmovq %rsp, PER_CPU_VAR(old_rsp)
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tmovq %rcx, RIP-ARGOFFSET(%rsp)
        \tCFI_REL_OFFSET rip, RIP-ARGOFFSET
        \txorl %ecx, %ecx
        \tmovq RIP-ARGOFFSET(%rsp), %rcx
        \tmovq PER_CPU_VAR(old_rsp), %rsp
        \tswapgs
        \tsysretq
        \tCFI_ENDPROC

        """
        let report = Self.check(spec)
        XCTAssertEqual(Set(Self.mechanisms(report, "sc")),
                       ["cfi cfa at swapgs", "cfi cfa at \"movq %rsp, PER_CPU_VAR(old_rsp)\"",
                        "cfi cfa at \"movq PER_CPU_VAR(kernel_stack), %rsp\"", "cfi cfa at sysretq"])
        // Saving rip one slot off breaks its rule from there on.
        let wrong = spec.replacingOccurrences(of: "CFI_REL_OFFSET rip, RIP-ARGOFFSET", with: "CFI_REL_OFFSET rip, CS-ARGOFFSET")
        XCTAssertTrue(Self.mechanisms(Self.check(wrong), "sc").contains("cfi rip at \"xorl %ecx, %ecx\""), "\(Self.mechanisms(Self.check(wrong), "sc"))")
    }

    func testUnannotatedPathHasNothingToCheckAndSaysSo() throws {
        let report = SpecHarness.check(".path f entry=function\nf:\n\tpushq %rbx\n\tpopq %rbx\n\tret\n")
        SpecHarness.assertProved(report, path: "f", .unwindAnnotations)
        XCTAssertTrue(TextReport(colour: false).render(report).contains("proved: f: unwind annotations true (nothing annotated)"))
        let annotated = Self.check(Self.prologue())
        let text = TextReport(colour: false).render(annotated)
        XCTAssertTrue(text.contains("proved: save_regs: unwind annotations true\n"), text)
    }

    func testAnEscapeMakesThePathUnknown() throws {
        let spec = Self.prologue(relOffset: "\t.cfi_escape 0x0f, 0x03")
        let report = Self.check(spec)
        let r = try XCTUnwrap(SpecHarness.result(report, path: "save_regs", .unwindAnnotations))
        guard case .unknown(let why) = r.verdict else { return XCTFail("expected unknown, got \(SpecHarness.describe(r.verdict))") }
        XCTAssertTrue(why.contains(".cfi_escape"), why)
        // Only cfi: the other invariants are still proved (an annotation the model cannot
        // read must not hide the code's own verdicts).
        for inv in Invariant.allCases where inv != .unwindAnnotations { SpecHarness.assertProved(report, path: "save_regs", inv) }
        // …and still violated where the code is wrong.
        let swapped = spec.replacingOccurrences(of: "\tpopq_cfi %r12\n", with: "\tpopq_cfi %rbx\n").replacingOccurrences(of: "\tpopq_cfi %rbx\n\tCFI_RESTORE rbx", with: "\tpopq_cfi %r12\n\tCFI_RESTORE rbx")
        XCTAssertNotEqual(swapped, spec)
        guard let broken = SpecHarness.result(Self.check(swapped), path: "save_regs", .restoreMatchesSave), case .violated = broken.verdict else {
            return XCTFail("swapped pops behind an unreadable annotation must still be found")
        }
    }

    func testUndefinedCFIMacroSaysHowToDefineIt() {
        let report = SpecHarness.check(".path f entry=function\nf:\n\tCFI_STARTPROC\n\tret\n")
        XCTAssertEqual(report.diagnostics.map(\.message),
                       ["'CFI_STARTPROC' is not defined: define the CFI_ macros as the kernel's dwarf2.h does (`#define CFI_STARTPROC .cfi_startproc`) in the spec or a file it includes"])
    }

    func testMalformedHintRecordIsAnError() {
        let spec = """
        .path f entry=function
        f:
        1:\t.pushsection .discard.unwind_hints
        \t.long 1b - .
        \t.short 0
        \t.popsection
        \tret

        """
        let report = SpecHarness.check(spec)
        XCTAssertTrue(report.diagnostics.contains { $0.message.contains("is not a `struct unwind_hint` record") }, "\(report.diagnostics)")
    }
}
