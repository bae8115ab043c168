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
                observation: Blame? = nil, blamedStep: Int? = nil, related: [Blame] = []) {
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

/// The verdict of one (path, invariant) and how it stands against the spec's expectation.
public struct InvariantResult: Sendable {
    public var invariant: Invariant
    public var verdict: Verdict
    /// The spec says `.expect <invariant> violated`.
    public var expectedViolation: Bool
    /// Obligations decided by the term simplifier / sent to Z3.
    public var obligations: Int
    public var solverQueries: Int
    /// With `--certify`: the certificate written for a proved verdict (its file name).
    public var certificate: String?

    public enum Status: String, Sendable { case pass, fail, stale, unknown }
    public var status: Status {
        switch (verdict, expectedViolation) {
        case (.proved, false), (.violated, true): return .pass
        case (.violated, false): return .fail
        case (.proved, true): return .stale
        case (.unknown, _): return .unknown
        }
    }
}

public struct PathReport: Sendable {
    public var name: String
    public var file: String
    public var location: SourceLocation
    public var models: String
    public var entry: EntryKind
    public var results: [InvariantResult]
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
