import Foundation
import PtregsProve
import SpecElaboration
import StackSemantics

/// The CPU as an oracle for the model's concrete semantics (docs/model.md, "One
/// interpreter, several value domains"). Random function-shaped programs in the DSL's
/// instruction subset run natively (see `NativeHarness`) and on the concrete
/// interpreter with the same inputs; the two must end in the same registers, flags
/// and stack. Where a native run breaks an invariant (a callee-saved register or rsp
/// wrong at the path's `ret`, a `ret` to another address than the caller's), the
/// interpreter's run must break it too, and the prover must not say "proved".
///
/// The two runs see the same inputs: registers and flags as given; the input buffer
/// (the per-CPU `pointer` variable the program loads; the harness loads its address
/// instead) word for word; never-written stack words from one fill function. They do
/// not place the stacks and code alike: native stack addresses are translated to the
/// model's by their offset from the entry rsp, native return points to the model's
/// return addresses; the generator keeps such values out of arithmetic and flags.
public enum CPUOracle {
    public struct Options: Sendable {
        public var seed: UInt64
        public var programs: Int
        public var runsPerProgram = 3
        /// Ask the prover about programs whose native runs broke an invariant.
        public var checkProofs = true
        /// Ask it about every program (for counts of its verdicts).
        public var proveAll = false
        /// Programs per harness build.
        public var batchSize = 400
        /// Where the harness is built (a temporary directory when nil; removed after).
        public var workDirectory: URL?
        public init(seed: UInt64, programs: Int) {
            self.seed = seed
            self.programs = programs
        }
    }

    public enum FindingKind: String, Sendable, CaseIterable {
        /// The generator wrote something the DSL front end rejects (a generator bug).
        case rejected = "rejected by the front end"
        /// The interpreter could not run a generated program.
        case unsupported = "not run by the interpreter"
        /// The model asked for an input the oracle does not know.
        case unknownInput = "unknown input"
        case timeout = "native run did not finish"
        /// The CPU and the interpreter stopped at different places.
        case control = "different control flow"
        /// Different registers, flags or stack at the end.
        case state = "different final state"
        /// A native run broke an invariant the interpreter's run of the same inputs did not.
        case missedByInterpreter = "invariant broken natively, not by the interpreter"
        /// A native run broke an invariant the prover says is proved.
        case proved = "invariant broken natively but proved"
        case checkerError = "prover rejected the program"
    }

    public struct Finding: Sendable {
        public var kind: FindingKind
        public var program: OracleProgram
        public var run: Int?
        public var inputs: RunInputs?
        public var details: [String]
    }

    public struct Summary: Sendable {
        public var programs = 0
        public var runs = 0
        public var exited = 0
        /// Runs that faulted: a ret went to data (or to the caller's address, which
        /// nothing maps: `returned` of them left the path after a tail call).
        public var faulted = 0
        public var returned = 0
        /// Runs that stopped at one of the program's traps (ud2, int3), as the model's did.
        public var trapped = 0
        /// Runs whose end state was compared and agreed.
        public var agreed = 0
        /// Native runs that broke each invariant.
        public var brokenNatively: [Invariant: Int] = [:]
        /// Programs the prover checked, and its verdicts on them.
        public var proved = 0
        public var verdicts: [String: Int] = [:]
        /// Why the prover said "unknown", with how often.
        public var unknownReasons: [String: Int] = [:]
        public var findings: [Finding] = []
        public var seconds = 0.0
    }

    /// Why the oracle cannot run here, if it cannot.
    public static func unavailable() -> String? {
        #if arch(x86_64) && os(Linux)
        if let t = NativeHarness.missingTool() { return "'\(t)' is not installed" }
        return nil
        #else
        return "the native harness needs x86-64 Linux"
        #endif
    }

    /// The seed of program `k` of a run with `seed`.
    public static func programSeed(_ seed: UInt64, _ k: Int) -> UInt64 { OracleRandom.mix(seed &+ UInt64(k) &* 0x2545_f491_4f6c_dd1d) }

