import Foundation
import SpecElaboration
import SpecSyntax
import StackSemantics
import Z3Kit

public struct ProverOptions: Sendable {
    /// Per-query solver timeout.
    public var timeoutMilliseconds: UInt32 = 10_000
    /// Z3's deterministic work bound per query (nil: none).
    public var resourceLimit: UInt32?
    /// Z3's memory bound for the process, in megabytes.
    public var memoryLimitMegabytes: UInt32 = 4096
    public var invariants: Set<Invariant> = Set(Invariant.allCases)
    /// Write every solver query as an SMT-LIB2 file here.
    public var smt2Directory: URL?
    /// Write a certificate for every proved verdict here (see Certificates.swift).
    public var certifyDirectory: URL?
    /// Keep every obligation's outcome (for `--explain`).
    public var recordObligations = false
    /// Decide obligations whose terms simplify to a constant without Z3. Off, every
    /// obligation goes to the solver (the verdicts must not change: a test checks it).
    public var structuralFastPath = true
    /// Merge states at join points (off: enumerate paths; for checking the merge).
    public var mergeStates = true
    /// Try a few deterministic concrete runs before asking the solver for a
    /// counterexample (off: every counterexample comes from a Z3 model).
    public var concreteProbes = true
    /// Record the step-by-step trace of a violation the spec accepts (`.expect`,
    /// `.limit`). Off, such a violation is still confirmed by a concrete replay, which
    /// gives its blamed line and words, but not its steps: for a report that shows
    /// accepted violations as one line each (the text report without `-v`).
    public var traceAcceptedViolations = true
    /// Record the stack before every step of a trace (`--format html` draws it).
    public var stackPerStep = false
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
    static let debug = getenv("PTREGS_PROVE_DEBUG") != nil

    /// How many times the counterexample search lets a run enter each loop head.
    public static let unrollVisits = 3

