import SpecElaboration
import SpecSyntax
import StackSemantics

/// A counterexample that the concrete replay confirmed.
public struct Counterexample: Sendable {
    /// The step the trace blames: the instruction that put the wrong value where it is
    /// observed (found by provenance), or the step that breaks the obligation.
    public var location: SourceLocation
    /// Where the blamed instruction is written, when a macro expanded it.
    public var macroLocation: SourceLocation?
    public var instruction: String
    public var requirement: String
    public var values: [(String, String)]
    public var steps: [TraceStep]
    public var picture: [SlotView]
    public var rsp: String
    /// Model values of the path's inputs that the replay used, by name.
    public var inputs: [(String, UInt64)]
    /// Where the value is observed (an exit), when that is not the blamed step; the
    /// trace ends there.
    public var observation: Blame?
    /// The index in `steps` of the blamed step (nil: the last).
    public var blamedStep: Int?
    /// The program instruction provenance blames, when it is not the observing one.
    public var blamedInstruction: Int?
    /// The run's other failures of the same invariant at the same point (every wrong
    /// register at an exit), each blamed on its own instruction.
    public var related: [Blame] = []

    /// An instruction and what went wrong there.
    public struct Blame: Sendable {
        public var location: SourceLocation
        public var macroLocation: SourceLocation?
        public var instruction: String
        public var message: String
        public init(location: SourceLocation, macroLocation: SourceLocation?, instruction: String, message: String) {
            self.location = location
            self.macroLocation = macroLocation
            self.instruction = instruction
            self.message = message
        }
    }

    public init(location: SourceLocation, macroLocation: SourceLocation?, instruction: String, requirement: String,
                values: [(String, String)], steps: [TraceStep], picture: [SlotView], rsp: String, inputs: [(String, UInt64)],
                observation: Blame? = nil, blamedStep: Int? = nil, related: [Blame] = [], blamedInstruction: Int? = nil) {
        self.location = location
        self.macroLocation = macroLocation
        self.instruction = instruction
        self.requirement = requirement
        self.values = values
        self.steps = steps
        self.picture = picture
        self.rsp = rsp
        self.inputs = inputs
        self.observation = observation
        self.blamedStep = blamedStep
        self.related = related
        self.blamedInstruction = blamedInstruction
    }

    /// The index of the blamed step in `steps`.
    public var blamedStepIndex: Int { blamedStep ?? steps.count - 1 }
}

public enum Verdict: Sendable {
    case proved
    case violated(Counterexample)
    case unknown(String)

    public var name: String {
        switch self {
        case .proved: return "proved"
        case .violated: return "violated"
        case .unknown: return "unknown"
        }
    }
}

/// What decides obligations, cheapest first.
public enum Decider: String, Sendable, Comparable, CaseIterable {
    case simplifier = "term simplifier"
    case cases = "case split"
    case solver = "Z3"
    case induction = "loop induction"
    case concreteRun = "concrete run"

    public static func < (a: Decider, b: Decider) -> Bool {
        (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
    }
}

/// Where an obligation is judged: one instruction of the program (the exit, the
/// accessing instruction, the call into C), and — for a wrong register value — the
/// instruction that put the value there. The same pair reached through several runs,
/// call contexts or unrolled copies of a loop is one site; the same macro expanded at two
/// exits is two, and so are two wrong values at one exit from two instructions (a second
/// bug behind a known one). An expectation counts its mechanism's sites (`sites=N`).
public struct Site: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The instruction's index in the program.
    public var instruction: Int
    /// Where the spec's author wrote it (the outermost macro invocation).
    public var location: SourceLocation
    /// The instruction the wrong value is blamed on (nil: none but the judging one).
    public var blamed: Int?
    public var blamedLocation: SourceLocation?

    public init(instruction: Int, location: SourceLocation, blamed: Int? = nil, blamedLocation: SourceLocation? = nil) {
        self.instruction = instruction
        self.location = location
        self.blamed = blamed
        self.blamedLocation = blamedLocation
    }

    /// In the order of the code.
    public static func < (a: Site, b: Site) -> Bool {
        (a.location, a.instruction, a.blamed ?? -1) < (b.location, b.instruction, b.blamed ?? -1)
    }

    /// `file:line`: no column, it names the instruction's line.
    public var description: String { "\(location.file):\(location.line)" }

    /// `a.pts:6, a.pts:12`; sites on one line are told apart by the line their wrong
    /// value comes from (`a.pts:12 (from a.pts:8)`), else by their order there (copies
    /// of a `.rept`).
    public static func list(_ sites: [Site]) -> String {
        let sorted = sites.sorted()
        return sorted.map { $0.label(among: sorted) }.joined(separator: ", ")
    }

