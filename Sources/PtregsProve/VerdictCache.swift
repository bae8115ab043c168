import Foundation
import SpecElaboration
import SpecSyntax

/// Verdicts of unchanged paths, kept between runs: a reviewer re-running the gate after
/// a fixup re-proves only the paths the fixup touched. The key is a content hash of
/// everything the verdict depends on: the path's elaborated instructions (with their
/// source locations, which the report shows), the declarations, the options, and the
/// checker itself (the running executable's size and modification time).
public struct VerdictCache: Sendable {
    public let directory: URL

    public init(directory: URL) { self.directory = directory }

    /// `$XDG_CACHE_HOME/ptregs-prove`, else `.build/ptregs-prove-cache` here.
    public static func defaultDirectory() -> URL {
        if let xdg = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("ptregs-prove")
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/ptregs-prove-cache")
    }

    static let checkerIdentity: String = {
        let exe = Bundle.main.executablePath ?? CommandLine.arguments.first ?? ""
        let attrs = (try? FileManager.default.attributesOfItem(atPath: exe)) ?? [:]
        let size = (attrs[.size] as? NSNumber)?.intValue ?? 0
        let mtime = (attrs[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(exe)|\(size)|\(mtime)|cache-format-1"
    }()

    /// Two independent 64-bit FNV-1a hashes: 128 bits of key.
    static func digest(_ text: String) -> String {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x6c62_272e_07bb_0142
        for byte in text.utf8 {
            a = (a ^ UInt64(byte)) &* 0x100_0000_01b3
            b = (b ^ UInt64(byte)) &* 0x100_0000_01b3 ^ 0x9e37_79b9_7f4a_7c15
        }
        return String(a, radix: 16).leftPad(16, "0") + String(b, radix: 16).leftPad(16, "0")
    }

    public func key(program: Program, path: PathSpec, options: ProverOptions) -> String {
        var text = Self.checkerIdentity + "\n"
        text += "options \(options.invariants.map(\.rawValue).sorted()) \(options.timeoutMilliseconds) \(String(describing: options.resourceLimit)) "
        text += "\(options.structuralFastPath) \(options.mergeStates) \(options.concreteProbes) \(options.recordObligations)\n"
        // Sets and dictionaries print in a per-process order: spell them out sorted.
        text += "path \(path.name) \(path.location) \(path.entryIndex) \(path.models) \(path.entry) \(path.mode) "
        text += "\(path.preserves.sorted()) \(String(describing: path.ptRegsOffset)) \(path.validFields.sorted()) \(path.kernelStack) "
        text += "\(String(describing: path.userSP)) \(path.expectedViolations.sorted())\n"
        let used: [Int]
        if let graph = try? PathGraph(program: program, path: path) {
            used = Array(Set(graph.nodes.map(\.instruction))).sorted()
        } else {
            used = Array(program.instructions.indices)
        }
        for i in used { text += "\(i) \(program.instructions[i])\n" }
        for (k, c) in program.externs.sorted(by: { $0.key < $1.key }) {
            text += "extern \(k) \(c.clobbers.sorted()) \(String(describing: c.ptRegs)) \(c.observes) \(c.isPtraceStop) \(c.writes) "
            text += "\(c.expectedFields.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" })\n"
        }
        for (k, v) in program.perCPU.sorted(by: { $0.key < $1.key }) { text += "percpu \(k) \(v)\n" }
        return Self.digest(text)
    }

    public func load(_ key: String) -> PathReport? {
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(key + ".json").path) else { return nil }
        return try? JSONDecoder().decode(PathReport.self, from: data)
    }

    public func store(_ key: String, _ report: PathReport) {
        guard let data = try? JSONEncoder().encode(report) else { return }
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try? data.write(to: directory.appendingPathComponent(key + ".json"), options: .atomic)
    }
}
