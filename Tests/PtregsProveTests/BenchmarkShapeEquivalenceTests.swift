import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// The optimisations must not change a verdict on the benchmark's generated shapes
/// either (BenchmarkShapes: function-shaped diamonds whose arms spill, reload, push and
/// pop, write registers or call, and straight lines): merging at joins against
/// enumerating paths at small N, the structural fast path against sending everything to
/// Z3. Each shape is checked clean and with one diamond that clobbers the saved rbx.
final class BenchmarkShapeEquivalenceTests: XCTestCase {
    /// (invariant) → verdict and, for a violation, the blamed line and every mechanism.
    func table(_ report: CheckReport) -> [String: String] {
        XCTAssertEqual(report.diagnostics, [])
        var t: [String: String] = [:]
        for p in report.paths {
            for r in p.results {
                let key = "\(p.name):\(r.invariant.rawValue)"
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

    func check(_ body: String, _ configure: (inout ProverOptions) -> Void = { _ in }) -> [String: String] {
        var options = ProverOptions()
        configure(&options)
        var checker = Checker(options: options)
        checker.jobs = 1
        return table(checker.check(source: BenchmarkShapes.spec(body), name: "bench.pts"))
    }

    /// Every shape, clean and clobbering: the four verdicts, and the clobber found.
    func inputs(diamonds n: Int) -> [(String, String)] {
        BenchmarkShapes.Arm.allCases.flatMap { arm in
            [("\(arm.rawValue) \(n)", BenchmarkShapes.diamondBody(arm, n)),
             ("\(arm.rawValue) \(n) clobbering", BenchmarkShapes.diamondBody(arm, n, clobberAt: n / 2))]
        }
    }

    func testShapesProveAndTheClobberIsFound() {
        for (name, body) in inputs(diamonds: 5) {
            let t = check(body)
            for inv in [Invariant.restoreMatchesSave, .frameBalance, .ptraceConsistency, .returnStack] {
                let v = t["bench:\(inv.rawValue)"] ?? "missing"
                if inv == .restoreMatchesSave && name.hasSuffix("clobbering") {
                    XCTAssertTrue(v.hasPrefix("violated@") && v.contains("restore rbx at ret"), "\(name): \(v)")
                } else {
                    XCTAssertEqual(v, "proved", "\(name) \(inv.rawValue)")
                }
            }
        }
    }

    /// 2^5 paths enumerated against one merged state per join.
    func testEnumeratingPathsGivesTheSameVerdictsAsMerging() {
        for (name, body) in inputs(diamonds: 5) {
            XCTAssertEqual(check(body) { $0.mergeStates = false }, check(body), name)
        }
    }

    func testFastPathOffGivesTheSameVerdicts() {
        for (name, body) in inputs(diamonds: 24) + [("straight-line 400", BenchmarkShapes.straightLineBody(400))] {
            XCTAssertEqual(check(body) { $0.structuralFastPath = false }, check(body), name)
        }
    }

    /// The gas text is the spec's instructions in a function symbol, for `as` and objtool.
    func testGasFileHoldsTheSameInstructions() {
        let body = BenchmarkShapes.diamondBody(.mixed, 10)
        let gas = BenchmarkShapes.gas(body)
        XCTAssertTrue(gas.contains(".type bench, @function\nbench:\n" + body))
        XCTAssertTrue(gas.hasSuffix(".size bench, .-bench\n"))
    }
}
