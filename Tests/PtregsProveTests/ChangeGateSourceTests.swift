import Foundation
import PtregsProve
import XCTest

/// Issue 16 item 6, first part: the CI gate on real files. A `.source` unit is re-checked
/// when any file the preprocessor read changed, and `symbol=` / `--fingerprint` know the
/// kernel's SYM_* annotations.
final class ChangeGateSourceTests: XCTestCase {
    let code = """
    #include <asm/linkage.h>
    SYM_CODE_START(outer)
    \tpushq %rbx
    SYM_INNER_LABEL(inner, SYM_L_GLOBAL)
    \tpopq %rbx
    \tret
    SYM_CODE_END(outer)
    SYM_FUNC_START_LOCAL(helper)
    \tret
    SYM_FUNC_END(helper)
    ENTRY(old_style)
    \tret
    END(old_style)
    """

    func testSymbolRegionsOfTheKernelsAnnotations() throws {
        XCTAssertEqual(SourceFingerprint.region(of: code, lines: nil, symbol: "outer"), 2...7)
        // An inner label has no end of its own: it ends with the symbol around it.
        XCTAssertEqual(SourceFingerprint.region(of: code, lines: nil, symbol: "inner"), 4...7)
        XCTAssertEqual(SourceFingerprint.region(of: code, lines: nil, symbol: "helper"), 8...10)
        XCTAssertEqual(SourceFingerprint.region(of: code, lines: nil, symbol: "old_style"), 11...13)
        XCTAssertNil(SourceFingerprint.region(of: code, lines: nil, symbol: "out"))
        // A change inside `helper` leaves `outer`'s fingerprint alone.
        let edited = code.replacingOccurrences(of: "SYM_FUNC_START_LOCAL(helper)\n\tret", with: "SYM_FUNC_START_LOCAL(helper)\n\tnop\n\tret")
        let outer = try XCTUnwrap(SourceFingerprint.region(of: code, lines: nil, symbol: "outer"))
        XCTAssertEqual(SourceFingerprint.fingerprint(of: code, region: outer),
                       SourceFingerprint.fingerprint(of: edited, region: try XCTUnwrap(SourceFingerprint.region(of: edited, lines: nil, symbol: "outer"))))
        XCTAssertNotEqual(SourceFingerprint.fingerprint(of: code, region: try XCTUnwrap(SourceFingerprint.region(of: code, lines: nil, symbol: "helper"))),
                          SourceFingerprint.fingerprint(of: edited, region: try XCTUnwrap(SourceFingerprint.region(of: edited, lines: nil, symbol: "helper"))))
    }

    /// The test tree in a git repository: the gate re-checks the `.source` unit when a
    /// header it includes changes, and leaves it alone when nothing it read did.
    func testTheGateRechecksASourceUnitWhenAHeaderChanges() throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/kernel-tree")
        let repo = FileManager.default.temporaryDirectory.appendingPathComponent("gate-tree-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: repo)
        defer { try? FileManager.default.removeItem(at: repo) }
        func git(_ args: [String]) -> Int32 {
            ChangeGateTests.run(["git", "-C", repo.path, "-c", "user.email=ci@example.invalid", "-c", "user.name=CI"] + args)
        }
        guard git(["init", "-q"]) == 0 else { throw XCTSkip("git is not available") }
        // A spec elsewhere in the tree that reads none of the files.
        try ".path f entry=function\nf:\n\tret\n".write(to: repo.appendingPathComponent("checks/plain.pts"), atomically: true, encoding: .utf8)
        XCTAssertEqual(git(["add", "."]), 0)
        XCTAssertEqual(git(["commit", "-qm", "base"]), 0)
        var checker = Checker()
        checker.elaboration.sourceTree = repo.path
        let specs = repo.appendingPathComponent("checks").path

        let clean = ChangeGate(ref: "HEAD", tree: repo.path).run(checker, inputs: [specs])
        XCTAssertEqual(clean.report.diagnostics, [])
        XCTAssertEqual(clean.report.paths.count, 0)
        XCTAssertEqual(clean.unaffected.count, 3)

        // The generated offsets header changes: only the units whose cpp read it are re-checked.
        let offsets = repo.appendingPathComponent("arch/x86/include/generated/asm-offsets.h")
        try (String(contentsOf: offsets, encoding: .utf8) + "/* regenerated */\n").write(to: offsets, atomically: true, encoding: .utf8)
        let edited = ChangeGate(ref: "HEAD", tree: repo.path).run(checker, inputs: [specs])
        XCTAssertEqual(edited.report.diagnostics, [])
        XCTAssertEqual(Set(edited.report.paths.map(\.name)), ["irq_entry_demo", "irq_entry_clobber", "syscall_entry_demo", "irq_entry_patched"])
        XCTAssertEqual(edited.unaffected.map { URL(fileURLWithPath: $0).lastPathComponent }, ["plain.pts"])
        // Its violation is shown on the .S line.
        let clobber = try XCTUnwrap(edited.report.paths.first { $0.name == "irq_entry_clobber" })
        guard case .violated(let cx)? = clobber.results.first(where: { $0.invariant == .restoreMatchesSave })?.verdict else {
            return XCTFail("expected the known violation")
        }
        XCTAssertTrue(cx.location.file.hasSuffix("arch/x86/entry/entry_64.S"), "\(cx.location)")
    }
}

extension ChangeGateTests {
    /// Runs a command quietly; its exit status.
    static func run(_ arguments: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        p.standardOutput = Pipe()
        p.standardError = Pipe()
        do { try p.run() } catch { return 127 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
