import Foundation
import PtregsProve
import SpecSyntax
import XCTest

/// `Fixtures/bad/NAME.pts`: one file per class of bad input, each starting with
/// `# expect: LINE:COL: message substring` (issue 5, "a Tests/Fixtures/bad/ set with the
/// expected diagnostic for each file"). Binary and huge inputs are generated here, not
/// committed. Every one must give that diagnostic, exit code 2, and never crash.
final class BadInputFixturesTests: XCTestCase {
    struct Expectation {
        var line: Int
        var column: Int
        var message: String
    }

    /// The copied resource (the test target's `.copy("Fixtures")`), else the source tree.
    static func directory() throws -> URL {
        let fm = FileManager.default
        if let u = Bundle.module.url(forResource: "Fixtures", withExtension: nil)?.appendingPathComponent("bad"),
           fm.fileExists(atPath: u.path) {
            return u
        }
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/bad")
        guard fm.fileExists(atPath: source.path) else { throw XCTSkip("Fixtures/bad not found") }
        return source
    }

    static func fixtures() throws -> [URL] {
        let dir = try directory()
        return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "pts" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// `# expect: 4:2: unknown mnemonic 'frobq'` on the first line.
    static func expectation(of url: URL) -> Expectation? {
        guard let data = FileManager.default.contents(atPath: url.path),
              let text = String(data: data.prefix(400), encoding: .utf8) ?? String(data: data.prefix(399), encoding: .utf8),
              let first = text.split(separator: "\n", maxSplits: 1).first,
              first.hasPrefix("# expect: ") else { return nil }
        let rest = first.dropFirst("# expect: ".count)
        let parts = rest.split(separator: ":", maxSplits: 2)
        guard parts.count == 3, let l = Int(parts[0]), let c = Int(parts[1]) else { return nil }
        return Expectation(line: l, column: c, message: parts[2].trimmingCharacters(in: .whitespaces))
    }

    /// The classes issue 2 §7 and issue 5 name; each must have its fixture.
    static let requiredClasses = [
        "syntax_error", "unknown_mnemonic", "unknown_register", "unknown_macro", "unknown_constant",
        "unknown_label", "unknown_extern", "unknown_contract", "duplicate_label", "duplicate_macro",
        "duplicate_constant", "macro_argument_count", "unterminated_macro", "recursive_macro",
        "mutually_recursive_macros", "exponential_macro", "if_without_endif", "include_escape",
        "include_missing", "include_loop", "no_exit", "unreachable_code", "arithmetic_overflow",
        "layout_offset", "deeply_nested_if",
    ]

    func testFixtureSetCoversEveryBadInputClass() throws {
        let names = Set(try Self.fixtures().map { $0.deletingPathExtension().lastPathComponent })
        for c in Self.requiredClasses {
            XCTAssertTrue(names.contains(c), "no fixture Fixtures/bad/\(c).pts")
        }
        for f in try Self.fixtures() {
            XCTAssertNotNil(Self.expectation(of: f), "\(f.lastPathComponent) does not start with '# expect: LINE:COL: message'")
        }
    }

    /// Checks one file in-process; asserts the first diagnostic and exit code 2.
    func assertDiagnostic(_ url: URL, _ e: Expectation, file: StaticString = #filePath, line: UInt = #line) {
        let name = url.lastPathComponent
        let report = Checker().check([url.path])
        XCTAssertEqual(report.exitCode, 2, "\(name): \(report.diagnostics)", file: file, line: line)
        XCTAssertTrue(report.paths.isEmpty, "\(name): bad input must not be proved", file: file, line: line)
        guard let d = report.diagnostics.first else {
            XCTFail("\(name): no diagnostic", file: file, line: line)
            return
        }
        XCTAssertEqual((d.location.file as NSString).lastPathComponent, name, "\(name): \(d)", file: file, line: line)
        XCTAssertEqual("\(d.location.line):\(d.location.column)", "\(e.line):\(e.column)", "\(name): \(d)", file: file, line: line)
        XCTAssertTrue(d.message.contains(e.message), "\(name): '\(d.message)' lacks '\(e.message)'", file: file, line: line)
    }

    func testEveryFixtureGivesItsDiagnosticAndExitCode2() throws {
        let all = try Self.fixtures()
        XCTAssertGreaterThanOrEqual(all.count, Self.requiredClasses.count)
        for url in all {
            guard let e = Self.expectation(of: url) else { continue }
            assertDiagnostic(url, e)
        }
    }

    // MARK: generated inputs

    /// Inputs that are not committed: binary, not UTF-8, too large, empty.
    static func generated(into dir: URL) throws -> [(name: String, data: Data, expect: Expectation?)] {
        var out: [(String, Data, Expectation?)] = []
        var utf8 = Data(".path f entry=function\nf:\n\tnop # caf".utf8)
        utf8.append(0xE9)
        utf8.append(Data("\n\tret\n".utf8))
        out.append(("invalid_utf8.pts", utf8, Expectation(line: 3, column: 11, message: "spec file is not valid UTF-8 text")))
        out.append(("nul_byte.pts", Data(".path f entry=function\nf:\n\tno\0p\n\tret\n".utf8),
                    Expectation(line: 3, column: 4, message: "NUL byte in spec file: this is not a text file")))
        var elf: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0]
        var x: UInt32 = 88172645
        for _ in 0..<8192 { x ^= x << 13; x ^= x >> 17; x ^= x << 5; elf.append(UInt8(truncatingIfNeeded: x)) }
        out.append(("binary_garbage.pts", Data(elf), nil))
        var huge = Data(".path f entry=function\nf:\n".utf8)
        let nop = Data("\tnop\n".utf8)
        huge.reserveCapacity(StatementSplitter.maximumFileBytes + 64)
        while huge.count <= StatementSplitter.maximumFileBytes { huge.append(nop) }
        huge.append(Data("\tret\n".utf8))
        out.append(("too_large.pts", huge, Expectation(line: 1, column: 1, message: "the limit is 4194304 bytes")))
        for (name, data, _) in out { try data.write(to: dir.appendingPathComponent(name)) }
        return out
    }

