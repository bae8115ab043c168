import Foundation
import PtregsProve
@testable import SpecElaboration
import SpecSyntax
import XCTest

/// Constructs of real entry files that used to refuse a whole file or stop its paths:
/// macro arguments as gas splits them after cpp, keyword arguments, segment registers.
/// Each is checked accepted where gas accepts it, with the model's behaviour, and the
/// smallest broken input caught.
final class FrontEndRealFormsTests: XCTestCase {
    /// `code` as `arch/x86/entry/t.S` of the test tree, checked by a sidecar with `sidecar`
    /// after its `.source` line.
    static func check(_ code: String, _ sidecar: String) throws -> CheckReport {
        try FrontEndSourceTests.check("checks/t.pts", ["arch/x86/entry/t.S": code,
                                                      "checks/t.pts": ".source \"arch/x86/entry/t.S\"\n" + sidecar])
    }

    /// cpp expands `ORIG_RAX+8` to `120 +8`. gas's scrubber drops a blank next to `+`, so
    /// the call has two arguments, `1` and `120+8` (as gas 2.40 assembles it); a blank
    /// before `-` stays, and there gas sees three arguments, one too many.
    func testABlankCppLeavesBeforeAnOperatorIsNoArgumentSeparator() throws {
        let code = """
        #define ORIG_RAX 120
        .macro DROP_FRAME start offset=0
        \t.if \\start
        \taddq $\\offset, %rsp
        \t.endif
        .endm
        f:
        \tsubq $128, %rsp
        \tDROP_FRAME 1 ORIG_RAX+8
        \tret

        """
        let report = try Self.check(code, ".path f entry=function\n")
        FrontEnd.assertProves(report)
        // `ORIG_RAX -8`: gas keeps this blank (x86's `-` is a symbol component), so the
        // call has three arguments: "too many positional arguments".
        let broken = try Self.check(code.replacingOccurrences(of: "ORIG_RAX+8", with: "ORIG_RAX -8"), ".path f entry=function\n")
        XCTAssertEqual(broken.exitCode, 2)
        XCTAssertTrue(broken.diagnostics.first?.message.hasPrefix("macro 'DROP_FRAME' takes 2 argument(s), got 3") ?? false, "\(broken.diagnostics)")
        XCTAssertEqual(broken.diagnostics.first?.location.line, 9)
        // The blank kept between `(…)` and the next argument is no separator either
        // (`(120 +8) 1` is one argument to gas), so parenthesised offsets stay one.
        let paren = try Self.check(code.replacingOccurrences(of: "ORIG_RAX+8", with: "(ORIG_RAX + 8)"), ".path f entry=function\n")
        FrontEnd.assertProves(paren)
    }

    /// What the body sees, for the forms measured with gas 2.40.
    func testArgumentSplittingMatchesGas() throws {
        let cases: [(String, [String])] = [
            ("112 +8 9", ["112+8", "9"]), ("112+ 8 9", ["112+8", "9"]), ("112 -8 9", ["112", "-8", "9"]),
            ("112 * 8", ["112", "*", "8"]), ("112 / 8", ["112/8"]), ("(112 -8) 3", ["(112 -8)3"]),
            ("8 (%rsp) 3", ["8", "(%rsp)3"]), ("1 2, 3 4", ["1", "2", "3", "4"]), ("a \"x y\" 9", ["a", "\"x y\"", "9"]),
            ("%rax %rbx", ["%rax", "%rbx"]), ("a ) b", ["a)b"]), ("addskip = 8", ["addskip=8"]),
        ]
        for (text, expected) in cases {
            let loc = SourceLocation(file: "t.S", line: 1, column: 1)
            let got = Elaborator.gasMacroArguments(StatementSplitter.splitOperands(Located(text, loc))).map(\.text)
            XCTAssertEqual(got, expected, text)
        }
    }

