import Foundation
import SpecElaboration
import SpecSyntax

/// Fingerprints of the assembly a spec models, so an edit to entry code cannot slip
/// past an unchanged spec. FNV-1a over the lines with trailing blanks dropped: a change
/// detector, not a security measure.
public enum SourceFingerprint {
    /// The modelled region of `text`: explicit lines, or the block of a symbol from the
    /// line that defines it (`ENTRY(name)`, `GLOBAL(name)`, `SYM_CODE_START(name)`,
    /// `SYM_FUNC_START(name)` and their variants, `SYM_INNER_LABEL(name, …)` or `name:`) to
    /// its end (`END(name)`, `ENDPROC(name)`, `SYM_CODE_END(name)`, `SYM_FUNC_END(name)`).
    /// A symbol with no end of its own (an inner label) ends where the next symbol
    /// ends; without one, at the end of the file.
    public static func region(of text: String, lines: ClosedRange<Int>?, symbol: String?) -> ClosedRange<Int>? {
        let all = text.split(separator: "\n", omittingEmptySubsequences: false)
        if let l = lines { return l.upperBound <= all.count ? l : nil }
        guard let sym = symbol else { return 1...max(1, all.count) }
        func trimmed(_ line: Substring) -> String { line.trimmingCharacters(in: .whitespaces) }
        guard let start = all.firstIndex(where: { opens(trimmed($0), sym) }) else { return nil }
        let end = all[start...].firstIndex { closes(trimmed($0), sym) }
            ?? all[start...].dropFirst().firstIndex { closes(trimmed($0), nil) }
            ?? all.count - 1
        return (start + 1)...(end + 1)
    }

    /// Annotations that start a symbol: their first argument is its name.
    static let symbolStarts = ["ENTRY", "GLOBAL", "SYM_CODE_START", "SYM_CODE_START_LOCAL", "SYM_CODE_START_NOALIGN",
                               "SYM_CODE_START_LOCAL_NOALIGN", "SYM_FUNC_START", "SYM_FUNC_START_LOCAL", "SYM_FUNC_START_NOALIGN",
                               "SYM_FUNC_START_LOCAL_NOALIGN", "SYM_FUNC_START_WEAK", "SYM_FUNC_START_WEAK_NOALIGN",
                               "SYM_INNER_LABEL", "SYM_INNER_LABEL_ALIGN", "SYM_START"]
    /// Annotations that end one.
    static let symbolEnds = ["END", "ENDPROC", "SYM_CODE_END", "SYM_FUNC_END", "SYM_END"]

    /// The first argument of `NAME(arg, …)` when the line starts with one of `names`.
    static func annotatedSymbol(_ line: String, _ names: [String]) -> String? {
        guard let open = line.firstIndex(of: "("), names.contains(String(line[..<open]).trimmingCharacters(in: .whitespaces)) else { return nil }
        let args = line[line.index(after: open)...]
        let first = args.prefix { $0 != "," && $0 != ")" }
        return first.trimmingCharacters(in: .whitespaces)
    }

    static func opens(_ line: String, _ sym: String) -> Bool {
        annotatedSymbol(line, symbolStarts) == sym || line.hasPrefix("\(sym):")
    }

    /// Whether the line ends `sym` (any symbol, for nil).
    static func closes(_ line: String, _ sym: String?) -> Bool {
        guard let ended = annotatedSymbol(line, symbolEnds) else { return false }
        return sym.map { $0 == ended } ?? true
    }

    public static func fingerprint(of text: String, region: ClosedRange<Int>) -> String {
        let all = text.split(separator: "\n", omittingEmptySubsequences: false)
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in region where i - 1 < all.count {
            var line = Substring(all[i - 1])
            while let last = line.last, last == " " || last == "\t" || last == "\r" { line = line.dropLast() }
            for b in line.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            h = (h ^ 0x0A) &* 0x100_0000_01b3
        }
        return String(h, radix: 16).leftPad(16, "0")
    }
}

/// `--changed-since REF`: which specs the diff since REF affects, and which are out of
/// date because the code they model changed under them.
public struct ChangeGate {
    public var ref: String
    /// A directory inside the git tree holding the modelled code (a kernel tree).
    public var tree: String

    public init(ref: String, tree: String) {
        self.ref = ref
        self.tree = tree
    }

    public struct Outcome {
        public var report: CheckReport
        /// Spec units the diff does not touch: not re-checked.
        public var unaffected: [String]
    }

