import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// Issue 14 item 6: cpp's conditionals are evaluated (over the spec's constants and
/// `-D`), never read as comments; and no input line is silently ignored.
final class FrontEndConditionalTests: XCTestCase {
    /// The repro: with CONFIG_A defined only the first branch is code.
    static let configA = """
    #define CONFIG_A 1
    .path f entry=function
    f:
    \tpushq %rbx
    #ifdef CONFIG_A
    \tmovq $0, (%rsp)
    #else
    \tmovq %rbx, (%rsp)
    #endif
    \tpopq %rbx
    \tret
    """

    func testIfdefTakesOnlyItsBranch() {
        let report = SpecHarness.check(Self.configA)
        SpecHarness.assertViolated(report, path: "f", .restoreMatchesSave, blamedLine: 10)
        // Without the constant, only the #else branch: the save is restored.
        FrontEnd.assertProves(SpecHarness.check(Self.configA.replacingOccurrences(of: "#define CONFIG_A 1", with: "# CONFIG_A is not set")))
    }

    /// Sibling: #ifndef, #if with defined, #elif, nesting, and conditionals in a .ptsh.
    func testIfElifNestingAndIncludes() {
        let header = """
        #ifndef DEPTH
        #define DEPTH 2
        #endif
        #if DEPTH == 1
        .macro SAVE
        \tpushq %rbx
        .endm
        #elif DEPTH == 2 && !defined(NO_SAVE)
        .macro SAVE
        \tpushq %rbx
        #ifdef EXTRA
        \tpushq %rbx
        #endif
        .endm
        #else
        #error DEPTH must be 1 or 2
        #endif
        """
        let unit = """
        .include "save.ptsh"
        .path f entry=function
        f:
        \tSAVE
        \tpopq %rbx
        \tret
        """
        FrontEnd.assertProves(SpecHarness.check(["save.ptsh": header, "spec.pts": unit], unit: "spec.pts"))
        let three = header.replacingOccurrences(of: "#define DEPTH 2", with: "#define DEPTH 3")
        FrontEnd.assertError(SpecHarness.check(["save.ptsh": three, "spec.pts": unit], unit: "spec.pts"),
                             "save.ptsh:16:1", "#error DEPTH must be 1 or 2")
        // EXTRA (a name without a value is enough) leaves a second push on the stack.
        let extra = "#define EXTRA\n" + unit
        let report = SpecHarness.check(["save.ptsh": header, "spec.pts": extra], unit: "spec.pts")
        SpecHarness.assertViolated(report, path: "f", .frameBalance, blamedLine: 7)
        // Such a name can be tested, not used.
        FrontEnd.assertError(SpecHarness.check("#define GUARD\n.path f entry=function\nf:\n\tsubq $GUARD, %rsp\n\tret\n"), "spec.pts:4:8",
                             "'GUARD' is #defined without a value (at spec.pts:1:9): #ifdef, #ifndef and defined() can test it, nothing can use it")
        // An include guard: the second include of the file adds nothing.
        let guarded = "#ifndef SAVE_PTSH\n#define SAVE_PTSH\n" + header + "\n#endif\n"
        FrontEnd.assertProves(SpecHarness.check(["save.ptsh": guarded, "spec.pts": ".include \"save.ptsh\"\n" + unit], unit: "spec.pts"))
    }

