import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// Issue 14 item 5: `iret`, `sysret`, `sysretl`, `sysexit` are the 32-bit forms (gas,
/// 64-bit mode: `cf`, `0f 07`, `0f 35`, no REX.W), not `iretq`, `sysretq`, `sysexitq`.
/// The 32-bit IRETs are rejected; `sysretl` and `sysexitl` give the user the low halves of
/// rcx/rdx, zero-extended, and are checked as such.
final class FrontEndExitFormTests: XCTestCase {
    func testIretIsRejectedAsThe32BitForm() {
        let spec = ".path h entry=interrupt\nh:\n\tiret\n"
        FrontEnd.assertError(SpecHarness.check(spec), "spec.pts:3:2",
                             "'iret' is the 32-bit IRET (gas encodes it as cf, which pops 4-byte eip, cs, eflags, esp and ss): only iretq (48 cf) is modelled")
    }

    /// Siblings: the explicit 32-bit and the 16-bit spellings.
    func testIretlAndIretwAreRejected() {
        FrontEnd.assertError(SpecHarness.check(".path h entry=interrupt\nh:\n\tiretl\n"), "spec.pts:3:2",
                             "'iretl' is the 32-bit IRET (gas encodes it as cf, which pops 4-byte eip, cs, eflags, esp and ss): only iretq (48 cf) is modelled")
        FrontEnd.assertError(SpecHarness.check(".path h entry=interrupt\nh:\n\tiretw\n"), "spec.pts:3:2",
                             "'iretw' is the 16-bit IRET (66 cf, which pops 2-byte fields): only iretq (48 cf) is modelled")
    }

    func testIretqStillProves() {
        FrontEnd.assertProves(SpecHarness.check(".path h entry=interrupt\nh:\n\tiretq\n"))
    }

    /// A syscall that returns at once: rcx still holds the user's 64-bit rip.
    static func sysret(_ mnemonic: String) -> String {
        """
        .percpu old_rsp
        .percpu kernel_stack stack
        .path sc entry=syscall
        sc:
        \tswapgs
        \tmovq %rsp, PER_CPU_VAR(old_rsp)
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tmovq PER_CPU_VAR(old_rsp), %rsp
        \tswapgs
        \t\(mnemonic)
        """
    }

    func testSysretqGivesBackTheWholeRip() {
        FrontEnd.assertProves(SpecHarness.check(Self.sysret("sysretq")))
    }

    /// `sysretl` returns to eip = ecx: a 64-bit user rip does not survive it.
    func testSysretlGivesBackOnlyTheLowHalfOfRcx() {
        for m in ["sysretl", "sysret"] {
            let report = SpecHarness.check(Self.sysret(m))
            let cx = SpecHarness.assertViolated(report, path: "sc", .ptraceConsistency, blamedLine: 10,
                                                requirementContains: "the user's rip from pt_regs.ip (in rcx)")
            let rcx = cx?.values.first { $0.0 == "rcx" }?.1 ?? ""
            XCTAssertLessThanOrEqual(rcx.count, 10, "\(m): rcx is the zero-extended ecx, got \(rcx)")
            XCTAssertEqual(cx?.instruction, m)
        }
    }

    /// Sibling: SYSEXIT's two forms, rip = rdx and rsp = rcx.
    static func sysexit(_ mnemonic: String) -> String {
        """
        .percpu old_rsp
        .percpu kernel_stack stack
        .path sc entry=syscall
        sc:
        \tswapgs
        \tmovq %rsp, PER_CPU_VAR(old_rsp)
        \tmovq PER_CPU_VAR(kernel_stack), %rsp
        \tmovq %rcx, %rdx
        \tmovq PER_CPU_VAR(old_rsp), %rcx
        \tswapgs
        \t\(mnemonic)
        """
    }

    func testSysexitqProvesAndSysexitlDoesNot() {
        FrontEnd.assertProves(SpecHarness.check(Self.sysexit("sysexitq")))
        for m in ["sysexitl", "sysexit"] {
            let report = SpecHarness.check(Self.sysexit(m))
            SpecHarness.assertViolated(report, path: "sc", .frameBalance, blamedLine: 11,
                                       requirementContains: "sysexit must leave with the user's rsp (in rcx)")
            SpecHarness.assertViolated(report, path: "sc", .ptraceConsistency, blamedLine: 11,
                                       requirementContains: "the user's rip from pt_regs.ip (in rdx)")
        }
    }

    /// The decoder's reading of each spelling, as gas encodes it (checked against `as`
    /// when it is installed: REX.W, 0x48, marks the 64-bit form).
    func testEachSpellingDecodesToTheFormGasEncodes() throws {
        let table: [(String, String, Bool?)] = [
            ("sysretq", "48 0f 07", true), ("sysretl", "0f 07", false), ("sysret", "0f 07", false),
            ("sysexitq", "48 0f 35", true), ("sysexitl", "0f 35", false), ("sysexit", "0f 35", false),
            ("iretq", "48 cf", true), ("iretl", "cf", nil), ("iret", "cf", nil), ("iretw", "66 cf", nil),
        ]
        for (m, bytes, is64) in table {
            let spec = ".percpu kernel_stack stack\n.path h entry=syscall\nh:\n\t\(m)\n"
            let (programs, _, report) = try Self.elaborate(spec)
            if GasProbe.available { XCTAssertEqual(GasProbe.encoding(of: m), bytes, "gas's encoding of \(m)") }
            guard let is64 else {
                XCTAssertEqual(report.exitCode, 2, "\(m) must be rejected")
                continue
            }
            let op = programs.first?.instructions.first?.operation
            switch op {
            case .sysret(let w)?, .sysexit(let w)?: XCTAssertEqual(w == .q, is64, m)
            case .iret?: XCTAssertTrue(is64, m)
            default: XCTFail("\(m) decoded to \(String(describing: op))")
            }
        }
    }

    static func elaborate(_ text: String) throws -> ([Program], [PathJob], CheckReport) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-exit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let unit = root.appendingPathComponent("spec.pts")
        try text.write(to: unit, atomically: true, encoding: .utf8)
        return Checker().elaborateUnits([unit.path])
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

    /// The first `$0x…` immediate of the instruction gas assembles from `line`.
    static func immediate(of line: String) -> (value: String, warned: Bool)? {
        guard let (dump, messages) = disassembly(of: line) else { return nil }
        for l in dump.split(separator: "\n") where l.hasPrefix("   0:") {
            guard let dollar = l.firstIndex(of: "$") else { return nil }
            let hex = l[l.index(after: dollar)...].prefix { $0.isHexDigit || $0 == "x" }
            return (String(hex), messages.contains("Warning"))
        }
        return nil
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
