import Foundation
import SpecElaboration
import SpecSyntax
import StackSemantics
import Z3Kit

public struct ProverOptions: Sendable {
    /// Per-query solver timeout.
    public var timeoutMilliseconds: UInt32 = 10_000
    public var invariants: Set<Invariant> = Set(Invariant.allCases)
    /// Write every solver query as an SMT-LIB2 file here.
    public var smt2Directory: URL?
    /// Keep every obligation's outcome (for `--explain`).
    public var recordObligations = false
    /// Decide obligations whose terms simplify to a constant without Z3. Off, every
    /// obligation goes to the solver (the verdicts must not change: a test checks it).
    public var structuralFastPath = true
    /// Merge states at join points (off: enumerate paths; for checking the merge).
    public var mergeStates = true
    public init() {}
}

/// One proof obligation and how it was decided (for `--explain`).
public struct ObligationOutcome: Sendable {
    public var invariant: Invariant
    /// The node of the path's plain graph.
    public var node: Int
    public var location: SourceLocation
    public var requirement: String
    /// "proved by the solver", "counterexample", "unknown: …"
    public var outcome: String
}

/// Proves the invariants of one path: symbolic run, one Z3 query per obligation that
/// the term simplifier did not decide, and a concrete replay of every counterexample.
public enum PathProver {
    nonisolated(unsafe) static let debug = getenv("PTREGS_PROVE_DEBUG") != nil

    /// How many times the counterexample search lets a run enter each loop head.
    public static let unrollVisits = 3

    public static func prove(program: Program, path: PathSpec, options: ProverOptions) -> PathReport {
        var proof = PathProof(program: program, path: path, options: options)
        return proof.run()
    }
}

struct PathProof {
    let program: Program
    let path: PathSpec
    let options: ProverOptions
    let invariants: [Invariant]
    var report: PathReport
    var queryCount = 0
    var solverNanoseconds: UInt64 = 0

    init(program: Program, path: PathSpec, options: ProverOptions) {
        self.program = program
        self.path = path
        self.options = options
        invariants = Invariant.allCases.filter { options.invariants.contains($0) }
        report = PathReport(name: path.name, file: path.location.file, location: path.location, models: path.models,
                            entry: path.entry, results: [])
    }

    func all(_ v: Verdict) -> [InvariantResult] {
        invariants.map { InvariantResult(invariant: $0, verdict: v, expectedViolation: path.expectedViolations.contains($0), obligations: 0, solverQueries: 0) }
    }

    /// A run of the path (plain or unrolled) with its own term lowering into the context.
    struct Search {
        var graph: PathGraph
        var run: SymbolicRun
        var lowering: Z3Lowering
    }

    mutating func run() -> PathReport {
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
        let run = SymbolicExecutor.run(program: program, path: path, graph: graph,
                                       keepDecided: options.recordObligations || !options.structuralFastPath,
                                       merging: options.mergeStates)
        func place(_ g: PathGraph, _ node: Int) -> String {
            let i = program.instructions[g.nodes[node].instruction]
            return "\(i.sourceLocation) (`\(i.text)`)"
        }
        if let u = run.unsupported {
            report.results = all(.unknown("unsupported: \(u.reason) at \(place(graph, u.node))"))
            return report
        }
        if let (h, reason) = run.loopFailure {
            report.results = all(.unknown("loop: \(reason) (loop head \(place(graph, h)))"))
            return report
        }

        let z3 = Z3Context()
        let solver = Z3Solver(context: z3, timeoutMilliseconds: options.timeoutMilliseconds)
        var proofRun = Search(graph: graph, run: run, lowering: Z3Lowering(z3))
        // Loops: the widened run proves; counterexamples are sought in a run of the same
        // path with its loops unrolled, whose states are exact, and replayed there.
        var search: Search? = graph.loopHeads.isEmpty ? proofRun : nil
        var searchFailure: String?

        for inv in invariants {
            let obligations = run.obligations.filter { $0.invariant == inv }
            let open = obligations.filter { $0.claim.boolConstant != true }.count
            var verdict: Verdict = .proved
            let before = queryCount
            var unknownReason: String?
            var refuted: Obligation<SymbolicDomain>?
            for o in obligations {
                if o.claim.boolConstant == true && options.structuralFastPath {
                    record(o, graph, "holds by construction (decided without the solver)")
                    continue
                }
                switch query(o, &proofRun, solver, label: "\(inv.rawValue)") {
                case .unsat:
                    record(o, graph, "proved by the solver")
                case .unknown(let reason):
                    unknownReason = unknownReason ?? "solver: \(reason) at \(place(graph, o.node))"
                    record(o, graph, "unknown: \(reason)")
                case .sat:
                    refuted = refuted ?? o
                    record(o, graph, graph.loopHeads.isEmpty ? "violated" : "not proved by the loop abstraction")
                }
            }
            if let o = refuted {
                if search == nil && searchFailure == nil {
                    do {
                        let unrolled = try PathGraph(unrolling: graph, visits: PathProver.unrollVisits)
                        let urun = SymbolicExecutor.run(program: program, path: path, graph: unrolled,
                                                        keepDecided: !options.structuralFastPath, merging: options.mergeStates)
                        if let u = urun.unsupported { searchFailure = "unsupported in the unrolled run: \(u.reason)" }
                        else { search = Search(graph: unrolled, run: urun, lowering: Z3Lowering(z3)) }
                    } catch {
                        searchFailure = "\(error)"
                    }
                }
                if var sr = search {
                    // The first obligation of this invariant, in run order, that a concrete run breaks.
                    for u in sr.run.obligations where u.invariant == inv {
                        guard case .sat(let model) = query(u, &sr, solver, label: "\(inv.rawValue)-search") else { continue }
                        let oracle = makeOracle(model, sr.run.factory, &sr.lowering)
                        if PathProver.debug { print("DEBUG counterexample for \(u.key) at \(place(sr.graph, u.node))") }
                        let replay = ConcreteReplay.run(program: program, path: path, graph: sr.graph, oracle: oracle,
                                                        target: .init(invariant: inv, node: u.node, key: u.key))
                        if replay.confirmed {
                            let negated = sr.run.factory.allOf([u.reach, sr.run.factory.negation(u.claim)])
                            verdict = .violated(counterexample(u, replay, sr, oracle, relevant: sr.run.factory.variableNames(negated)))
                            break
                        }
                        unknownReason = unknownReason ?? "the solver's counterexample at \(place(sr.graph, u.node)) did not replay: \(replay.note ?? "no failure")"
                    }
                    search = sr
                }
                if case .proved = verdict {
                    verdict = .unknown(unknownReason ?? searchFailure.map { "loop: \($0)" }
                        ?? "loop: the loop abstraction admits a violation at \(place(graph, o.node)) (\(o.requirement)) that no run entering each loop head at most \(PathProver.unrollVisits) times shows")
                }
            } else if let r = unknownReason {
                verdict = .unknown(r)
            }
            report.results.append(InvariantResult(invariant: inv, verdict: verdict, expectedViolation: path.expectedViolations.contains(inv),
                                                  obligations: open, solverQueries: queryCount - before))
        }
        report.solverSeconds = Double(solverNanoseconds) / 1e9
        return report
    }

