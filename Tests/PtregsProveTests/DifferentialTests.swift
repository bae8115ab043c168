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

    /// Counts across the generated cases, so the property is not vacuous.
    final class Tally: @unchecked Sendable {
        let lock = NSLock()
        var broken = 0, proved = 0, violated = 0
        func add(broken b: Int = 0, proved p: Int = 0, violated v: Int = 0) {
            lock.lock(); defer { lock.unlock() }
            broken += b; proved += p; violated += v
        }
    }

    @Test func concreteViolationsAreNeverProved() async {
        let tally = Tally()
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
                tally.add(proved: r.verdict.name == "proved" ? 1 : 0)
                if case .violated(let cx) = r.verdict {
                    tally.add(violated: 1)
                    #expect(cx.steps.last?.text == (cx.observation?.instruction ?? cx.instruction), "\(text)")
                    #expect(cx.steps.indices.contains(cx.blamedStepIndex) && cx.steps[cx.blamedStepIndex].text == cx.instruction, "\(text)")
                }
            }
            // Concrete runs on random inputs: what they break, the prover must not prove.
            guard let program = try? Elaborator(loader: SpecLoader(root: FileManager.default.temporaryDirectory.path))
                    .elaborate(text: text, file: URL(fileURLWithPath: "/tmp/random.pts"), displayName: "random.pts"),
                  let spec = program.paths.first,
                  let graph = try? PathGraph(program: program, path: spec) else { return }
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
