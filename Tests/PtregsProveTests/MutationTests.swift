import Foundation
import PtregsProve
import XCTest

/// Mutation testing of the prover on the proving fixture specs: every single-operation
/// mutation is proved again; the score and the non-neutral survivors are printed (the
/// full corpus run is `swift run -c release ptregs-bench --mutations Specs`).
final class MutationTests: XCTestCase {
    func testMutantsOfProvingSpecsAreCaught() {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/specs").path
        let (jobs, report) = Checker().elaborate([fixtures])
        XCTAssertEqual(report.diagnostics, [])
        let results = MutationTesting.run(jobs)
        let summary = MutationTesting.summary(results)
        print(summary)
        XCTAssertGreaterThan(results.count, 20, "the fixtures give a real set of mutants")
        let caught = results.filter { $0.outcome == .caught }.count
        let scored = results.filter { $0.outcome != .neutral }.count
        XCTAssertGreaterThanOrEqual(Double(caught), 0.8 * Double(scored), summary)
        // Every kind of mutation occurs and is caught at least once.
        for kind in ["drop a save", "shift offset", "ret into jmp", "add amount", "sub amount"] {
            XCTAssertTrue(results.contains { $0.mutation.kind.hasPrefix(kind) && $0.outcome == .caught }, "no caught '\(kind)' mutant")
        }
    }
}
