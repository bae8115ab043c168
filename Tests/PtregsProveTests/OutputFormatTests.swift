import Foundation
import PtregsProve
import SnapshotTesting
import SpecElaboration
import XCTest

/// Golden outputs for a violating and a proving spec in every format, the SARIF rules
/// that matter, determinism across job counts, and SMT-LIB2 re-checked by `z3`.
final class OutputFormatTests: XCTestCase {
    static let violating = """
    .extern preempt_schedule
    .path leaky entry=function
    leaky:
        subq $16, %rsp
        movq %rbx, 8(%rsp)
        call preempt_schedule
        movq (%rsp), %rbx
        addq $16, %rsp
        ret
    """

    static let proving = """
    .extern preempt_schedule
    .path tidy entry=function
    tidy:
        pushq %rbx
        call preempt_schedule
        popq %rbx
        ret
    """

    func report(_ text: String) -> CheckReport { SpecHarness.check(text) }

    func testTextGolden() {
        assertSnapshot(of: TextReport(colour: false).render(report(Self.violating)), as: .lines, named: "violating")
        assertSnapshot(of: TextReport(colour: false).render(report(Self.proving)), as: .lines, named: "proving")
    }

    func testJSONGolden() {
        assertSnapshot(of: JSONReport.render(report(Self.violating)), as: .lines, named: "violating")
        assertSnapshot(of: JSONReport.render(report(Self.proving)), as: .lines, named: "proving")
    }

    func testSARIFGolden() {
        assertSnapshot(of: SARIFReport.render(report(Self.violating)), as: .lines, named: "violating")
        assertSnapshot(of: SARIFReport.render(report(Self.proving)), as: .lines, named: "proving")
    }

    func testJUnitGolden() {
        assertSnapshot(of: JUnitReport.render(report(Self.violating)), as: .lines, named: "violating")
        assertSnapshot(of: JUnitReport.render(report(Self.proving)), as: .lines, named: "proving")
    }