    /// `graph`: the path's graph when the caller has built it already (elaboration does).
    public static func prove(program: Program, path: PathSpec, options: ProverOptions, graph: PathGraph? = nil) -> PathReport {
        var proof = PathProof(program: program, path: path, options: options)
        let report = proof.run(graph: graph)
        // A violation of a declared mechanism is replayed without its trace when accepted
        // traces are off; only once every site is found is it known to be one site too
        // many, and unexpected. Rare (the gate fails then): prove again with traces.
        if !options.traceAcceptedViolations,
           report.results.contains(where: { $0.unexpected.contains { $0.counterexample.steps.isEmpty } }) {
            var traced = options
            traced.traceAcceptedViolations = true
            var again = PathProof(program: program, path: path, options: traced)
            return again.run(graph: graph)
        }
        return report
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
    /// What decided the invariant being proved so far (see `InvariantResult.decidedBy`).
    var deciders: Set<Decider> = []
    /// The path's unrolled graphs, each with the semantics its runs share: the probes
    /// and the first counterexample search use the same once-unrolled one.
    let unrolledGraphs = UnrolledGraphs()

    init(program: Program, path: PathSpec, options: ProverOptions) {
        self.program = program
        self.path = path
        self.options = options
        invariants = Invariant.allCases.filter { options.invariants.contains($0) }
        report = PathReport(name: path.name, file: path.location.file, location: path.location, models: path.models,
                            entry: path.entry, results: [], assumptions: path.assumptions)
    }

    /// The path's report with `cfi` unknown for `reason` and every other invariant
    /// proved by runs that skip the unwind annotations.
    func withoutUnwindAnnotations(unknownBecause reason: String) -> PathReport {
        var unannotated = path
        unannotated.checksUnwindAnnotations = false
        var options = self.options
        options.invariants.remove(.unwindAnnotations)
        var proof = PathProof(program: program, path: unannotated, options: options)
        var out = proof.run()
        out.unwindAnnotated = true
        if invariants.contains(.unwindAnnotations) {
            out.results.append(InvariantResult(invariant: .unwindAnnotations, violations: [], undecided: reason,
                                               expectations: path.expectations, obligations: 0, solverQueries: 0))
            out.results.sort { $0.invariant < $1.invariant }
        }
        return out
    }

    /// Every invariant undecided, for `reason`.
    func allUnknown(_ reason: String) -> [InvariantResult] {
        invariants.map { InvariantResult(invariant: $0, violations: [], undecided: reason, expectations: path.expectations, obligations: 0, solverQueries: 0) }
    }

    /// A run of the path (plain or unrolled) with its own term lowering into the context.
    struct Search {
        var semantics: PathSemantics
        var graph: PathGraph { semantics.graph }
        var run: SymbolicRun
        var lowering: Z3Lowering
    }

    mutating func run(graph built: PathGraph? = nil) -> PathReport {
        let graph: PathGraph
        do {
            graph = try built ?? PathGraph(program: program, path: path)
        } catch let diag as Diagnostic {
            report.results = allUnknown("unsupported: \(diag.message) at \(diag.location)")
            return report
        } catch {
            report.results = allUnknown("unsupported: \(error)")
            return report
        }
        report.assumptions += graph.unmodelledRead.compactMap { program.unmodelled[$0] }
        report.unwindAnnotated = graph.nodes.contains { program.unwindRows[$0.instruction] != nil || program.unwindHints[$0.instruction] != nil }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let plain = PathSemantics(program: program, path: path, graph: graph)
        let z3 = Z3ContextSource()
        let inductionStats = InductionStats()
        // A loop path's proof run tracks register writers: a second wrong value at an
        // exit where one is known is ruled out through the loop (see `otherBlame`).
        let run = SymbolicExecutor.run(plain,
                                       keepDecided: options.recordObligations || !options.structuralFastPath,
                                       merging: options.mergeStates, tracksOrigins: !graph.loopHeads.isEmpty,
                                       induction: Self.inductionProver(z3, options, inductionStats))
        queryCount += inductionStats.queries
        if PathProver.debug { print("DEBUG \(path.name): loop invariants \(inductionStats.queries) queries, \(Double(inductionStats.nanoseconds) / 1e6) ms") }
        if PathProver.debug { print("DEBUG \(path.name): symbolic run \(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6) ms, \(graph.nodes.count) nodes, \(run.passes) passes, \(run.obligations.count) obligations, \(run.factory.count) terms") }
        func place(_ g: PathGraph, _ node: Int) -> String {
            let i = program.instructions[g.nodes[node].instruction]
            return "\(i.sourceLocation) (`\(i.text)`)"
        }
        if let u = run.unsupported {
            let reason = "unsupported: \(u.reason) at \(place(graph, u.node))"
            if u.onlyUnwindAnnotations {
                // An annotation the model cannot read leaves only `cfi` unknown: the
                // other invariants are proved on runs that do not look at annotations.
                return withoutUnwindAnnotations(unknownBecause: reason)
            }
            report.results = allUnknown(reason)
            return report
        }
        // Every run ends in a trap: no exit is reached, so no exit obligation says anything.
        if let trap = graph.onlyTrap(in: program) {
            report.results = allUnknown("every run of the path ends in a trap (`\(trap.text)` at \(trap.sourceLocation)): it never exits, so nothing is proved about its exits")
            return report
        }
        if let (h, reason) = run.loopFailure {
            report.results = allUnknown("loop: \(reason) (loop head \(place(graph, h)))")
            return report
        }

        if options.recordObligations {
            for c in run.inductionChecks {
                let i = program.instructions[graph.nodes[c.head].instruction]
                report.loopInductions.append(LoopInductionOutcome(location: i.location, side: c.side, parts: c.what, decidedBy: c.decidedBy))
            }
        }
        var proofRun = Search(semantics: plain, run: run, lowering: Z3Lowering(z3))
        // Loops: the widened run proves; counterexamples are sought in runs of the same
        // path with its loops unrolled (1, 2, then 3 entries of each loop head), whose
        // states are exact, and replayed there. Loop-free paths search their own run.
        var searches: [Int: Search] = [:]
        var searchFailure: String?
        func searchRun(_ depth: Int) -> Search? {
            if let s = searches[depth] { return s }
            if depth == 0 { return proofRun }
            guard searchFailure == nil else { return nil }
            do {
                let unrolled = try unrolledGraphs.unrolled(plain, visits: depth)
                let t1 = DispatchTime.now().uptimeNanoseconds
                let urun = SymbolicExecutor.run(unrolled, keepDecided: !options.structuralFastPath, merging: options.mergeStates, tracksOrigins: true)
                if PathProver.debug { print("DEBUG \(path.name): unrolled run (\(depth)) \(Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e6) ms, \(unrolled.graph.nodes.count) nodes, \(urun.obligations.count) obligations") }
                if let u = urun.unsupported {
                    let at = unrolled.graph.nodes.indices.contains(u.node) ? " at \(unrolled.program.instructions[unrolled.graph.nodes[u.node].instruction].location)" : ""
                    searchFailure = "unsupported in the unrolled run: \(u.reason)\(at)"
                    return nil
                }
                let sr = Search(semantics: unrolled, run: urun, lowering: Z3Lowering(z3))
                searches[depth] = sr
                return sr
            } catch {
                searchFailure = "\(error)"
                return nil
            }
        }

        // A loop-free path's own run, tracking register writers, for the search for a
        // second wrong value at a site with a known one (built only when one is known:
        // the proof run's terms, hence its models, stay as they are).
        var writerRun: Search?
        func blameRun(_ depth: Int) -> Search? {
            if depth > 0 { return searchRun(depth) }
            if let s = writerRun { return s }
            let r = SymbolicExecutor.run(plain, keepDecided: !options.structuralFastPath, merging: options.mergeStates, tracksOrigins: true)
            guard r.unsupported == nil else { return nil }
            writerRun = Search(semantics: plain, run: r, lowering: Z3Lowering(z3))
            return writerRun
        }

        /// How a search of one run for violations ended.
        enum SearchEnd {
            /// No obligation it was asked about can fail in that run.
            case cannotFail
            /// A solver model breaks an obligation that no replay confirmed.
            case notReplayed
            case unknown(String)
        }
        /// Seeks every replayed violation of `inv` in the run at `depth`, one per
        /// mechanism and site, skipping those in `known`: in run order, the first
        /// obligation that can fail is replayed, its (mechanism, site) is set aside, and
        /// the search goes on until nothing else can fail — so a second bug on a path
        /// with a known one is found, not hidden behind it, also when its words are the
        /// known one's at another site.
        func searchAll(_ inv: Invariant, depth: Int, skipping known: Set<MechanismAtSite>) -> ([(MechanismAtSite, Counterexample)], SearchEnd) {
            guard var sr = searchRun(depth) else { return ([], .unknown(searchFailure.map { "loop: \($0)" } ?? "no search run")) }
            defer { searches[depth] = sr }
            var found: [(MechanismAtSite, Counterexample)] = []
            var foundMechanisms = known
            // Obligations shown unable to fail in this run (others at the same site may).
            var cleared = Set<Int>()
            let all = sr.run.obligations.indices.filter {
                let o = sr.run.obligations[$0]
                return o.invariant == inv && !(o.claim.boolConstant == true && options.structuralFastPath)
            }
            // One violation per mechanism and site: an expectation counts its sites, and
            // the report shows each with its own counterexample. Other runs, call
            // contexts or loop copies reaching the same instruction add nothing.
            var mechanisms: [Int: MechanismAtSite] = [:]
            for k in all { mechanisms[k] = MechanismAtSite(of: sr.run.obligations[k], in: sr.semantics) }
            func mechanism(_ k: Int) -> MechanismAtSite { mechanisms[k] ?? MechanismAtSite(of: sr.run.obligations[k], in: sr.semantics) }
            // A model that breaks one obligation often breaks others: its replay
            // confirms every candidate it breaks, each with its own trace.
            func confirm(_ candidates: [Int], _ oracle: @escaping (String) -> UInt64) -> Bool {
                let traced = options.traceAcceptedViolations || candidates.contains { !isAccepted(mechanism($0)) }
                let confirmed = replayAll(candidates.map { sr.run.obligations[$0] }, oracle, &sr, inv, traced: traced)
                for (k, cx) in confirmed {
                    let s = mechanism(candidates[k])
                    if foundMechanisms.insert(s).inserted { found.append((s, cx)) }
                }
                return !confirmed.isEmpty
            }
            while true {
                let candidates = all.filter { !cleared.contains($0) && !foundMechanisms.contains(mechanism($0)) }
                if candidates.isEmpty { return (found, .cannotFail) }
                let f = sr.run.factory
                if options.structuralFastPath {
                    deciders.insert(.cases)
                    switch searchByCases(candidates, &sr, &cleared, first: found.isEmpty) {
                    case .some(.cannotFail): return (found, .cannotFail)
                    case .some(.inputs(let values)):
                        // Inputs cases do not name are 0: the case model assumes so.
                        if confirm(candidates, { values[$0] ?? 0 }) { continue }
                    case .none: break
                    }
                }
                let os = candidates.map { sr.run.obligations[$0] }
                let batchModel: Z3Model
                switch queryAny(os, &sr, label: "\(inv.rawValue)-search\(depth)-all") {
                case .unsat: return (found, .cannotFail)
                case .unknown(let reason): return (found, .unknown("solver: \(reason)"))
                case .sat(let m): batchModel = m
                }
                let batchOracle = makeOracle(batchModel, f, &sr.lowering)
                if confirm(candidates, batchOracle) { continue }
                // The batch model did not replay: ask each candidate alone, in run order.
                var replayed = false
                var solverUnknown: String?
                for (index, u) in os.enumerated() {
                    switch query(u, &sr, label: "\(inv.rawValue)-search\(depth)") {
                    case .sat(let m):
                        let oracle = makeOracle(m, sr.run.factory, &sr.lowering)
                        if confirm(Array(candidates[index...]), oracle) { replayed = true }
                    case .unsat: cleared.insert(candidates[index])
                    case .unknown(let reason): solverUnknown = solverUnknown ?? reason
                    }
                    if replayed { break }
                }
                if !replayed { return (found, solverUnknown.map { .unknown("solver: \($0)") } ?? .notReplayed) }
            }
        }
        enum CaseSearch {
            case cannotFail
            /// Inputs that break the first candidate that can fail, by cases.
            case inputs([String: UInt64])
        }
        /// The search without the solver, when cases settle it: each candidate in run
        /// order is false in every case (it cannot fail) or given inputs by cases (see
        /// CaseSplit.swift). Nil as soon as one needs the solver.
        /// `first`: nothing found yet (after a violation, the question whether any
        /// candidate can fail at all is not worth a case split of all of them).
        func searchByCases(_ candidates: [Int], _ sr: inout Search, _ cleared: inout Set<Int>, first: Bool) -> CaseSearch? {
            let f = sr.run.factory
            let os = candidates.map { sr.run.obligations[$0] }
            if os.isEmpty || (first && f.isFalseInEveryCase(f.anyOf(os.map { f.allOf([$0.reach, f.negation($0.claim)]) }))) {
                return .cannotFail
            }
            for (index, u) in zip(candidates, os) {
                let q = f.allOf([u.reach, f.negation(u.claim)])
                if q.boolConstant == false { cleared.insert(index); continue }
                // Inputs first: on a path with known violations most candidates fail,
                // and finding their inputs settles them without the proof by cases.
                if let values = f.modelByCases(q) { return .inputs(values) }
                if f.isFalseInEveryCase(q) { cleared.insert(index); continue }
                return nil
            }
            return .cannotFail
        }

        // Concrete probes first: a handful of deterministic concrete runs. A run that
        // breaks an invariant is a counterexample already (it is a concrete run of the
        // path), found without the solver.
        // Only invariants with an obligation the simplifier left open can fail — when
        // the run resolved every address; otherwise a probe may check an access the
        // run could not (a stack read through a symbolic index), so probe them all.
        let undecided = Set(run.obligations.filter { !($0.claim.boolConstant == true && options.structuralFastPath) }.map(\.invariant))
        let seeking = run.everyAddressResolved ? invariants.filter { undecided.contains($0) } : invariants
        let tProbe = DispatchTime.now().uptimeNanoseconds
        let probed = options.concreteProbes ? probe(plain, seeking: seeking) : [:]
        if PathProver.debug { print("DEBUG \(path.name): probes \(Double(DispatchTime.now().uptimeNanoseconds - tProbe) / 1e6) ms, \(probed.values.map(\.count).reduce(0, +)) violations") }

        for inv in invariants {
            let obligations = run.obligations.filter { $0.invariant == inv }
            var open: [Obligation<SymbolicDomain>] = []
            for o in obligations {
                if o.claim.boolConstant == true && options.structuralFastPath {
                    record(o, graph, "holds by construction (decided without the solver)")
                } else {
                    open.append(o)
                }
            }
            let before = queryCount
            deciders = open.count < obligations.count || run.heldByConstruction.contains(inv) ? [.simplifier] : []
            if probed[inv] != nil { deciders.insert(.concreteRun) }
            if !graph.loopHeads.isEmpty && !open.isEmpty { deciders.insert(.induction) }
            // Every violation, one per mechanism and site: the probes' first, then the searches'.
            var violations: [(MechanismAtSite, Counterexample)] = probed[inv] ?? []
            var unknownReason: String?
            let tSearch = DispatchTime.now().uptimeNanoseconds
            defer { if PathProver.debug { print("DEBUG \(path.name): \(inv.rawValue) decided in \(Double(DispatchTime.now().uptimeNanoseconds - tSearch) / 1e6) ms, \(violations.count) violations") } }
            func add(_ more: [(MechanismAtSite, Counterexample)]) {
                for v in more where !violations.contains(where: { $0.0 == v.0 && $0.1.blamedInstruction == v.1.blamedInstruction }) { violations.append(v) }
            }
            func known() -> Set<MechanismAtSite> { Set(violations.map(\.0)) }
            /// The instructions the violations found at each (mechanism, site) are blamed on.
            func blames() -> [MechanismAtSite: Set<Int?>] {
                var out: [MechanismAtSite: Set<Int?>] = [:]
                for (k, cx) in violations { out[k, default: []].insert(cx.blamedInstruction) }
                return out
            }
            /// Obligations of `sr` at sites with a violation found, each with the condition
            /// that it fails with a value blamed elsewhere; nil when a writer is no choice
            /// among events.
            func otherBlameCandidates(_ sr: Search) -> [(Int, Term)]? {
                let found = blames(), f = sr.run.factory
                var out: [(Int, Term)] = []
                for (k, o) in sr.run.obligations.enumerated() where o.invariant == inv && o.blame != nil {
                    guard let excluded = found[MechanismAtSite(of: o, in: sr.semantics)] else { continue }
                    guard let other = otherBlame(o, sr, excluded: excluded) else { return nil }
                    let q = f.allOf([o.reach, f.negation(o.claim), other])
                    if q.boolConstant != false { out.append((k, q)) }
                }
                return out
            }
            /// Seeks, in the replayable run at `depth` (loop-free or unrolled), violations
            /// at the sites found whose wrong value comes from another instruction than
            /// those found there — a second bug behind a known (expected) one — until none
            /// can fail. Each is replayed and becomes a site of its own.
            func searchOtherBlames(depth: Int) -> SearchEnd {
                if violations.isEmpty { return .cannotFail }
                guard var sr = blameRun(depth) else { return .unknown(searchFailure.map { "loop: \($0)" } ?? "no run tracking register writers") }
                defer { if depth > 0 { searches[depth] = sr } else { writerRun = sr } }
                let f = sr.run.factory
                while true {
                    guard let candidates = otherBlameCandidates(sr) else {
                        return .unknown("a register's writer at a site with a known violation is not one of the path's instructions")
                    }
                    if candidates.isEmpty { return .cannotFail }
                    let any = f.anyOf(candidates.map(\.1))
                    let os = candidates.map { sr.run.obligations[$0.0] }
                    var oracle: ((String) -> UInt64)?
                    if options.structuralFastPath {
                        if f.isFalseInEveryCase(any) { deciders.insert(.cases); return .cannotFail }
                        if let values = f.modelByCases(any) { deciders.insert(.cases); oracle = { values[$0] ?? 0 } }
                    }
                    if oracle == nil {
                        switch check(any, os[0], &sr, label: "\(inv.rawValue)-blame\(depth)", what: "another wrong value at a site with a known one").result {
                        case .unsat: return .cannotFail
                        case .unknown(let reason): return .unknown("solver: \(reason)")
                        case .sat(let m): oracle = makeOracle(m, f, &sr.lowering)
                        }
                    }
                    guard let oracle else { return .notReplayed }
                    let traced = options.traceAcceptedViolations || os.contains { !isAccepted(MechanismAtSite(of: $0, in: sr.semantics)) }
                    let found = blames()
                    let before = violations.count
                    for (j, cx) in replayAll(os, oracle, &sr, inv, traced: traced) {
                        let site = MechanismAtSite(of: os[j], in: sr.semantics)
                        if found[site]?.contains(cx.blamedInstruction) != true { add([(site, cx)]) }
                    }
                    if violations.count == before { return .notReplayed }
                }
            }
            if graph.loopHeads.isEmpty {
                // Loop-free: the proof run is exact, and searching it decides every mechanism.
                let (more, end) = searchAll(inv, depth: 0, skipping: known())
                add(more)
                switch end {
                case .cannotFail:
                    switch searchOtherBlames(depth: 0) {
                    case .cannotFail: break
                    case .unknown(let why): unknownReason = "a second wrong value where one is known: \(why)"
                    case .notReplayed: unknownReason = "the solver's counterexample for a second wrong value where one is known did not replay"
                    }
                case .unknown(let why): unknownReason = why
                case .notReplayed: unknownReason = "the solver's counterexample did not replay"
                }
            } else if !open.isEmpty {
                // An invariant with an open obligation is first sought broken in the
                // once-unrolled run, whose states are exact. The widened run then proves
                // the mechanisms left; what it cannot prove is sought in runs unrolled further.
                add(searchAll(inv, depth: 1, skipping: known()).0)
                var depth = 2
                while true {
                    let sites = known()
                    let remaining = open.filter { !sites.contains(MechanismAtSite(of: $0, in: plain)) }
                    let answer = queryAny(remaining, &proofRun, label: "\(inv.rawValue)-all")
                    if case .unsat = answer { break }
                    if case .unknown(let reason) = answer { unknownReason = "solver: \(reason)"; break }
                    if depth > PathProver.unrollVisits {
                        let refuted = remaining.first { if case .sat = query($0, &proofRun, label: "\(inv.rawValue)") { return true }; return false }
                        unknownReason = searchFailure.map { "loop: \($0)" }
                            ?? "loop: the loop abstraction admits a violation at \(refuted.map { place(graph, $0.node) } ?? "?") (\(refuted?.requirement ?? "")) that no run entering each loop head at most \(PathProver.unrollVisits) times shows"
                        break
                    }
                    add(searchAll(inv, depth: depth, skipping: known()).0)
                    depth += 1
                }
                // Sites with a violation found: no other wrong value reaches them through
                // the loop, or one is found in a run unrolled far enough to show it.
                var blameDepth = 1
                var writerFacts: Term?
                while unknownReason == nil {
                    guard let candidates = otherBlameCandidates(proofRun) else {
                        unknownReason = "loop: a register's writer at a site with a known violation is not tracked through the loop"
                        break
                    }
                    if candidates.isEmpty { break }
                    let f = proofRun.run.factory
                    if writerFacts == nil { writerFacts = provedWriterFacts(&proofRun) }
                    let any = f.both(f.anyOf(candidates.map(\.1)), writerFacts ?? f.bool(true))
                    let answer = check(any, proofRun.run.obligations[candidates[0].0], &proofRun, label: "\(inv.rawValue)-blame",
                                                      what: "another wrong value at a site with a known one").result
                    if case .unsat = answer { break }
                    if case .unknown(let reason) = answer { unknownReason = "solver: \(reason)"; break }
                    let before = violations.count
                    while blameDepth <= PathProver.unrollVisits && violations.count == before {
                        if case .unknown(let why) = searchOtherBlames(depth: blameDepth) { unknownReason = why; break }
                        if violations.count == before { blameDepth += 1 }
                    }
                    if unknownReason == nil && violations.count == before {
                        let at = candidates.map { place(graph, proofRun.run.obligations[$0.0].node) }
                        unknownReason = "loop: the loop abstraction admits a wrong value at \(at.joined(separator: ", ")) from another instruction than the known violation's, which no run entering each loop head at most \(PathProver.unrollVisits) times shows"
                    }
                }
            }
            if options.recordObligations {
                for o in open {
                    let decision = decidedQuery(o, &proofRun, label: "\(inv.rawValue)-explain")
                    switch decision.result {
                    case .unsat: record(o, graph, decision.by == .solver ? "proved by the solver" : decision.by == .cases ? "proved by cases (decided without the solver)" : "holds by construction (decided without the solver)")
                    case .sat: record(o, graph, graph.loopHeads.isEmpty ? "violated" : "violated, or not proved by the loop abstraction")
                    case .unknown(let reason): record(o, graph, "unknown: \(reason)")
                    }
                }
            }
            // In the order of the lines they are blamed on, as the code reads.
            let found = violations.map { key, cx in
                Violation(mechanism: key.mechanism, site: Site(instruction: key.instruction, location: program.instructions[key.instruction].sourceLocation,
                                                               blamed: cx.blamedInstruction,
                                                               blamedLocation: cx.blamedInstruction.map { program.instructions[$0].sourceLocation }),
                          counterexample: cx)
            }.sorted {
                ($0.counterexample.location.file, $0.counterexample.location.line, $0.mechanism.description, $0.site)
                    < ($1.counterexample.location.file, $1.counterexample.location.line, $1.mechanism.description, $1.site)
            }
            var result = InvariantResult(invariant: inv, violations: found, undecided: unknownReason,
                                         expectations: path.expectations, obligations: open.count,
                                         solverQueries: queryCount - before)
            result.decidedBy = deciders.sorted()
            report.results.append(result)
        }
        // No run reaches an exit (every way out is a trap, a loop that never ends, or a
        // branch no input takes, or an .assume that removes them all): every exit
        // obligation is true of no run, so nothing proved about the exits means anything.
        if !run.exitsReached.contains(where: { $0.reach.boolConstant == true }) {
            var why: String?
            /// Whether some run of `sr` reaches an exit: true, false, or why undecided.
            func reachesExit(_ sr: inout Search) -> Result<Bool, SearchFailure> {
                let f = sr.run.factory
                // Usually an input the case split picks settles it (a function's return
                // address outside the path's code), without the solver.
                if options.structuralFastPath && f.modelByCases(f.anyOf(sr.run.exitsReached.map(\.reach))) != nil { return .success(true) }
                switch queryAny(sr.run.exitsReached, &sr, label: "exit-reached") {
                case .sat: return .success(true)
                case .unsat: return .success(false)
                case .unknown(let reason): return .failure(SearchFailure(text: "solver: \(reason)"))
                }
            }
            let never = "no run of the path reaches an exit (ret, sysretq, sysexit, iretq)\(path.assumptions.isEmpty ? "" : " under its .assume"): every run ends in a trap or never ends, so nothing is proved about its exits"
            switch reachesExit(&proofRun) {
            case .success(true): why = nil
            case .success(false): why = never
            case .failure(let e): why = "whether any run of the path reaches an exit is undecided (\(e.text))"
            }
            if why == nil && !graph.loopHeads.isEmpty {
                // The widened run stands for more runs than there are (a loop that never
                // ends looks as if it might): an exit counts as reached only in a run
                // unrolled exactly, entering each loop head at most a few times.
                // A concrete run of the path as it is (loops and all) that exits is a
                // witness; then runs unrolled exactly, entering each loop head at most a
                // few times.
                why = "no run entering each loop head at most \(PathProver.unrollVisits) times reaches an exit (ret, sysretq, sysexit, iretq)\(path.assumptions.isEmpty ? "" : " under its .assume"), nor does a concrete run: the loop may never end, so nothing is proved about its exits"
                let witnessed = (0..<9).contains { seed in
                    ConcreteReplay.run(plain, oracle: Self.probeOracle(seed), target: nil, detail: .brokenOnly).reachedExit
                }
                for depth in 1...PathProver.unrollVisits where !witnessed {
                    guard var sr = searchRun(depth) else {
                        why = "whether any run of the path reaches an exit is undecided (\(searchFailure ?? "no unrolled run"))"
                        break
                    }
                    let answer = reachesExit(&sr)
                    searches[depth] = sr
                    if case .success(true) = answer { why = nil; break }
                    if case .failure(let e) = answer { why = "whether any run of the path reaches an exit is undecided (\(e.text))"; break }
                }
                if witnessed { why = nil }
            }
            if let why {
                report.results = report.results.map { r in
                    guard r.violations.isEmpty, r.undecided == nil else { return r }
                    var u = InvariantResult(invariant: r.invariant, violations: [], undecided: why, expectations: path.expectations,
                                            obligations: r.obligations, solverQueries: r.solverQueries)
                    u.decidedBy = r.decidedBy
                    return u
                }
            }
        }
        // Runs cut at a per-CPU stack pointer read on a GS base the path condition does
        // not settle: unless every such claim is proved, the cut runs may hide anything,
        // so the other invariants' verdicts (violations found stay) are unknown.
        let cutsHold: Bool
        if run.assumedClaims.isEmpty {
            cutsHold = true
        } else if case .unsat = queryAny(run.assumedClaims, &proofRun, label: "gs-cut") {
            cutsHold = true
        } else {
            cutsHold = false
        }
        if !cutsHold {
            let sites = run.assumedClaims.map { place(graph, $0.node) }.joined(separator: ", ")
            let why = "runs that read a per-CPU stack pointer with the user's GS base (at \(sites); invariant gs) were not followed past it"
            report.results = report.results.map { r in
                guard r.invariant != .gsParity, r.undecided == nil else { return r }
                var u = InvariantResult(invariant: r.invariant, violations: r.violations, undecided: why, expectations: path.expectations,
                                        obligations: r.obligations, solverQueries: r.solverQueries)
                u.decidedBy = r.decidedBy
                return u
            }
        }
        if let dir = options.certifyDirectory { certify(plain, into: dir) }
        report.solverSeconds = Double(solverNanoseconds) / 1e9
        if PathProver.debug { print("DEBUG \(path.name): \(queryCount) queries, solver \(report.solverSeconds * 1000) ms, total \(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6) ms") }
        return report
    }

    /// Decides a loop invariant's condition `reach → claim`: the simplifier, then cases,
    /// then Z3 (the same deciders as every obligation; `structuralFastPath` off sends
    /// every open condition to Z3).
    static func inductionProver(_ z3: Z3ContextSource, _ options: ProverOptions, _ stats: InductionStats) -> InductionProver {
        { f, reach, claim in
            let q = f.both(reach, f.negation(claim))
            if q.boolConstant == false { return .valid("simplifier") }
            let t0 = DispatchTime.now().uptimeNanoseconds
            defer { stats.nanoseconds += DispatchTime.now().uptimeNanoseconds - t0 }
            if options.structuralFastPath && f.isFalseInEveryCase(q) { return .valid("by cases") }
            // Most conditions that fail, fail for inputs cases find (checked on the
            // query): the widening then goes on without a solver call.
            if options.structuralFastPath && f.modelByCases(q) != nil { return .invalid }
            if PathProver.debug { print("DEBUG   induction: cases \(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6) ms, \(f.variableNames(q).count) variables") }
            stats.queries += 1
            var lowering = Z3Lowering(z3)
            let solver = Z3Solver(context: lowering.z3, timeoutMilliseconds: options.timeoutMilliseconds,
                                  resourceLimit: options.resourceLimit, engine: .core)
            solver.assert(lowering.lower(q))
            do {
                switch try solver.check() {
                case .unsat: return .valid("by the solver")
                case .sat: return .invalid
                case .unknown(let reason): return .unknown("solver: \(reason)")
                }
            } catch {
                return .unknown("solver: \(error)")
            }
        }
    }

    mutating func record(_ o: Obligation<SymbolicDomain>, _ graph: PathGraph, _ outcome: String) {
        guard options.recordObligations else { return }
        let i = program.instructions[graph.nodes[o.node].instruction]
        report.obligations.append(ObligationOutcome(invariant: o.invariant, node: graph.original[o.node], location: i.location,
                                                    requirement: o.requirement, outcome: outcome))
    }

    /// Deterministic inputs for the concrete probes: unmodelled memory (TIF flags) all
    /// clear, all set or mixed; registers and garbage distinct, or small so that
    /// coincidences happen; the saved cs from user mode, from kernel mode, or mixed; at
    /// stops, the tracer writes every field, none or some (and a `maystop` call stops
    /// always, never or sometimes), with the TIF flags clear and set for each (also in
    /// seeds 0–2 and 6–8 alone, all a path that reads no saved cs runs).
    static func probeOracle(_ seed: Int) -> @Sendable (String) -> UInt64 {
        { name in
            let h = SampleInputs.hash(name, seed: seed)
            if name.hasPrefix("unmodelled") { return [0, ~0, h][seed % 3] }
            if name.hasPrefix("ptrace.wrote.") || name.hasPrefix("ptrace.stop@") {
                return [1, 0, (h >> 17) & 1, (h >> 17) & 1, 1, 0, 0, 1, (h >> 17) & 1][seed % 9]
            }
            if name == "entry.cs" { return [0x33, 0x10, h][(seed / 3) % 3] }
            return seed >= 6 ? h % 4 : h
        }
    }

    /// Runs the probes on the path (on its once-unrolled form when it loops, so each
    /// visit of a loop has inputs of its own and every run ends); for each invariant,
    /// the first probe that breaks it, replayed up to the broken obligation.
    func probe(_ plain: PathSemantics, seeking: [Invariant]) -> [Invariant: [(MechanismAtSite, Counterexample)]] {
        if seeking.isEmpty { return [:] }
        let semantics = plain.graph.loopHeads.isEmpty ? plain : ((try? unrolledGraphs.unrolled(plain, visits: 1)) ?? plain)
        var found: [Invariant: [(MechanismAtSite, Counterexample)]] = [:]
        let savedCS = InputWatch(name: "entry.cs")
        for seed in 0..<9 {
            // Seeds 3–5 are seeds 0–2 with the saved cs from kernel mode: on a path that
            // never reads a saved cs (no hardware frame) they only re-roll the registers.
            if (3..<6).contains(seed) && !savedCS.wasRead { continue }
            let oracle = savedCS.watching(Self.probeOracle(seed))
            let run = ConcreteReplay.run(semantics, oracle: oracle, target: nil, detail: .brokenOnly)
            // Every obligation the probe broke and no earlier probe did, confirmed by one
            // traced run of the same inputs (each with its trace up to itself).
            var sites: [MechanismAtSite] = []
            var targets: [ConcreteReplay.Target] = []
            for broken in run.allBroken where seeking.contains(broken.invariant) {
                let site = MechanismAtSite(invariant: broken.invariant, key: broken.key, node: broken.node, in: semantics)
                if found[broken.invariant]?.contains(where: { $0.0 == site }) == true || sites.contains(site) { continue }
                sites.append(site)
                targets.append(.init(invariant: broken.invariant, node: broken.node, key: broken.key))
            }
            if targets.isEmpty { continue }
            let traced = options.traceAcceptedViolations || sites.contains { !isAccepted($0) }
            let (_, replays) = ConcreteReplay.run(semantics, oracle: oracle, targets: targets, detail: traced ? (options.stackPerStep ? .traceWithStacks : .trace) : .brokenOnly)
            for (k, replay) in replays.enumerated() {
                guard let replay, replay.confirmed else { continue }
                let cx = counterexample(node: targets[k].node, replay, semantics, requirement: "",
                                        inputs: replay.inputsUsed.filter { name, _ in
                                            // What a reviewer can act on: registers, memory and what stops wrote.
                                            !name.hasPrefix("clobbered") && !name.hasPrefix("user-gs") && !["entry.zf", "entry.cf", "entry.sf", "entry.of"].contains(name)
                                        })
                found[targets[k].invariant, default: []].append((sites[k], cx))
            }
        }
        if PathProver.debug { print("DEBUG probes: seeking \(seeking.map(\.rawValue)), found \(found.keys.map(\.rawValue).sorted())") }
        return found
    }

    /// The condition that `o`, an obligation of `sr`, judges a value written by an
    /// instruction not in `excluded` (nil in it: the value the path started with, or one
    /// the judging instruction itself wrote) — how the replay blames it. Nil when the
    /// writer is no choice among events.
    func otherBlame(_ o: Obligation<SymbolicDomain>, _ sr: Search, excluded: Set<Int?>) -> Term? {
        guard let writer = o.blame else { return nil }
        let f = sr.run.factory, g = sr.graph
        func blamed(_ event: UInt64) -> Int? {
            guard let n = EventID.node(of: event), n < g.nodes.count, n != o.node else { return nil }
            return g.nodes[n].instruction
        }
        if let c = writer.constant { return f.bool(!excluded.contains(blamed(c))) }
        guard let leaves = f.leaves(writer) else { return nil }
        return f.anyOf(leaves.filter { !excluded.contains(blamed($0.1)) }.map(\.0))
    }

    /// The `writerFact`s of the widened run's loop heads that are inductive, conjoined
    /// (of the widened states): each is assumed at every head, and must then hold of every
    /// state arriving there over a back edge (the entry gives them by construction).
    /// Those a solver model breaks are dropped and the rest tried again.
    mutating func provedWriterFacts(_ sr: inout Search) -> Term {
        let f = sr.run.factory
        struct Fact { var head: Int; var register: Int; var index: Int }
        let run = sr.run
        func term(_ fact: Fact, of x: MachineState<SymbolicDomain>) -> Term? {
            let all = run.writerFacts(head: fact.head, register: fact.register, of: x)
            return all.indices.contains(fact.index) ? all[fact.index] : nil
        }
        var facts: [Fact] = []
        for h in run.headStates.keys.sorted() {
            guard let w = run.headStates[h]?.widened else { continue }
            for r in 0..<16 {
                for k in run.writerFacts(head: h, register: r, of: w).indices { facts.append(Fact(head: h, register: r, index: k)) }
            }
        }
        func assumed() -> Term {
            f.allOf(facts.compactMap { fact in run.headStates[fact.head].flatMap { term(fact, of: $0.widened) } })
        }
        while !facts.isEmpty {
            // Each fact's failure on each back edge, by fact.
            var failures: [(Int, Term)] = []
            for (k, fact) in facts.enumerated() {
                guard let states = run.headStates[fact.head] else { continue }
                for a in states.arriving.dropFirst() {
                    guard let holds = term(fact, of: a) else { failures.append((k, a.reach)); continue }
                    let broken = f.both(a.reach, f.negation(holds))
                    if broken.boolConstant != false { failures.append((k, broken)) }
                }
            }
            if failures.isEmpty { break }
            guard let anchor = run.obligations.first else { return f.bool(true) }
            let q = f.both(assumed(), f.anyOf(failures.map(\.1)))
            switch check(q, anchor, &sr, label: "writer-facts", what: "a loop head's register writer goes with its value").result {
            case .unsat: return assumed()
            case .unknown: return f.bool(true)
            case .sat(let m):
                let broken = Set(failures.filter { m.evalBool(sr.lowering.lower($0.1)) != false }.map(\.0))
                if PathProver.debug { print("DEBUG writer facts: \(facts.count), broken \(broken.count)") }
                if broken.isEmpty { return f.bool(true) }
                facts = facts.enumerated().filter { !broken.contains($0.offset) }.map(\.element)
            }
        }
        return assumed()
    }

    struct SearchFailure: Error { var text: String }

    /// Replays a model on the obligation; the counterexample if the run confirms it.
    mutating func replay(_ u: Obligation<SymbolicDomain>, _ oracle: @escaping (String) -> UInt64, _ sr: inout Search, _ inv: Invariant) -> Counterexample? {
        let replay = ConcreteReplay.run(sr.semantics, oracle: oracle,
                                        target: .init(invariant: inv, node: u.node, key: u.key),
                                        detail: options.stackPerStep ? .traceWithStacks : .trace)
        guard replay.confirmed else { return nil }
        let f = sr.run.factory
        return counterexample(u, replay, sr, oracle, relevant: f.variableNames(f.allOf([u.reach, f.negation(u.claim)])))
    }

    /// Whether an expectation or a limit of the path names the mechanism (at some site:
    /// whether this site is one too many is known only when all are found, and then
    /// `run` traces it again if it is).
    func isAccepted(_ m: MechanismAtSite) -> Bool {
        path.expectations.contains { m.mechanism.isNamed(by: $0.mechanism) }
    }

    /// Replays one model on several obligations at once: one concrete run, and each
    /// obligation it breaks is confirmed with its own trace (by the index in `us`).
    /// `traced`: record the steps (see `traceAcceptedViolations`).
    mutating func replayAll(_ us: [Obligation<SymbolicDomain>], _ oracle: @escaping (String) -> UInt64, _ sr: inout Search,
                            _ inv: Invariant, traced: Bool) -> [(Int, Counterexample)] {
        let targets = us.map { ConcreteReplay.Target(invariant: inv, node: $0.node, key: $0.key) }
        let (_, replays) = ConcreteReplay.run(sr.semantics, oracle: oracle, targets: targets, detail: traced ? (options.stackPerStep ? .traceWithStacks : .trace) : .brokenOnly)
        let f = sr.run.factory
        return replays.enumerated().compactMap { k, replay in
            guard let replay, replay.confirmed else { return nil }
            let u = us[k]
            return (k, counterexample(u, replay, sr, oracle, relevant: f.variableNames(f.allOf([u.reach, f.negation(u.claim)]))))
        }
    }

    /// Can any of the obligations fail? One query instead of one each, for the common
    /// case where none can.
    mutating func queryAny(_ os: [Obligation<SymbolicDomain>], _ s: inout Search, label: String) -> Z3CheckResult {
        if os.isEmpty { return .unsat }
        let f = s.run.factory
        return check(f.anyOf(os.map { f.allOf([$0.reach, f.negation($0.claim)]) }), os[0], &s, label: label,
                     what: "any of \(os.count) \(os[0].invariant.rawValue) obligations")
    }

    /// Is `reach ∧ ¬claim` satisfiable? Decided by the term simplifier when it folds
    /// to false, otherwise by Z3 (and written out as SMT-LIB2 when asked).
    mutating func query(_ o: Obligation<SymbolicDomain>, _ s: inout Search, label: String) -> Z3CheckResult {
        decidedQuery(o, &s, label: label).result
    }

    /// `query`, with what decided it.
    mutating func decidedQuery(_ o: Obligation<SymbolicDomain>, _ s: inout Search, label: String) -> (result: Z3CheckResult, by: Decider) {
        let f = s.run.factory
        return check(f.allOf([o.reach, f.negation(o.claim)]), o, &s, label: label, what: o.requirement)
    }

    mutating func check(_ negated: Term, _ o: Obligation<SymbolicDomain>, _ s: inout Search, label: String, what: String) -> Z3CheckResult {
        check(negated, o, &s, label: label, what: what).result
    }

    mutating func check(_ negated: Term, _ o: Obligation<SymbolicDomain>, _ s: inout Search, label: String,
                        what: String) -> (result: Z3CheckResult, by: Decider) {
        if negated.boolConstant == false && options.structuralFastPath {
            deciders.insert(.simplifier)
            return (.unsat, .simplifier)
        }
        // False in every case of the few conditions it depends on: no model, and no
        // Z3 context made for it (see CaseSplit.swift).
        if options.structuralFastPath && s.run.factory.isFalseInEveryCase(negated) {
            deciders.insert(.cases)
            return (.unsat, .cases)
        }
        deciders.insert(.solver)
        queryCount += 1
        let started = DispatchTime.now().uptimeNanoseconds
        defer { solverNanoseconds += DispatchTime.now().uptimeNanoseconds - started }
        // A fresh solver per query, Z3's SMT core without the tactic front end: these
        // queries are small, and the QF_BV tactic solver's set-up cost a third more
        // solver work on the corpus (push/pop in one solver cost more still).
        let solver = Z3Solver(context: s.lowering.z3, timeoutMilliseconds: options.timeoutMilliseconds,
                              resourceLimit: options.resourceLimit, engine: .core)
        solver.assert(s.lowering.lower(negated))
        let result: Z3CheckResult
        let tq = DispatchTime.now().uptimeNanoseconds
        do { result = try solver.check() } catch { result = .unknown(reason: "\(error)") }
        if PathProver.debug { print("DEBUG   query \(label): \(Double(DispatchTime.now().uptimeNanoseconds - tq) / 1e6) ms check, \(Double(tq - started) / 1e6) ms lowering") }
        if let dir = options.smt2Directory {
            let answer: String
            switch result {
            case .sat: answer = "sat"
            case .unsat: answer = "unsat"
            case .unknown: answer = "unknown"
            }
            let i = program.instructions[s.graph.nodes[o.node].instruction]
            let header = "; ptregs-prove query: path \(path.name), invariant \(o.invariant.rawValue), \(i.location) `\(i.text)`\n; can this fail: \(what)\n; expected answer: \(answer)\n"
            let name = "\(sanitize(path.name)).\(label).\(String(queryCount).leftPad(4, "0")).smt2"
            try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try? (header + solver.smtlib2).write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return (result, .solver)
    }

    func sanitize(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" })
    }

    /// The model's value of every input. Only variables the solver was given have a
    /// value of their own; model completion gives any other 0 (false), so those are
    /// not lowered and evaluated one by one — in name order: each evaluation makes the
    /// value's numeral in the context, and the order numerals are made in decides the
    /// order of later queries' terms, hence their models (in the order of a dictionary,
    /// the same inputs gave different counterexamples from run to run).
    func makeOracle(_ model: Z3Model, _ f: TermFactory, _ lowering: inout Z3Lowering) -> (String) -> UInt64 {
        var values: [String: UInt64] = [:]
        for (name, t) in f.variables.sorted(by: { $0.key < $1.key }) {
            guard let e = lowering.lowered(t) else { continue }
            if t.isBool { values[name] = model.evalBool(e) == true ? 1 : 0 }
            else { values[name] = model.evalBV(e) ?? 0 }
        }
        return { values[$0] ?? 0 }
    }

    func counterexample(_ o: Obligation<SymbolicDomain>, _ r: ReplayOutcome, _ s: Search,
                        _ oracle: (String) -> UInt64, relevant: Set<String>) -> Counterexample {
        counterexample(node: o.node, r, s.semantics, requirement: o.requirement, inputs: relevant.sorted().map { ($0, oracle($0)) })
    }

    /// The counterexample of a confirmed replay of the obligation at `node`: blamed on
    /// the instruction provenance names (else on `node`), observed at `node`, with the
    /// run's other failures there (every wrong register at an exit) each blamed on its own.
    func counterexample(node: Int, _ r: ReplayOutcome, _ semantics: PathSemantics, requirement fallback: String,
                        inputs: [(String, UInt64)]) -> Counterexample {
        let g = semantics.graph
        func blame(_ n: Int, _ message: String) -> Counterexample.Blame {
            let inst = program.instructions[g.nodes[n].instruction]
            // Blame the line of the path's own file; the macro line is a note.
            return .init(location: inst.sourceLocation, macroLocation: inst.sourceLocation == inst.location ? nil : inst.location,
                         instruction: inst.text, message: message)
        }
        let main = blame(r.blamedNode ?? node, r.requirement ?? fallback)
        let related = r.related.map { blame($0.blamedNode ?? node, $0.requirement) }
        var requirement = main.message
        if !related.isEmpty {
            // Every wrong value at this point, each with the line it is blamed on.
            func line(_ l: SourceLocation) -> String {
                l.file == main.location.file ? "line \(l.line)" : "\(l.file.split(separator: "/").last.map(String.init) ?? l.file):\(l.line)"
            }
            let others = zip(r.related, related).map { o, b in
                "\(o.key.hasPrefix("preserve ") ? String(o.key.dropFirst("preserve ".count)) : o.key) (blamed on `\(b.instruction)`, \(line(b.location)))"
            }
            requirement += "; also wrong there: " + others.joined(separator: ", ")
        }
        return Counterexample(location: main.location, macroLocation: main.macroLocation, instruction: main.instruction,
                              requirement: requirement, values: r.values, steps: r.steps, picture: r.picture,
                              rsp: r.rspAtBlame.map { semantics.setup.describe(address: $0) } ?? "?", inputs: inputs,
                              observation: r.blamedNode == nil ? nil : blame(node, "observed here"),
                              blamedStep: r.blamedStep, related: related,
                              blamedInstruction: r.blamedNode.map { g.nodes[$0].instruction })
    }
}

/// A violation's identity in the search: its mechanism at one site, the program
/// instruction where the obligation is judged (see `Site`).
struct MechanismAtSite: Hashable {
    var mechanism: Mechanism
    var instruction: Int

    init(invariant: Invariant, key: String, node: Int, in semantics: PathSemantics) {
        mechanism = Mechanism(invariant: invariant, key: key, node: node, in: semantics)
        instruction = semantics.graph.nodes[node].instruction
    }

    init<D: ValueDomain>(of o: Obligation<D>, in semantics: PathSemantics) {
        self.init(invariant: o.invariant, key: o.key, node: o.node, in: semantics)
    }
}

/// Solver queries the loop-invariant checks of a run made.
final class InductionStats {
    var queries = 0
    var nanoseconds: UInt64 = 0
}

/// Whether a run read one input (the probes skip seeds that vary only that input).
final class InputWatch {
    let name: String
    private(set) var wasRead = false
    init(name: String) { self.name = name }
    func watching(_ oracle: @escaping @Sendable (String) -> UInt64) -> (String) -> UInt64 {
        { input in
            if input == self.name { self.wasRead = true }
            return oracle(input)
        }
    }
}

/// A path's unrolled graphs by visit count, each built once, with the semantics that
/// the runs of each share.
final class UnrolledGraphs {
    private var built: [Int: PathSemantics] = [:]
    func unrolled(_ plain: PathSemantics, visits: Int) throws -> PathSemantics {
        if let s = built[visits] { return s }
        let s = PathSemantics(program: plain.program, path: plain.path, graph: try PathGraph(unrolling: plain.graph, visits: visits),
                              setup: plain.setup, unrolling: plain)
        built[visits] = s
        return s
    }
}

extension String {
    func leftPad(_ n: Int, _ pad: Character = " ") -> String { count >= n ? self : String(repeating: pad, count: n - count) + self }
}