    /// Keyword arguments after positional ones, blank-separated, as 3.x's SAVE_ARGS and
    /// ALLOC_PT_GPREGS_ON_STACK are called. A positional argument after a keyword one is
    /// gas's error "can't mix positional and keyword arguments".
    func testKeywordArgumentsMixedWithPositionalOnes() throws {
        let code = """
        .macro ALLOC_FRAME addskip=0 extra=0
        \tsubq $(8*15+\\addskip+\\extra), %rsp
        .endm
        .macro FREE_FRAME skip extra=0
        \taddq $(8*15+\\skip+\\extra), %rsp
        .endm
        f:
        \tALLOC_FRAME addskip=8
        \tFREE_FRAME 8
        \tALLOC_FRAME 8 8
        \tFREE_FRAME 8 extra=8
        \tret

        """
        FrontEnd.assertProves(try Self.check(code, ".path f entry=function\n"))
        // A keyword argument with a wrong value unbalances the frame, blamed on the ret.
        let unbalanced = try Self.check(code.replacingOccurrences(of: "FREE_FRAME 8 extra=8", with: "FREE_FRAME 8 extra=0"), ".path f entry=function\n")
        SpecHarness.assertViolated(unbalanced, path: "f", .frameBalance, blamedLine: 12)
        let mixed = try Self.check(code.replacingOccurrences(of: "FREE_FRAME 8 extra=8", with: "FREE_FRAME extra=8 8"), ".path f entry=function\n")
        XCTAssertEqual(mixed.exitCode, 2)
        XCTAssertEqual(mixed.diagnostics.first?.message, "can't mix positional and keyword arguments: '8' follows a keyword argument of macro 'FREE_FRAME'")
        XCTAssertEqual(mixed.diagnostics.first?.location.description, "arch/x86/entry/t.S:11:21")
    }

    /// Segment registers: reading one gives an unknown 16-bit selector (zero-extended
    /// into a 32-bit register; a 16-bit store writes two bytes only); loading %ds or %es
    /// changes nothing the model tracks; lsl and verw set ZF.
    func testSegmentRegisterMoves() throws {
        let code = """
        f:
        \tpushq %rbx
        \tsubq $8, %rsp
        \tmovl %ds, %ebx
        \tmovw %gs, (%rsp)
        \tmov %eax, %ds
        \tmovl %es, %ecx
        \tlsl %eax, %eax
        \tverw %ax
        \taddq $8, %rsp
        \tpopq %rbx
        \tret
        g:
        \tswapgs
        \tmovl %edi, %gs
        \tswapgs
        \tmovq %gs:pcpu_x, %rax
        \tret

        """
        let sidecar = ".percpu pcpu_x\n.path f entry=function\n.path g entry=function\n"
        FrontEnd.assertProves(try Self.check(code, sidecar))
        // The selector is 16 bits: stored over the saved rbx it changes its low half.
        let over = try Self.check(code.replacingOccurrences(of: "movw %gs, (%rsp)", with: "movw %gs, 8(%rsp)"), sidecar)
        SpecHarness.assertViolated(over, path: "f", .restoreMatchesSave, blamedLine: 11, requirementContains: "rbx")
        // Loading %gs outside the swapgs pair replaces the kernel's GS base: the load
        // itself is the violation, and the per-CPU access after it.
        let gs = try Self.check(code.replacingOccurrences(of: "\tswapgs\n\tmovl %edi, %gs\n\tswapgs\n", with: "\tmovl %edi, %gs\n"), sidecar)
        let cx = SpecHarness.assertViolated(gs, path: "g", .gsParity, blamedLine: 14, requirementContains: "loading %gs")
        XCTAssertEqual(cx?.steps.first?.text, "movl %edi, %gs")
        XCTAssertEqual(SpecHarness.result(gs, path: "g", .gsParity)?.violations.map(\.mechanism.description).sorted(),
                       ["gs load at \"movl %edi, %gs\"", "gs percpu at \"movq %gs:pcpu_x, %rax\""])
        // The zero-extension: a 32-bit read leaves no bit of the old value.
        let zx = "h:\n\tpushq %rbx\n\tmovl %ds, %ebx\n\tshrq $16, %rbx\n\tjnz 1f\n\tpopq %rbx\n\tret\n1:\n\tret\n"
        let r = try Self.check(zx, ".path h entry=function\n")
        XCTAssertEqual(r.diagnostics, [])
        for inv in Invariant.allCases { SpecHarness.assertProved(r, path: "h", inv) }
    }

