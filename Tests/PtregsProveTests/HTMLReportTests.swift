import Foundation
import PtregsProve
import SpecElaboration
import StackSemantics
import XCTest

/// `--format html`: well-formed, deterministic, escaped, and rendered by a real headless
/// Chromium with its script run (the step counter and the stack drawings in the DOM).
final class HTMLReportTests: XCTestCase {
    /// An interrupt path that restores rdi and rsi from each other's slots: a violation
    /// whose pictures hold the pt_regs frame and the IRET frame.
    static let swapped = """
    .extern do_IRQ
    .path common_interrupt entry=interrupt from=kernel
    common_interrupt:
    \tpushq $-1
    \tsubq $15*8, %rsp
    \tmovq %rdi, RDI(%rsp)
    \tmovq %rsi, RSI(%rsp)
    \tmovq %rdx, RDX(%rsp)
    \tmovq %rcx, RCX(%rsp)
    \tmovq %rax, RAX(%rsp)
    \tmovq %r8, R8(%rsp)
    \tmovq %r9, R9(%rsp)
    \tmovq %r10, R10(%rsp)
    \tmovq %r11, R11(%rsp)
    \tmovq %rsp, %rdi
    \tcall do_IRQ
    \tmovq R11(%rsp), %r11
    \tmovq R10(%rsp), %r10
    \tmovq R9(%rsp), %r9
    \tmovq R8(%rsp), %r8
    \tmovq RAX(%rsp), %rax
    \tmovq RCX(%rsp), %rcx
    \tmovq RDX(%rsp), %rdx
    \tmovq RDI(%rsp), %rsi
    \tmovq RSI(%rsp), %rdi
    \taddq $16*8, %rsp
    \tiretq
    """

    /// A file name with every character HTML escapes.
    static let hostileName = "a<b>&\"c'.pts"

    static func report() -> CheckReport {
        var options = ProverOptions()
        options.stackPerStep = true
        var checker = Checker(options: options)
        checker.jobs = 1
        return checker.check(source: swapped, name: hostileName)
    }

    func testEveryStepHasAPictureWithThePtregsAndIRETFrames() throws {
        let report = Self.report()
        let result = try XCTUnwrap(report.paths.first?.results.first { $0.invariant == .restoreMatchesSave })
        let v = try XCTUnwrap(result.violations.first)
        let cx = v.counterexample
        XCTAssertGreaterThan(cx.steps.count, 10)
        XCTAssertTrue(cx.steps.allSatisfy { !$0.stack.isEmpty }, "every step carries the stack before it")
        // The blamed step's own picture is the one the text report prints.
        XCTAssertEqual(cx.steps[cx.blamedStepIndex].stack, cx.picture)
        let html = HTMLReport.render(report)
        XCTAssertTrue(html.contains("class=\"frame-ptregs\""))
        XCTAssertTrue(html.contains("class=\"frame-iret\""))
        XCTAssertTrue(html.contains(">rsp</text>"))
        // One trace per mechanism (rsi and rdi are each wrong), a drawing per step.
        var seen: Set<Mechanism> = [], steps = 0
        for v in result.violations where seen.insert(v.mechanism).inserted { steps += v.counterexample.steps.count }
        XCTAssertEqual(seen.count, 2)
        XCTAssertEqual(html.components(separatedBy: "<div class=\"step\" ").count - 1, steps)
        XCTAssertEqual(html.components(separatedBy: "<svg ").count - 1, steps)
    }

    func testTheStacksAreRecordedOnlyWhenAsked() throws {
        let report = Checker(options: ProverOptions()).check(source: Self.swapped, name: "plain.pts")
        let cx = try XCTUnwrap(report.paths.first?.results.first { $0.invariant == .restoreMatchesSave }?.violations.first?.counterexample)
        XCTAssertTrue(cx.steps.allSatisfy { $0.stack.isEmpty })
        XCTAssertFalse(cx.picture.isEmpty)
    }

