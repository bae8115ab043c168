import Foundation
import SpecElaboration
import SpecSyntax
import StackSemantics
import Z3Kit

/// `--explain PATH`: one concrete run of a path, every step with the slots it touched,
/// and every obligation the prover had at each step with its outcome — so a reviewer
/// can see *why* something proves (Frederic's `pushq %rdi` … `popq %rsi`).
public struct Explanation: Sendable {
    public var report: PathReport
    public var steps: [TraceStep]
    public var note: String?
}

public enum Explainer {
    public static func explain(program: Program, path: PathSpec, options: ProverOptions) -> Explanation {
        var opts = options
        opts.recordObligations = true
        let report = PathProver.prove(program: program, path: path, options: opts)
        guard let graph = try? PathGraph(program: program, path: path) else {
            return Explanation(report: report, steps: [], note: "the path has no well-formed control flow")
        }
        // Inputs: any that meet the entry condition (from=user…), others distinct so a
        // garbage slot never looks like a saved register.
        let f = TermFactory()
        let interp = Interpreter(domain: SymbolicDomain(f), program: program, path: path, graph: graph,
                                 setup: EntrySetup(program: program, path: path))
        let reach = interp.initialState().reach
        var fixed: [String: UInt64] = [:]
        if reach.boolConstant != true {
            let z3 = Z3Context()
            var lowering = Z3Lowering(z3)
            let solver = Z3Solver(context: z3, timeoutMilliseconds: options.timeoutMilliseconds)
            solver.assert(lowering.lower(reach))
            if case .sat(let model)? = try? solver.check() {
                // Only what the entry condition mentions: every other input keeps a
                // distinct value (model completion would make them all 0, and a pop of
                // another register's save would then look right).
                let mentioned = f.variableNames(reach)
                for (name, t) in f.variables where mentioned.contains(name) { fixed[name] = t.isBool ? (model.evalBool(lowering.lower(t)) == true ? 1 : 0) : model.evalBV(lowering.lower(t)) }
            }
        }
        let frozen = fixed
        // Unmodelled memory reads as zero: no TIF work pending, the plain way through.
        let oracle: @Sendable (String) -> UInt64 = { name in
            frozen[name] ?? (name.hasPrefix("unmodelled") ? 0 : distinctValue(name))
        }
        let replay = ConcreteReplay.run(program: program, path: path, graph: graph, oracle: oracle, target: nil, detail: .explanation)
        return Explanation(report: report, steps: replay.steps, note: replay.note)
    }

    /// A stable, name-derived value.
    static func distinctValue(_ name: String) -> UInt64 { SampleInputs.hash(name) & 0x0000_7fff_ffff_fff0 }
}