    /// The operand sizes gas refuses are refused: in a real file an instruction the
    /// model cannot take makes the paths through it unknown, with gas's reason and line.
    func testSegmentMoveSizesGasRefuses() throws {
        for bad in ["movl %ds, (%rsp)", "movl (%rsp), %gs", "verw %eax", "movb %ds, %al"] {
            let r = try Self.check("f:\n\t\(bad)\n\tret\n", ".path f entry=function\n")
            XCTAssertEqual(r.exitCode, 3, bad)
            guard case .unknown(let why)? = r.paths.first?.results.first?.verdict else { XCTFail("\(bad): expected unknown"); continue }
            XCTAssertTrue(why.contains("arch/x86/entry/t.S:2:"), "\(bad): \(why)")
        }
    }

    /// Paravirt call sites: `call *pv_ops+N(%rip)` (6.x) and 3.x's PARA_SITE with its
    /// `.parainstructions` record. With a contract for the slot (`.extern SYMBOL+OFFSET`)
    /// the call is followed with it; without one the path is unknown and says which
    /// `.extern` would let it be followed.
    func testParavirtCallsFollowTheSlotsContract() throws {
        let code = """
        #define PV_IRQ_save_fl 8
        #define PV_CPU_swapgs 264
        #define PARA_SITE(ptype, clobbers, ops) 771:; ops; 772:; .pushsection .parainstructions,"a"; .align 8; .quad 771b; .byte ptype; .byte 772b-771b; .short clobbers; .popsection
        f:
        \tpushq %rbx
        \tcall *pv_ops+PV_IRQ_save_fl(%rip)
        \tpopq %rbx
        \tret
        g:
        \tpushq %rbx
        \tPARA_SITE(3, 0, call *pv_cpu_ops+PV_CPU_swapgs(%rip))
        \tpopq %rbx
        \tret

        """
        let paths = ".path f entry=function\n.path g entry=function\n"
        let contracts = "#define PV_IRQ_save_fl 8\n.extern pv_ops+PV_IRQ_save_fl clobbers=rax\n.extern pv_cpu_ops+264\n"
        FrontEnd.assertProves(try Self.check(code, contracts + paths))
        // A contract that clobbers rbx: the code that keeps rbx across the call is caught.
        let clobbering = try Self.check(code.replacingOccurrences(of: "\tpushq %rbx\n\tcall", with: "\tcall").replacingOccurrences(of: "PV_IRQ_save_fl(%rip)\n\tpopq %rbx\n", with: "PV_IRQ_save_fl(%rip)\n"),
                                        contracts.replacingOccurrences(of: "clobbers=rax", with: "clobbers=rax,rbx") + paths)
        let cx = SpecHarness.assertViolated(clobbering, path: "f", .restoreMatchesSave, blamedLine: 5, requirementContains: "rbx")
        XCTAssertEqual(cx?.steps.first?.text, "call *pv_ops+8(%rip)")
        // Without contracts both paths are unknown, naming the .extern to write.
        let bare = try Self.check(code, paths)
        XCTAssertEqual(bare.exitCode, 3)
        guard case .unknown(let f)? = SpecHarness.result(bare, path: "f", .frameBalance)?.verdict,
              case .unknown(let g)? = SpecHarness.result(bare, path: "g", .frameBalance)?.verdict else { return XCTFail("expected unknown") }
        XCTAssertTrue(f.contains("declare its contract with '.extern pv_ops+8 …'"), f)
        XCTAssertTrue(g.contains(".parainstructions entry") && g.contains("'.extern pv_cpu_ops+264 …'"), g)
    }