    /// Program `index` of a run with `seed`.
    public static func program(seed: UInt64, index: Int) -> OracleProgram {
        ProgramGenerator.program(index: index, seed: programSeed(seed, index))
    }

    public static func run(_ options: Options, progress: ((Summary) -> Void)? = nil) throws -> Summary {
        let start = Date()
        var summary = Summary()
        let fm = FileManager.default
        let work = options.workDirectory ?? fm.temporaryDirectory.appendingPathComponent("cpu-oracle-\(getpid())-\(options.seed)")
        defer { if options.workDirectory == nil { try? fm.removeItem(at: work) } }
        var first = 0
        while first < options.programs {
            let count = min(options.batchSize, options.programs - first)
            let programs = (first..<first + count).map { k in ProgramGenerator.program(index: k, seed: programSeed(options.seed, k)) }
            try runBatch(programs, options: options, dir: work.appendingPathComponent("batch\(first)"), into: &summary)
            first += count
            summary.seconds = Date().timeIntervalSince(start)
            progress?(summary)
        }
        return summary
    }

    /// One program and what the model needs to compare it.
    struct Prepared {
        var program: OracleProgram
        var spec: Program
        var semantics: PathSemantics
        /// Model return address of each call, in text order.
        var modelReturnPoints: [UInt64]
        /// Instruction index → exit id, for the path's own `ret`s.
        var exitAt: [Int: Int]
        /// Instruction index of each local function's `ret` → the flags comparable there.
        var functionRetAt: [Int: UInt8]
        /// Instruction index of each trap → its id.
        var trapAt: [Int: Int]
    }

    static func prepare(_ p: OracleProgram) throws -> Prepared {
        let program = try Elaborator(loader: SpecLoader(root: FileManager.default.temporaryDirectory.path))
            .elaborate(text: p.dsl, file: URL(fileURLWithPath: "/tmp/oracle.pts"), displayName: "oracle.pts")
        guard let path = program.paths.first else { throw HarnessError(description: "no path") }
        let graph = try PathGraph(program: program, path: path)
        var returns: [UInt64] = []
        var exits: [Int: Int] = [:], functionRets: [Int: UInt8] = [:], traps: [Int: Int] = [:]
        for (i, inst) in program.instructions.enumerated() {
            switch inst.operation {
            case .call(.code): returns.append(Program.codeAddress(i + 1))
            // The path's own rets come first in the text, then one per local function.
            case .ret where exits.count < p.exitFlags.count: exits[i] = exits.count
            case .ret where functionRets.count < p.functionExitFlags.count:
                functionRets[i] = p.functionExitFlags[functionRets.count]
            case .trap: traps[i] = traps.count
            default: break
            }
        }
        return Prepared(program: p, spec: program, semantics: PathSemantics(program: program, path: path, graph: graph),
                        modelReturnPoints: returns, exitAt: exits, functionRetAt: functionRets, trapAt: traps)
    }

