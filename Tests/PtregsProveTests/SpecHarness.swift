import Foundation
import PtregsProve
import SpecElaboration
import SpecSyntax
import XCTest

/// Runs specs the way users do: text in a file under a spec root, a report out.
enum SpecHarness {
    /// Writes `files` (name → text) into a fresh temporary spec root and checks `unit`.
    static func check(_ files: [String: String], unit: String, invariants: Set<Invariant> = Set(Invariant.allCases),
                      timeoutMilliseconds: UInt32 = 10_000) -> CheckReport {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        for (name, text) in files {
            let url = root.appendingPathComponent(name)
            try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? text.write(to: url, atomically: true, encoding: .utf8)
        }
        var options = ProverOptions()
        options.invariants = invariants
        options.timeoutMilliseconds = timeoutMilliseconds
        let cwd = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(root.path)
        defer { FileManager.default.changeCurrentDirectoryPath(cwd) }
        return Checker(options: options).check([unit])
    }

    /// One spec file called `spec.pts`.
    static func check(_ text: String, invariants: Set<Invariant> = Set(Invariant.allCases)) -> CheckReport {
        check(["spec.pts": text], unit: "spec.pts", invariants: invariants)
    }

    /// The first diagnostic of `declarations` put before a path that is just `ret`
    /// ("none" when there is none): how a declaration's errors are tested.
    static func declarationError(_ declarations: String) -> String {
        check(declarations + "\n.path f entry=function\nf:\n\tret\n").diagnostics.first?.message ?? "none"
    }

    static func result(_ report: CheckReport, path: String, _ inv: Invariant, file: StaticString = #filePath, line: UInt = #line) -> InvariantResult? {
        guard let p = report.paths.first(where: { $0.name == path }) else {
            XCTFail("no path \(path) in report; diagnostics: \(report.diagnostics)", file: file, line: line)
            return nil
        }
        guard let r = p.results.first(where: { $0.invariant == inv }) else {
            XCTFail("no result for \(inv) on \(path)", file: file, line: line)
            return nil
        }
        return r
    }

    /// Asserts the path proves the invariant.
    static func assertProved(_ report: CheckReport, path: String, _ inv: Invariant, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(report.diagnostics, [], file: file, line: line)
        guard let r = result(report, path: path, inv, file: file, line: line) else { return }
        guard case .proved = r.verdict else {
            XCTFail("\(path) \(inv.rawValue): expected proved, got \(describe(r.verdict))", file: file, line: line)
            return
        }
    }

    /// Asserts a replayed violation blamed at `blamedLine` (the line in the unit file)
    /// and returns the counterexample for further checks. The trace is a replay: it ends
    /// where the obligation is judged (an exit, for a value observed there) and runs
    /// through the blamed step.
    @discardableResult
    static func assertViolated(_ report: CheckReport, path: String, _ inv: Invariant, blamedLine: Int,
                               requirementContains: String? = nil,
                               file: StaticString = #filePath, line: UInt = #line) -> Counterexample? {
        XCTAssertEqual(report.diagnostics, [], file: file, line: line)
        guard let r = result(report, path: path, inv, file: file, line: line) else { return nil }
        guard case .violated(let cx) = r.verdict else {
            XCTFail("\(path) \(inv.rawValue): expected violated, got \(describe(r.verdict))", file: file, line: line)
            return nil
        }
        XCTAssertEqual(cx.location.line, blamedLine, "blamed step: \(cx.instruction) — \(cx.requirement)", file: file, line: line)
        // A step whose run faults there reads "faulted at `INSTRUCTION` → fixup …".
        func same(_ step: String?, _ instruction: String) -> Bool {
            step == instruction || step?.hasPrefix("faulted at `\(instruction)`") == true
        }
        XCTAssertTrue(same(cx.steps.last?.text, cx.observation?.instruction ?? cx.instruction),
                      "last step \(cx.steps.last?.text ?? "none"), instruction \(cx.observation?.instruction ?? cx.instruction)", file: file, line: line)
        XCTAssertTrue(cx.steps.indices.contains(cx.blamedStepIndex), "blamed step \(cx.blamedStepIndex) of \(cx.steps.count)", file: file, line: line)
        if cx.steps.indices.contains(cx.blamedStepIndex) {
            XCTAssertTrue(same(cx.steps[cx.blamedStepIndex].text, cx.instruction), "blamed step \(cx.steps[cx.blamedStepIndex].text)", file: file, line: line)
            XCTAssertEqual(cx.steps[cx.blamedStepIndex].sourceLocation.line, blamedLine, file: file, line: line)
        }
        if let s = requirementContains {
            XCTAssertTrue(cx.requirement.contains(s), "requirement '\(cx.requirement)' lacks '\(s)'", file: file, line: line)
        }
        return cx
    }

    static func describe(_ v: Verdict) -> String {
        switch v {
        case .proved: return "proved"
        case .unknown(let why): return "unknown: \(why)"
        case .violated(let cx): return "violated at \(cx.location): \(cx.requirement)"
        }
    }
}