    mutating func record(_ o: Obligation<SymbolicDomain>, _ graph: PathGraph, _ outcome: String) {
        guard options.recordObligations else { return }
        let i = program.instructions[graph.nodes[o.node].instruction]
        report.obligations.append(ObligationOutcome(invariant: o.invariant, node: graph.original[o.node], location: i.location,
                                                    requirement: o.requirement, outcome: outcome))
    }

    /// Is `reach ∧ ¬claim` satisfiable? Decided by the term simplifier when it folds
    /// to false, otherwise by Z3 (and written out as SMT-LIB2 when asked).
    mutating func query(_ o: Obligation<SymbolicDomain>, _ s: inout Search, _ solver: Z3Solver, label: String) -> Z3CheckResult {
        let f = s.run.factory
        let negated = f.allOf([o.reach, f.negation(o.claim)])
        if negated.boolConstant == false && options.structuralFastPath { return .unsat }
        queryCount += 1
        let started = DispatchTime.now().uptimeNanoseconds
        defer { solverNanoseconds += DispatchTime.now().uptimeNanoseconds - started }
        solver.push()
        solver.assert(s.lowering.lower(negated))
        let result: Z3CheckResult
        do { result = try solver.check() } catch { result = .unknown(reason: "\(error)") }
        if let dir = options.smt2Directory {
            let answer: String
            switch result {
            case .sat: answer = "sat"
            case .unsat: answer = "unsat"
            case .unknown: answer = "unknown"
            }
            let i = program.instructions[s.graph.nodes[o.node].instruction]
            let header = "; ptregs-prove query: path \(path.name), invariant \(o.invariant.rawValue), \(i.location) `\(i.text)`\n; \(o.requirement)\n; expected answer: \(answer)\n"
            let name = "\(sanitize(path.name)).\(label).\(String(queryCount).leftPad(4, "0")).smt2"
            try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try? (header + solver.smtlib2).write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        solver.pop()
        return result
    }

    func sanitize(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" })
    }

    func makeOracle(_ model: Z3Model, _ f: TermFactory, _ lowering: inout Z3Lowering) -> (String) -> UInt64 {
        var values: [String: UInt64] = [:]
        for (name, t) in f.variables {
            let e = lowering.lower(t)
            if t.isBool { values[name] = model.evalBool(e) == true ? 1 : 0 }
            else { values[name] = model.evalBV(e) ?? 0 }
        }
        return { values[$0] ?? 0 }
    }

    func counterexample(_ o: Obligation<SymbolicDomain>, _ r: ReplayOutcome, _ s: Search,
                        _ oracle: (String) -> UInt64, relevant: Set<String>) -> Counterexample {
        let inst = program.instructions[s.graph.nodes[o.node].instruction]
        // Blame the line of the path's own file; the macro line is a note.
        let blamed = inst.sourceLocation
        let inputs = relevant.sorted().map { ($0, oracle($0)) }
        return Counterexample(location: blamed, macroLocation: inst.sourceLocation == inst.location ? nil : inst.location, instruction: inst.text,
                              requirement: r.requirement ?? o.requirement, values: r.values, steps: r.steps, picture: r.picture,
                              rsp: r.rspAtBlame.map { s.run.setup.describe(address: $0) } ?? "?", inputs: inputs)
    }
}

extension String {
    func leftPad(_ n: Int, _ pad: Character = " ") -> String { count >= n ? self : String(repeating: pad, count: n - count) + self }
}