    static func runBatch(_ programs: [OracleProgram], options: Options, dir: URL, into summary: inout Summary) throws {
        summary.programs += programs.count
        var prepared: [Prepared] = []
        for p in programs {
            do { prepared.append(try prepare(p)) } catch {
                summary.findings.append(Finding(kind: .rejected, program: p, run: nil, inputs: nil, details: ["\(error)"]))
            }
        }
        var inputs: [(program: Int, run: Int, inputs: RunInputs)] = []
        for (k, p) in prepared.enumerated() {
            var rng = OracleRandom(seed: p.program.seed ^ 0x5eed_0f_1a9e75)
            for r in 0..<options.runsPerProgram { inputs.append((k, r, RunInputs.random(&rng))) }
        }
        let exe = try NativeHarness.build(prepared.map(\.program), in: dir)
        let (layout, results) = try NativeHarness.run(executable: exe, inputs: inputs, programCount: prepared.count)
        if options.workDirectory == nil { try? FileManager.default.removeItem(at: dir) }
        for (k, p) in prepared.enumerated() {
            var brokenNatively: Set<Invariant> = []
            for r in 0..<options.runsPerProgram {
                let given = inputs[k * options.runsPerProgram + r].inputs
                guard let native = results[k][r] else {
                    summary.findings.append(Finding(kind: .timeout, program: p.program, run: r, inputs: given, details: ["the harness printed no result"]))
                    continue
                }
                summary.runs += 1
                var c = compare(p, given, native, layout: layout, returnPoints: layout.returnPoints[k])
                for i in c.findings.indices { c.findings[i].run = r }
                brokenNatively.formUnion(c.brokenNatively)
                for inv in c.brokenNatively { summary.brokenNatively[inv, default: 0] += 1 }
                switch native.status {
                case .exited: summary.exited += 1
                case .trapped: summary.trapped += 1
                default: summary.faulted += 1
                }
                if c.returned { summary.returned += 1 }
                if c.findings.isEmpty { summary.agreed += 1 }
                summary.findings += c.findings
            }
            if options.checkProofs && (!brokenNatively.isEmpty || options.proveAll) {
                summary.findings += checkProofs(p, brokenNatively, into: &summary)
            }
        }
    }

    /// The prover must not say "proved" for what a native run broke.
    static func checkProofs(_ p: Prepared, _ broken: Set<Invariant>, into summary: inout Summary) -> [Finding] {
        var checker = Checker()
        checker.jobs = 1
        let report = checker.check(source: p.program.dsl, name: "oracle.pts")
        guard report.diagnostics.isEmpty, let path = report.paths.first else {
            return [Finding(kind: .checkerError, program: p.program, run: nil, inputs: nil, details: report.diagnostics.map { "\($0)" })]
        }
        summary.proved += 1
        var out: [Finding] = []
        for r in path.results {
            summary.verdicts["\(r.invariant.rawValue) \(r.verdict.name)", default: 0] += 1
            if case .unknown(let why) = r.verdict { summary.unknownReasons["\(why) [program \(p.program.index)]", default: 0] += 1 }
            if broken.contains(r.invariant), case .proved = r.verdict {
                out.append(Finding(kind: .proved, program: p.program, run: nil, inputs: nil,
                                   details: ["a native run breaks \(r.invariant.rawValue) (\(r.invariant.title)); the prover says proved"]))
            }
        }
        return out
    }

    struct Comparison {
        var findings: [Finding] = []
        var brokenNatively: Set<Invariant> = []
        var returned = false
    }

    /// The oracle's answers: each input name the model may ask for, from the run's inputs.
    final class InputOracle {
        let inputs: RunInputs
        let buffer: UInt64
        var unknown: [String] = []
        init(_ inputs: RunInputs, buffer: UInt64) {
            self.inputs = inputs
            self.buffer = buffer
        }

