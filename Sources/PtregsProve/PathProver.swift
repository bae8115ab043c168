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
        let firstIteration = run.loopVariables.map { lowering.lower(run.factory.eq($0.0, $0.1)) }

        for inv in invariants {
            let obligations = run.obligations.filter { $0.invariant == inv }
            var verdict: Verdict = .proved
            var queries = 0
            var unknownReason: String?
            for o in obligations {
                let negated = run.factory.allOf([o.reach, run.factory.negation(o.claim)])
                if negated.boolConstant == false { continue }
                let goal = lowering.lower(negated)
                var attempts: [(String, [Z3Expr])] = []
                if !firstIteration.isEmpty { attempts.append(("first loop iteration", firstIteration)) }
                attempts.append(("all iterations", []))
                var decided = false
                for (label, extra) in attempts {
                    queries += 1
                    solver.push()
                    solver.assert(goal)
                    for e in extra { solver.assert(e) }
                    let result: Z3CheckResult
                    do { result = try solver.check() } catch { result = .unknown(reason: "\(error)") }
                    solver.pop()
                    switch result {
                    case .unsat:
                        if extra.isEmpty { decided = true }
                        continue
                    case .unknown(let reason):
                        if extra.isEmpty { unknownReason = unknownReason ?? "solver: \(reason) at \(where_(o.node))"; decided = true }
                        continue
                    case .sat(let model):
                        let oracle = makeOracle(model, run.factory, &lowering)
                        let replay = ConcreteReplay.run(program: program, path: path, graph: graph, oracle: oracle,
                                                        target: .init(invariant: inv, node: o.node, key: o.key))
                        if replay.confirmed {
                            verdict = .violated(counterexample(o, replay, program, graph, run, oracle, label, relevant: run.factory.variableNames(negated)))
                            decided = true
                        } else if extra.isEmpty {
                            unknownReason = unknownReason ?? "the solver's counterexample at \(where_(o.node)) did not replay: \(replay.note ?? "no failure")"
                            decided = true
                        }
                    }
                    if decided { break }
                }
                if case .violated = verdict { break }
            }
            if case .proved = verdict, let r = unknownReason { verdict = .unknown(r) }
            report.results.append(InvariantResult(invariant: inv, verdict: verdict, expectedViolation: path.expectedViolations.contains(inv),
                                                  obligations: obligations.count, solverQueries: queries))
        }
        return report
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
                               _ run: SymbolicRun, _ oracle: (String) -> UInt64, _ query: String, relevant: Set<String>) -> Counterexample {
        let inst = program.instructions[graph.nodes[o.node].instruction]
        let inputs = relevant.filter { !$0.hasPrefix("loop@") }.sorted().map { ($0, oracle($0)) }
        return Counterexample(location: inst.location, instruction: inst.text, requirement: r.requirement ?? o.requirement,
                              values: r.values, steps: r.steps, picture: r.picture,
                              rsp: r.rspAtBlame.map { run.setup.describe(address: $0) } ?? "?", inputs: inputs, query: query)
    }
}
