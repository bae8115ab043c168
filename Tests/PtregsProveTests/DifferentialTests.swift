import Foundation
import PropertyBased
import PtregsProve
import SpecElaboration
import StackSemantics
import Testing

/// Differential self-check: random well-formed paths, run concretely on random inputs.
/// Whenever a concrete run breaks an invariant, the prover must not say "proved"; and
/// every violation the prover reports comes with a replay that ends at its blamed step.
@Suite struct DifferentialTests {
    static let registers = ["%rbx", "%rbp", "%r12", "%rdi", "%rsi"]

    /// One operation from a small vocabulary; `depth` keeps rsp moves bounded.
    static func operation(_ code: Int, _ arg: Int) -> String {
        let r = registers[arg % registers.count]
        let off = 8 * (arg % 3)
        switch code {
        case 0: return "\tpushq \(r)"
        case 1: return "\tpopq \(r)"
        case 2: return "\tmovq \(r), \(off)(%rsp)"
        case 3: return "\tmovq \(off)(%rsp), \(r)"
        case 4: return "\tsubq $\(8 * (1 + arg % 2)), %rsp"
        case 5: return "\taddq $\(8 * (1 + arg % 2)), %rsp"
        case 6: return "\tcall schedule"
        case 7: return "\tmovq $\(arg), \(r)"
        default: return "\tmovq \(r), \(registers[(arg + 1) % registers.count])"
        }
    }

    /// A function path: the operations, some inside branch diamonds on an opaque flag.
    static func program(_ ops: [Int]) -> String {
        var s = ".percpu thread_info pointer\n.extern schedule\n.path random entry=function\nrandom:\n\tmovq PER_CPU_VAR(thread_info), %rcx\n"
        var label = 0
        var k = 0
        while k + 1 < ops.count {
            let code = ops[k] % 10, arg = ops[k + 1]
            if code == 9, k + 3 < ops.count {
                // a diamond around the next operation
                s += "\ttestl $\(1 << (arg % 8)), 0(%rcx)\n\tjz L\(label)\n" + operation(ops[k + 2] % 9, ops[k + 3]) + "\nL\(label):\n"
                label += 1
                k += 4
            } else {
                s += operation(code % 9, arg) + "\n"
                k += 2
            }
        }
        return s + "\tret\n"
    }

    @Test func concreteViolationsAreNeverProved() async {
        let tally = VerdictTally()
        await propertyCheck(count: 150, input: Gen.int(in: 0...99).array(of: 2...24)) { ops in
            let text = Self.program(ops)
            var checker = Checker()
            checker.jobs = 1
            let report = checker.check(source: text, name: "random.pts")
            #expect(report.diagnostics.isEmpty, "\(report.diagnostics)\n\(text)")
            guard let path = report.paths.first else { return }
            // Every reported violation is a confirmed replay through the blamed step,
            // ending where the obligation is judged (the blamed step, or the exit that
            // observes the value the blamed step put there).
            for r in path.results {
                tally.add(r.verdict)
                if case .violated(let cx) = r.verdict {
                    #expect(cx.steps.last?.text == (cx.observation?.instruction ?? cx.instruction), "\(text)")
                    #expect(cx.steps.indices.contains(cx.blamedStepIndex) && cx.steps[cx.blamedStepIndex].text == cx.instruction, "\(text)")
                }
            }
            // Concrete runs on random inputs: what they break, the prover must not prove.
            guard let (program, spec, graph) = elaboratedPath(text, name: "random.pts") else { return }
            for seed in 0..<6 {
                let oracle: @Sendable (String) -> UInt64 = { name in
                    let h = SampleInputs.hash(name, seed: seed)
                    // Small values now and then, so equal-by-chance cases happen too.
                    return seed % 3 == 0 ? h % 4 : h
                }
                let run = ConcreteReplay.run(program: program, path: spec, graph: graph, oracle: oracle, target: nil)
                tally.add(broken: run.broken.count)
                for inv in run.broken {
                    let verdict = path.results.first { $0.invariant == inv }?.verdict.name
                    #expect(verdict != "proved", "a concrete run breaks \(inv.rawValue) but the prover says proved:\n\(text)")
                }
            }
        }
        #expect(tally.broken > 0 && tally.proved > 0 && tally.violated > 0,
                "generated cases exercise both outcomes: \(tally.broken) broken runs, \(tally.proved) proofs, \(tally.violated) violations")
    }
}

/// Differential check of the loop invariants: random functions with loops — single,
/// nested, in sequence — whose bodies change registers that start equal (and may drift
/// apart), followed by code that breaks the return address only when they differ. A
/// concrete run of the program unrolled to 1–4 visits of each loop head that breaks an
/// invariant must never be "proved".
@Suite struct LoopDifferentialTests {
    static let registers = ["%rdx", "%rsi", "%rdi", "%r9"]

    /// One body operation on the tracked registers.
    static func operation(_ code: Int, _ arg: Int) -> String {
        let r = registers[arg % registers.count], r2 = registers[(arg / 4) % registers.count]
        switch code % 8 {
        case 7: return "\tmovl $1, \(r.replacingOccurrences(of: "%r", with: "%e").replacingOccurrences(of: "%e9", with: "%r9d"))"
        case 0: return "\taddq $\(1 + arg % 2), \(r)"
        case 1: return "\txorq $1, \(r)"
        case 2: return "\tmovq \(r2), \(r)"
        case 3: return "\tmovl $\(arg % 2), \(r.replacingOccurrences(of: "%r", with: "%e").replacingOccurrences(of: "%e9", with: "%r9d"))"
        case 4: return "\tincq \(r)"
        case 5: return "\tandq $1, \(r)"
        default: return "\tsubq \(r2), \(r)"
        }
    }