    func testGeneratedBinaryAndHugeInputs() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for g in try Self.generated(into: dir) {
            let url = dir.appendingPathComponent(g.name)
            if let e = g.expect {
                assertDiagnostic(url, e)
            } else {
                let report = Checker().check([url.path])
                XCTAssertEqual(report.exitCode, 2, "\(g.name): \(report.diagnostics)")
                XCTAssertEqual(report.diagnostics.count, 1, "\(g.name): one clear error, not a cascade")
            }
        }
        // The empty file: nothing to check is bad input (issue 5).
        let empty = dir.appendingPathComponent("empty.pts")
        try Data().write(to: empty)
        assertDiagnostic(empty, Expectation(line: 1, column: 1, message: "empty spec file: nothing to check"))
    }

    // MARK: the real process

    /// Every fixture, committed or generated, through the executable: exit 2, the
    /// compiler-style line first, no trap, no backtrace, no hang.
    func testCLIExitsWith2AndNeverCrashesOnAnyBadInput() throws {
        _ = try PtregsProveBinary.require()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-bad-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var cases: [(URL, Expectation?)] = try Self.fixtures().map { ($0, Self.expectation(of: $0)) }
        cases += try Self.generated(into: dir).map { (dir.appendingPathComponent($0.name), $0.expect) }
        for (url, e) in cases {
            let name = url.lastPathComponent
            let r = try PtregsProveBinary.run([name, "--color", "never"], in: url.deletingLastPathComponent())
            PtregsProveBinary.assertNoCrash(r, name)
            XCTAssertEqual(r.status, 2, "\(name): stdout \(r.stdout) stderr \(r.stderr)")
            if let e {
                XCTAssertTrue(r.stdout.hasPrefix("\(name):\(e.line):\(e.column): error: "), "\(name): \(r.stdout.prefix(300))")
            }
        }
    }
}
