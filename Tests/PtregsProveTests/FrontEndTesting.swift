import Foundation
import PtregsProve
import SpecSyntax
import XCTest

/// Shared by the front-end tests (issue 14 items 3–6 and 10): a spec in, the exact first
/// diagnostic (`file:line:col` and message) and exit code 2 out.
enum FrontEnd {
    /// Asserts the report is bad input whose first diagnostic is at `location` and says
    /// exactly `message` (the whole text, so a changed word fails).
    static func assertError(_ report: CheckReport, _ location: String, _ message: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(report.exitCode, 2, "diagnostics: \(report.diagnostics)", file: file, line: line)
        XCTAssertTrue(report.paths.isEmpty, "a unit with an error must not be proved", file: file, line: line)
        guard let d = report.diagnostics.first else {
            XCTFail("no diagnostic; paths: \(report.paths.map(\.name))", file: file, line: line)
            return
        }
        XCTAssertEqual(d.severity, .error, file: file, line: line)
        XCTAssertEqual(d.location.description, location, "message: \(d.message)", file: file, line: line)
        XCTAssertEqual(d.message, message, file: file, line: line)
    }

    /// Asserts the unit elaborates and every path proves every invariant.
    static func assertProves(_ report: CheckReport, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(report.diagnostics, [], file: file, line: line)
        XCTAssertFalse(report.paths.isEmpty, "no path was checked", file: file, line: line)
        for p in report.paths {
            for r in p.results {
                guard case .proved = r.verdict else {
                    XCTFail("\(p.name) \(r.invariant.rawValue): \(SpecHarness.describe(r.verdict))", file: file, line: line)
                    continue
                }
            }
        }
    }

    /// `.path f entry=function` / `f:` around `body` (lines 1 and 2; the body starts on line 3).
    static func function(_ body: String, prelude: String = "") -> String {
        prelude + ".path f entry=function\nf:\n" + body
    }
}
