import Foundation
import PtregsProve
import SpecSyntax
import XCTest

/// Bad input: one test per class of parse or elaboration error, each asserting the
/// exact `file:line:col` of the first diagnostic, what it says, and exit code 2
/// (issue 2 §7, issue 5 "Bad input gets a clear error").
final class ElaborationErrorTests: XCTestCase {
    /// Asserts the report is bad input whose first diagnostic is at `location` and says `message`.
    func assertError(_ report: CheckReport, _ location: String, _ message: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(report.exitCode, 2, "diagnostics: \(report.diagnostics)", file: file, line: line)
        XCTAssertTrue(report.paths.isEmpty, "a unit with an error must not be proved", file: file, line: line)
        guard let d = report.diagnostics.first else {
            XCTFail("no diagnostic; paths: \(report.paths.map(\.name))", file: file, line: line)
            return
        }
        // One mistake, one error: elaboration goes on after an error, and must not
        // report what follows from it.
        XCTAssertEqual(report.diagnostics.count, 1, "\(report.diagnostics)", file: file, line: line)
        XCTAssertEqual(d.severity, .error, file: file, line: line)
        XCTAssertEqual(d.location.description, location, "message: \(d.message)", file: file, line: line)
        XCTAssertTrue(d.message.contains(message), "message '\(d.message)' lacks '\(message)'", file: file, line: line)
        // The compiler-style line editors and CI problem matchers parse.
        let text = TextReport(colour: false).render(report)
        XCTAssertTrue(text.hasPrefix("\(location): error: "), "report starts: \(text.prefix(200))", file: file, line: line)
    }

    func check(_ text: String) -> CheckReport { SpecHarness.check(text) }

    /// Checks a unit written as raw bytes (not necessarily UTF-8 text) as `spec.pts`.
    static func checkBytes(_ data: Data) -> CheckReport {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-bytes-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try? data.write(to: root.appendingPathComponent("spec.pts"))
        let cwd = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(root.path)
        defer { FileManager.default.changeCurrentDirectoryPath(cwd) }
        return Checker().check(["spec.pts"])
    }

    // MARK: syntax

    func testSyntaxErrorUnexpectedCharacter() {
        assertError(check(".path f entry=function\nf:\n\t@@@\n\tret"),
                    "spec.pts:3:2", "expected a label, an instruction or a directive, found '@'")
    }

    func testSyntaxErrorTextAfterAnExpression() {
        assertError(check(".path f entry=function\nf:\n\tsubq $8 8, %rsp\n\tret"),
                    "spec.pts:3:10", "unexpected text after expression")
    }

    func testSyntaxErrorUnterminatedBlockComment() {
        assertError(check(".path f entry=function\nf:\n\t/* never closed\n\tret"),
                    "spec.pts:3:2", "unterminated /* comment")
    }

    func testSyntaxErrorNumberTooLarge() {
        assertError(check(".path f entry=function\nf:\n\tsubq $99999999999999999999, %rsp\n\tret"),
                    "spec.pts:3:8", "malformed or too large number '99999999999999999999'")
    }

    // MARK: unknown names

    func testUnknownMnemonic() {
        assertError(check(".path f entry=function\nf:\n\tfrobq %rax\n\tret"),
                    "spec.pts:3:2", "unknown mnemonic 'frobq'")
    }

    func testUnknownRegister() {
        assertError(check(".path f entry=function\nf:\n\tpushq %rbq\n\tret"),
                    "spec.pts:3:8", "unknown register '%rbq'")
    }

    func testUnknownMacro() {
        assertError(check(".path f entry=function\nf:\n\tSAVE_ALL\n\tret"),
                    "spec.pts:3:2", "unknown macro 'SAVE_ALL' (define it with .macro before use)")
    }

    func testUnknownConstant() {
        assertError(check(".path f entry=function\nf:\n\tsubq $FRAME_SIZE, %rsp\n\tret"),
                    "spec.pts:3:8", "unknown constant 'FRAME_SIZE'")
    }