    static func git(_ args: [String], in dir: String) -> (status: Int32, out: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", dir] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        do { try p.run() } catch { return (127, "") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// New-side line ranges of the hunks of `file` changed since REF.
    func changedLines(_ file: String, top: String) -> [ClosedRange<Int>] {
        let (_, out) = Self.git(["diff", "-U0", ref, "--", file], in: top)
        var ranges: [ClosedRange<Int>] = []
        for line in out.split(separator: "\n") where line.hasPrefix("@@") {
            // @@ -a,b +c,d @@
            guard let plus = line.split(separator: " ").first(where: { $0.hasPrefix("+") }) else { continue }
            let nums = plus.dropFirst().split(separator: ",").compactMap { Int($0) }
            guard let c = nums.first else { continue }
            let d = nums.count > 1 ? nums[1] : 1
            ranges.append(c...max(c, c + d - 1))
        }
        return ranges
    }

    public func run(_ checker: Checker, inputs: [String]) -> Outcome {
        let (status, topOut) = Self.git(["rev-parse", "--show-toplevel"], in: tree)
        var base = checker.elaborateUnits(inputs)
        guard status == 0 else {
            base.report.diagnostics.append(.error(SourceLocation(file: tree, line: 1, column: 1), "--changed-since needs a git tree: \(tree) is not inside one"))
            return Outcome(report: base.report, unaffected: [])
        }
        let top = topOut.trimmingCharacters(in: .whitespacesAndNewlines)
        let (diffStatus, names) = Self.git(["diff", "--name-only", ref], in: top)
        guard diffStatus == 0 else {
            base.report.diagnostics.append(.error(SourceLocation(file: tree, line: 1, column: 1), "git cannot diff against '\(ref)'"))
            return Outcome(report: base.report, unaffected: [])
        }
        let (_, untracked) = Self.git(["ls-files", "--others", "--exclude-standard"], in: top)
        let changed = Set((names + "\n" + untracked).split(separator: "\n").map {
            URL(fileURLWithPath: top).appendingPathComponent(String($0)).standardizedFileURL.resolvingSymlinksInPath().path
        })
        var report = base.report
        var affectedJobs: [PathJob] = []
        var unaffected: [String] = []
        /// Whether the diff touches `src`'s region; its findings go into the report.
        func judge(_ src: ModelledSource) -> Bool {
            let path = URL(fileURLWithPath: top).appendingPathComponent(src.file).standardizedFileURL.path
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                report.gate.append(.error(src.location, "spec out of date: \(src.file) no longer exists in \(top)"))
                return false
            }
            guard let region = SourceFingerprint.region(of: text, lines: src.lines, symbol: src.symbol) else {
                report.gate.append(.error(src.location, "spec out of date: \(src.symbol.map { "symbol \($0)" } ?? "the modelled lines") not found in \(src.file)"))
                return false
            }
            let now = SourceFingerprint.fingerprint(of: text, region: region)
            let hunks = changed.contains(path) ? changedLines(src.file, top: top).filter { $0.overlaps(region) } : []
            guard let recorded = src.fingerprint else {
                report.gate.append(.error(src.location, "\(src.file) (lines \(region.lowerBound)-\(region.upperBound)) has no recorded fingerprint: add fingerprint=\(now)"))
                return !hunks.isEmpty
            }
            if recorded != now {
                let at = hunks.isEmpty ? "lines \(region.lowerBound)-\(region.upperBound)" : "lines " + hunks.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ", ")
                report.gate.append(.error(src.location, "spec out of date: \(src.file) changed at \(at) (fingerprint now \(now), the spec records \(recorded)); update the spec to the new code, then its fingerprint"))
                return true
            }
            return !hunks.isEmpty
        }
        // A `.models` line in an include counts for every unit that includes it; it is
        // judged once, so a stale one is reported once, not once per unit.
        var judged: [ModelledSource: Bool] = [:]
        for program in base.programs {
            var affected = program.files.contains { changed.contains($0) }
            for src in program.modelledSources {
                let touched = judged[src] ?? judge(src)
                judged[src] = touched
                if touched { affected = true }
            }
            let jobs = base.jobs.filter { $0.program.file == program.file }
            if affected { affectedJobs += jobs } else { unaffected.append(program.file) }
        }
        report.paths = checker.prove(affectedJobs)
        return Outcome(report: report, unaffected: unaffected)
    }
}