    /// A loop counted down from an unmodelled value; its body is `ops`, possibly with a
    /// nested loop in the middle.
    static func loop(_ label: Int, counter: String, slot: Int, body: [String]) -> [String] {
        ["\tmovq \(slot * 8)(%rcx), \(counter)", "L\(label):", "\tdecq \(counter)", "\tjs E\(label)"] + body + ["\tjmp L\(label)", "E\(label):"]
    }

    static func program(_ ops: [Int]) -> String {
        // Shape: 0 single, 1 nested, 2 in sequence; the tracked registers start equal, to
        // one unknown value or to the constant 0 (loop variables or choices among constants).
        let shape = ops.first.map { $0 % 3 } ?? 0
        let start = (ops.first ?? 0) / 3 % 2 == 0 ? "\tmovq 64(%rcx), %rdx" : "\txorl %edx, %edx"
        var s = [".percpu thread_info pointer", ".path looping entry=function", "looping:", "\tpushq %rbx",
                 "\tmovq PER_CPU_VAR(thread_info), %rcx", start, "\tmovq %rdx, %rsi", "\tmovq %rdx, %rdi", "\tmovq %rdx, %r9"]
        let body = stride(from: 1, to: ops.count - 1, by: 2).map { operation(ops[$0], ops[$0 + 1]) }
        let half = body.count / 2
        switch shape {
        case 1:
            let inner = loop(2, counter: "%r10", slot: 2, body: Array(body[half...]))
            s += loop(1, counter: "%r8", slot: 1, body: Array(body[..<half]) + inner)
        case 2:
            s += loop(1, counter: "%r8", slot: 1, body: Array(body[..<half]))
            s += loop(2, counter: "%r10", slot: 2, body: Array(body[half...]))
        default:
            s += loop(1, counter: "%r8", slot: 1, body: body)
        }
        s += ["\tcmpq %rdx, %rsi", "\tjne B", "\tcmpq %rdi, %r9", "\tje D", "B:", "\tmovq $0, 8(%rsp)", "D:", "\tpopq %rbx", "\tret"]
        return s.joined(separator: "\n") + "\n"
    }

    @Test func concreteLoopViolationsAreNeverProved() async {
        let tally = VerdictTally()
        await propertyCheck(count: 400, input: Gen.int(in: 0...99).array(of: 3...13)) { ops in
            let text = Self.program(ops)
            var checker = Checker()
            checker.jobs = 1
            let report = checker.check(source: text, name: "looping.pts")
            #expect(report.diagnostics.isEmpty, "\(report.diagnostics)\n\(text)")
            guard let path = report.paths.first else { return }
            for r in path.results { tally.add(r.verdict) }
            guard let (program, spec, graph) = elaboratedPath(text, name: "looping.pts") else { return }
            for visits in 1...4 {
                guard let unrolled = try? PathGraph(unrolling: graph, visits: visits) else { continue }
                let semantics = PathSemantics(program: program, path: spec, graph: unrolled)
                for seed in 0..<4 {
                    // Small counts, so each loop runs 0–3 times.
                    let oracle: @Sendable (String) -> UInt64 = { name in
                        let h = SampleInputs.hash(name, seed: seed)
                        return name.hasPrefix("unmodelled") ? h % 4 : h
                    }
                    let run = ConcreteReplay.run(semantics, oracle: oracle, target: nil)
                    tally.add(broken: run.broken.count)
                    for inv in run.broken {
                        let verdict = path.results.first { $0.invariant == inv }?.verdict.name
                        #expect(verdict != "proved", "a concrete run (\(visits) visits) breaks \(inv.rawValue) but the prover says proved:\n\(text)")
                    }
                }
            }
        }
        #expect(tally.broken > 0 && tally.proved > 0,
                "generated loops exercise both outcomes: \(tally.broken) broken runs, \(tally.proved) proofs, \(tally.unknown) unknown")
    }
}

/// Counts across generated cases, so a property is not vacuous.
final class VerdictTally: @unchecked Sendable {
    let lock = NSLock()
    var broken = 0, proved = 0, violated = 0, unknown = 0
    func add(broken b: Int) {
        lock.lock(); defer { lock.unlock() }
        broken += b
    }
    func add(_ v: Verdict) {
        lock.lock(); defer { lock.unlock() }
        switch v {
        case .proved: proved += 1
        case .violated: violated += 1
        case .unknown: unknown += 1
        }
    }
}

/// A generated spec's first path with its graph, for concrete runs.
func elaboratedPath(_ text: String, name: String) -> (Program, PathSpec, PathGraph)? {
    guard let program = try? Elaborator(loader: SpecLoader(root: FileManager.default.temporaryDirectory.path))
            .elaborate(text: text, file: URL(fileURLWithPath: "/tmp/\(name)"), displayName: name),
          let spec = program.paths.first,
          let graph = try? PathGraph(program: program, path: spec) else { return nil }
    return (program, spec, graph)
}