    /// Unterminated and unmatched conditionals, and the other malformed forms.
    func testMalformedConditionalsAreErrors() {
        func check(_ body: String) -> CheckReport { SpecHarness.check(".path f entry=function\nf:\n" + body + "\tret\n") }
        FrontEnd.assertError(check("#if 1\n\tnop\n"), "spec.pts:3:1", "#if without #endif")
        FrontEnd.assertError(check("#ifdef X\n"), "spec.pts:3:1", "#ifdef without #endif")
        FrontEnd.assertError(check("#endif\n"), "spec.pts:3:1", "#endif without #if")
        FrontEnd.assertError(check("#else\n"), "spec.pts:3:1", "#else without #if")
        FrontEnd.assertError(check("#elif 1\n"), "spec.pts:3:1", "#elif without #if")
        FrontEnd.assertError(check("#if 1\n#else\n#else\n#endif\n"), "spec.pts:5:1", "second #else for the #if at spec.pts:3:1")
        FrontEnd.assertError(check("#if 1\n#else\n#elif 1\n#endif\n"), "spec.pts:5:1", "#elif after #else (the #if is at spec.pts:3:1)")
        FrontEnd.assertError(check("#if 1\n#endif CONFIG_X\n"), "spec.pts:4:8", "unexpected 'CONFIG_X' after #endif")
        FrontEnd.assertError(check("#ifdef A B\n#endif\n"), "spec.pts:3:10", "unexpected text after the name of #ifdef")
        FrontEnd.assertError(check("#if\n#endif\n"), "spec.pts:3:1", "#if needs an expression")
        FrontEnd.assertError(check("#if defined(\n#endif\n"), "spec.pts:3:5", "defined needs a name: defined(NAME) or defined NAME")
        FrontEnd.assertError(check("#if CONFIG_X\n#endif\n"), "spec.pts:3:5",
                             "'CONFIG_X' is not defined (cpp would read it as 0): test it with defined(CONFIG_X) or #ifdef, or define it (#define, or -D on the command line)")
        FrontEnd.assertError(check("#pragma once\n"), "spec.pts:3:1",
                             "unknown preprocessor directive '#pragma' (the spec language has #define, #include, #if, #ifdef, #ifndef, #elif, #else, #endif and #error; a comment is '# text', with a blank after '#')")
        // Each file closes its own: the include's #ifdef is open, and the unit's #endif
        // closes nothing of the unit's (two errors, both reported).
        let split = SpecHarness.check(["h.ptsh": "#ifdef X\n", "spec.pts": ".include \"h.ptsh\"\n#endif\n.path f entry=function\nf:\n\tret\n"], unit: "spec.pts")
        XCTAssertEqual(split.exitCode, 2)
        XCTAssertEqual(split.diagnostics.map { "\($0.location): \($0.message)" }, ["h.ptsh:1:1: #ifdef without #endif", "spec.pts:2:1: #endif without #if"])
        // A false branch is not read: not even its unknown directives or names.
        FrontEnd.assertProves(check("#if 0\n#pragma once\n.bogus\n#if UNDEFINED\n#endif\n#else\n\tnop\n#endif\n"))
    }

    /// `-D NAME[=VALUE]` on the command line.
    func testCommandLineDefines() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-D-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = Self.configA.replacingOccurrences(of: "#define CONFIG_A 1", with: "# CONFIG_A from the command line")
        try spec.write(to: dir.appendingPathComponent("spec.pts"), atomically: true, encoding: .utf8)
        func run(_ args: [String]) throws -> PtregsProveBinary.Run {
            let r = try PtregsProveBinary.run(args, in: dir)
            PtregsProveBinary.assertNoCrash(r, args.joined(separator: " "))
            return r
        }
        XCTAssertEqual(try run(["spec.pts"]).status, 0)
        for d in [["-D", "CONFIG_A"], ["-DCONFIG_A"], ["-D", "CONFIG_A=0"], ["-DCONFIG_A=1"]] {
            let r = try run(["spec.pts"] + d)
            XCTAssertEqual(r.status, 1, "\(d): #ifdef CONFIG_A takes the first branch")
            XCTAssertTrue(r.stdout.contains("spec.pts:10:2: error: f: restore matches save violated"), r.stdout)
        }
        // A value, used by #if and by the code.
        let valued = """
        #if FRAME > 16
        #error FRAME too large
        #endif
        .path f entry=function
        f:
        \tsubq $FRAME, %rsp
        \taddq $FRAME, %rsp
        \tret
        """
        try valued.write(to: dir.appendingPathComponent("valued.pts"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try run(["valued.pts", "-D", "FRAME=2*8"]).status, 0)
        let big = try run(["valued.pts", "-D", "FRAME=32"])
        XCTAssertEqual(big.status, 2)
        XCTAssertTrue(big.stdout.hasPrefix("valued.pts:2:1: error: #error FRAME too large\n"), big.stdout)
        // Bad -D: usage errors, exit 2.
        for (args, message) in [(["-D", "1x"], "Error: -D 1x: expected NAME or NAME=VALUE, NAME an identifier"),
                                (["-D", "X=1+"], "Error: -D X=1+: expected an expression (column 5)"),
                                (["-D", "RCX=8"], "Error: -D RCX=8: RCX is a pt_regs offset the tool defines"),
                                (["-D", "X", "-DX=2"], "Error: -D X is given twice")] {
            let r = try run(["spec.pts"] + args)
            XCTAssertEqual(r.status, 2, "\(args)")
            XCTAssertTrue(r.stderr.hasPrefix(message), "\(args): \(r.stderr)")
        }
        // A #define of a name -D gives says how to make it a default.
        try ("#define FRAME 8\n" + valued).write(to: dir.appendingPathComponent("both.pts"), atomically: true, encoding: .utf8)
        let both = try run(["both.pts", "-D", "FRAME=16"])
        XCTAssertEqual(both.status, 2)
        XCTAssertTrue(both.stdout.hasPrefix("both.pts:1:9: error: 'FRAME' is also defined on the command line (-D FRAME): to make this its default, write '#ifndef FRAME' before and '#endif' after\n"), both.stdout)
    }