    /// This site's name among `sites`, unique there.
    public func label(among sites: [Site]) -> String {
        let sameLine = sites.sorted().filter { $0.description == description }
        guard sameLine.count > 1 else { return description }
        let sameBlame = sameLine.filter { $0.blamedLocation?.line == blamedLocation?.line && $0.blamedLocation?.file == blamedLocation?.file }
        let from = blamedLocation.map { " (from \($0.file == location.file ? "line \($0.line)" : "\($0.file):\($0.line)"))" } ?? " (its entry value)"
        guard sameBlame.count > 1, let k = sameBlame.firstIndex(of: self) else {
            return sameBlame.count == sameLine.count ? description : description + from
        }
        return description + (sameBlame.count == sameLine.count ? "" : from) + " (#\(k + 1) there)"
    }
}

/// One violation of an invariant on a path: its mechanism at one site, its replayed
/// counterexample, and the `.expect` or `.limit` that accepts it (nil: unexpected, the
/// gate fails).
public struct Violation: Sendable {
    public var mechanism: Mechanism
    public var site: Site
    public var counterexample: Counterexample
    public var acceptedBy: Expectation?
    /// Unexpected although a declaration names its mechanism: that declaration, which
    /// states fewer sites than the mechanism is now seen at.
    public var exceedsSitesOf: Expectation?

    public init(mechanism: Mechanism, site: Site, counterexample: Counterexample, acceptedBy: Expectation? = nil) {
        self.mechanism = mechanism
        self.site = site
        self.counterexample = counterexample
        self.acceptedBy = acceptedBy
    }

    /// `expected`, `limit` or `unexpected`.
    public var disposition: String {
        switch acceptedBy?.kind {
        case .violation?: return "expected"
        case .limit?: return "limit"
        case nil: return "unexpected"
        }
    }
}

/// The verdict of one (path, invariant) and how it stands against the spec's expectations.
public struct InvariantResult: Sendable {
    public var invariant: Invariant
    /// Proved; violated (the first unexpected violation's counterexample, else the
    /// first's); or unknown when nothing is violated and something is undecided.
    public var verdict: Verdict
    /// Every violation found, one per (mechanism, site), in the order of the lines they
    /// are blamed on.
    public var violations: [Violation]
    /// Why some obligation is undecided (also when others are violated).
    public var undecided: String?
    /// The path's expectations of this invariant that match fewer sites than they state
    /// (none: "now proves"), when every obligation is decided: an undecided one might be
    /// theirs.
    public var staleExpectations: [Expectation]
    /// Obligations decided by the term simplifier / sent to Z3.
    public var obligations: Int
    public var solverQueries: Int
    /// With `--certify`: the certificate written for a proved verdict (its file name).
    public var certificate: String?
    /// What decided it: the obligations the term simplifier folded, those a case split
    /// settled, those Z3 answered, the loop invariants shown inductive, the concrete runs
    /// that found violations (every violation is also confirmed by a concrete replay).
    public var decidedBy: [Decider] = []

    /// Matches each violation with the expectation that names its mechanism: it accepts
    /// the mechanism's first `sites` sites in the order of the code; the sites past them
    /// are unexpected. Nothing in a declaration tells which of the sites it was written
    /// for (it has no line number), so the report names them all.
    public init(invariant: Invariant, violations: [Violation], undecided: String?, expectations: [Expectation],
                obligations: Int, solverQueries: Int) {
        self.invariant = invariant
        let mine = expectations.filter { $0.mechanism.invariant == invariant }
        var accepted: [Violation] = []
        for v in violations {
            var v = v
            if let e = mine.first(where: { v.mechanism.isNamed(by: $0.mechanism) }) {
                let sites = Self.sites(of: e, in: violations)
                if let k = sites.firstIndex(of: v.site), k < e.sites { v.acceptedBy = e } else { v.exceedsSitesOf = e }
            }
            accepted.append(v)
        }
        self.violations = accepted
        self.undecided = undecided
        staleExpectations = undecided != nil ? [] : mine.filter { e in Self.sites(of: e, in: violations).count < e.sites }
        if let first = self.violations.first(where: { $0.acceptedBy == nil }) ?? self.violations.first {
            verdict = .violated(first.counterexample)
        } else if let why = undecided {
            verdict = .unknown(why)
        } else {
            verdict = .proved
        }
        self.obligations = obligations
        self.solverQueries = solverQueries
    }

    static func sites(of e: Expectation, in violations: [Violation]) -> [Site] {
        Array(Set(violations.filter { $0.mechanism.isNamed(by: e.mechanism) }.map(\.site))).sorted()
    }

    /// The distinct sites the mechanism a declaration names is seen at, in code order.
    public func sites(of e: Expectation) -> [Site] { Self.sites(of: e, in: violations) }

    /// The distinct sites a mechanism is seen at, in code order.
    public func sites(of m: Mechanism) -> [Site] {
        Array(Set(violations.filter { $0.mechanism == m }.map(\.site))).sorted()
    }

