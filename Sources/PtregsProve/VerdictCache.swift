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
        return "\(exe)|\(size)|\(mtime)|cache-format-6"
    }()

    /// `graph`: the path's graph if the caller has it (elaboration built it).
    public func key(program: Program, path: PathSpec, options: ProverOptions, graph: PathGraph? = nil) -> String {
        // Every field that can change a verdict or a report goes into the hash as it is
        // (printing these types goes through reflection and made keys dearer than proofs).
        var h = KeyHasher()
        h.add(Self.checkerIdentity)
        h.add(options.invariants.map(\.rawValue).sorted())
        h.add(Int(options.timeoutMilliseconds)); h.add(options.resourceLimit.map(Int.init) ?? -1)
        h.add([options.structuralFastPath, options.mergeStates, options.concreteProbes, options.recordObligations].map { $0 ? "1" : "0" })
        // Sets and dictionaries iterate in a per-process order: sorted.
        h.add(path.name); h.add(path.location); h.add(path.entryIndex); h.add(path.models)
        h.add(path.entry.rawValue); h.add(path.mode.rawValue); h.add(path.preserves.map(\.name).sorted())
        h.add(path.ptRegsOffset.map { Int($0) } ?? Int.min); h.add(path.validFields.sorted()); h.add(path.kernelStack)
        h.add(path.userSP ?? "\u{0}"); h.add(path.expectedViolations.map(\.rawValue).sorted())
        let used: [Int]
        if let graph = graph ?? (try? PathGraph(program: program, path: path)) {
            used = Array(Set(graph.nodes.map(\.instruction))).sorted()
        } else {
            used = Array(program.instructions.indices)
        }
        for i in used {
            h.add(i)
            Self.add(program.instructions[i], to: &h)
        }
        for (k, c) in program.externs.sorted(by: { $0.key < $1.key }) {
            h.add("extern"); h.add(k); h.add(c.clobbers.map(\.name).sorted())
            switch c.ptRegs {
            case nil: h.add("-")
            case .register(let r)?: h.add("in"); h.add(r.name)
            case .stackOffset(let k)?: h.add("at"); h.add(Int(k))
            }
            h.add(c.observes); h.add(c.isPtraceStop ? "stop" : "-"); h.add(c.writes); h.add(c.isIndirectTarget ? "indirect" : "-")
            h.add(c.expectedFields.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" })
        }
        for (k, v) in program.perCPU.sorted(by: { $0.key < $1.key }) {
            h.add("percpu"); h.add(k)
            switch v {
            case .value: h.add("value")
            case .pointer: h.add("pointer")
            case .stack: h.add("stack")
            }
        }
        return h.digest
    }

    // MARK: Hashing the decoded instructions, field by field.

    static func add(_ i: Instruction, to h: inout KeyHasher) {
        add(i.operation, to: &h)
        h.add(i.location); h.add(i.text); h.add(i.labels)
        h.add(i.expansion.count)
        for n in i.expansion { h.add(n.location); h.add(n.message) }
    }

    static func add(_ w: Width, to h: inout KeyHasher) { h.add(Int(w.bytes)) }

    static func add(_ o: Operand, to h: inout KeyHasher) {
        switch o {
        case .register(let r, let w): h.add("reg"); h.add(r.rawValue); add(w, to: &h)
        case .immediate(let v): h.add("imm"); h.add(Int(v))
        case .memory(let m):
            h.add("mem"); h.add(m.base?.rawValue ?? -1); h.add(m.index?.rawValue ?? -1); h.add(Int(m.scale)); h.add(Int(m.displacement))
            h.add(m.perCPU ?? "\u{0}"); h.add(m.symbol ?? "\u{0}"); h.add(m.text)
        }
    }

    static func add(_ t: Target, to h: inout KeyHasher) {
        switch t {
        case .code(let i, let label): h.add("code"); h.add(i); h.add(label)
        case .external(let name): h.add("external"); h.add(name)
        case .indirect(let r): h.add("indirect"); h.add(r.rawValue)
        }
    }

    static func add(_ op: SpecElaboration.Operation, to h: inout KeyHasher) {
        func operands(_ os: Operand...) { for o in os { add(o, to: &h) } }
        switch op {
        case .push(let a): h.add("push"); operands(a)
        case .pop(let a): h.add("pop"); operands(a)
        case .move(let a, let b, let w): h.add("move"); operands(a, b); add(w, to: &h)
        case .lea(let m, let r): h.add("lea"); operands(.memory(m)); h.add(r.rawValue)
        case .loadAddress(let s, let r): h.add("loadAddress"); h.add(s); h.add(r.rawValue)
        case .alu(let k, let a, let b, let w): h.add("alu"); h.add(k.rawValue); operands(a, b); add(w, to: &h)
        case .unary(let k, let a, let w): h.add("unary"); h.add(k.rawValue); operands(a); add(w, to: &h)
        case .test(let a, let b, let w): h.add("test"); operands(a, b); add(w, to: &h)
        case .compare(let a, let b, let w): h.add("compare"); operands(a, b); add(w, to: &h)
        case .exchange(let a, let b, let w): h.add("exchange"); operands(a, b); add(w, to: &h)
        case .conditionalMove(let c, let a, let r): h.add("cmov"); h.add(c.rawValue); operands(a); h.add(r.rawValue)
        case .jump(let t): h.add("jump"); add(t, to: &h)
        case .branch(let c, let t): h.add("branch"); h.add(c.rawValue); add(t, to: &h)
        case .call(let t): h.add("call"); add(t, to: &h)
        case .ret(let n): h.add("ret"); h.add(Int(n))
        case .sysret: h.add("sysret")
        case .sysexit: h.add("sysexit")
        case .iret: h.add("iret")
        case .pushFlags: h.add("pushFlags")
        case .popFlags: h.add("popFlags")
        case .readMSR: h.add("readMSR")
        case .bitTest(let k, let a, let b, let w): h.add("bitTest"); h.add(k); operands(a, b); add(w, to: &h)
        case .swapgs: h.add("swapgs")
        case .noEffect(let m): h.add("noEffect"); h.add(m)
        }
    }

    /// `program`: the unit the report's path is in (its trace steps' words come from it).
    /// Nil when there is no entry or it does not read back whole (then the path is
    /// proved again and the entry replaced).
    public func load(_ key: String, program: Program) -> PathReport? {
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(key + Self.suffix).path),
              let stored = try? StoredReport(reading: [UInt8](data)) else { return nil }
        return stored.restored(from: program)
    }

    public func store(_ key: String, _ report: PathReport, program: Program) {
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try? Data(StoredReport(report, program: program).bytes).write(to: directory.appendingPathComponent(key + Self.suffix), options: .atomic)
    }

    static let suffix = ".entry"
}