    /// Exception-table entries (`_ASM_EXTABLE(from, to)`: 3.x's two words, 6.x's with the
    /// type word) are fault edges: a run where the instruction faults goes to the fixup
    /// with the state from before it. A fixup that skips a restore is found only by that
    /// edge; a type other than EX_TYPE_DEFAULT (its handler changes registers) makes the
    /// paths through it unknown.
    func testExceptionTableFixupsAreFollowed() throws {
        let code = """
        #define _ASM_EXTABLE(from, to) .pushsection "__ex_table","a"; .balign 4; .long (from) - .; .long (to) - .; .popsection
        #define _ASM_EXTABLE_TYPE(from, to, type) .pushsection "__ex_table","a"; .balign 4; .long (from) - .; .long (to) - .; .long type; .popsection
        f:
        \tpushq %rbx
        \tmovq $1, %rbx
        1:\tmovq (%rdi), %rax
        \tpopq %rbx
        \tret
        2:\tpopq %rbx
        \tret
        \t_ASM_EXTABLE(1b, 2b)
        g:
        1:\tmovq (%rdi), %rax
        \tret
        2:\tret
        \t_ASM_EXTABLE_TYPE(1b, 2b, 1)

        """
        let paths = ".path f entry=function\n.path g entry=function\n"
        FrontEnd.assertProves(try Self.check(code, paths))
        try FrontEndSourceTests.withTree(["arch/x86/entry/t.S": code, "checks/t.pts": ".source \"arch/x86/entry/t.S\"\n" + paths]) { _ in
            let (programs, _, _) = Checker().elaborateUnits(["checks/t.pts"])
            XCTAssertEqual(programs.first?.faultFixups.count, 2)
        }
        // The fixup forgets rbx: only the run that faults there returns without it.
        let skipping = try Self.check(code.replacingOccurrences(of: "2:\tpopq %rbx", with: "2:\taddq $8, %rsp"), paths)
        let cx = SpecHarness.assertViolated(skipping, path: "f", .restoreMatchesSave, blamedLine: 5, requirementContains: "rbx")
        XCTAssertTrue(cx?.steps.contains { $0.text.hasPrefix("faulted at `movq (%rdi), %rax` → fixup `addq $8, %rsp`") } ?? false,
                      "\(cx?.steps.map(\.text) ?? [])")
        // Without the entry the same code proves: the edge is what finds it.
        let noEntry = try Self.check(code.replacingOccurrences(of: "2:\tpopq %rbx", with: "2:\taddq $8, %rsp")
                                         .replacingOccurrences(of: "\t_ASM_EXTABLE(1b, 2b)\n", with: ""), paths)
        FrontEnd.assertProves(noEntry)
        // EX_TYPE_FAULT (2) puts the trap number in rax: not followed, unknown.
        let typed = try Self.check(code.replacingOccurrences(of: "(1b, 2b, 1)", with: "(1b, 2b, 2)"), paths)
        guard case .unknown(let why)? = SpecHarness.result(typed, path: "g", .frameBalance)?.verdict else { return XCTFail("expected unknown") }
        XCTAssertTrue(why.contains("exception-table type 0x2"), why)
    }