        func value(_ name: String) -> UInt64 {
            if name.hasPrefix("entry.") {
                let n = String(name.dropFirst(6))
                switch n {
                case "zf": return inputs.zf ? 1 : 0
                case "cf": return inputs.cf ? 1 : 0
                case "sf": return inputs.sf ? 1 : 0
                case "of": return inputs.of ? 1 : 0
                case "return_address": return inputs.returnAddress
                default: if case let (r, .q)? = Register.parse(n) { return inputs.registers[r.rawValue] }
                }
            }
            if name == "percpu.\(OracleProgram.pointerVariable)" { return buffer }
            for k in inputs.perCPU.indices where name == "percpu.\(OracleProgram.perCPUValue(k))" { return inputs.perCPU[k] }
            // The concrete domain evaluates both arms of a select: a per-CPU read asks for
            // the user-GS value too, which a function path (kernel GS) never uses.
            if name.hasPrefix("user-gs[") { return 0 }
            // A flag an instruction leaves undefined (`undefined.of@12`): the generator
            // never lets the program or the comparison depend on it.
            if name.hasPrefix("undefined.") { return 0 }
            // `unmodelled[24(%rcx)]@17`: the buffer from that byte on.
            if name.hasPrefix("unmodelled["), let close = name.firstIndex(of: "(") {
                let disp = name[name.index(name.startIndex, offsetBy: 11)..<close]
                if disp.isEmpty { return inputs.bufferWord(at: 0) }
                if let off = Int(disp) { return inputs.bufferWord(at: off) }
            }
            // `garbage[entry stack-0x18]`: the harness's fill of that word.
            if name.hasPrefix("garbage[entry stack"), name.hasSuffix("]") {
                let rest = name.dropFirst("garbage[entry stack".count).dropLast()
                if rest.isEmpty { return OracleRandom.stackFill(seed: inputs.stackSeed, word: 0) }
                let sign: Int = rest.first == "-" ? -1 : 1
                if let mag = Int(rest.dropFirst(3), radix: 16), rest.dropFirst().hasPrefix("0x"), mag % 8 == 0 {
                    return OracleRandom.stackFill(seed: inputs.stackSeed, word: sign * mag / 8)
                }
            }
            unknown.append(name)
            return 0
        }
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    static func compare(_ p: Prepared, _ given: RunInputs, _ native: NativeResult, layout: NativeLayout, returnPoints: [UInt64]) -> Comparison {
        var c = Comparison()
        func finding(_ kind: FindingKind, _ details: [String]) {
            c.findings.append(Finding(kind: kind, program: p.program, run: nil, inputs: given, details: details))
        }
        let modelEntry = p.semantics.setup.entryRSP ?? 0
        let nativeEntry = layout.entryRSP
        var pointMap: [UInt64: UInt64] = [:]
        for (n, m) in zip(returnPoints, p.modelReturnPoints) { pointMap[n] = m }
        if returnPoints.count != p.modelReturnPoints.count {
            finding(.control, ["the harness names \(returnPoints.count) return points, the model's program has \(p.modelReturnPoints.count) calls"])
        }
        /// A native value as the model would have it: stack and return addresses moved.
        func translate(_ v: UInt64) -> UInt64 {
            if v &- (nativeEntry &- layout.stackSpan) < 2 * layout.stackSpan { return v &- nativeEntry &+ modelEntry }
            return pointMap[v] ?? v
        }
        func nativeWord(_ k: Int) -> UInt64 { native.changed[k] ?? OracleRandom.stackFill(seed: given.stackSeed, word: k) }

        let oracle = InputOracle(given, buffer: layout.buffer)
        let end = ConcreteReplay.end(p.semantics, oracle: { oracle.value($0) })
        if !oracle.unknown.isEmpty { finding(.unknownInput, oracle.unknown.map { "the model asked for '\($0)'" }) }
        let graph = p.semantics.graph
        let instruction = end.instruction(in: graph)
        let isRet: Bool = instruction.map { if case .ret = p.spec.instructions[$0].operation { return true }; return false } ?? false
        let functionExit: Bool = { if case .exit = end.kind, let i = instruction { return p.functionRetAt[i] != nil }; return false }()
        // A ret to the caller's return address (which nothing maps) faults there. When
        // the model left through a local function's ret (after a tail call), that is
        // the path's exit; anywhere else it is a ret to a copy of that address.
        let returned: Bool = { if case .signal = native.status { return functionExit && native.rip == given.returnAddress }; return false }()
        c.returned = returned
        let rsp = native.registers[Register.rsp.rawValue]
        // What the CPU broke: at the path's ret, a callee-saved register, rsp or the
        // return address; a ret that went elsewhere faults.
        func calleeSavedChanged() -> Bool {
            Register.calleeSaved.contains { native.registers[$0.rawValue] != given.registers[$0.rawValue] }
        }
        switch native.status {
        case .exited:
            if calleeSavedChanged() { c.brokenNatively.insert(.restoreMatchesSave) }
            if rsp != nativeEntry { c.brokenNatively.insert(.frameBalance) }
            let k = Int(Int64(bitPattern: rsp &- nativeEntry)) / 8
            if nativeWord(k) != given.returnAddress { c.brokenNatively.insert(.returnStack) }
        case .signal where returned:
            if calleeSavedChanged() { c.brokenNatively.insert(.restoreMatchesSave) }
            if rsp != nativeEntry &+ 8 { c.brokenNatively.insert(.frameBalance) }
        case .signal:
            c.brokenNatively.insert(.returnStack)
        case .trapped:
            // Stopped at a trap: no exit, nothing broken.
            break
        case .timeout:
            finding(.timeout, ["the native run did not finish in 2 s"])
            return c
        }
        let modelWords = describe(end, p)
        let nativeWords = describe(native, translate)
        /// Flags comparable where the run ended; nil: none.
        var flagMask: UInt8?
        switch (native.status, end.kind) {
        case (_, .unsupported(let why)):
            c.findings.append(Finding(kind: .unsupported, program: p.program, run: nil, inputs: given, details: [why]))
            return c
        case (.exited(let id), .exit):
            guard let i = instruction, p.exitAt[i] == id else {
                finding(.control, ["the CPU left by exit \(id), the model elsewhere", nativeWords, modelWords])
                return c
            }
            flagMask = p.program.exitFlags.indices.contains(id) ? p.program.exitFlags[id] : nil
        case (.signal, .exit) where returned:
            flagMask = instruction.flatMap { p.functionRetAt[$0] }
        case (.trapped(let id), .exit):
            guard let i = instruction, p.trapAt[i] == id else {
                finding(.control, ["the CPU stopped at trap \(id), the model elsewhere", nativeWords, modelWords])
                return c
            }
            flagMask = p.program.trapFlags.indices.contains(id) ? p.program.trapFlags[id] : nil
        case (.signal, .stopped) where isRet, (.signal, .exit) where functionExit && !returned:
            break
        default:
            finding(.control, ["the CPU: \(native.status)\(returned ? " (returned to the caller)" : ""); the model: \(end.kind)", nativeWords, modelWords])
            return c
        }

        var diffs: [String] = []
        // At an exit or a trap the CPU stopped where the model did: rsp compares too.
        let exited: Bool = { switch native.status { case .exited, .trapped: return true; default: return false } }()
        for r in Register.allCases {
            // The model stops before a ret; the CPU is past it (or, at a fault, maybe not).
            var v = native.registers[r.rawValue]
            if r == .rsp && returned { v &-= 8 } else if r == .rsp && !exited { continue }
            let n = translate(v), m = end.registers[r.rawValue]
            if n != m { diffs.append("\(r.name): CPU \(hex(n)) (native \(hex(native.registers[r.rawValue]))), model \(hex(m))") }
        }
        if let mask = flagMask {
            let flags: [(UInt8, String, Bool, Bool)] = [(FlagBit.zf, "ZF", native.zf, end.zeroFlag), (FlagBit.cf, "CF", native.cf, end.carryFlag),
                                                       (FlagBit.sf, "SF", native.sf, end.signFlag), (FlagBit.of, "OF", native.of, end.overflowFlag)]
            for (bit, name, n, m) in flags where mask & bit != 0 && n != m {
                diffs.append("\(name): CPU \(n ? 1 : 0), model \(m ? 1 : 0)")
            }
        }
        for k in native.perCPU.indices {
            let name = OracleProgram.perCPUValue(k)
            let n = translate(native.perCPU[k]), m = end.perCPU[name] ?? 0
            if n != m { diffs.append("per-CPU \(name): CPU \(hex(n)), model \(hex(m))") }
        }
        // Stack words: every word either side wrote.
        var words = Set(native.changed.keys)
        for a in end.slots.keys { words.insert(Int(Int64(bitPattern: a &- modelEntry)) / 8) }
        for k in words.sorted() {
            let a = modelEntry &+ UInt64(bitPattern: Int64(k * 8))
            let m = end.slots[a] ?? OracleRandom.stackFill(seed: given.stackSeed, word: k)
            let n = translate(nativeWord(k))
            if n != m { diffs.append("stack \(p.semantics.setup.describe(address: a)): CPU \(hex(n)), model \(hex(m))") }
        }
        if !diffs.isEmpty {
            finding(.state, diffs + [nativeWords, modelWords])
            return c
        }
        let missed = c.brokenNatively.subtracting(end.broken)
        if !missed.isEmpty {
            finding(.missedByInterpreter, ["the CPU broke \(missed.map(\.rawValue).sorted().joined(separator: ", ")); the interpreter's run broke \(end.broken.map(\.rawValue).sorted())", nativeWords, modelWords])
        }
        return c
    }