    /// The command line: `--format html` turns the per-step stacks on, writes the page to
    /// standard output and keeps the exit code of the verdicts.
    func testCommandLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("html-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = FileManager.default.createFile(atPath: dir.appendingPathComponent(".ptregs-root").path, contents: Data())
        try Self.swapped.write(to: dir.appendingPathComponent("swapped.pts"), atomically: true, encoding: .utf8)
        let r = try PtregsProveBinary.run(["--format", "html", "swapped.pts"], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(r.stdout.hasSuffix("</html>\n"))
        let steps = r.stdout.components(separatedBy: "<div class=\"step\" ").count - 1
        XCTAssertGreaterThan(steps, 20)
        XCTAssertEqual(r.stdout.components(separatedBy: "<svg ").count - 1, steps, "a drawing for every step")
        let again = try PtregsProveBinary.run(["--format", "html", "--jobs", "1", "swapped.pts"], in: dir)
        XCTAssertEqual(again.stdout, r.stdout, "byte-identical for any job count")
    }

    func testDeterministicAndEscaped() {
        let a = HTMLReport.render(Self.report()), b = HTMLReport.render(Self.report())
        XCTAssertEqual(a, b, "the same input gives byte-identical output")
        XCTAssertFalse(a.contains(Self.hostileName), "the file name is escaped")
        XCTAssertTrue(a.contains("a&lt;b&gt;&amp;&quot;c&#39;.pts"))
        XCTAssertFalse(a.contains("http://") && a.replacingOccurrences(of: "http://www.w3.org/", with: "").contains("http://"),
                       "nothing is fetched")
        XCTAssertFalse(a.contains("https://"))
        XCTAssertEqual(HTMLReport.escape("<script>&'\"\u{1}"), "&lt;script&gt;&amp;&#39;&quot;\u{FFFD}")
    }

    static func tool(_ names: [String]) -> String? {
        let dirs = ["/usr/bin", "/usr/local/bin", "/bin"] + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for n in names { for d in dirs where FileManager.default.isExecutableFile(atPath: "\(d)/\(n)") { return "\(d)/\(n)" } }
        return nil
    }

    /// Runs a tool with its output (both streams) in a file, so no pipe fills up.
    static func run(_ exe: String, _ args: [String], timeout: TimeInterval = 120) throws -> (status: Int32, output: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("html-tool-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        try handle.close()
        return (p.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    func write(_ html: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("html-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("report.html")
        try html.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Well-formed as XML (the page is polyglot XHTML), and libxml2's HTML parser finds
    /// nothing wrong but the HTML5 and SVG element names it does not know.
    func testWellFormed() throws {
        guard let xmllint = Self.tool(["xmllint"]) else { throw XCTSkip("xmllint is not installed (Debian: libxml2-utils)") }
        let file = try write(HTMLReport.render(Self.report()))
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let xml = try Self.run(xmllint, ["--noout", file.path])
        XCTAssertEqual(xml.status, 0, xml.output)
        let html = try Self.run(xmllint, ["--html", "--noout", file.path])
        let errors = html.output.split(separator: "\n").filter { $0.contains("error") && !$0.contains("invalid") }
        XCTAssertEqual(errors, [], html.output)
        // A bad page fails the same check: the test can fail.
        let bad = try write("<html><body><p>unclosed &amp <b></p></body></html>")
        defer { try? FileManager.default.removeItem(at: bad.deletingLastPathComponent()) }
        XCTAssertNotEqual(try Self.run(xmllint, ["--noout", bad.path]).status, 0)
    }

    /// Headless Chromium: the page's script runs (the step counter is filled in, the
    /// body marked ready), the DOM holds the drawings, and the screenshot is a real
    /// picture of the page.
    func testRenderedByHeadlessChromium() throws {
        guard let chromium = Self.tool(["chromium", "chromium-browser", "google-chrome"]) else {
            throw XCTSkip("chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
        }
        let file = try write(HTMLReport.render(Self.report()))
        let dir = file.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: dir) }
        let profile = dir.appendingPathComponent("profile").path
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile)"]
        let dom = try Self.run(chromium, common + ["--dump-dom", file.absoluteString])
        XCTAssertEqual(dom.status, 0, dom.output)
        XCTAssertTrue(dom.output.contains("data-ready=\"1\""), "the page's script ran")
        XCTAssertNotNil(dom.output.range(of: #"step \d+ of \d+ \(blamed\)"#, options: .regularExpression), "the step counter is filled in")
        XCTAssertTrue(dom.output.contains("<svg"), "the stack drawings are in the DOM")
        XCTAssertTrue(dom.output.contains("frame-iret"))

        // A link to a step opens its trace there (the script's show() with any step).
        let linked = try Self.run(chromium, common + ["--dump-dom", file.absoluteString + "#v1@2"])
        XCTAssertTrue(linked.output.contains("step 2 of "), linked.output.suffix(2000).description)

        let png = dir.appendingPathComponent("report.png")
        let shot = try Self.run(chromium, common + ["--screenshot=\(png.path)", "--window-size=1400,1500", "--hide-scrollbars", file.absoluteString])
        XCTAssertEqual(shot.status, 0, shot.output)
        let data = try Data(contentsOf: png)
        // A PNG: its signature, then IHDR with the width and height asked for.
        XCTAssertGreaterThan(data.count, 50_000, "a page of text and drawings, not a blank image")
        XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        guard data.count > 24 else { return XCTFail("truncated PNG") }
        func be32(_ at: Int) -> Int { data[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(be32(16), 1400)
        XCTAssertEqual(be32(20), 1500)
        if let keep = ProcessInfo.processInfo.environment["PTREGS_KEEP_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(at: png, to: URL(fileURLWithPath: keep))
        }
    }
}
