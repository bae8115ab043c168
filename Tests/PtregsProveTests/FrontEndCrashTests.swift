import Foundation
import SpecElaboration
import XCTest

/// Issue 14 item 10: hostile input the CLI used to die on (an overflow trap, a stack
/// overflow) is bad input: exit 2 and a `file:line:col` message. The inputs are made
/// here, not committed, and run through the built binary as a user would.
final class FrontEndCrashTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        _ = try PtregsProveBinary.require()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-crash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    /// Writes `files` and runs the CLI on `args` (default: `spec.pts`); asserts it did not
    /// crash, exited 2, and that its output starts with `first` (the first diagnostic).
    func assertBadInput(_ files: [String: String], _ first: String, args: [String] = ["spec.pts"],
                        file: StaticString = #filePath, line: UInt = #line) throws {
        for (name, text) in files {
            try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let r = try PtregsProveBinary.run(args, in: dir)
        PtregsProveBinary.assertNoCrash(r, args.joined(separator: " "), file: file, line: line)
        XCTAssertEqual(r.status, 2, String(r.stdout.prefix(500)) + String(r.stderr.prefix(500)), file: file, line: line)
        XCTAssertTrue(r.stdout.hasPrefix(first), "output starts: \(r.stdout.prefix(400))", file: file, line: line)
    }

    func testHugeFieldOffsetIsAnErrorNotATrap() throws {
        try assertBadInput(["spec.pts": ".layout L size=8\n.field F, 0x7ffffffffffffff8\n.endlayout\n.path f entry=function\nf:\n\tret\n"],
                           "spec.pts:2:11: error: field offset 9223372036854775800 is outside layout L (size 8) or not 8-byte aligned\n")
    }

    /// Siblings: a negative size, and attributes `.layout` does not have.
    func testLayoutSizeAndAttributesAreChecked() throws {
        try assertBadInput(["spec.pts": ".layout L size=-8\n.endlayout\n.path f entry=function\nf:\n\tret\n"],
                           "spec.pts:1:16: error: layout size -8 is negative\n")
        try assertBadInput(["spec.pts": ".layout L size=16 align=8\n.endlayout\n.path f entry=function\nf:\n\tret\n"],
                           "spec.pts:1:25: error: unknown .layout attribute 'align' (expected size=)\n")
    }

    func testThirtyThousandNestedParenthesesAreAnError() throws {
        let n = 30_000
        let spec = ".path f entry=function\nf:\n.if " + String(repeating: "(", count: n) + "1" + String(repeating: ")", count: n) + "\n\tnop\n.endif\n\tret\n"
        try assertBadInput(["spec.pts": spec], "spec.pts:3:261: error: expression nested more than 256 deep\n")
    }

    /// Siblings: a long unary chain in an operand, and a 70,000-term `#define`.
    func testLongOperatorChainsAreAnError() throws {
        try assertBadInput(["spec.pts": ".path f entry=function\nf:\n\tsubq $" + String(repeating: "~", count: 20_000) + "8, %rsp\n\tret\n"],
                           "spec.pts:3:264: error: expression nested more than 256 deep\n")
        let sum = Array(repeating: "1", count: 70_000).joined(separator: "+")
        try assertBadInput(["spec.pts": "#define X " + sum + "\n.path f entry=function\nf:\n\tsubq $X, %rsp\n\tret\n"],
                           "spec.pts:1:522: error: expression nested more than 256 operators deep\n")
    }

    /// A chain of constants, each defined by the one before, is reported where it is used.
    func testLongChainOfConstantsIsAnError() throws {
        var spec = "#define A0 8\n"
        for i in 1..<5_000 { spec += "#define A\(i) A\(i - 1)\n" }
        spec += ".path f entry=function\nf:\n\tsubq $A4999, %rsp\n\taddq $8, %rsp\n\tret\n"
        try assertBadInput(["spec.pts": spec],
                           "spec.pts:5003:8: error: constant expression nested more than 1024 deep (counting the constants it refers to)\nspec.pts:3977:15: note: too deep here\n")
    }

    /// Deep `.if` blocks and macro expansions stop at their bounds.
    func testDeepConditionalsAndMacrosAreAnError() throws {
        let ifs = ".path f entry=function\nf:\n" + String(repeating: ".if 1\n", count: 100) + "\tnop\n" + String(repeating: ".endif\n", count: 100) + "\tret\n"
        try assertBadInput(["spec.pts": ifs], "spec.pts:67:1: error: .if nested more than 64 deep\n")
        var macros = ""
        for i in 0..<100 { macros += ".macro M\(i)\n\tM\(i + 1)\n.endm\n" }
        macros += ".macro M100\n\tnop\n.endm\n.path f entry=function\nf:\n\tM0\n\tret\n"
        try assertBadInput(["spec.pts": macros], "spec.pts:191:2: error: macros nested more than 64 deep\n")
    }

    func testDeepIncludesAreAnError() throws {
        var files: [String: String] = ["spec.pts": ".include \"i0.ptsh\"\n.path f entry=function\nf:\n\tret\n"]
        for i in 0..<40 { files["i\(i).ptsh"] = ".include \"i\(i + 1).ptsh\"\n" }
        files["i40.ptsh"] = "\n"
        try assertBadInput(files, "i30.ptsh:1:1: error: includes nested more than 32 deep\n")
    }

    /// Input just inside every bound proves, also on worker threads (two units at once).
    func testInputAtTheBoundsProves() throws {
        var spec = "#define A0 8\n"
        for i in 1..<1_000 { spec += "#define A\(i) A\(i - 1)\n" }
        spec += "#define S " + Array(repeating: "1", count: 256).joined(separator: "+") + "\n"
        for i in 0..<62 { spec += ".macro M\(i)\n\tM\(i + 1)\n.endm\n" }
        spec += ".macro M62\n\tnop\n.endm\n"
        spec += ".path f entry=function\nf:\n\tmovq $A999, %rax\n\tmovq $S, %rax\n"
        spec += ".if " + String(repeating: "(", count: 255) + "1" + String(repeating: ")", count: 255) + "\n\tnop\n.endif\n"
        spec += "\tmovq $" + String(repeating: "-", count: 255) + "8, %rax\n\tM0\n"
        spec += String(repeating: ".if 1\n", count: 63) + "\tnop\n" + String(repeating: ".endif\n", count: 63) + "\tret\n"
        let units = dir.appendingPathComponent("units")
        try FileManager.default.createDirectory(at: units, withIntermediateDirectories: true)
        for name in ["a.pts", "b.pts"] { try spec.write(to: units.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        let r = try PtregsProveBinary.run(["units", "--jobs", "2"], in: dir)
        PtregsProveBinary.assertNoCrash(r, "units at the bounds")
        XCTAssertEqual(r.status, 0, String(r.stdout.suffix(500)) + String(r.stderr.prefix(500)))
        XCTAssertTrue(r.stdout.contains("2 paths in 2 files: \(2 * Invariant.allCases.count) proved"), String(r.stdout.suffix(300)))
    }
}
