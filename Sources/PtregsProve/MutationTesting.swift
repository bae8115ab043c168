import Foundation
import SpecElaboration
import SpecSyntax
import StackSemantics

/// Mutation testing of the prover: single-operation mutations of a proving path must
/// be caught (some invariant violated), unless they are semantically neutral.
public enum MutationTesting {
    public struct Mutation: Sendable {
        public var instruction: Int
        public var kind: String
        public var location: SourceLocation
        public var original: String
        public var operation: SpecElaboration.Operation
    }

    public enum Outcome: String, Sendable { case caught, unknown, neutral, survived }

    public struct Result: Sendable {
        public var path: String
        public var mutation: Mutation
        public var outcome: Outcome
    }

    /// Every mutation of the instructions `path` can reach: drop a save, shift a stack
    /// offset by ±8, swap two adjacent saves, turn a callee's `ret` into a `jmp` to the
    /// caller, drop a `swapgs`, change an rsp `add`/`sub` amount by ±8.
    public static func mutations(of program: Program, path: PathSpec) -> [Mutation] {
        guard let graph = try? PathGraph(program: program, path: path) else { return [] }
        var reachable: [Int: [Int]] = [:]   // instruction → return continuations when inside a callee
        for n in graph.nodes.indices {
            let node = graph.nodes[n]
            var conts = reachable[node.instruction] ?? []
            if let site = node.context.last { conts.append(graph.nodes[site].instruction + 1) }
            reachable[node.instruction] = conts
        }
        var out: [Mutation] = []
        func add(_ i: Int, _ kind: String, _ op: SpecElaboration.Operation) {
            let inst = program.instructions[i]
            out.append(Mutation(instruction: i, kind: kind, location: inst.sourceLocation, original: inst.text, operation: op))
        }
        func isSave(_ op: SpecElaboration.Operation) -> (Register, MemoryOperand)? {
            if case .move(.register(let r, .q), .memory(let m), .q) = op, m.base == .rsp { return (r, m) }
            return nil
        }
        for i in reachable.keys.sorted() {
            let op = program.instructions[i].operation
            switch op {
            case .move(let src, let dst, let w):
                if isSave(op) != nil { add(i, "drop a save", .noEffect("nop")) }
                for delta: Int64 in [-8, 8] {
                    if case .memory(var m) = dst, m.base == .rsp { m.displacement += delta; add(i, "shift offset \(delta > 0 ? "+" : "")\(delta)", .move(src, .memory(m), w)) }
                    if case .memory(var m) = src, m.base == .rsp { m.displacement += delta; add(i, "shift offset \(delta > 0 ? "+" : "")\(delta)", .move(.memory(m), dst, w)) }
                }
                if let (r1, m1) = isSave(op), i + 1 < program.instructions.count, let (r2, m2) = isSave(program.instructions[i + 1].operation), r1 != r2 {
                    add(i, "swap two saves", .move(.register(r2, .q), .memory(m1), .q))
                    _ = m2
                }
            case .push(.register):
                add(i, "drop a save", .alu(.sub, .immediate(8), .register(.rsp, .q), .q))
            case .ret:
                for c in Set(reachable[i] ?? []).sorted() where c < program.instructions.count {
                    add(i, "ret into jmp to the caller", .jump(.code(c, label: "caller")))
                }
            case .swapgs:
                add(i, "drop swapgs", .noEffect("nop"))
            case .alu(let a, .immediate(let k), .register(.rsp, .q), .q) where a == .add || a == .sub:
                for delta: Int64 in [-8, 8] where k + delta >= 0 {
                    add(i, "\(a.rawValue) amount \(delta > 0 ? "+" : "")\(delta)", .alu(a, .immediate(k + delta), .register(.rsp, .q), .q))
                }
            default:
                break
            }
        }
        return out
    }

    /// Proves each mutant of each path that proves every invariant as written.
    public static func run(_ jobs: [PathJob], options: ProverOptions = ProverOptions(), limitPerPath: Int = .max, samples: Int = 8) -> [Result] {
        var results: [Result] = []
        for job in jobs where job.path.expectations.isEmpty {
            let (program, path) = (job.program, job.path)
            let base = PathProver.prove(program: program, path: path, options: options)
            guard base.results.allSatisfy({ $0.verdict.name == "proved" }) else { continue }
            let all = mutations(of: program, path: path)
            // A deterministic spread when limited.
            let step = max(1, all.count / max(1, min(limitPerPath, all.count)))
            for m in stride(from: 0, to: all.count, by: step).map({ all[$0] }).prefix(limitPerPath) {
                var mutant = program
                mutant.instructions[m.instruction].operation = m.operation
                guard let graph = try? PathGraph(program: mutant, path: path) else {
                    results.append(Result(path: path.name, mutation: m, outcome: .caught))   // no exit any more: rejected
                    continue
                }
                let r = PathProver.prove(program: mutant, path: path, options: options)
                let outcome: Outcome
                if r.results.contains(where: { $0.verdict.name == "violated" }) { outcome = .caught }
                else if r.results.contains(where: { $0.verdict.name == "unknown" }) { outcome = .unknown }
                else { outcome = neutral(program, mutant, path, graph, samples: samples) ? .neutral : .survived }
                results.append(Result(path: path.name, mutation: m, outcome: outcome))
            }
        }
        return results
    }

    /// Same observable exit state as the original on `samples` concrete runs.
    static func neutral(_ program: Program, _ mutant: Program, _ path: PathSpec, _ mutantGraph: PathGraph, samples: Int) -> Bool {
        guard let graph = try? PathGraph(program: program, path: path) else { return false }
        for seed in 0..<samples {
            let oracle: @Sendable (String) -> UInt64 = { name in
                let h = SampleInputs.hash(name, seed: seed)
                return name.hasPrefix("unmodelled") ? (seed % 2 == 0 ? 0 : h) : h
            }
            let a = ConcreteReplay.run(program: program, path: path, graph: graph, oracle: oracle, target: nil, detail: .endState)
            let b = ConcreteReplay.run(program: mutant, path: path, graph: mutantGraph, oracle: oracle, target: nil, detail: .endState)
            if a.exitState != b.exitState { return false }
        }
        return true
    }

    /// `caught / (all − neutral)`, and the survivors that are not neutral.
    public static func summary(_ results: [Result]) -> String {
        let caught = results.filter { $0.outcome == .caught }.count
        let neutral = results.filter { $0.outcome == .neutral }.count
        let unknown = results.filter { $0.outcome == .unknown }.count
        let survived = results.filter { $0.outcome == .survived }
        let scored = results.count - neutral
        var s = "mutations: \(results.count); caught \(caught), neutral \(neutral), unknown \(unknown), survived \(survived.count)"
        s += scored > 0 ? String(format: "; score %.1f%% of non-neutral mutants caught\n", 100 * Double(caught) / Double(scored)) : "\n"
        for r in survived {
            s += "  survived: \(r.path): \(r.mutation.kind) at \(r.mutation.location) `\(r.mutation.original)`\n"
        }
        return s
    }
}
