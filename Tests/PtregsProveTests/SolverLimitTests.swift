import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// Limits give honest "unknown" verdicts, never "proved".
final class SolverLimitTests: XCTestCase {
    /// `~(~(rbx + rax) + rax)` is rbx again, but only the solver can see it (Z3's
    /// rewriter alone does not): with no work allowed the verdict is unknown, with the
    /// reason, and the exit code is 3.
    func testResourceLimitGivesUnknownNotProved() {
        let spec = ".path f entry=function\nf:\n\taddq %rax, %rbx\n\tnotq %rbx\n\taddq %rax, %rbx\n\tnotq %rbx\n\tret\n"
        var limited = ProverOptions()
        limited.resourceLimit = 1
        var checker = Checker(options: limited)
        checker.jobs = 1
        let report = checker.check(source: spec, name: "neg.pts")
        let restore = report.paths.first?.results.first { $0.invariant == .restoreMatchesSave }
        guard case .unknown(let why)? = restore?.verdict else {
            return XCTFail("expected unknown, got \(String(describing: restore?.verdict.name))")
        }
        XCTAssertTrue(why.contains("resource limit"), why)
        XCTAssertEqual(report.exitCode, 3)
        // Without the limit the same obligation proves.
        let free = Checker().check(source: spec, name: "neg.pts")
        XCTAssertEqual(free.paths.first?.results.map(\.verdict.name), Array(repeating: "proved", count: Invariant.allCases.count))
    }
}
