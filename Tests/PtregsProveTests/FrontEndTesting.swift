import Foundation
import PtregsProve
import SpecElaboration
import SpecSyntax
import XCTest

/// Shared by the front-end tests (issue 14 items 3–6 and 10): a spec in, the exact first
/// diagnostic (`file:line:col` and message) and exit code 2 out.
enum FrontEnd {
    /// Asserts the report is bad input whose first diagnostic is at `location` and says
    /// exactly `message` (the whole text, so a changed word fails).
    static func assertError(_ report: CheckReport, _ location: String, _ message: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(report.exitCode, 2, "diagnostics: \(report.diagnostics)", file: file, line: line)
        XCTAssertTrue(report.paths.isEmpty, "a unit with an error must not be proved", file: file, line: line)
        guard let d = report.diagnostics.first else {
            XCTFail("no diagnostic; paths: \(report.paths.map(\.name))", file: file, line: line)
            return
        }
        // One mistake, one error: elaboration goes on after an error, and must not
        // report what follows from it.
        XCTAssertEqual(report.diagnostics.count, 1, "\(report.diagnostics)", file: file, line: line)
        XCTAssertEqual(d.severity, .error, file: file, line: line)
        XCTAssertEqual(d.location.description, location, "message: \(d.message)", file: file, line: line)
        XCTAssertEqual(d.message, message, file: file, line: line)
    }

    /// `text` as the unit `spec.pts`, elaborated only: its programs, jobs and diagnostics.
    static func elaborate(_ text: String) throws -> ([Program], [PathJob], CheckReport) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-front-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let unit = root.appendingPathComponent("spec.pts")
        try text.write(to: unit, atomically: true, encoding: .utf8)
        return Checker().elaborateUnits([unit.path])
    }

    /// Asserts the unit elaborates and every path proves every invariant.
    static func assertProves(_ report: CheckReport, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(report.diagnostics, [], file: file, line: line)
        XCTAssertFalse(report.paths.isEmpty, "no path was checked", file: file, line: line)
        for p in report.paths {
            for r in p.results {
                guard case .proved = r.verdict else {
                    XCTFail("\(p.name) \(r.invariant.rawValue): \(SpecHarness.describe(r.verdict))", file: file, line: line)
                    continue
                }
            }
        }
    }
}

/// GNU as and objdump, when the machine has them: what gas encodes for one line.
enum GasProbe {
    static let available: Bool = FileManager.default.isExecutableFile(atPath: "/usr/bin/as")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/objdump")

    /// The bytes of the first instruction gas assembles from `line` (64-bit mode), as
    /// objdump prints them ("48 0f 07"); nil when gas rejects it or is not installed.
    static func encoding(of line: String) -> String? {
        guard let dump = disassembly(of: line)?.output else { return nil }
        // "   0:\t48 0f 07             \tsysretq"
        for l in dump.split(separator: "\n") where l.hasPrefix("   0:") {
            let fields = l.split(separator: "\t")
            guard fields.count >= 2 else { return nil }
            return fields[1].trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// objdump's disassembly of `line` assembled with `as --64`, and gas's messages; nil
    /// if gas rejects it (or is not installed).
    static func disassembly(of line: String) -> (output: String, messages: String)? {
        guard available else { return nil }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-gas-\(UUID().uuidString)")
        guard (try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)) != nil else { return nil }
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("t.s"), obj = dir.appendingPathComponent("t.o")
        guard (try? "\t\(line)\n".write(to: src, atomically: true, encoding: .utf8)) != nil else { return nil }
        let a = run("/usr/bin/as", ["--64", "-o", obj.path, src.path])
        guard a.status == 0 else { return nil }
        let d = run("/usr/bin/objdump", ["-d", obj.path])
        return d.status == 0 ? (d.output, a.errors) : nil
    }

    /// What gas does with each line, assembled all at once (three processes, not three
    /// per line): nil for a line it rejects, else the first `$0x…` immediate objdump
    /// prints for it (nil inside if none) and whether gas warned. Nil when gas is missing.
    static func immediates(of lines: [String]) -> [(value: String?, warned: Bool)?]? {
        guard available else { return nil }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-gas-\(UUID().uuidString)")
        guard (try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)) != nil else { return nil }
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("t.s"), obj = dir.appendingPathComponent("t.o")
        func assemble(_ ls: [String]) -> String? {
            guard (try? ls.map { "\t\($0)\n" }.joined().write(to: src, atomically: true, encoding: .utf8)) != nil else { return nil }
            return run("/usr/bin/as", ["--64", "-o", obj.path, src.path]).errors
        }
        // gas names each line it rejects or warns about: "t.s:3: Error: …".
        func lineNumbers(_ messages: String, _ kind: String) -> Set<Int> {
            Set(messages.split(separator: "\n").compactMap { m -> Int? in
                let parts = m.split(separator: ":", maxSplits: 3)
                guard parts.count == 4, parts[2].trimmingCharacters(in: .whitespaces) == kind else { return nil }
                return Int(parts[1])
            })
        }
        guard let first = assemble(lines) else { return nil }
        let rejected = lineNumbers(first, "Error")
        let kept = lines.indices.filter { !rejected.contains($0 + 1) }
        // Each kept line behind a label of its own, so objdump says which is which.
        guard let second = assemble(kept.flatMap { ["l\($0):", lines[$0]] }) else { return nil }
        let warned = lineNumbers(second, "Warning")
        let d = run("/usr/bin/objdump", ["-d", obj.path])
        guard d.status == 0 else { return nil }
        var out: [(value: String?, warned: Bool)?] = Array(repeating: nil, count: lines.count)
        var current: Int?
        for l in d.output.split(separator: "\n") {
            if l.hasSuffix(">:"), let lt = l.firstIndex(of: "<") {
                current = Int(l[l.index(after: lt)...].dropFirst().dropLast(2))
                continue
            }
            guard let k = current, out[k] == nil, l.contains(":\t") else { continue }
            let value = l.firstIndex(of: "$").map { String(l[l.index(after: $0)...].prefix { $0.isHexDigit || $0 == "x" }) }
            // Line k sits at 2k+2 of the second file (its label is at 2k+1).
            let position = (kept.firstIndex(of: k) ?? 0) * 2 + 2
            out[k] = (value, warned.contains(position))
        }
        return out
    }

    /// Runs a tool: its status, stdout and stderr.
    static func run(_ tool: String, _ args: [String]) -> (status: Int32, output: String, errors: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        guard (try? p.run()) != nil else { return (-1, "", "") }
        // Small outputs: read one after the other without filling either pipe.
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self), String(decoding: errors, as: UTF8.self))
    }
}