    func testUnknownLayoutField() {
        // Layout fields are constants: a field no .layout defines is an unknown constant.
        assertError(check(".layout ti size=16\n.field TI_flags, 8\n.endlayout\n.path f entry=function\nf:\n\tmovq TI_status(%rsp), %rax\n\tret"),
                    "spec.pts:6:7", "unknown constant 'TI_status'")
    }

    func testUnknownLabel() {
        assertError(check(".path f entry=function\nf:\n\tjmp nowhere\n\tret"),
                    "spec.pts:3:6", "unknown label 'nowhere'")
    }

    func testUnknownLocalLabel() {
        assertError(check(".path f entry=function\nf:\n\tjmp 1f\n\tret"),
                    "spec.pts:3:6", "no local label '1' after this instruction")
    }

    func testPathNamingNoLabel() {
        assertError(check(".path g entry=function\nf:\n\tret"),
                    "spec.pts:1:7", "path 'g' names no label of the code")
    }

    func testCallToAnUndeclaredFunction() {
        assertError(check(".path f entry=function\nf:\n\tcall do_work\n\tret"),
                    "spec.pts:3:7", "unknown label 'do_work' (declare external functions with '.extern do_work')")
    }

    func testIndirectCallThroughAnUndeclaredTable() {
        assertError(check(".path f entry=function\nf:\n\tcall *sys_call_table(,%rax,8)\n\tret"),
                    "spec.pts:3:8", "declare its contract with '.extern sys_call_table")
    }

    func testUnknownPerCPUVariable() {
        assertError(check(".path f entry=function\nf:\n\tmovq PER_CPU_VAR(nope), %rax\n\tret"),
                    "spec.pts:3:19", "unknown per-CPU variable 'nope'")
    }

    func testUnknownContractAttribute() {
        assertError(check(".extern a frobs=1\n.path f entry=function\nf:\n\tret"),
                    "spec.pts:1:17", "unknown .extern attribute 'frobs'")
    }

    func testUnknownPtRegsFieldInAContract() {
        assertError(check(".extern a observes=ip,zz\n.path f entry=function\nf:\n\tret"),
                    "spec.pts:1:20", "unknown pt_regs field 'zz'")
    }

    func testUnknownDirective() {
        assertError(check(".path f entry=function\n.frob 1\nf:\n\tret"),
                    "spec.pts:2:1", "unknown directive '.frob'")
    }

    func testUnknownInvariantInExpect() {
        assertError(check(".path f entry=function\n.expect stack rsp at ret\nf:\n\tret"),
                    "spec.pts:2:9", "unknown invariant 'stack'")
    }

    func testUnknownEntryKind() {
        assertError(check(".path f entry=nmi\nf:\n\tret"),
                    "spec.pts:1:15", "unknown entry kind 'nmi'")
    }

    func testUndefinedCFIMacroIsAnErrorNotIgnored() {
        assertError(check(".path f entry=function\nf:\n\tCFI_ADJUST_CFA_OFFSET 8\n\tret"),
                    "spec.pts:3:2", "'CFI_ADJUST_CFA_OFFSET' is not defined: define the CFI_ macros as the kernel's dwarf2.h does")
    }

    // MARK: duplicates

    func testDuplicateLabel() {
        assertError(check(".path f entry=function\nf:\n\tnop\nf:\n\tret"),
                    "spec.pts:4:1", "duplicate label 'f' (first defined at spec.pts:2:1)")
    }

    func testDuplicateMacro() {
        assertError(check(".macro M\n\tnop\n.endm\n.macro M\n\tnop\n.endm\n.path f entry=function\nf:\n\tret"),
                    "spec.pts:4:1", "duplicate macro 'M' (first defined at spec.pts:1:1)")
    }

    func testDuplicateDefine() {
        assertError(check("#define X 1\n#define X 2\n.path f entry=function\nf:\n\tret"),
                    "spec.pts:2:9", "duplicate definition of 'X' (first defined at spec.pts:1:9)")
    }

    func testDuplicateEqu() {
        assertError(check(".equ X, 1\n.equ X, 2\n.path f entry=function\nf:\n\tret"),
                    "spec.pts:2:6", "duplicate definition of 'X' (first defined at spec.pts:1:6)")
    }

