import Foundation
import PtregsProve
import SpecElaboration
import SpecSyntax
import XCTest

/// Places where the front end once read assembly differently from gas 2.40 or cpp
/// without an error, so a broken file proved. Each is now read as gas/cpp read it
/// (checked against `as --64` by hand; the expected instructions are gas's) or is an
/// input error at its line.
final class FrontEndGasFidelityTests: XCTestCase {
    func program(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> Program {
        let (programs, _, report) = try FrontEnd.elaborate(text)
        XCTAssertEqual(report.diagnostics, [], file: file, line: line)
        return try XCTUnwrap(programs.first, file: file, line: line)
    }

    // MARK: F1: macro names ignore case

    /// gas looks macros up in lower case: `popq %rbx` invokes the empty macro `POPQ`,
    /// so rbx is never restored.
    func testAMacroOfAnyCaseShadowsTheInstruction() throws {
        let spec = """
        .macro POPQ reg
        .endm
        .path f entry=function
        f:
        \tpushq %rbx
        \tmovq $1, %rbx
        \tpopq %rbx
        \tPopQ %rbx
        \tret
        """
        XCTAssertEqual(try program(spec).instructions.map(\.text), ["pushq %rbx", "movq $1, %rbx", "ret"])
        let report = SpecHarness.check(spec)
        guard let r = SpecHarness.result(report, path: "f", .restoreMatchesSave), case .violated = r.verdict else {
            return XCTFail("the empty macro leaves rbx clobbered: \(report.diagnostics)")
        }
    }

    func testMacrosDifferingOnlyInCaseAreADuplicate() {
        let spec = ".macro Restore\n\tpopq %rbx\n.endm\n.macro restore\n.endm\n.path f entry=function\nf:\n\tret\n"
        FrontEnd.assertError(SpecHarness.check(spec), "spec.pts:4:1",
                             "duplicate macro 'restore' (first defined at spec.pts:1:1 as 'Restore'; gas's macro names ignore case)")
        // `.purgem` finds it in any case, as gas's does.
        let purged = ".macro Restore\n\tpopq %rbx\n.endm\n.purgem RESTORE\n.macro restore\n.endm\n.path f entry=function\nf:\n\trestore\n\tret\n"
        XCTAssertEqual(try program(purged).instructions.map(\.text), ["ret"])
    }

    // MARK: F2: a macro named after a directive

    /// gas warns "attempt to redefine pseudo-op ignored" and runs its directive.
    func testAMacroNamedAfterADirectiveIsRefused() {
        for (directive, shown) in [(".align n", ".align"), (".code64", ".code64"), (".ALIGN n", ".align")] {
            let spec = ".macro \(directive)\n\tpopq %rbx\n.endm\n.path f entry=function\nf:\n\tret\n"
            FrontEnd.assertError(SpecHarness.check(spec), "spec.pts:1:1",
                                 "gas ignores a macro named after its directive '\(shown)': the directive runs, not the macro")
        }
        // A dotted name that is no directive is a macro to gas.
        let own = ".macro .pop_it\n\tpopq %rbx\n.endm\n.path f entry=function\nf:\n\tpushq %rbx\n\t.pop_it\n\tret\n"
        FrontEnd.assertProves(SpecHarness.check(own))
    }

    // MARK: F3: .ifc as gas compares

    /// gas's first operand ends at the first comma, whatever encloses it, and quotes
    /// are characters like any other.
    func testIfcComparesTheTextAsGasCutsIt() throws {
        let spec = """
        .path f entry=function
        f:
        \t.ifc "a",a
        \tud2
        \t.endif
        \t.ifc 'a',a
        \tud2
        \t.endif
        \t.ifc (a,b),(a,b)
        \tud2
        \t.endif
        \t.ifc "a,b","a,b"
        \tud2
        \t.endif
        \t.ifc "a","a"
        \tnop
        \t.endif
        \t.ifc 'a','a'
        \tnop
        \t.endif
        \t.ifnc a,'a'
        \tnop
        \t.endif
        \t.ifc (a),(a)
        \tnop
        \t.endif
        \t.ifc a , a
        \tnop
        \t.endif
        \tret
        """
        XCTAssertEqual(try program(spec).instructions.map(\.text), ["nop", "nop", "nop", "nop", "nop", "ret"])
    }

    /// What gas reads in a way not modelled is refused: blanks inside an operand (gas
    /// matches `a + b` with `a+b`), single quotes other than around one operand, and
    /// `.ifeqs` strings that are not in double quotes or hold escapes.
    func testIfcFormsGasReadsOtherwiseAreErrors() {
        func check(_ line: String) -> CheckReport {
            SpecHarness.check(".path f entry=function\nf:\n\t\(line)\n\tnop\n\t.endif\n\tret\n")
        }
        FrontEnd.assertError(check(".ifc a + b,a+b"), "spec.pts:3:7",
                             ".ifc operand 'a + b' has a blank inside: gas's reading of it (it drops some blanks) is not modelled")
        FrontEnd.assertError(check(".ifc 'a,b','a,b'"), "spec.pts:3:7",
                             ".ifc operand ''a' with single quotes other than around it: gas's reading of it is not modelled")
        FrontEnd.assertError(check(".ifeqs 'a','a'"), "spec.pts:3:9", "expected a string in double quotes")
        FrontEnd.assertError(check(".ifeqs \"a\\x62\",\"ab\""), "spec.pts:3:9", "escapes in a compared string are not modelled: gas reads them")
    }

    // MARK: F4: macro arguments in nested bodies

    /// gas substitutes a macro's arguments into its whole body before a repetition or
    /// macro inside it is read: `\a` is the macro's `a` even where the inner block has a
    /// parameter `a` too.
    func testMacroArgumentsReachNestedBodies() throws {
        let spec = """
        .macro IRP a
        \t.irp a, 16
        \taddq $\\a, %rsp
        \t.endr
        .endm
        .macro IRPC a
        \t.irpc a, 9
        \taddq $\\a, %rsp
        \t.endr
        .endm
        .macro REPT a
        \t.rept 1
        \taddq $\\a, %rsp
        \t.endr
        .endm
        .macro OUTER a
        \t.macro INNER a
        \taddq $\\a, %rsp
        \t.endm
        .endm
        .macro BOTH a
        \t.irp r, 1
        \t.irp s, 2
        \taddq $\\a\\r\\s, %rsp
        \t.endr
        \t.endr
        .endm
        \tOUTER 8
        .path f entry=function
        f:
        \tsubq $32, %rsp
        \tIRP 8
        \tIRPC 8
        \tREPT 8
        \tINNER 16
        \tBOTH 8
        \tret
        """
        XCTAssertEqual(try program(spec).instructions.map(\.text),
                       ["subq $32, %rsp", "addq $8, %rsp", "addq $8, %rsp", "addq $8, %rsp", "addq $8, %rsp", "addq $812, %rsp", "ret"])
    }

    /// `\()` goes at the macro's expansion, so `\r\()2` in a repetition inside it names
    /// `\r2`, which nothing binds: gas rejects it, and so does the tool.
    func testTheSeparatorGoesAtTheOuterExpansion() {
        let spec = ".macro M\n\t.irp r, 1\n\taddq $0x1\\r\\()2, %rsp\n\t.endr\n.endm\n.path f entry=function\nf:\n\tM\n\tret\n"
        let report = SpecHarness.check(spec)
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertEqual(report.diagnostics.first?.message, "macro has no parameter 'r2'")
    }

    // MARK: F5: .exitm in a repetition

    /// gas's `.exitm` ends the innermost expansion: inside `.irp`/`.rept`/`.irpc` that is
    /// the repetition (every run left of it), and the macro goes on after `.endr`.
    func testExitmEndsTheInnermostRepetition() throws {
        let spec = """
        .macro M
        \t.irp x, 1, 2
        \taddq $8, %rsp
        \t.exitm
        \t.endr
        \taddq $16, %rsp
        .endm
        .macro R
        \t.rept 3
        \taddq $4, %rsp
        \t.if 1
        \t.exitm
        \t.endif
        \t.endr
        \taddq $4, %rsp
        .endm
        .path f entry=function
        f:
        \tsubq $40, %rsp
        \tM
        \tR
        \t.irpc c, 12
        \taddq $\\c, %rsp
        \t.exitm
        \t.endr
        \taddq $7, %rsp
        \tret
        """
        XCTAssertEqual(try program(spec).instructions.map(\.text),
                       ["subq $40, %rsp", "addq $8, %rsp", "addq $16, %rsp", "addq $4, %rsp", "addq $4, %rsp", "addq $1, %rsp", "addq $7, %rsp", "ret"])
        FrontEnd.assertProves(SpecHarness.check(spec))
    }

    // MARK: F6: gas's comments in a .s file

    static func checkAssembly(_ code: String) throws -> CheckReport {
        try FrontEndSourceTests.check("checks/s.pts", ["arch/x86/entry/t.s": code, "checks/s.pts": ".source \"arch/x86/entry/t.s\"\n.path f entry=function\n"])
    }

    /// `#` comments out the rest of its line, a `/*` there too: the lines after it are code.
    func testABlockCommentInsideAHashCommentIsNoComment() throws {
        let code = "\t.text\nf:\tpushq %rbx\t# /*\n\tpopq %rbx\n\tmovq $1, %rbx\n\tpushq %rbx\t# */\n\tpopq %rbx\n\tret\n"
        let report = try Self.checkAssembly(code)
        guard let r = SpecHarness.result(report, path: "f", .restoreMatchesSave), case .violated = r.verdict else {
            return XCTFail("gas runs movq $1, %rbx: \(report.diagnostics)")
        }
    }

    /// A `/*` inside a string starts no comment either.
    func testABlockCommentMarkInAStringIsNoComment() throws {
        let code = """
        \t.text
        f:\tpushq %rbx
        \tpopq %rbx
        \t.pushsection .rodata, "a"
        \t.ascii "/*"
        \t.popsection
        \tmovq $1, %rbx
        \t.pushsection .rodata, "a"
        \t.ascii "*/"
        \t.popsection
        \tret

        """
        let report = try Self.checkAssembly(code)
        guard let r = SpecHarness.result(report, path: "f", .restoreMatchesSave), case .violated = r.verdict else {
            return XCTFail("gas runs movq $1, %rbx: \(report.diagnostics)")
        }
    }

    /// `/` where a statement starts comments out the line (after a label or `;` too);
    /// `//` later in a statement and `\` at a line's end are errors, as gas rejects them.
    func testSlashCommentsAndWhatGasRejects() throws {
        let code = "\t.text\nf:\tpushq %rbx\n/\tmovq $1, %rbx\n1:\t/ movq $1, %rbx\n\tnop ; / movq $1, %rbx\n\tpopq %rbx\n\tret\n"
        let report = try Self.checkAssembly(code)
        XCTAssertEqual(report.diagnostics, [])
        SpecHarness.assertProved(report, path: "f", .restoreMatchesSave)
        FrontEnd.assertError(try Self.checkAssembly("\t.text\nf:\tpushq %rbx // x\n\tpopq %rbx\n\tret\n"), "arch/x86/entry/t.s:2:15",
                             "'//' after the start of a statement: gas does not read it as a comment here (it reads a division); use '#' or '/* */'")
        FrontEnd.assertError(try Self.checkAssembly("\t.text\nf:\tpushq %rbx \\\n\tpopq %rbx\n\tret\n"), "arch/x86/entry/t.s:2:15",
                             "'\\' at the end of a line: gas does not join lines (cpp does, for a .S file)")
    }

    // MARK: F7, F9: names cpp would replace

    /// A `#define`d name where the spec language does not expand it, but cpp would
    /// replace it, is an error: a register, a mnemonic, a label, a jump's target, a
    /// macro's parameter.
    func testADefinedNameCppWouldReplaceIsAnError() {
        FrontEnd.assertError(SpecHarness.check("#define rax rbx\n.path f entry=function\nf:\n\tmovq $1, %rax\n\tret\n"), "spec.pts:4:12",
                             "'rax' is #define'd, and cpp would replace it in the register name '%rax', which the spec language does not: rename one of them")
        FrontEnd.assertError(SpecHarness.check("#define addq subq\n.path f entry=function\nf:\n\tsubq $8, %rsp\n\taddq $8, %rsp\n\tret\n"), "spec.pts:5:2",
                             "'addq' is #define'd, and cpp would replace it in the statement's head 'addq', which the spec language does not: rename one of them")
        FrontEnd.assertError(SpecHarness.check("#define out in\n.path f entry=function\nf:\n\tjmp out\nin:\n\tret\n"), "spec.pts:4:6",
                             "'out' is #define'd, and cpp would replace it in the target 'out', which the spec language does not: rename one of them")
        FrontEnd.assertError(SpecHarness.check("#define g h\n.path f entry=function\nf:\ng:\n\tret\n"), "spec.pts:4:1",
                             "'g' is #define'd, and cpp would replace it in the label 'g', which the spec language does not: rename one of them")
        // An argument that lands after `%`: cpp would have replaced it in the invocation.
        let viaMacro = "#define rax rbx\n.macro SET reg\n\tmovq $1, %\\reg\n.endm\n.path f entry=function\nf:\n\tSET rax\n\tret\n"
        FrontEnd.assertError(SpecHarness.check(viaMacro), "spec.pts:3:12",
                             "'rax' is #define'd, and cpp would replace it in the register name '%rax', which the spec language does not: rename one of them")
        // In an expression the constant is expanded, as cpp would.
        FrontEnd.assertProves(SpecHarness.check("#define OFF 8\n.path f entry=function\nf:\n\tsubq $OFF, %rsp\n\taddq $8, %rsp\n\tret\n"))
    }

    /// cpp replaces a name only after its `#define`: a use before it keeps the name.
    func testANameUsedBeforeItsDefineIsAnError() {
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\tsubq $16, %rsp\n\taddq $OFF, %rsp\n\tret\n#define OFF 16\n"), "spec.pts:6:9",
                             "'OFF' is used at spec.pts:4:8 before this #define: cpp would not replace it there; define it before its first use")
        FrontEnd.assertError(SpecHarness.check(".macro M\n\taddq $OFF, %rsp\n.endm\n#define OFF 16\n.path f entry=function\nf:\n\tsubq $16, %rsp\n\tM\n\tret\n"),
                             "spec.pts:4:9", "'OFF' is used at spec.pts:2:8 before this #define: cpp would not replace it there; define it before its first use")
    }

