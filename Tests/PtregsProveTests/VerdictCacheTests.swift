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

    /// The key is spelled out from the decoded instructions and contracts, not from the
    /// text alone: a constant defined elsewhere or a contract changes it.
    func testKeysFollowDecodedOperationsAndContracts() throws {
        // One file name throughout: locations are part of the key (reports show them).
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func key(_ source: String) throws -> String {
            let file = dir.appendingPathComponent("spec.pts")
            try source.write(to: file, atomically: true, encoding: .utf8)
            let (jobs, report) = Checker().elaborate([file.path])
            XCTAssertTrue(report.diagnostics.isEmpty, "\(report.diagnostics)")
            let job = try XCTUnwrap(jobs.first)
            return VerdictCache(directory: dir).key(program: job.program, path: job.path, options: ProverOptions(), graph: job.graph)
        }
        let spec = """
        .equ OFF, 8
        .extern schedule
        .path f entry=function
        f:
        \tsubq $16, %rsp
        \tmovq %rbx, OFF(%rsp)
        \tcall schedule
        \tmovq OFF(%rsp), %rbx
        \taddq $16, %rsp
        \tret
        """
        let same = try key(spec)
        XCTAssertEqual(same, try key(spec), "the same unit gives the same key")
        XCTAssertNotEqual(same, try key(spec.replacingOccurrences(of: ".equ OFF, 8", with: ".equ OFF, 0")), "a constant's value")
        XCTAssertNotEqual(same, try key(spec.replacingOccurrences(of: ".extern schedule", with: ".extern schedule clobbers=rbx")),
                          "an extern's contract")
    }
}
