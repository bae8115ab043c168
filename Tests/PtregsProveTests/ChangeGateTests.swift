import Foundation
import PtregsProve
import XCTest

/// `--changed-since`: an edit to modelled assembly under an unchanged spec fails the
/// gate and names the changed lines; specs the diff does not touch are not re-checked.
final class ChangeGateTests: XCTestCase {
    var repo: URL!

    override func setUpWithError() throws {
        repo = FileManager.default.temporaryDirectory.appendingPathComponent("gate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: repo.appendingPathComponent("arch/x86"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: repo.appendingPathComponent("Specs"), withIntermediateDirectories: true)
        guard git(["init", "-q"]) == 0 else { throw XCTSkip("git is not available") }
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: repo)
    }

    @discardableResult
    func git(_ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", repo.path, "-c", "user.email=ci@example.invalid", "-c", "user.name=CI"] + args
        p.standardOutput = Pipe()
        p.standardError = Pipe()
        do { try p.run() } catch { return 127 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    func write(_ path: String, _ text: String) throws {
        try text.write(to: repo.appendingPathComponent(path), atomically: true, encoding: .utf8)
    }

    let assembly = """
    /* entry code */
    ENTRY(stub)
    \tpushq %rbx
    \tpopq %rbx
    \tret
    END(stub)
    ENTRY(other)
    \tret
    END(other)
    """

    func spec(_ fingerprint: String, symbol: String) -> String {
        """
        .models arch/x86/entry.S symbol=\(symbol) fingerprint=\(fingerprint)
        .path \(symbol) entry=function
        \(symbol):
            ret
        """
    }

    func testEditUnderAnUnchangedSpecFailsTheGate() throws {
        try write("arch/x86/entry.S", assembly)
        let region = try XCTUnwrap(SourceFingerprint.region(of: assembly, lines: nil, symbol: "stub"))
        XCTAssertEqual(region, 2...6)
        let fp = SourceFingerprint.fingerprint(of: assembly, region: region)
        let fpOther = SourceFingerprint.fingerprint(of: assembly, region: try XCTUnwrap(SourceFingerprint.region(of: assembly, lines: nil, symbol: "other")))
        try write("Specs/stub.pts", spec(fp, symbol: "stub"))
        try write("Specs/other.pts", spec(fpOther, symbol: "other"))
        XCTAssertEqual(git(["add", "."]), 0)
        XCTAssertEqual(git(["commit", "-qm", "base"]), 0)

        // Nothing changed: nothing re-checked, the gate passes.
        let clean = ChangeGate(ref: "HEAD", tree: repo.path).run(Checker(), inputs: [repo.appendingPathComponent("Specs").path])
        XCTAssertEqual(clean.report.gate.count, 0)
        XCTAssertEqual(clean.report.paths.count, 0)
        XCTAssertEqual(clean.unaffected.count, 2)
        XCTAssertEqual(clean.report.exitCode, 0)

        // Edit inside `stub` (line 4): its spec is out of date; `other` is unaffected.
        try write("arch/x86/entry.S", assembly.replacingOccurrences(of: "\tpopq %rbx", with: "\tpopq %rbp"))
        let edited = ChangeGate(ref: "HEAD", tree: repo.path).run(Checker(), inputs: [repo.appendingPathComponent("Specs").path])
        XCTAssertEqual(edited.report.gate.count, 1)
        let finding = try XCTUnwrap(edited.report.gate.first)
        XCTAssertTrue(finding.message.contains("spec out of date: arch/x86/entry.S changed at lines 4"), finding.message)
        XCTAssertTrue(finding.location.file.hasSuffix("stub.pts"))
        XCTAssertEqual(finding.location.line, 1)
        XCTAssertEqual(edited.report.paths.map(\.name), ["stub"], "the affected spec is re-checked")
        XCTAssertEqual(edited.unaffected.count, 1)
        XCTAssertEqual(edited.report.exitCode, 1)

        // The spec author updates the fingerprint: the gate passes and the spec is re-checked.
        let newText = assembly.replacingOccurrences(of: "\tpopq %rbx", with: "\tpopq %rbp")
        let newFP = SourceFingerprint.fingerprint(of: newText, region: try XCTUnwrap(SourceFingerprint.region(of: newText, lines: nil, symbol: "stub")))
        try write("Specs/stub.pts", spec(newFP, symbol: "stub"))
        let updated = ChangeGate(ref: "HEAD", tree: repo.path).run(Checker(), inputs: [repo.appendingPathComponent("Specs").path])
        XCTAssertEqual(updated.report.gate.count, 0)
        XCTAssertEqual(updated.report.paths.map(\.name), ["stub"])
    }

    /// A `.models` line in an included header models code for every unit that includes
    /// it, directly or through another header: an edit there re-checks them all and
    /// fails the gate once, at the header's line.
    func testModelsInAnIncludeCountsForEveryUnitThatIncludesIt() throws {
        try write("arch/x86/entry.S", assembly)
        let fp = SourceFingerprint.fingerprint(of: assembly, region: try XCTUnwrap(SourceFingerprint.region(of: assembly, lines: nil, symbol: "stub")))
        let fpOther = SourceFingerprint.fingerprint(of: assembly, region: try XCTUnwrap(SourceFingerprint.region(of: assembly, lines: nil, symbol: "other")))
        try FileManager.default.createDirectory(at: repo.appendingPathComponent("Specs/include"), withIntermediateDirectories: true)
        try write("Specs/include/stub-models.ptsh", "# the code these units model\n.models arch/x86/entry.S symbol=stub fingerprint=\(fp)\n")
        try write("Specs/include/common.ptsh", ".include \"stub-models.ptsh\"\n")
        try write("Specs/direct.pts", ".include \"include/stub-models.ptsh\"\n.path direct entry=function\ndirect:\n\tret\n")
        try write("Specs/transitive.pts", ".include \"include/common.ptsh\"\n.path transitive entry=function\ntransitive:\n\tret\n")
        try write("Specs/other.pts", spec(fpOther, symbol: "other"))
        XCTAssertEqual(git(["add", "."]), 0)
        XCTAssertEqual(git(["commit", "-qm", "base"]), 0)
        let specs = repo.appendingPathComponent("Specs").path

        let clean = ChangeGate(ref: "HEAD", tree: repo.path).run(Checker(), inputs: [specs])
        XCTAssertEqual(clean.report.gate.map(\.message), [])
        XCTAssertEqual(clean.unaffected.count, 3)

        // Edit inside `stub`, the code only the header says the units model.
        try write("arch/x86/entry.S", assembly.replacingOccurrences(of: "\tpopq %rbx", with: "\tpopq %rbp"))
        let edited = ChangeGate(ref: "HEAD", tree: repo.path).run(Checker(), inputs: [specs])
        XCTAssertEqual(edited.report.paths.map(\.name), ["direct", "transitive"], "both including units are re-checked")
        XCTAssertEqual(edited.unaffected.map { URL(fileURLWithPath: $0).lastPathComponent }, ["other.pts"])
        XCTAssertEqual(edited.report.gate.count, 1, "one finding for the one stale line: \(edited.report.gate)")
        let finding = try XCTUnwrap(edited.report.gate.first)
        XCTAssertTrue(finding.message.contains("spec out of date: arch/x86/entry.S changed at lines 4"), finding.message)
        XCTAssertTrue(finding.location.file.hasSuffix("include/stub-models.ptsh"), finding.location.description)
        XCTAssertEqual(finding.location.line, 2)
        XCTAssertEqual(edited.report.exitCode, 1)
    }

    func testShardsSplitTheWorkAndCoverIt() throws {
        let specs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Specs").path
        let all = Checker().check([specs]).paths.map { "\($0.file):\($0.name)" }
        var union: [String] = []
        for i in 1...3 {
            var c = Checker()
            c.shard = (i, 3)
            union += c.check([specs]).paths.map { "\($0.file):\($0.name)" }
        }
        XCTAssertEqual(union.sorted(), all.sorted())
        XCTAssertEqual(Set(union).count, union.count, "no path in two shards")
    }
}