/// A report as the cache keeps it: each trace step without the words of its instruction
/// (text, locations, macro notes: most of an entry, and most of the time to read one),
/// which come back from the unit by the instruction's index when it is loaded.
struct StoredReport {
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

    /// The entry's bytes (see CacheEntryFormat.swift).
    var bytes: [UInt8] {
        var w = CacheEntryWriter()
        w.report(report)
        w.array(instructions) { $0.int($1) }
        return w.finished
    }

    init(reading bytes: [UInt8]) throws {
        var r = try CacheEntryReader(bytes)
        report = try r.report()
        instructions = try r.array { try $0.int() }
        guard r.isAtEnd else { throw CacheEntryReader.Malformed() }
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

/// Two independent 64-bit FNV-1a lanes over the fields of a key: 128 bits. Strings end
/// with a byte UTF-8 never has, numbers are their eight bytes, so no two different field
/// sequences run together into one byte stream.
struct KeyHasher {
    private var a: UInt64 = 0xcbf2_9ce4_8422_2325
    private var b: UInt64 = 0x6c62_272e_07bb_0142

    private mutating func byte(_ x: UInt8) {
        a = (a ^ UInt64(x)) &* 0x100_0000_01b3
        b = (b ^ UInt64(x)) &* 0x100_0000_01b3 ^ 0x9e37_79b9_7f4a_7c15
    }

    mutating func add(_ s: String) {
        for x in s.utf8 { byte(x) }
        byte(0xff)
    }

    mutating func add(_ strings: [String]) {
        add(strings.count)
        for s in strings { add(s) }
    }

    mutating func add(_ n: Int) {
        var v = UInt64(bitPattern: Int64(n))
        for _ in 0..<8 { byte(UInt8(truncatingIfNeeded: v)); v >>= 8 }
    }

    mutating func add(_ l: SourceLocation) {
        add(l.file); add(l.line); add(l.column)
    }

    var digest: String { String(a, radix: 16).leftPad(16, "0") + String(b, radix: 16).leftPad(16, "0") }
}
