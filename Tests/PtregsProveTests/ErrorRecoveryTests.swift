import Foundation
import PtregsProve
import SpecElaboration
import SpecSyntax
import XCTest

/// Every error of a file in one run (issue 20): elaboration goes on at the next
/// statement, each error is reported at its own `file:line:col`, the file's paths are
/// not checked, and the exit code stays 2.
final class ErrorRecoveryTests: XCTestCase {
    /// A syntax error, an unknown directive, an unknown register, a bad macro argument
    /// and an unknown label: independent mistakes on lines 3, 5, 8, 9 and 11.
    static let fiveErrors = """
    .macro SAVE reg
    \tpushq \\reg
    \t@@@
    .endm
    .frob 1
    .path f entry=function
    f:
    \tpushq %rbq
    \tSAVE rgs=%rbx
    \tpopq %rbx
    \tjmp nowhere
    """

    func testEveryErrorOfAFileIsReported() {
        let report = SpecHarness.check(Self.fiveErrors)
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertTrue(report.paths.isEmpty, "a file with errors is not checked")
        XCTAssertEqual(report.diagnostics.map { "\($0.location)" }, ["spec.pts:3:2", "spec.pts:5:1", "spec.pts:9:7", "spec.pts:8:8", "spec.pts:11:6"],
                       report.diagnostics.map(\.description).joined(separator: "\n"))
        let messages = report.diagnostics.map(\.message)
        XCTAssertEqual(messages.count, 5)
        guard messages.count == 5 else { return }
        XCTAssertTrue(messages[0].hasPrefix("expected a label, an instruction or a directive, found '@'"), messages[0])
        XCTAssertEqual(messages[1], "unknown directive '.frob'")
        XCTAssertTrue(messages[2].hasPrefix("macro 'SAVE' has no parameter 'rgs' (did you mean 'reg'?)"), messages[2])
        XCTAssertTrue(messages[3].hasPrefix("unknown register '%rbq'"), messages[3])
        XCTAssertEqual(messages[4], "unknown label 'nowhere'")
        // Each in the compiler's form, one per line, and the summary counts them.
        let text = TextReport(colour: false).render(report)
        for d in report.diagnostics { XCTAssertTrue(text.contains("\(d.location): error: \(d.message)\n"), text) }
        XCTAssertTrue(text.contains("5 input errors"), text)
    }

    /// The same file through the command line: every error on standard output, exit 2.
    func testTheCommandLineReportsEveryError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("recovery-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "".write(to: dir.appendingPathComponent(".ptregs-root"), atomically: true, encoding: .utf8)
        try Self.fiveErrors.write(to: dir.appendingPathComponent("spec.pts"), atomically: true, encoding: .utf8)
        let run = try PtregsProveBinary.run(["spec.pts"], in: dir)
        PtregsProveBinary.assertNoCrash(run, "five errors")
        XCTAssertEqual(run.status, 2, run.stdout + run.stderr)
        let errors = run.stdout.split(separator: "\n").filter { $0.contains(": error: ") }.map { String($0.prefix { $0 != " " }) }
        XCTAssertEqual(errors, ["spec.pts:3:2:", "spec.pts:5:1:", "spec.pts:9:7:", "spec.pts:8:8:", "spec.pts:11:6:"], run.stdout)
    }

    /// A name whose definition failed is not reported again where it is used.
    func testAFailedDefinitionIsNotReportedAgainAtItsUses() {
        let spec = ".extern helper frobs=1\n.path f entry=function\nf:\n\tcall helper\n\tret\n"
        let report = SpecHarness.check(spec)
        XCTAssertEqual(report.diagnostics.map { "\($0.location)" }, ["spec.pts:1:22"], "no 'unknown label' at the call: \(report.diagnostics)")
        XCTAssertTrue(report.diagnostics.first?.message.hasPrefix("unknown .extern attribute 'frobs'") ?? false, "\(report.diagnostics)")
    }

    /// Other files' paths are still checked: only the file with errors is not.
    func testOnlyTheFileWithErrorsIsLeftUnchecked() {
        let report = SpecHarness.check(["bad.pts": ".path f entry=function\nf:\n\tfrobq %rax\n\tnop\n\tfrobq %rbx\n\tret\n",
                                        "good.pts": ".path g entry=function\ng:\n\tret\n"], unit: ".")
        XCTAssertEqual(report.diagnostics.map { "\($0.location)" }, ["./bad.pts:3:2", "./bad.pts:5:2"])
        XCTAssertEqual(report.paths.map(\.name), ["g"])
        XCTAssertEqual(report.exitCode, 2)
    }

    /// A file of many errors: the first 50, then how many more.
    func testErrorsAreCapped() {
        var spec = ".path f entry=function\nf:\n"
        for k in 0..<60 { spec += "\tfrob\(k) %rax\n" }
        spec += "\tret\n"
        let report = SpecHarness.check(spec)
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertEqual(report.diagnostics.count, Elaborator.maximumReportedErrors + 1)
        XCTAssertEqual(report.diagnostics.first?.location.description, "spec.pts:3:2")
        XCTAssertEqual(report.diagnostics.dropLast().last?.location.description, "spec.pts:52:2")
        XCTAssertEqual(report.diagnostics.last?.message, "… and 10 more errors in spec.pts (only the first 50 are reported)")
    }

    /// Many failed definitions, each used: every later error is looked up against
    /// them, not searched for, so the run stays linear (hostile input must not hang CI).
    func testManyFailedDefinitionsStayFast() {
        let n = 20_000
        var spec = ""
        for k in 0..<n { spec += ".extern x\(k) frobs=1\n" }
        spec += ".path f entry=function\nf:\n"
        for k in 0..<n { spec += "\tcall x\(k)\n" }
        spec += "\tret\n"
        let start = Date()
        let report = SpecHarness.check(spec)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
        XCTAssertEqual(report.diagnostics.count, Elaborator.maximumReportedErrors + 1)
        XCTAssertEqual(report.diagnostics.last?.message, "… and \(n - Elaborator.maximumReportedErrors) more errors in spec.pts (only the first 50 are reported)",
                       "the calls to the failed externs are not counted")
    }

    /// A bound (nesting, expansion) stops elaboration at once: the statements after it
    /// would only hit it again.
    func testABoundStopsAtItsFirstError() {
        var spec = ""
        for _ in 0..<70 { spec += ".if 1\n" }
        for _ in 0..<70 { spec += ".endif\n" }
        let report = SpecHarness.check(spec + ".path f entry=function\nf:\n\tret\n")
        XCTAssertEqual(report.diagnostics.map(\.message), [".if nested more than 64 deep"])
    }
}
