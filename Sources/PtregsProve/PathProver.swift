import Foundation
import SpecElaboration
import SpecSyntax
import StackSemantics
import Z3Kit

public struct ProverOptions: Sendable {
    /// Per-query solver timeout.
    public var timeoutMilliseconds: UInt32 = 10_000
    public var invariants: Set<Invariant> = Set(Invariant.allCases)
    public init() {}
}

/// Proves the invariants of one path: symbolic run, one Z3 query per obligation that
/// the simplifier did not decide, and a concrete replay of every counterexample.
public enum PathProver {
    nonisolated(unsafe) static let debug = getenv("PTREGS_PROVE_DEBUG") != nil

    public static func prove(program: Program, path: PathSpec, options: ProverOptions) -> PathReport {
        var report = PathReport(name: path.name, file: path.location.file, location: path.location, models: path.models,
                                entry: path.entry, results: [])
        let invariants = Invariant.allCases.filter { options.invariants.contains($0) }
        func all(_ v: Verdict) -> [InvariantResult] {
            invariants.map { InvariantResult(invariant: $0, verdict: v, expectedViolation: path.expectedViolations.contains($0), obligations: 0, solverQueries: 0) }
        }
        let graph: PathGraph
        do {
            graph = try PathGraph(program: program, path: path)
        } catch let diag as Diagnostic {
            report.results = all(.unknown("unsupported: \(diag.message) at \(diag.location)"))
            return report
        } catch {
            report.results = all(.unknown("unsupported: \(error)"))
            return report
        }
        let run = SymbolicExecutor.run(program: program, path: path, graph: graph)
        func where_(_ node: Int) -> String {
            let i = program.instructions[graph.nodes[node].instruction]
            return "\(i.location) (`\(i.text)`)"
        }
        if let u = run.unsupported {
            report.results = all(.unknown("unsupported: \(u.reason) at \(where_(u.node))"))
            return report
        }
        if let (h, reason) = run.loopFailure {
            report.results = all(.unknown("loop: \(reason) (loop head \(where_(h)))"))
            return report
        }

        let z3 = Z3Context()
        var lowering = Z3Lowering(z3)
        let solver = Z3Solver(context: z3, timeoutMilliseconds: options.timeoutMilliseconds)
        // Loops: the widened run proves; counterexamples are sought in a run of the same
        // path with its loops unrolled, whose states are exact, and replayed there.
        var search: Search? = graph.loopHeads.isEmpty ? Search(graph: graph, run: run, lowering: lowering) : nil
        var searchFailure: String?

        for inv in invariants {
            let obligations = run.obligations.filter { $0.invariant == inv }
            var verdict: Verdict = .proved
            var queries = 0
            var unknownReason: String?
            var refuted: Obligation<SymbolicDomain>?
            for o in obligations {
                switch query(o, run.factory, &lowering, solver) {
                case .unsat: continue
                case .unknown(let reason):
                    queries += 1
                    unknownReason = unknownReason ?? "solver: \(reason) at \(where_(o.node))"
                case .sat:
                    queries += 1
                    refuted = refuted ?? o
                }
            }
            queries += obligations.count > 0 ? 0 : 0
            if let o = refuted {
                if search == nil && searchFailure == nil {
                    do {
                        let unrolled = try PathGraph(unrolling: graph, visits: unrollVisits)
                        let urun = SymbolicExecutor.run(program: program, path: path, graph: unrolled)
                        if let u = urun.unsupported { searchFailure = "unsupported in the unrolled run: \(u.reason)" }
                        else { search = Search(graph: unrolled, run: urun, lowering: Z3Lowering(z3)) }
                    } catch {
                        searchFailure = "\(error)"
                    }
                }
                if var sr = search {
                    // The first obligation of this invariant, in run order, that a concrete run breaks.
                    for u in sr.run.obligations where u.invariant == inv {
                        let model: Z3Model
                        switch query(u, sr.run.factory, &sr.lowering, solver) {
                        case .sat(let m): model = m; queries += 1
                        case .unknown(let reason): queries += 1; unknownReason = unknownReason ?? "solver: \(reason)"; continue
                        case .unsat: continue
                        }
                        let oracle = makeOracle(model, sr.run.factory, &sr.lowering)
                        if debug { print("DEBUG counterexample for \(u.key) at \(where_(sr.graph.original[u.node]))") }
                        let replay = ConcreteReplay.run(program: program, path: path, graph: sr.graph, oracle: oracle,
                                                        target: .init(invariant: inv, node: u.node, key: u.key))
                        if replay.confirmed {
                            let negated = sr.run.factory.allOf([u.reach, sr.run.factory.negation(u.claim)])
                            verdict = .violated(counterexample(u, replay, program, sr.graph, sr.run, oracle,
                                                               relevant: sr.run.factory.variableNames(negated)))
                            break
                        } else {
                            unknownReason = unknownReason ?? "the solver's counterexample at \(where_(sr.graph.original[u.node])) did not replay: \(replay.note ?? "no failure")"
                        }
                    }
                    search = sr
                }
                if case .proved = verdict {
                    verdict = .unknown(unknownReason ?? searchFailure.map { "loop: \($0)" }
                        ?? "loop: the loop abstraction admits a violation at \(where_(o.node)) (\(o.requirement)) that no run entering each loop head at most \(unrollVisits) times shows")
                }
            } else if let r = unknownReason {
                verdict = .unknown(r)
            }
            report.results.append(InvariantResult(invariant: inv, verdict: verdict, expectedViolation: path.expectedViolations.contains(inv),
                                                  obligations: obligations.count, solverQueries: queries))
        }
        return report
    }

