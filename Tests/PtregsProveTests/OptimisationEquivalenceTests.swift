import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// The optimisations must not change a single verdict or blamed step: the structural
/// fast path (obligations decided by term simplification) against sending everything
/// to Z3, merging at joins against enumerating paths, one job against eight.
final class OptimisationEquivalenceTests: XCTestCase {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let inputs = [
        here.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Specs").path,
        here.appendingPathComponent("Fixtures/specs").path,
    ]

    /// (path, invariant) → verdict and, for violations, the blamed line and every
    /// mechanism found (each search must find all of them, whatever decides them).
    func table(_ report: CheckReport) -> [String: String] {
        var t: [String: String] = [:]
        for p in report.paths {
            for r in p.results {
                let key = "\(p.file):\(p.name):\(r.invariant.rawValue)"
                switch r.verdict {
                case .proved: t[key] = "proved"
                case .unknown: t[key] = "unknown"
                case .violated(let cx):
                    t[key] = "violated@\(cx.location.line) " + r.violations.map(\.mechanism.description).sorted().joined(separator: "; ")
                }
            }
        }
        return t
    }

    func run(_ configure: (inout ProverOptions) -> Void, jobs: Int = 2) -> [String: String] {
        var options = ProverOptions()
        configure(&options)
        var checker = Checker(options: options)
        checker.jobs = jobs
        let report = checker.check(Self.inputs)
        XCTAssertEqual(report.diagnostics, [])
        return table(report)
    }

    func testFastPathOffGivesTheSameVerdicts() {
        let base = run { _ in }
        XCTAssertFalse(base.isEmpty)
        XCTAssertEqual(run { $0.structuralFastPath = false }, base)
    }

    func testEnumeratingPathsGivesTheSameVerdictsAsMerging() {
        XCTAssertEqual(run { $0.mergeStates = false }, run { _ in })
    }

    func testJobCountDoesNotChangeVerdicts() {
        XCTAssertEqual(run({ _ in }, jobs: 1), run({ _ in }, jobs: 8))
    }

    /// The fixtures are there for their verdicts too: correlated branches and a work
    /// loop prove, their broken twins do not.
    func testFixtureVerdicts() {
        let t = run { _ in }
        let f = "Fixtures/specs/"
        func verdict(_ file: String, _ path: String, _ inv: String) -> String? {
            t.first { $0.key.contains(f + file) && $0.key.hasSuffix(":\(path):\(inv)") }?.value
        }
        for inv in Invariant.allCases.map(\.rawValue) {
            XCTAssertEqual(verdict("correlated.pts", "irq", inv), "proved", inv)
            XCTAssertEqual(verdict("workloop.pts", "workloop", inv), "proved", inv)
            XCTAssertEqual(verdict("diamonds.pts", "diamonds", inv), "proved", inv)
        }
        XCTAssertEqual(verdict("correlated.pts", "irq_miscorrelated", "frame"), "violated@38 frame outside-frame at iretq; frame rsp at iretq")
        XCTAssertEqual(verdict("diamonds.pts", "leaky_diamond", "restore"), "violated@33 restore rbx at ret")
        XCTAssertEqual(verdict("workloop.pts", "leaky_loop", "restore"), "violated@32 restore rbp at ret")
    }
}
