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

    static let everyKindOfResult = """
    .extern schedule
    .macro SAVE_RBX
    \tpushq %rbx
    .endm
    .path tidy entry=function
    tidy:
    \tSAVE_RBX
    \tcall schedule
    \tpopq %rbx
    \tret
    .path leaky entry=function
    leaky:
    \tSAVE_RBX
    \tsubq $8, %rsp
    \tmovq (%rsp), %rbx
    \taddq $16, %rsp
    \tret
    .path indexed entry=function
    indexed:
    \tmovq %rax, -8(%rsp,%rdi,8)
    \tret
    """

    /// An entry keeps every field a report shows: proved, violated (a trace through a
    /// macro, a stack picture, inputs) and unknown verdicts, and with `--explain`'s
    /// obligation outcomes.
    func testEntriesKeepEveryField() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var options = ProverOptions()
        options.recordObligations = true
        var fresh = Checker(options: options)
        let expected = fresh.check(source: Self.everyKindOfResult, name: "spec.pts")
        XCTAssertEqual(Set(expected.paths.flatMap { $0.results.map(\.verdict.name) }), ["proved", "violated", "unknown"])
        XCTAssertFalse(expected.paths.allSatisfy { $0.obligations.isEmpty })
        fresh.cache = VerdictCache(directory: dir)
        _ = fresh.check(source: Self.everyKindOfResult, name: "spec.pts")
        let cached = fresh.check(source: Self.everyKindOfResult, name: "spec.pts")
        XCTAssertEqual(TextReport(colour: false, verbose: true).render(cached), TextReport(colour: false, verbose: true).render(expected))
        XCTAssertEqual(JSONReport.render(cached), JSONReport.render(expected))
        XCTAssertEqual(SARIFReport.render(cached), SARIFReport.render(expected))
    }

    /// A damaged entry — cut short anywhere, a byte changed, another file's bytes — is
    /// not an answer: the path is proved again, with the same report, and nothing crashes.
    func testDamagedEntriesAreProvedAgain() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var checker = Checker()
        let expected = JSONReport.render(checker.check(source: Self.everyKindOfResult, name: "spec.pts"))
        checker.cache = VerdictCache(directory: dir)
        _ = checker.check(source: Self.everyKindOfResult, name: "spec.pts")
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir.path).map { dir.appendingPathComponent($0) }
        XCTAssertEqual(entries.count, 3)
        let originals = try entries.map { try Data(contentsOf: $0) }
        var damages: [(Data) -> Data] = [{ _ in Data() }, { Data("{}".utf8) + $0 }, { $0 + Data([0]) }]
        for cut in [1, 6, 7, 13, 100] { damages.append { $0.prefix(max(0, $0.count - cut)) } }
        for at in [0, 6, 14, 40] {
            damages.append { d in
                var d = d
                if at < d.count { d[d.startIndex + at] ^= 0xff }
                return d
            }
        }
        for damage in damages {
            for (url, original) in zip(entries, originals) { try damage(original).write(to: url) }
            XCTAssertEqual(JSONReport.render(checker.check(source: Self.everyKindOfResult, name: "spec.pts")), expected)
        }
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
