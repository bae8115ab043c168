import Foundation
import XCTest

/// The README and docs/ as a user follows them: the first spec gives the verdicts the
/// README shows, the links lead somewhere, and the Swift version is the same everywhere.
final class DocsTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ path: String) throws -> String {
        try String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8)
    }

    /// The body of the first fenced block that opens with "```INFO\n" (after `from`).
    static func fencedBlock(_ info: String, in text: String, after from: String.Index? = nil) -> (body: String, end: String.Index)? {
        guard let open = text.range(of: "```\(info)\n", range: (from ?? text.startIndex)..<text.endIndex),
              let close = text.range(of: "\n```", range: open.upperBound..<text.endIndex) else { return nil }
        return (String(text[open.upperBound..<close.lowerBound]) + "\n", close.upperBound)
    }

    /// A verdict line up to the invariant's title: where, what, which path and invariant —
    /// not the message after it, which the report may word differently over time.
    static func verdictHeads(_ output: String) -> [String] {
        let titles = ["restore matches save", "frame balanced", "ptrace-visible fields consistent", "return stack balanced"]
        return output.split(separator: "\n").compactMap { line -> String? in
            guard let kind = line.range(of: #"^\S+:\d+:\d+: (proved|error|warning|expected violation): "#, options: .regularExpression),
                  let title = titles.lazy.compactMap({ line.range(of: ": \($0)", range: kind.upperBound..<line.endIndex) }).first
            else { return nil }
            return String(line[..<title.upperBound])
        }
    }

    /// The README's first spec, run as the README runs it, gives the verdicts, the summary
    /// and the exit code the README shows.
    func testFirstSpecGivesTheVerdictsTheReadmeShows() throws {
        let readme = try Self.text("README.md")
        let spec = try XCTUnwrap(Self.fencedBlock("pts", in: readme), "README has no ```pts block")
        let session = try XCTUnwrap(Self.fencedBlock("console", in: readme, after: spec.end), "no ```console block after the spec")
        var lines = session.body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let command = try XCTUnwrap(lines.first, "empty console block")
        XCTAssertTrue(command.hasPrefix("$ .build/debug/ptregs-prove "), command)
        let arguments = command.split(separator: " ").dropFirst(2).map(String.init)
        lines.removeFirst()
        let echo = try XCTUnwrap(lines.firstIndex(of: "$ echo $?"), "the block shows no exit code")
        let shownOutput = lines[..<echo].joined(separator: "\n")
        let shownStatus = try XCTUnwrap(Int32(lines[echo + 1]), "no exit code after `$ echo $?`")
        let file = try XCTUnwrap(arguments.last, command)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-readme-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try spec.body.write(to: dir.appendingPathComponent(file), atomically: true, encoding: .utf8)
        let run = try PtregsProveBinary.run(arguments, in: dir)
        PtregsProveBinary.assertNoCrash(run, command)

        XCTAssertFalse(Self.verdictHeads(shownOutput).isEmpty, "the README shows no verdicts")
        XCTAssertEqual(Self.verdictHeads(run.stdout), Self.verdictHeads(shownOutput), run.stdout)
        let summary = { (s: String) in s.split(separator: "\n").last { $0.contains(" paths in ") || $0.contains(" path in ") } }
        XCTAssertEqual(summary(run.stdout), summary(shownOutput), run.stdout)
        XCTAssertEqual(run.status, shownStatus, run.stdout + run.stderr)
    }

    /// The README is the first hour's reading; the rest lives in docs/.
    func testReadmeIsUnder15KB() throws {
        XCTAssertLessThan(try Self.text("README.md").utf8.count, 15_000)
    }

    /// CI runs the README's test command (.ci/run's last line), so the two must agree.
    func testReadmeTestCommandIsWhatCIRuns() throws {
        let readme = try Self.text("README.md")
        XCTAssertTrue(readme.contains("# run the tests\nswift test\n"), "README's test command changed")
        let ciLast = try Self.text(".ci/run").split(separator: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        XCTAssertEqual(ciLast, "swift test")
    }

    /// One Swift version: the manifest's tools version, the container of every workflow
    /// the repository ships or shows, and the README's.
    func testOneSwiftVersionEverywhere() throws {
        let manifest = try Self.text("Package.swift")
        let tools = try XCTUnwrap(manifest.range(of: #"(?<=swift-tools-version:)\s*\d+\.\d+"#, options: .regularExpression).map {
            manifest[$0].trimmingCharacters(in: .whitespaces) })
        for file in [".github/workflows/ptregs-prove.yml", "docs/ci.md"] {
            let text = try Self.text(file)
            let containers = text.split(separator: "\n").filter { $0.contains("container:") }
            XCTAssertFalse(containers.isEmpty, "\(file) names no container")
            for c in containers {
                XCTAssertTrue(c.contains("container: swift:\(tools)."), "\(file): \(c) is not Swift \(tools)")
            }
            XCTAssertFalse(text.contains("setup-swift"), "\(file) installs a second Swift")
            XCTAssertTrue(text.contains("security-events: write"), "\(file) cannot upload SARIF")
        }
        XCTAssertTrue(try Self.text("README.md").contains("Swift \(tools) on the `PATH`"))
    }

    /// Every relative link in README.md and docs/ leads to a file, and an anchor to a
    /// heading of it.
    func testRelativeLinksResolve() throws {
        let docs = try FileManager.default.contentsOfDirectory(atPath: Self.repository.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
        for page in ["README.md"] + docs.sorted() {
            let text = try Self.text(page)
            let base = URL(fileURLWithPath: page).deletingLastPathComponent().relativePath
            let links = text.matches(of: #/\]\(([^)#\s]+)?(#[^)\s]+)?\)/#)
            for link in links {
                let target = link.output.1.map(String.init) ?? page
                if target.hasPrefix("http") { continue }
                let path = link.output.1 == nil ? page : URL(fileURLWithPath: base == "." ? target : base + "/" + target).standardized.relativePath
                let resolved = Self.repository.appendingPathComponent(path).standardized
                let relative = String(resolved.path.dropFirst(Self.repository.standardized.path.count + 1))
                XCTAssertTrue(FileManager.default.fileExists(atPath: resolved.path), "\(page): \(link.output.0) leads nowhere (\(relative))")
                if let anchor = link.output.2, let targetText = try? String(contentsOf: resolved, encoding: .utf8) {
                    let slugs = targetText.split(separator: "\n").filter { $0.hasPrefix("#") }.map { Self.slug(String($0)) }
                    XCTAssertTrue(slugs.contains(String(anchor.dropFirst())), "\(page): \(link.output.0): no heading \(anchor) in \(relative)")
                }
            }
        }
    }

    /// A heading's anchor as GitHub makes it: lower case, punctuation dropped, blanks to '-'.
    static func slug(_ heading: String) -> String {
        let title = heading.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces).lowercased()
        return String(title.compactMap { c -> Character? in
            if c == " " { return "-" }
            return c.isLetter || c.isNumber || c == "-" || c == "_" ? c : nil
        })
    }
}