    /// 3.x writes nops and clac/stac as bytes (ASM_NOP3 is `.byte 0x0f,0x1f,0x00`,
    /// __ASM_CLAC `.byte 0x0f,0x01,0xca`): those are the instructions objdump shows. Any
    /// other bytes stay code the model cannot decode.
    func testNopAndClacBytesAreInstructions() throws {
        let code = "f:\n\t.byte 0x0f,0x1f,0x00\n\t.byte 0x0f,0x01,0xca\n\t.byte 0x66,0x66,0x90, 0x0f,0x1f,0x44,0x00,0x00\n\tret\n"
        FrontEnd.assertProves(try Self.check(code, ".path f entry=function\n"))
        // One byte off (0f 1f 01 is nopl (%rcx), but not a form the kernel emits): unknown.
        let off = try Self.check(code.replacingOccurrences(of: "0x0f,0x1f,0x00", with: "0x0f,0x1f,0x01"), ".path f entry=function\n")
        guard case .unknown(let why)? = SpecHarness.result(off, path: "f", .frameBalance)?.verdict else { return XCTFail("expected unknown") }
        XCTAssertTrue(why.contains("data among instructions"), why)
    }

    /// A load from a global (`movq pcpu_unit_offsets(%rip), %rax`, 6.x's GET_PERCPU_BASE)
    /// is an unknown value; a store there is memory the model does not hold: unknown.
    func testRIPRelativeLoadsOfGlobals() throws {
        let code = "f:\n\tpushq %rbx\n\tmovq pcpu_unit_offsets(%rip), %rbx\n\tpopq %rbx\n\tret\n"
        FrontEnd.assertProves(try Self.check(code, ".path f entry=function\n"))
        let lost = try Self.check(code.replacingOccurrences(of: "\tpopq %rbx\n", with: "\taddq $8, %rsp\n"), ".path f entry=function\n")
        SpecHarness.assertViolated(lost, path: "f", .restoreMatchesSave, blamedLine: 3, requirementContains: "rbx")
        let store = try Self.check("f:\n\tmovq %rax, pcpu_unit_offsets(%rip)\n\tret\n", ".path f entry=function\n")
        guard case .unknown(let why)? = SpecHarness.result(store, path: "f", .frameBalance)?.verdict else { return XCTFail("expected unknown") }
        XCTAssertTrue(why.contains("store to 'pcpu_unit_offsets(%rip)'"), why)
    }

    /// 3.x's ASM_CLAC/ASM_STAC: an ALTERNATIVE whose original and replacement are bytes
    /// (a 3-byte nop, clac) and whose table entry gives the lengths as numbers. Both arms
    /// run; a replacement whose length does not match its bytes stays unknown.
    func testAnAlternativeWithNumericLengthsOverBytes() throws {
        let code = """
        .macro altinstruction_entry orig alt feature orig_len alt_len
        \t.long \\orig - .
        \t.long \\alt - .
        \t.word \\feature
        \t.byte \\orig_len
        \t.byte \\alt_len
        .endm
        #define ASM_CLAC 661: .byte 0x0f,0x1f,0x00 ; .pushsection .altinstr_replacement, "ax" ; 662: .byte 0x0f,0x01,0xca ; .popsection ; .pushsection .altinstructions, "a" ; altinstruction_entry 661b, 662b, (9*32+20), 3, 3 ; .popsection
        f:
        \tASM_CLAC
        \tret

        """
        let report = try Self.check(code, ".path f entry=function\n")
        FrontEnd.assertProves(report)
        try FrontEndSourceTests.withTree(["arch/x86/entry/t.S": code, "checks/t.pts": ".source \"arch/x86/entry/t.S\"\n.path f entry=function\n"]) { _ in
            let (programs, _, _) = Checker().elaborateUnits(["checks/t.pts"])
            XCTAssertEqual(programs.first?.alternatives.values.first?.first?.feature, "0x134")
        }
        let wrong = try Self.check(code.replacingOccurrences(of: "(9*32+20), 3, 3", with: "(9*32+20), 3, 4"), ".path f entry=function\n")
        guard case .unknown(let why)? = SpecHarness.result(wrong, path: "f", .frameBalance)?.verdict else { return XCTFail("expected unknown") }
        XCTAssertTrue(why.contains("the kernel may patch this code at boot"), why)
    }
}