    /// How many times the counterexample search lets a run enter each loop head.
    public static let unrollVisits = 3

    struct Search {
        var graph: PathGraph
        var run: SymbolicRun
        var lowering: Z3Lowering
    }

    /// Is `reach ∧ ¬claim` satisfiable?
    static func query(_ o: Obligation<SymbolicDomain>, _ f: TermFactory, _ lowering: inout Z3Lowering, _ solver: Z3Solver) -> Z3CheckResult {
        let negated = f.allOf([o.reach, f.negation(o.claim)])
        if negated.boolConstant == false { return .unsat }
        solver.push()
        solver.assert(lowering.lower(negated))
        let result: Z3CheckResult
        do { result = try solver.check() } catch { result = .unknown(reason: "\(error)") }
        solver.pop()
        return result
    }

    static func makeOracle(_ model: Z3Model, _ f: TermFactory, _ lowering: inout Z3Lowering) -> (String) -> UInt64 {
        var values: [String: UInt64] = [:]
        for (name, t) in f.variables {
            let e = lowering.lower(t)
            if t.isBool { values[name] = model.evalBool(e) == true ? 1 : 0 }
            else { values[name] = model.evalBV(e) ?? 0 }
        }
        return { values[$0] ?? 0 }
    }

    static func counterexample(_ o: Obligation<SymbolicDomain>, _ r: ReplayOutcome, _ program: Program, _ graph: PathGraph,
                               _ run: SymbolicRun, _ oracle: (String) -> UInt64, relevant: Set<String>) -> Counterexample {
        let inst = program.instructions[graph.nodes[o.node].instruction]
        // Blame the line of the path's own file; the macro line is a note.
        let blamed = inst.expansion.last?.location ?? inst.location
        let inputs = relevant.sorted().map { ($0, oracle($0)) }
        return Counterexample(location: blamed, macroLocation: inst.expansion.isEmpty ? nil : inst.location, instruction: inst.text, requirement: r.requirement ?? o.requirement,
                              values: r.values, steps: r.steps, picture: r.picture,
                              rsp: r.rspAtBlame.map { run.setup.describe(address: $0) } ?? "?", inputs: inputs)
    }
}