    /// Lines that used to be dropped without a word.
    func testNoLineIsSilentlyIgnored() {
        func check(_ body: String) -> CheckReport { SpecHarness.check(".path f entry=function\nf:\n" + body + "\tret\n") }
        // `#word` was a comment unless it was #define, #include or #undef.
        FrontEnd.assertError(check("#undef X\n"), "spec.pts:3:1",
                             "unknown preprocessor directive '#undef' (the spec language has #define, #include, #if, #ifdef, #ifndef, #elif, #else, #endif and #error; a comment is '# text', with a blank after '#')")
        FrontEnd.assertProves(check("# if this were a directive it would need a word right after '#'\n\tnop\n"))
        // Text after directives that take none.
        FrontEnd.assertError(check(".if 1\n.else junk\n.endif\n"), "spec.pts:4:7", "unexpected 'junk' after .else")
        FrontEnd.assertError(check(".if 1\n.endif junk\n"), "spec.pts:4:8", "unexpected 'junk' after .endif")
        FrontEnd.assertError(SpecHarness.check(".macro M\n\tnop\n.endm junk\n.path f entry=function\nf:\n\tret\n"), "spec.pts:3:7", "unexpected 'junk' after .endm")
        FrontEnd.assertError(SpecHarness.check(".layout L size=8\n.endlayout L\n.path f entry=function\nf:\n\tret\n"), "spec.pts:2:12", "unexpected 'L' after .endlayout")
        FrontEnd.assertError(check("\tjmp 1f\n.dead because\n\tnop\n1:\n"), "spec.pts:4:7", "unexpected 'because' after .dead")
        FrontEnd.assertError(SpecHarness.check(["h.ptsh": "\n", "spec.pts": ".include \"h.ptsh\" extra\n.path f entry=function\nf:\n\tret\n"], unit: "spec.pts"),
                             "spec.pts:1:19", "unexpected text after the file name of .include")
        // A .path or .expect in an include-only file would never be checked.
        FrontEnd.assertError(SpecHarness.check(["h.ptsh": ".path g entry=function\n", "spec.pts": ".include \"h.ptsh\"\n.path f entry=function\nf:\n\tret\n"], unit: "spec.pts"),
                             "h.ptsh:1:1", ".path in an included file: paths are declared in a unit (.pts); an include shares code, macros and declarations")
        FrontEnd.assertError(SpecHarness.check(["h.ptsh": ".expect frame rsp at ret\n", "spec.pts": ".path f entry=function\n.include \"h.ptsh\"\nf:\n\tret\n"], unit: "spec.pts"),
                             "h.ptsh:1:1", ".expect in an included file: it belongs after its .path in the unit (.pts)")
        FrontEnd.assertError(SpecHarness.check(".layout L size=8\n.field 1+1, 0\n.endlayout\n.path f entry=function\nf:\n\tret\n"), "spec.pts:2:8", "malformed field name '1+1'")
    }
}
