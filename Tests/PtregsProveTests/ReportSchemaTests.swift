import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// `--format junit` validated against the common JUnit schema by `xmllint --schema`, and
/// `--format sarif` against the SARIF 2.1.0 JSON schema by python3's `jsonschema`, for
/// every kind of result: a proof, an unexpected and an expected violation, a stale
/// expectation, an unknown verdict and bad input (issue 20).
final class ReportSchemaTests: XCTestCase {
    static let schemas = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/schemas")

    /// A violation, a proof, an expected violation and a stale expectation.
    static let mixed = """
    .extern preempt_schedule
    .path leaky entry=function
    leaky:
        subq $16, %rsp
        movq %rbx, 8(%rsp)
        call preempt_schedule
        movq (%rsp), %rbx
        addq $16, %rsp
        ret
    .path tidy entry=function
    tidy:
        pushq %rbx
        call preempt_schedule
        popq %rbx
        ret
    .path stale entry=function
    .expect frame rsp at ret
    stale:
        ret
    .path known entry=function
    .expect restore rbx at ret
    known:
        movq $1, %rbx
        ret
    """

    /// `~(~(rbx + rax) + rax)` with no solver work allowed: unknown (SolverLimitTests).
    static func unknownReport() -> CheckReport {
        var limited = ProverOptions()
        limited.resourceLimit = 1
        var checker = Checker(options: limited)
        checker.jobs = 1
        return checker.check(source: ".path f entry=function\nf:\n\taddq %rax, %rbx\n\tnotq %rbx\n\taddq %rax, %rbx\n\tnotq %rbx\n\tret\n", name: "neg.pts")
    }

    /// One mechanism at two exits: declared for one site (the second is unexpected), and
    /// for three (stale: seen at two).
    static let sites = """
    .path over entry=function
    .expect restore rbx at ret
    over:
        cmpq $1, %rdi
        je 1f
        movq $0, %rbx
        ret
    1:  movq $5, %rbx
        ret
    .path under entry=function
    .expect restore rbx at ret sites=3
    under:
        cmpq $1, %rdi
        je 1f
        movq $0, %rbx
        ret
    1:  movq $5, %rbx
        ret
    """

    static func reports() -> [(String, CheckReport)] {
        [("mixed", SpecHarness.check(mixed)),
         ("sites", SpecHarness.check(sites)),
         ("unknown", unknownReport()),
         ("bad input", SpecHarness.check(".path f entry=function\nf:\n\tfrobq %rax\n\tret"))]
    }