    // MARK: F10: an exception table naming no label

    func testAnExceptionTableNamingAnUndefinedLocalLabelIsAnError() throws {
        let code = "\t.text\nf:\n\tpushq %rbx\n1:\tmovq (%rdi), %rax\n\tpopq %rbx\n\tret\n\t.pushsection __ex_table, \"a\"\n\t.long (1b) - ., (2f) - .\n\t.popsection\n"
        FrontEnd.assertError(try Self.checkAssembly(code), "arch/x86/entry/t.s:8:19", "local label '2' is not defined after '2f' (gas rejects the reference)")
    }

    /// `.ifc`/`.ifnc` compare text cpp has already rewritten: a #define'd name there is
    /// compared as its value by the real build, as its name by the tool.
    func testADefinedNameInAStringComparisonIsAnError() {
        let spec = "#define SAVEREG rbx\n.path f entry=function\nf:\n.ifnc SAVEREG, rbx\n\tpushq %rbx\n\tpopq %rbx\n.else\n\tmovq $0, %rbx\n.endif\n\tret\n"
        let report = SpecHarness.check(spec)
        XCTAssertTrue(report.diagnostics.first?.message.contains("'SAVEREG' is #define'd, and cpp would replace it in the operand of .ifnc") == true,
                      "\(report.diagnostics)")
        XCTAssertEqual(report.diagnostics.first?.location.line, 4)
    }
}
