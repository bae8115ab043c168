import Foundation
import SpecElaboration
import SpecSyntax
import StackSemantics

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
        return "\(exe)|\(size)|\(mtime)|cache-format-3"
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

    /// `graph`: the path's graph if the caller has it (elaboration built it).
    public func key(program: Program, path: PathSpec, options: ProverOptions, graph: PathGraph? = nil) -> String {
        // Spelled out field by field: `String(describing:)` of these types goes through
        // reflection, and made computing keys dearer than proving.
        var text = Self.checkerIdentity + "\n"
        text += "options \(options.invariants.map(\.rawValue).sorted()) \(options.timeoutMilliseconds) \(options.resourceLimit.map(String.init) ?? "-") "
        text += "\(options.structuralFastPath) \(options.mergeStates) \(options.concreteProbes) \(options.recordObligations)\n"
        // Sets and dictionaries print in a per-process order: spell them out sorted.
        text += "path \(path.name) \(path.location) \(path.entryIndex) \(path.models) \(path.entry.rawValue) \(path.mode.rawValue) "
        text += "\(path.preserves.map(\.name).sorted()) \(path.ptRegsOffset.map(String.init) ?? "-") \(path.validFields.sorted()) \(path.kernelStack) "
        text += "\(path.userSP ?? "-") \(path.expectedViolations.map(\.rawValue).sorted())\n"
        let used: [Int]
        if let graph = graph ?? (try? PathGraph(program: program, path: path)) {
            used = Array(Set(graph.nodes.map(\.instruction))).sorted()
        } else {
            used = Array(program.instructions.indices)
        }
        for i in used { text += "\(i) " + Self.fingerprint(program.instructions[i]) + "\n" }
        for (k, c) in program.externs.sorted(by: { $0.key < $1.key }) {
            text += "extern \(k) \(c.clobbers.map(\.name).sorted()) \(c.ptRegs.map(Self.fingerprint) ?? "-") \(c.observes) \(c.isPtraceStop) \(c.writes) "
            text += "\(c.isIndirectTarget) \(c.expectedFields.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" })\n"
        }
        for (k, v) in program.perCPU.sorted(by: { $0.key < $1.key }) { text += "percpu \(k) \(Self.fingerprint(v))\n" }
        return Self.digest(text)
    }

    // MARK: Fingerprints: every field that can change a verdict or a report, in words.

    static func fingerprint(_ i: Instruction) -> String {
        var s = fingerprint(i.operation) + " @\(i.location) `\(i.text)` \(i.labels)"
        for n in i.expansion { s += " <\(n.location) \(n.message)>" }
        return s
    }

    static func fingerprint(_ w: Width) -> String { "w\(w.bytes)" }

    static func fingerprint(_ o: Operand) -> String {
        switch o {
        case .register(let r, let w): return "%\(r.name)/\(fingerprint(w))"
        case .immediate(let v): return "$\(v)"
        case .memory(let m):
            return "[\(m.base?.name ?? "-"),\(m.index?.name ?? "-"),\(m.scale),\(m.displacement),\(m.perCPU ?? "-"),\(m.symbol ?? "-"),\(m.text)]"
        }
    }

    static func fingerprint(_ t: Target) -> String {
        switch t {
        case .code(let i, let label): return "code \(i) \(label)"
        case .external(let name): return "external \(name)"
        case .indirect(let r): return "indirect %\(r.name)"
        }
    }

    static func fingerprint(_ op: SpecElaboration.Operation) -> String {
        let f: (Operand) -> String = fingerprint
        switch op {
        case .push(let a): return "push \(f(a))"
        case .pop(let a): return "pop \(f(a))"
        case .move(let a, let b, let w): return "move \(f(a)) \(f(b)) \(fingerprint(w))"
        case .lea(let m, let r): return "lea \(f(.memory(m))) %\(r.name)"
        case .loadAddress(let s, let r): return "loadAddress \(s) %\(r.name)"
        case .alu(let k, let a, let b, let w): return "alu \(k.rawValue) \(f(a)) \(f(b)) \(fingerprint(w))"
        case .unary(let k, let a, let w): return "unary \(k.rawValue) \(f(a)) \(fingerprint(w))"
        case .test(let a, let b, let w): return "test \(f(a)) \(f(b)) \(fingerprint(w))"
        case .compare(let a, let b, let w): return "compare \(f(a)) \(f(b)) \(fingerprint(w))"
        case .exchange(let a, let b, let w): return "exchange \(f(a)) \(f(b)) \(fingerprint(w))"
        case .conditionalMove(let c, let a, let r): return "cmov \(c.rawValue) \(f(a)) %\(r.name)"
        case .jump(let t): return "jump \(fingerprint(t))"
        case .branch(let c, let t): return "branch \(c.rawValue) \(fingerprint(t))"
        case .call(let t): return "call \(fingerprint(t))"
        case .ret(let n): return "ret \(n)"
        case .sysret: return "sysret"
        case .sysexit: return "sysexit"
        case .iret: return "iret"
        case .pushFlags: return "pushFlags"
        case .popFlags: return "popFlags"
        case .readMSR: return "readMSR"
        case .bitTest(let k, let a, let b, let w): return "bitTest \(k) \(f(a)) \(f(b)) \(fingerprint(w))"
        case .swapgs: return "swapgs"
        case .noEffect(let m): return "noEffect \(m)"
        }
    }

    static func fingerprint(_ p: ExternContract.PtRegsPointer) -> String {
        switch p {
        case .register(let r): return "in %\(r.name)"
        case .stackOffset(let k): return "at rsp\(k >= 0 ? "+" : "")\(k)"
        }
    }

    static func fingerprint(_ k: PerCPUKind) -> String {
        switch k {
        case .value: return "value"
        case .pointer: return "pointer"
        case .stack: return "stack"
        }
    }

    /// `program`: the unit the report's path is in (its trace steps' words come from it).
    public func load(_ key: String, program: Program) -> PathReport? {
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(key + ".json").path),
              let stored = try? JSONDecoder().decode(StoredReport.self, from: data) else { return nil }
        return stored.restored(from: program)
    }

    public func store(_ key: String, _ report: PathReport, program: Program) {
        guard let data = try? JSONEncoder().encode(StoredReport(report, program: program)) else { return }
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try? data.write(to: directory.appendingPathComponent(key + ".json"), options: .atomic)
    }
}