    /// Why a violation whose mechanism is declared is not accepted: the declaration states
    /// fewer sites than the mechanism is seen at.
    public func siteCountExceeded(_ v: Violation) -> String? {
        guard let e = v.exceedsSitesOf else { return nil }
        let seen = sites(of: e)
        return "`\(e.heading)` (\(e.location)) is declared for \(e.sites) site\(e.sites == 1 ? "" : "s") and is now seen at \(seen.count): \(Site.list(seen))"
    }

    /// The declaration an unexpected violation's reviewer would write, when the bug is
    /// known and its fix is not part of the change: its mechanism at every site it is seen at.
    public func suggestedDeclaration(_ v: Violation) -> String {
        let n = sites(of: v.mechanism).count
        if let e = v.exceedsSitesOf { return e.directive(sites: n) }
        return Expectation(kind: .violation, mechanism: v.mechanism, reason: nil, location: v.site.location, sites: n).description
    }

    /// Why a declaration is stale: its mechanism is seen nowhere, or at fewer sites than
    /// it states.
    public func staleness(_ e: Expectation) -> String {
        let seen = sites(of: e)
        if seen.isEmpty {
            return "matches no violation: " + (e.kind == .limit ? "the model no longer reports it — remove the limit" : "now proves — update the expectation")
        }
        return "is declared for \(e.sites) sites and is now seen at \(seen.count) site\(seen.count == 1 ? "" : "s") (\(Site.list(seen))) — update sites= (`\(e.directive(sites: seen.count))`)"
    }

    public var unexpected: [Violation] { violations.filter { $0.acceptedBy == nil } }
    public var expected: [Violation] { violations.filter { $0.acceptedBy?.kind == .violation } }
    public var limits: [Violation] { violations.filter { $0.acceptedBy?.kind == .limit } }
    /// Violated, and every violation is accepted by an expectation or a limit.
    public var expectedViolation: Bool { !violations.isEmpty && unexpected.isEmpty }

    public enum Status: String, Sendable { case pass, fail, stale, unknown }
    /// An unexpected violation fails whatever else holds; then an undecided obligation
    /// makes the result unknown (it may hide a violation no expectation names); then a
    /// stale expectation fails.
    public var status: Status {
        if !unexpected.isEmpty { return .fail }
        if undecided != nil { return .unknown }
        if !staleExpectations.isEmpty { return .stale }
        return .pass
    }
}

public struct PathReport: Sendable {
    public var name: String
    public var file: String
    public var location: SourceLocation
    public var models: String
    public var entry: EntryKind
    public var results: [InvariantResult]
    /// The branches the spec fixed one way (`.assume`): every verdict of the path holds
    /// only for the runs that go that way.
    public var assumptions: [RunAssumption] = []
    /// Whether some instruction of the path has a `.cfi_*` row or an unwind hint: a
    /// `cfi` proof of a path without one had nothing to check, and the text says so.
    public var unwindAnnotated = false
    /// Every obligation and its outcome, when asked for (`--explain`).
    public var obligations: [ObligationOutcome] = []
    /// How each loop head's invariant was shown inductive (for `--explain`).
    public var loopInductions: [LoopInductionOutcome] = []
    /// Time spent in Z3 (for the benchmark; never in the printed reports).
    public var solverSeconds: Double = 0
}

public struct CheckReport: Sendable {
    public var diagnostics: [Diagnostic] = []
    /// `--changed-since`: specs whose modelled code changed under them.
    public var gate: [Diagnostic] = []
    public var paths: [PathReport] = []
    public var files: Int = 0

    public init() {}

    /// 0 all as expected, 1 an unexpected violation or a stale expectation, 2 bad input,
    /// 3 unknown verdicts.
    public var exitCode: Int32 {
        if !diagnostics.isEmpty { return 2 }
        let statuses = paths.flatMap { $0.results.map(\.status) }
        if statuses.contains(.fail) || statuses.contains(.stale) || !gate.isEmpty { return 1 }
        if statuses.contains(.unknown) { return 3 }
        return 0
    }
}

/// One loop head's invariant condition, shown to hold (for `--explain`).
public struct LoopInductionOutcome: Sendable {
    public var location: SourceLocation
    /// "entry" or "back edge".
    public var side: String
    /// The parts of the state the condition is about.
    public var parts: String
    public var decidedBy: String
}

/// What the summary lines of every format count: (path, invariant) results by verdict,
/// and violations by how the spec accepts them.
public struct VerdictCounts: Sendable {
    public var proved = 0, violated = 0, unknown = 0
    public var expectedViolations = 0, limits = 0, unexpectedViolations = 0
    public var staleExpectations = 0

    public init(_ report: CheckReport) {
        for r in report.paths.flatMap(\.results) {
            switch r.verdict {
            case .proved: proved += 1
            case .violated: violated += 1
            case .unknown: unknown += 1
            }
            expectedViolations += r.expected.count
            limits += r.limits.count
            unexpectedViolations += r.unexpected.count
            staleExpectations += r.staleExpectations.count
        }
    }
}
