import Foundation
import PtregsProve
import XCTest

/// The verdict cache gives byte-identical reports and re-proves exactly what changed.
final class VerdictCacheTests: XCTestCase {
    func testCachedReportsAreIdenticalAndEditsInvalidate() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = """
        .extern schedule
        .path tidy entry=function
        tidy:
        \tpushq %rbx
        \tcall schedule
        \tpopq %rbx
        \tret
        .path leaky entry=function
        leaky:
        \tsubq $8, %rsp
        \tmovq (%rsp), %rbx
        \taddq $8, %rsp
        \tret
        """
        var checker = Checker()
        checker.cache = VerdictCache(directory: dir)
        let first = checker.check(source: spec, name: "spec.pts")
        let stored = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertEqual(stored.count, 2, "one entry per path")
        let second = checker.check(source: spec, name: "spec.pts")
        XCTAssertEqual(TextReport(colour: false, verbose: true).render(first), TextReport(colour: false, verbose: true).render(second))
        XCTAssertEqual(JSONReport.render(first), JSONReport.render(second))
        // Editing one path's code re-proves that path only.
        let edited = spec.replacingOccurrences(of: "\tmovq (%rsp), %rbx", with: "\tmovq %rbx, (%rsp)\n\tmovq (%rsp), %rbx")
        let third = checker.check(source: edited, name: "spec.pts")
        XCTAssertEqual(third.paths.first { $0.name == "leaky" }?.results.map(\.verdict.name), ["proved", "proved", "proved", "proved"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).count, 3, "tidy's entry was reused")
    }
}