    func testRedefiningAPtRegsOffsetIsADuplicate() {
        assertError(check("#define RCX 8\n.path f entry=function\nf:\n\tret"),
                    "spec.pts:1:9", "duplicate definition of 'RCX'")
    }

    func testDuplicateExtern() {
        assertError(check(".extern a\n.extern a\n.path f entry=function\nf:\n\tret"),
                    "spec.pts:2:9", "duplicate .extern 'a' (first declared at spec.pts:1:9)")
    }

    func testDuplicatePath() {
        assertError(check(".path f entry=function\n.path f entry=function\nf:\n\tret"),
                    "spec.pts:2:7", "duplicate .path 'f' (first declared at spec.pts:1:7)")
    }

    // MARK: macros

    func testMacroGivenTooManyArguments() {
        assertError(check(".macro M a, b\n\tpushq \\a\n\tpopq \\b\n.endm\n.path f entry=function\nf:\n\tM %rax, %rbx, %rcx\n\tret"),
                    "spec.pts:7:16", "macro 'M' takes 2 argument(s), got 3 (defined at spec.pts:1:1)")
    }

    func testMacroGivenTooFewArguments() {
        // As gas: the argument left out is empty, and the body says what that breaks.
        assertError(check(".macro M a, b\n\tpushq \\a\n\tpopq \\b\n.endm\n.path f entry=function\nf:\n\tM %rax\n\tret"),
                    "spec.pts:3:2", "'popq' takes 1 operand, got 0")
    }

    func testAnArgumentLeftOutIsBlankForIfb() {
        // 6.8's `IBRS_ENTER` is called bare; its body tests `.ifnb \save_reg`.
        let report = check(".macro M a, b\n.ifb \\b\n\tpushq \\a\n\tpopq \\a\n.else\n\tpushq \\b\n.endif\n.endm\n.path f entry=function\nf:\n\tM %rax\n\tret")
        XCTAssertEqual(report.diagnostics, [])
        SpecHarness.assertProved(report, path: "f", .frameBalance)
    }

    func testMacroBodyNamingAParameterItDoesNotHave() {
        assertError(check(".macro M a\n\tpushq \\b\n.endm\n.path f entry=function\nf:\n\tM %rax\n\tret"),
                    "spec.pts:2:8", "macro has no parameter 'b'")
    }

    func testUnterminatedMacro() {
        assertError(check(".macro M\n\tnop\n.path f entry=function\nf:\n\tret"),
                    "spec.pts:1:1", "unterminated .macro: no .endm before the end of the file")
    }

    func testEndmWithoutMacro() {
        assertError(check(".endm\n.path f entry=function\nf:\n\tret"), "spec.pts:1:1", ".endm without .macro")
    }

    func testDirectlyRecursiveMacro() {
        let report = check(".macro M\n\tM\n.endm\n.path f entry=function\nf:\n\tM\n\tret")
        assertError(report, "spec.pts:2:2", "recursive macro: M -> M")
        XCTAssertEqual(report.diagnostics.first?.notes.map(\.location.description), ["spec.pts:6:2"])
    }

    func testMutuallyRecursiveMacros() {
        let report = check(".macro A\n\tB\n.endm\n.macro B\n\tA\n.endm\n.path f entry=function\nf:\n\tA\n\tret")
        assertError(report, "spec.pts:5:2", "recursive macro: A -> B -> A")
        XCTAssertEqual(report.diagnostics.first?.notes.map(\.location.description), ["spec.pts:2:2", "spec.pts:9:2"])
    }

    /// M0 is two statements and each M(i) uses M(i-1) twice: M17 would be 2^18 statements.
    static var exponentialSpec: String {
        var s = ".macro M0\n\tnop\n\tnop\n.endm\n"
        for i in 1...17 { s += ".macro M\(i)\n\tM\(i - 1)\n\tM\(i - 1)\n.endm\n" }
        return s + ".path f entry=function\nf:\n\tM17\n\tret"
    }