    /// SARIF 2.1.0's required properties and the parts code-scanning UIs rely on.
    func testSARIFFollowsTheSchemaRulesThatMatter() throws {
        let text = SARIFReport.render(report(Self.violating + "\n" + """
        .path stale entry=function
        .expect frame rsp at ret
        stale:
            ret
        """))
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(doc["version"] as? String, "2.1.0")
        XCTAssertNotNil(doc["$schema"] as? String)
        let runs = try XCTUnwrap(doc["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 1)
        let driver = try XCTUnwrap((runs[0]["tool"] as? [String: Any])?["driver"] as? [String: Any])
        XCTAssertEqual(driver["name"] as? String, "ptregs-prove")
        let rules = try XCTUnwrap(driver["rules"] as? [[String: Any]])
        let ruleIDs = rules.compactMap { $0["id"] as? String }
        XCTAssertEqual(Set(ruleIDs), Set(Invariant.allCases.map(\.rawValue) + ["bad-input", "spec-out-of-date"]))
        for r in rules { XCTAssertNotNil((r["shortDescription"] as? [String: Any])?["text"] as? String) }
        let results = try XCTUnwrap(runs[0]["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 2, "one violation, one stale expectation")
        for res in results {
            let id = try XCTUnwrap(res["ruleId"] as? String)
            XCTAssertEqual(res["ruleIndex"] as? Int, ruleIDs.firstIndex(of: id))
            XCTAssertTrue(["error", "warning", "note", "none"].contains(res["level"] as? String ?? ""))
            XCTAssertNotNil((res["message"] as? [String: Any])?["text"] as? String)
            let locs = try XCTUnwrap(res["locations"] as? [[String: Any]])
            XCTAssertFalse(locs.isEmpty)
            for l in locs { try checkPhysical(l) }
        }
        let violation = try XCTUnwrap(results.first { $0["ruleId"] as? String == "restore" })
        let region = try XCTUnwrap(((violation["locations"] as? [[String: Any]])?[0]["physicalLocation"] as? [String: Any])?["region"] as? [String: Any])
        XCTAssertEqual(region["startLine"] as? Int, 7, "blamed at the restore")
        let flows = try XCTUnwrap(violation["codeFlows"] as? [[String: Any]])
        let threadFlows = try XCTUnwrap(flows.first?["threadFlows"] as? [[String: Any]])
        let steps = try XCTUnwrap(threadFlows.first?["locations"] as? [[String: Any]])
        XCTAssertEqual(steps.count, 6, "subq, movq, call, movq, addq, ret: the replayed run through the blamed step to the exit that observes rbx")
        for s in steps { try checkPhysical(try XCTUnwrap(s["location"] as? [String: Any])) }
        // The exit where the wrong value is observed is a related location.
        let related = try XCTUnwrap(violation["relatedLocations"] as? [[String: Any]])
        XCTAssertEqual(related.count, 1)
        for l in related { try checkPhysical(l) }
        let exitRegion = try XCTUnwrap((related[0]["physicalLocation"] as? [String: Any])?["region"] as? [String: Any])
        XCTAssertEqual(exitRegion["startLine"] as? Int, 9, "observed at the ret")
    }

    func checkPhysical(_ location: [String: Any], file: StaticString = #filePath, line: UInt = #line) throws {
        let phys = try XCTUnwrap(location["physicalLocation"] as? [String: Any], file: file, line: line)
        let uri = try XCTUnwrap((phys["artifactLocation"] as? [String: Any])?["uri"] as? String, file: file, line: line)
        XCTAssertFalse(uri.isEmpty, file: file, line: line)
        let region = try XCTUnwrap(phys["region"] as? [String: Any], file: file, line: line)
        XCTAssertGreaterThanOrEqual(region["startLine"] as? Int ?? 0, 1, file: file, line: line)
        XCTAssertGreaterThanOrEqual(region["startColumn"] as? Int ?? 0, 1, file: file, line: line)
    }

    /// With the fast path and with every query sent to Z3 (whose models then fill the
    /// counterexamples the probes miss): the same bytes for any job count.
    func testOutputDoesNotDependOnJobCount() throws {
        let specs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Specs").path
        for fastPath in [true, false] {
            var options = ProverOptions()
            options.structuralFastPath = fastPath
            var one = Checker(options: options)
            one.jobs = 1
            var many = Checker(options: options)
            many.jobs = 8
            let a = one.check([specs]), b = many.check([specs])
            XCTAssertEqual(JSONReport.render(a), JSONReport.render(b), "fast path \(fastPath)")
            XCTAssertEqual(TextReport(colour: false).render(a), TextReport(colour: false).render(b), "fast path \(fastPath)")
            XCTAssertGreaterThan(a.paths.count, 0)
            let queries = a.paths.flatMap(\.results).map(\.solverQueries).reduce(0, +)
            XCTAssertTrue(fastPath || queries > 0, "Z3 answers queries with the fast path off")
        }
    }

    /// Every emitted query, re-checked by the `z3` binary, gives the answer ptregs-prove got.
    func testEmittedSMTLIB2ReChecksWithZ3() throws {
        guard let z3 = ["/usr/bin/z3", "/usr/local/bin/z3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("the z3 binary is not installed (.ci/run installs Debian's z3)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smt2-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var options = ProverOptions()
        options.smt2Directory = dir
        // Every query to Z3: with the fast path the corpus's queries are all decided
        // by the simplifier or by cases, and none would be written. One corpus spec
        // whose proofs are unsat queries then, and the violating spec's sat one (with
        // no probes, which find that violation without a query).
        options.structuralFastPath = false
        options.concreteProbes = false
        let nmi = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Specs/arch/x86/kernel/entry_64/nmi.after.pts").path
        _ = Checker(options: options).check([nmi])
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("smt2spec-\(UUID().uuidString).pts")
        try Self.violating.write(to: root, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: root) }
        _ = Checker(options: options).check([root.path])
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".smt2") }.sorted()
        XCTAssertGreaterThan(files.count, 0)
        var answers: Set<String> = []
        for f in files {
            let text = try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("; expected answer: ") }) else {
                XCTFail("\(f) has no expected answer"); continue
            }
            let expected = String(line.dropFirst("; expected answer: ".count))
            let p = Process()
            p.executableURL = URL(fileURLWithPath: z3)
            p.arguments = [dir.appendingPathComponent(f).path]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            p.waitUntilExit()
            let got = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(got.split(separator: "\n").first.map(String.init), expected, f)
            answers.insert(expected)
        }
        XCTAssertTrue(answers.contains("sat"), "the violating spec's query is sat")
        XCTAssertTrue(answers.contains("unsat"), "the corpus's proofs are unsat")
    }
}