    static func describe(_ end: ConcreteEnd, _ p: Prepared) -> String {
        var s = "model: \(end.kind)"
        if let i = end.instruction(in: p.semantics.graph) { s += " at line \(p.spec.instructions[i].location.line) `\(p.spec.instructions[i].text)`" }
        s += "\n  " + Register.allCases.map { "\($0.name)=\(hex(end.registers[$0.rawValue]))" }.joined(separator: " ")
        s += "\n  ZF=\(end.zeroFlag ? 1 : 0) CF=\(end.carryFlag ? 1 : 0) SF=\(end.signFlag ? 1 : 0) OF=\(end.overflowFlag ? 1 : 0)"
        s += "; broken: \(end.broken.map(\.rawValue).sorted().joined(separator: ", "))"
        s += "\n  " + end.perCPU.sorted { $0.key < $1.key }.map { "\($0.key)=\(hex($0.value))" }.joined(separator: " ")
        for a in end.slots.keys.sorted(by: >) { s += "\n  \(p.semantics.setup.describe(address: a)): \(hex(end.slots[a]!))" }
        return s
    }

    static func describe(_ n: NativeResult, _ translate: (UInt64) -> UInt64) -> String {
        var s = "CPU: \(n.status)" + (n.rip != 0 ? " rip=\(hex(n.rip))" : "") + " (values as the model places them)"
        s += "\n  " + Register.allCases.map { "\($0.name)=\(hex(translate(n.registers[$0.rawValue])))" }.joined(separator: " ")
        s += "\n  ZF=\(n.zf ? 1 : 0) CF=\(n.cf ? 1 : 0) SF=\(n.sf ? 1 : 0) OF=\(n.of ? 1 : 0)"
        s += "\n  " + n.perCPU.indices.map { "\(OracleProgram.perCPUValue($0))=\(hex(translate(n.perCPU[$0])))" }.joined(separator: " ")
        for k in n.changed.keys.sorted(by: >) {
            s += "\n  entry stack\(k < 0 ? "-" : "+")0x\(String(8 * abs(k), radix: 16)): \(hex(translate(n.changed[k]!)))"
        }
        return s
    }

    /// A finding as a reader needs it: what differed, the program, the inputs.
    public static func report(_ f: Finding) -> String {
        var s = "\(f.kind.rawValue) — program \(f.program.index) (seed \(hex(f.program.seed)))" + (f.run.map { ", run \($0)" } ?? "") + "\n"
        for d in f.details { s += d.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") + "\n" }
        if let i = f.inputs {
            s += "  inputs: " + Register.allCases.filter { $0 != .rsp }.map { "\($0.name)=\(hex(i.registers[$0.rawValue]))" }.joined(separator: " ")
            s += "\n    ZF=\(i.zf ? 1 : 0) CF=\(i.cf ? 1 : 0) SF=\(i.sf ? 1 : 0) OF=\(i.of ? 1 : 0) return address=\(hex(i.returnAddress)) stack seed=\(hex(i.stackSeed))"
            s += " " + i.perCPU.indices.map { "\(OracleProgram.perCPUValue($0))=\(hex(i.perCPU[$0]))" }.joined(separator: " ")
            s += "\n    buffer: " + i.buffer.prefix(64).map(hex).joined(separator: " ") + "\n"
        }
        s += "  program:\n" + f.program.dsl.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n"
        return s
    }
}