/// A report as the cache keeps it: each trace step without the words of its instruction
/// (text, locations, macro notes: most of an entry, and most of the time to read one),
/// which come back from the unit by the instruction's index when it is loaded.
struct StoredReport: Codable {
    var report: PathReport
    /// One per trace step, counterexamples in result order: the step's instruction in
    /// the unit, or -1 when the step was kept whole.
    var instructions: [Int]

    init(_ full: PathReport, program: Program) {
        struct Words: Hashable { var location: SourceLocation; var text: String; var expansion: [Diagnostic.Note] }
        var index: [Words: Int] = [:]
        for (i, inst) in program.instructions.enumerated() {
            let words = Words(location: inst.location, text: inst.text, expansion: inst.expansion)
            if index[words] == nil { index[words] = i }
        }
        var out: [Int] = []
        report = full
        report.mapSteps { step in
            guard let i = index[Words(location: step.location, text: step.text, expansion: step.expansion)] else { out.append(-1); return }
            out.append(i)
            let nowhere = SourceLocation(file: "", line: 0, column: 0)
            step.text = ""
            step.expansion = []
            step.location = nowhere
            step.sourceLocation = nowhere
        }
        instructions = out
    }

    /// The full report; nil when the entry does not fit the unit (then it is re-proved).
    func restored(from program: Program) -> PathReport? {
        var full = report
        var k = 0
        var fits = true
        full.mapSteps { step in
            guard k < instructions.count else { fits = false; return }
            let i = instructions[k]
            k += 1
            guard i >= 0 else { return }
            guard i < program.instructions.count else { fits = false; return }
            let inst = program.instructions[i]
            step.text = inst.text
            step.expansion = inst.expansion
            step.location = inst.location
            step.sourceLocation = inst.sourceLocation
        }
        return fits && k == instructions.count ? full : nil
    }
}

extension PathReport {
    /// Visits every trace step of every counterexample, in result order.
    mutating func mapSteps(_ body: (inout TraceStep) -> Void) {
        for r in results.indices {
            guard case .violated(var cx) = results[r].verdict else { continue }
            for s in cx.steps.indices { body(&cx.steps[s]) }
            results[r].verdict = .violated(cx)
        }
    }
}