    static func tool(_ candidates: [String]) -> String? {
        candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `executable arguments`, with `input` written to a temporary file named last.
    static func run(_ executable: String, _ arguments: [String], input: String, suffix: String) throws -> (status: Int32, output: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString).\(suffix)")
        try input.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments + [file.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testTheReportsCoverEveryKindOfResult() {
        let all = Self.reports()
        let mixed = all[0].1
        let statuses = Set(mixed.paths.flatMap(\.results).map { "\($0.status)" })
        XCTAssertTrue(statuses.isSuperset(of: ["fail", "stale", "pass"]), "\(statuses)")
        XCTAssertTrue(mixed.paths.flatMap(\.results).contains { $0.violations.contains { $0.acceptedBy != nil } }, "an expected violation")
        let sited = all[1].1.paths.flatMap(\.results)
        XCTAssertTrue(sited.contains { $0.unexpected.contains { $0.exceedsSitesOf != nil } }, "a site past the declared count")
        XCTAssertTrue(sited.contains { r in r.staleExpectations.contains { !r.sites(of: $0).isEmpty } }, "a declaration seen at fewer sites than it states")
        XCTAssertEqual(all[2].1.exitCode, 3, "unknown")
        XCTAssertEqual(all[3].1.exitCode, 2, "bad input")
    }

    // MARK: JUnit

    func testJUnitValidatesAgainstTheJUnitSchema() throws {
        guard let xmllint = Self.tool(["/usr/bin/xmllint", "/usr/local/bin/xmllint"]) else {
            throw XCTSkip("xmllint is not installed (Debian's libxml2-utils; .ci/run installs it, so CI never skips this)")
        }
        let xsd = Self.schemas.appendingPathComponent("junit.xsd").path
        XCTAssertTrue(FileManager.default.fileExists(atPath: xsd), xsd)
        for (what, report) in Self.reports() {
            let xml = JUnitReport.render(report)
            let r = try Self.run(xmllint, ["--noout", "--schema", xsd], input: xml, suffix: "xml")
            XCTAssertEqual(r.status, 0, "\(what): \(r.output)\n\(xml)")
            XCTAssertTrue(r.output.contains("validates"), "\(what): \(r.output)")
        }
    }

    /// The schema is not a formality: an extension attribute fails it.
    func testTheJUnitSchemaRejectsExtensionAttributes() throws {
        guard let xmllint = Self.tool(["/usr/bin/xmllint", "/usr/local/bin/xmllint"]) else {
            throw XCTSkip("xmllint is not installed (Debian's libxml2-utils; .ci/run installs it, so CI never skips this)")
        }
        let xsd = Self.schemas.appendingPathComponent("junit.xsd").path
        let bad = """
        <?xml version="1.0" encoding="UTF-8"?>
        <testsuites name="x" tests="1" failures="0" errors="0" skipped="0">
          <testsuite name="s" tests="1"><testcase name="c" file="spec.pts" line="2"/></testsuite>
        </testsuites>
        """
        let r = try Self.run(xmllint, ["--noout", "--schema", xsd], input: bad, suffix: "xml")
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("skipped") && r.output.contains("file"), r.output)
    }

    /// An unknown verdict fails the job (exit 3): it is an error, never a skipped or
    /// passing test, and the counts say so.
    func testJUnitUnknownIsAnError() throws {
        let xml = JUnitReport.render(Self.unknownReport())
        XCTAssertTrue(xml.contains("<error type=\"unknown\" message=\"neg.pts:1:7: f: restore matches save: unknown: "), xml)
        XCTAssertFalse(xml.contains("<skipped"), xml)
        XCTAssertTrue(xml.contains("<testsuites name=\"ptregs-prove\" tests=\"\(Invariant.allCases.count)\" failures=\"0\" errors=\"1\">"), xml)
        for attribute in [" file=\"", " line=\"", " skipped=\""] { XCTAssertFalse(xml.contains(attribute), attribute) }
    }

    // MARK: SARIF

    /// python3 with `jsonschema` importable: Debian's python3-jsonschema (what .ci/run
    /// installs) or PyPI's.
    static func pythonWithJSONSchema() throws -> String? {
        for python in ["/usr/bin/python3", "/usr/local/bin/python3"] + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map({ "\($0)/python3" })
        where FileManager.default.isExecutableFile(atPath: python) {
            if try run(python, ["-c", "import jsonschema, sys; sys.exit(0)"], input: "", suffix: "txt").status == 0 { return python }
        }
        return nil
    }

    static let validator = """
    import json, sys, jsonschema
    schema = json.load(open(sys.argv[1]))
    doc = json.load(open(sys.argv[2]))
    errors = sorted(jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).iter_errors(doc), key=str)
    for e in errors:
        print("/".join(map(str, e.absolute_path)) + ": " + e.message)
    print("%d errors" % len(errors))
    sys.exit(1 if errors else 0)
    """

    func testSARIFValidatesAgainstTheSARIF210Schema() throws {
        guard let python = try Self.pythonWithJSONSchema() else {
            throw XCTSkip("python3 with jsonschema is not installed (Debian's python3-jsonschema; .ci/run installs it)")
        }
        let schema = Self.schemas.appendingPathComponent("sarif-schema-2.1.0.json").path
        XCTAssertTrue(FileManager.default.fileExists(atPath: schema), schema)
        for (what, report) in Self.reports() {
            let sarif = SARIFReport.render(report)
            let r = try Self.run(python, ["-c", Self.validator, schema], input: sarif, suffix: "sarif")
            XCTAssertEqual(r.status, 0, "\(what): \(r.output)")
            XCTAssertTrue(r.output.hasSuffix("0 errors\n"), "\(what): \(r.output)")
        }
        // The validator does find errors: a result with no message fails it.
        let broken = SARIFReport.render(Self.reports()[0].1).replacingOccurrences(of: "\"message\" : {", with: "\"mesage\" : {")
        let r = try Self.run(python, ["-c", Self.validator, schema], input: broken, suffix: "sarif")
        XCTAssertNotEqual(r.status, 0, r.output)
    }

    static func driver(_ sarif: String) throws -> [String: Any] {
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(sarif.utf8)) as? [String: Any])
        let runs = try XCTUnwrap(doc["runs"] as? [[String: Any]])
        return try XCTUnwrap((runs.first?["tool"] as? [String: Any])?["driver"] as? [String: Any])
    }

    static func results(_ sarif: String) throws -> [[String: Any]] {
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(sarif.utf8)) as? [String: Any])
        let runs = try XCTUnwrap(doc["runs"] as? [[String: Any]])
        return try XCTUnwrap(runs.first?["results"] as? [[String: Any]])
    }

    /// Help for a kernel reviewer: no pointer into this repository's sources, every rule
    /// (bad input and an out-of-date spec too) says what it checks and how to fix it.
    func testSARIFRulesHaveHelpForAKernelReviewer() throws {
        let driver = try Self.driver(SARIFReport.render(Self.reports()[0].1))
        XCTAssertNil(driver["informationUri"], "no made-up address")
        let rules = try XCTUnwrap(driver["rules"] as? [[String: Any]])
        XCTAssertEqual(Set(rules.compactMap { $0["id"] as? String }), Set(Invariant.allCases.map(\.rawValue) + ["bad-input", "spec-out-of-date"]))
        for rule in rules {
            let id = rule["id"] as? String ?? "?"
            let help = try XCTUnwrap(rule["help"] as? [String: Any], id)
            let text = try XCTUnwrap(help["text"] as? String, id)
            let markdown = try XCTUnwrap(help["markdown"] as? String, id)
            // Nothing that points into this repository: the reader is in a kernel tree.
            for inRepository in ["Sources/", "docs/", "Tests/"] {
                XCTAssertFalse(text.contains(inRepository) || markdown.contains(inRepository), "\(id): \(text)")
            }
            XCTAssertTrue(text.contains("\nFix: "), "\(id): \(text)")
            XCTAssertGreaterThan(text.count, 200, id)
            if Invariant(rawValue: id) != nil {
                XCTAssertTrue(text.contains("\nExample: "), "\(id): \(text)")
                XCTAssertTrue(text.contains(".expect \(id) "), "\(id): how to declare a known violation: \(text)")
            }
        }
    }

    /// partialFingerprints name a result across runs: the same when the code moves down
    /// a few lines, different for different results.
    func testSARIFFingerprintsAreStableAcrossLineMoves() throws {
        func fingerprints(_ text: String) throws -> [String] {
            try Self.results(SARIFReport.render(SpecHarness.check(text))).map { res in
                let fp = try XCTUnwrap(res["partialFingerprints"] as? [String: String])
                return try XCTUnwrap(fp["ptregsProve/v1"])
            }
        }
        let before = try fingerprints(Self.mixed)
        let after = try fingerprints("# a comment\n\n#define UNUSED 1\n" + Self.mixed)
        XCTAssertEqual(before.count, 3, "the unexpected violation, the stale expectation, the expected violation")
        XCTAssertEqual(before, after)
        XCTAssertEqual(Set(before).count, before.count, "each result its own fingerprint")
        for f in before { XCTAssertEqual(f.count, 16) }
        let bad = try fingerprints(".path f entry=function\nf:\n\tfrobq %rax\n\tret")
        XCTAssertEqual(bad.count, 1)
    }
}