    func testExponentialMacroExpansionHitsTheBound() {
        let start = Date()
        let report = check(Self.exponentialSpec)
        // The bound (on statements macros produce) is hit inside M1's body (line 6); the
        // notes lead back out through M2 … M17 to the use of M17 in f at line 75.
        assertError(report, "spec.pts:6:2", "macro expansion produced more than 200000 statements")
        XCTAssertEqual(report.diagnostics.first?.notes.last?.location.description, "spec.pts:75:2")
        XCTAssertEqual(report.diagnostics.first?.notes.count, 17)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10, "the bound must stop the expansion quickly")
    }

    // MARK: conditionals

    func testIfWithoutEndif() {
        assertError(check(".if 1\n.path f entry=function\nf:\n\tret"), "spec.pts:1:1", ".if without .endif")
    }

    func testIfWithoutEndifInsideAMacro() {
        let report = check(".macro M a\n\t.if \\a\n\tnop\n.endm\n.path f entry=function\nf:\n\tM 1\n\tret")
        assertError(report, "spec.pts:2:2", ".if without .endif")
        XCTAssertEqual(report.diagnostics.first?.notes.map(\.location.description), ["spec.pts:7:2"])
    }

    func testElseWithoutIf() {
        assertError(check(".else\n.path f entry=function\nf:\n\tret"), "spec.pts:1:1", ".else without .if")
    }

    func testDeeplyNestedIf() {
        let text = String(repeating: ".if 1\n", count: 70) + String(repeating: ".endif\n", count: 70) + ".path f entry=function\nf:\n\tret"
        assertError(check(text), "spec.pts:65:1", ".if nested more than 64 deep")
    }

    func testNestingAtTheLimitIsAccepted() {
        let text = String(repeating: ".if 1\n", count: 64) + String(repeating: ".endif\n", count: 64) + ".path f entry=function\nf:\n\tret"
        let report = check(text)
        XCTAssertEqual(report.diagnostics, [])
        XCTAssertEqual(report.exitCode, 0)
    }

    // MARK: includes

    func testIncludeEscapingTheSpecRoot() {
        let up = String(repeating: "../", count: 24)
        assertError(check(".include \"\(up)etc/passwd\"\n.path f entry=function\nf:\n\tret"),
                    "spec.pts:1:10", "escapes the spec root")
    }

    func testIncludeThroughASymlinkOutOfTheRoot() throws {
        // A symlink inside the root that points outside it is resolved before the check.
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-outside-\(UUID().uuidString).ptsh")
        try "#define SECRET 1\n".write(to: outside, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: outside) }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-link-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createSymbolicLink(at: root.appendingPathComponent("link.ptsh"), withDestinationURL: outside)
        try ".include \"link.ptsh\"\n.path f entry=function\nf:\n\tret\n".write(to: root.appendingPathComponent("spec.pts"), atomically: true, encoding: .utf8)
        let cwd = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(root.path)
        defer { FileManager.default.changeCurrentDirectoryPath(cwd) }
        assertError(Checker().check(["spec.pts"]), "spec.pts:1:10", "escapes the spec root")
    }

    /// A temporary spec root and a temporary directory outside it, removed afterwards.
    func rootAndOutside() throws -> (root: URL, outside: URL) {
        let fm = FileManager.default
        let base = fm.temporaryDirectory.appendingPathComponent("ptregs-units-\(UUID().uuidString)")
        let root = base.appendingPathComponent("root"), outside = base.appendingPathComponent("outside")
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        try fm.createDirectory(at: outside, withIntermediateDirectories: true)
        addTeardownBlock { try? fm.removeItem(at: base) }
        return (root, outside)
    }

    static func unit(_ name: String) -> String { ".path \(name) entry=function\n\(name):\n\tret\n" }

    /// A unit, like an include, may not be a symlink out of the root: found under a
    /// directory argument or named on the command line, it is an error, not read.
    func testUnitThroughASymlinkOutOfTheRoot() throws {
        let (root, outside) = try rootAndOutside()
        try Self.unit("secret").write(to: outside.appendingPathComponent("secret.pts"), atomically: true, encoding: .utf8)
        try Self.unit("good").write(to: root.appendingPathComponent("good.pts"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("link.pts").path, withDestinationPath: "../outside/secret.pts")
        let report = Checker().check([root.path])
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertEqual(report.diagnostics.map(\.location.description), [root.path + "/link.pts:1:1"])
        XCTAssertTrue(report.diagnostics.first?.message.contains("is a link to \(outside.resolvingSymlinksInPath().path)/secret.pts, outside the spec root") == true,
                      "\(report.diagnostics)")
        XCTAssertEqual(report.paths.map(\.name), ["good"], "the link is not read")

        let cwd = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(root.path)
        defer { FileManager.default.changeCurrentDirectoryPath(cwd) }
        assertError(Checker().check(["link.pts"]), "link.pts:1:1", "outside the spec root")
    }

    /// A symlinked directory leading out of the root is an error naming it; FileManager
    /// does not descend into it, so it used to be skipped without a word.
    func testSymlinkedDirectoryOutOfTheRoot() throws {
        let (root, outside) = try rootAndOutside()
        try Self.unit("secret").write(to: outside.appendingPathComponent("secret.pts"), atomically: true, encoding: .utf8)
        try Self.unit("good").write(to: root.appendingPathComponent("good.pts"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("linked").path, withDestinationPath: "../outside")
        let report = Checker().check([root.path])
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertEqual(report.diagnostics.map(\.location.description), [root.path + "/linked:1:1"])
        XCTAssertTrue(report.diagnostics.first?.message.contains("outside the spec root") == true, "\(report.diagnostics)")
        XCTAssertEqual(report.paths.map(\.name), ["good"])
    }

    /// Links that stay inside the root are fine, and a symlinked root is walked (it used
    /// to list no units and pass); a directory link inside the root is not walked twice.
    func testLinksInsideTheRootAndASymlinkedRoot() throws {
        let (root, outside) = try rootAndOutside()
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try Self.unit("good").write(to: root.appendingPathComponent("sub/good.pts"), atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("again").path, withDestinationPath: "sub")
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("alias.pts").path, withDestinationPath: "sub/good.pts")
        let direct = Checker().check([root.path])
        XCTAssertEqual(direct.diagnostics.map(\.message), [])
        XCTAssertEqual(direct.paths.map(\.file), [root.path + "/alias.pts", root.path + "/sub/good.pts"])
        let link = outside.appendingPathComponent("root-link")
        try fm.createSymbolicLink(at: link, withDestinationURL: root)
        let linked = Checker().check([link.path])
        XCTAssertEqual(linked.diagnostics.map(\.message), [])
        XCTAssertEqual(linked.paths.map(\.file), [link.path + "/alias.pts", link.path + "/sub/good.pts"])
    }

    func testMissingInclude() {
        assertError(check(".path f entry=function\n.include \"nothere.ptsh\"\nf:\n\tret"),
                    "spec.pts:2:10", "included file 'nothere.ptsh' not found")
    }

    func testIncludeOfItself() {
        assertError(check(".include \"spec.pts\"\n.path f entry=function\nf:\n\tret"),
                    "spec.pts:1:1", "include loop: 'spec.pts' is already being included")
    }

    func testIncludeLoopBetweenTwoHeaders() {
        let report = SpecHarness.check([
            "spec.pts": "# unit\n.include \"sub/a.ptsh\"\n.path f entry=function\nf:\n\tret\n",
            "sub/a.ptsh": ".include \"b.ptsh\"\n",
            "sub/b.ptsh": "\n.include \"a.ptsh\"\n",
        ], unit: "spec.pts")
        assertError(report, "sub/b.ptsh:2:1", "include loop: 'a.ptsh' is already being included")
        XCTAssertEqual(report.diagnostics.first?.notes.map(\.location.description), ["sub/a.ptsh:1:1", "spec.pts:2:1"])
    }

    /// An include is part of every unit that includes it: a path or an expectation
    /// there would be checked by none of them, so it is an error, never dropped.
    func testPathAndExpectationInAnIncludeAreErrors() {
        let path = SpecHarness.check([
            "spec.pts": ".include \"inc/h.ptsh\"\n.path f entry=function\nf:\n\tret\n",
            "inc/h.ptsh": "g:\n\tret\n.path g entry=function\n",
        ], unit: "spec.pts")
        assertError(path, "inc/h.ptsh:3:1", ".path in an included file")
        XCTAssertEqual(path.diagnostics.first?.notes.map(\.location.description), ["spec.pts:1:1"])
        let expect = SpecHarness.check([
            "spec.pts": ".path f entry=function\n.include \"inc/h.ptsh\"\nf:\n\tmovq %rax, -16(%rsp)\n\tret\n",
            "inc/h.ptsh": ".expect frame below-rsp at \"movq %rax, -16(%rsp)\"\n",
        ], unit: "spec.pts")
        assertError(expect, "inc/h.ptsh:1:1", ".expect in an included file")
        // The same lines in the unit itself are fine.
        XCTAssertEqual(SpecHarness.check("g:\n\tret\n.path g entry=function\n").exitCode, 0)
        XCTAssertEqual(SpecHarness.check(".path f entry=function\n.expect frame below-rsp at \"movq %rax, -16(%rsp)\"\nf:\n\tmovq %rax, -16(%rsp)\n\tret\n").exitCode, 0)
    }

    func testErrorInsideAnIncludedMacroNamesTheHeaderAndTheUse() {
        let report = SpecHarness.check([
            "spec.pts": ".include \"inc/m.ptsh\"\n.path f entry=function\nf:\n\tM\n\tret\n",
            "inc/m.ptsh": ".macro M\n\tfrobq %rax\n.endm\n",
        ], unit: "spec.pts")
        assertError(report, "inc/m.ptsh:2:2", "unknown mnemonic 'frobq'")
        XCTAssertEqual(report.diagnostics.first?.notes.map(\.location.description), ["spec.pts:4:2"])
    }

    // MARK: paths

    func testPathRunningOffTheEnd() {
        let report = check(".path f entry=function\nf:\n\tnop\n\tpushq %rax")
        assertError(report, "spec.pts:4:2", "path 'f' runs off the end of the code after this instruction: it has no exit")
        XCTAssertEqual(report.diagnostics.first?.notes.map(\.location.description), ["spec.pts:1:7"])
    }

    func testUnreachableCodeAfterAnUnconditionalTransfer() {
        assertError(check(".path f entry=function\nf:\n\tret\n\tpushq %rax\n\tret"),
                    "spec.pts:4:2", "unreachable code: nothing can reach this instruction after `ret`")
    }

    func testUnreachableCodeAfterAJmpInsideAMacroNamesTheUse() {
        let report = check(".macro OUT\n\tjmp 1f\n\tnop\n1:\n.endm\n.path f entry=function\nf:\n\tOUT\n\tret")
        assertError(report, "spec.pts:3:2", "unreachable code: nothing can reach this instruction after `jmp 1f`")
        XCTAssertEqual(report.diagnostics.first?.notes.map(\.location.description), ["spec.pts:8:2"])
    }

    func testLabelAtTheEndLabelsNothing() {
        assertError(check(".path f entry=function\nf:\n\tret\nend:"), "spec.pts:4:1", "label 'end' is at the end of the code")
    }

    func testSyscallPathWithoutAKernelStack() {
        assertError(check(".path f entry=syscall\nf:\n\tsysretq"), "spec.pts:1:7", "declare '.percpu kernel_stack stack'")
    }

    func testRecursiveInternalCall() {
        assertError(check(".path f entry=function\nf:\n\tcall f\n\tret"), "spec.pts:3:2", "calls nested deeper than 16")
    }

    // MARK: constants and layouts

    func testArithmeticOverflowInADefine() {
        assertError(check("#define BIG 0x7fffffffffffffff\n#define BIGGER BIG+1\n.path f entry=function\nf:\n\tsubq $BIGGER, %rsp\n\tret"),
                    "spec.pts:2:19", "arithmetic overflow in constant expression")
    }

    func testArithmeticOverflowInAnImmediate() {
        assertError(check(".path f entry=function\nf:\n\tsubq $0x7fffffffffffffff*2, %rsp\n\tret"),
                    "spec.pts:3:26", "arithmetic overflow in constant expression")
    }

    func testDivisionByZero() {
        assertError(check("#define Z 0\n.path f entry=function\nf:\n\tsubq $8/Z, %rsp\n\tret"),
                    "spec.pts:4:9", "division by zero")
    }

    func testConstantDefinedInTermsOfItself() {
        assertError(check("#define A B+1\n#define B A\n.path f entry=function\nf:\n\tsubq $A, %rsp\n\tret"),
                    "spec.pts:2:11", "constant 'A' is defined in terms of itself")
    }

    func testFieldOffsetOutsideItsLayout() {
        assertError(check(".layout thread size=16\n.field flags, 0\n.field status, 16\n.endlayout\n.path f entry=function\nf:\n\tret"),
                    "spec.pts:3:16", "field offset 16 is outside layout thread (size 16)")
    }

    func testFieldOutsideALayout() {
        assertError(check(".field X, 8\n.path f entry=function\nf:\n\tret"), "spec.pts:1:1", ".field outside .layout")
    }

    func testLayoutNotClosed() {
        assertError(check(".layout t size=16\n.field a, 0\n.path f entry=function\nf:\n\tret"),
                    "spec.pts:1:1", ".layout t is not closed by .endlayout")
    }

    // MARK: operands

    func testPushlDoesNotExist() {
        assertError(check(".path f entry=function\nf:\n\tpushl %eax\n\tret"), "spec.pts:3:2", "pushl does not exist in 64-bit mode")
    }

    func testMixedOperandWidths() {
        assertError(check(".path f entry=function\nf:\n\tmovq %eax, %rbx\n\tret"),
                    "spec.pts:3:2", "'movq' is a 64-bit operation but has a 32-bit register operand")
    }

    func testAmbiguousOperandSize() {
        assertError(check(".path f entry=function\nf:\n\tmov $1, (%rsp)\n\tret"), "spec.pts:3:2", "operand size of 'mov' is ambiguous")
    }

    func testRetByteCountNotAMultipleOfEight() {
        assertError(check(".path f entry=function\nf:\n\tret $3"), "spec.pts:3:6", "non-negative multiple of 8")
    }

    // MARK: files

    func testEmptyFileIsAnError() {
        // Issue 5: an empty file is bad input (a unit with nothing to check).
        assertError(check(""), "spec.pts:1:1", "empty spec file: nothing to check")
    }

    func testUnitWithoutPathsIsAnError() {
        assertError(check("#define X 1\n"), "spec.pts:1:1", "no .path in this file")
    }

    func testInvalidUTF8() {
        var data = Data(".path f entry=function\nf:\n\tnop # caf".utf8)
        data.append(0xE9)
        data.append(contentsOf: Data("\n\tret\n".utf8))
        assertError(Self.checkBytes(data), "spec.pts:3:11", "spec file is not valid UTF-8 text")
    }

    func testBinaryFileWithNULBytes() {
        assertError(Self.checkBytes(Data(".path f entry=function\nf:\n\tno\0p\n\tret\n".utf8)),
                    "spec.pts:3:4", "NUL byte in spec file: this is not a text file")
    }

    func testRandomBinaryGarbage() {
        // A deterministic pseudo-random blob (an ELF header, then noise): never a crash, always exit 2.
        var bytes: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0]
        var x: UInt32 = 2463534242
        for _ in 0..<4096 { x ^= x << 13; x ^= x >> 17; x ^= x << 5; bytes.append(UInt8(truncatingIfNeeded: x)) }
        let report = Self.checkBytes(Data(bytes))
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertEqual(report.diagnostics.first?.location.file, "spec.pts")
    }

    func testFileOverTheSizeLimit() {
        let line = Data("\tnop\n".utf8)
        var data = Data(".path f entry=function\nf:\n".utf8)
        data.reserveCapacity(StatementSplitter.maximumFileBytes + 64)
        while data.count <= StatementSplitter.maximumFileBytes { data.append(line) }
        data.append(Data("\tret\n".utf8))
        let start = Date()
        assertError(Self.checkBytes(data), "spec.pts:1:1", "the limit is 4194304 bytes")
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }
}
