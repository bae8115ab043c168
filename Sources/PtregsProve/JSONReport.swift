import Foundation
import SpecElaboration
import SpecSyntax
import StackSemantics

/// `--format json`: the report as a stable document for scripts. The schema is
/// documented in docs/output-formats.md; keys are sorted, so the same input gives
/// byte-identical output.
public enum JSONReport {
    public static let schemaVersion = 1
    public static let toolVersion = "0.1.0"

    struct Document: Encodable {
        var schemaVersion: Int
        var tool: Tool
        var diagnostics: [Diag]
        var gate: [Diag]
        var paths: [Path]
        var summary: Summary
    }
    struct Tool: Encodable { var name: String; var version: String }
    struct Location: Encodable { var file: String; var line: Int; var column: Int }
    struct Diag: Encodable { var location: Location; var severity: String; var message: String; var notes: [Note] }
    struct Note: Encodable { var location: Location; var message: String }
    struct Path: Encodable {
        var name: String
        var location: Location
        var models: String
        var entry: String
        /// `.assume`: the runs the verdicts cover.
        var assumptions: [Assumption]
        var results: [Result]
    }
    /// A branch assumption (label, taken), or a feature one (label: the name, taken: present; feature: its word).
    struct Assumption: Encodable {
        var label: String; var taken: Bool; var feature: String?; var reason: String; var location: Location
        /// `.unmodelled`: the bits the memory may have, and those it always has (hex).
        var memoryBits: String?; var memorySetBits: String?
    }
    struct Result: Encodable {
        var invariant: String
        var verdict: String
        var status: String
        var expectedViolation: Bool
        var reason: String?
        var obligations: Int
        var solverQueries: Int
        /// The first unexpected violation's counterexample, else the first's.
        var counterexample: CX?
        /// Every violation, one per (mechanism, site), with how the spec accepts it
        /// (`expected`, `limit` or `unexpected`).
        var violations: [JViolation]
        var staleExpectations: [JStale]
        /// Why some obligation is undecided, also when others are violated.
        var undecided: String?
        /// What decided it: term simplifier, case split, Z3, loop induction, concrete run.
        var decidedBy: [String]
    }
    struct JExpectation: Encodable { var location: Location; var directive: String; var kind: String; var reason: String?; var sites: Int }
    /// A declaration that matches fewer sites than it states: where its mechanism is seen
    /// now (empty: nowhere, it proves).
    struct JStale: Encodable {
        var location: Location; var directive: String; var kind: String; var reason: String?; var sites: Int
        var seenAt: [Location]
    }
    struct JViolation: Encodable {
        var mechanism: String
        /// The instruction where the obligation is judged (the exit, the access).
        var site: Location
        var disposition: String
        var acceptedBy: JExpectation?
        /// Unexpected although a declaration names the mechanism: it states fewer sites.
        var exceedsSitesOf: JExpectation?
        var counterexample: CX
    }
    struct Value: Encodable { var name: String; var value: String }
    struct Slot: Encodable { var address: String; var label: String; var value: String; var holds: String; var markers: [String] }
    struct Step: Encodable {
        var location: Location
        var instruction: String
        var macro: String?
        var rsp: String
        var returnStackDepth: Int
        var gs: String
        var slots: [Slot]
        var notes: [String]?
    }
    struct Blame: Encodable { var location: Location; var macroLocation: Location?; var instruction: String; var message: String }
    struct CX: Encodable {
        var location: Location
        var macroLocation: Location?
        var instruction: String
        var requirement: String
        var values: [Value]
        var steps: [Step]
        var stack: [Slot]
        var rsp: String
        var inputs: [Value]
        var blamedStep: Int
        var observation: Blame?
        var related: [Blame]?
    }
    struct Summary: Encodable {
        var files: Int
        var paths: Int
        var proved: Int
        var expectedViolations: Int
        var limits: Int
        var unexpectedViolations: Int
        var violated: Int
        var unknown: Int
        var staleExpectations: Int
        var inputErrors: Int
        var exitCode: Int32
    }

    static func loc(_ l: SourceLocation) -> Location { Location(file: l.file, line: l.line, column: l.column) }
    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
    static func blame(_ b: Counterexample.Blame) -> Blame {
        Blame(location: loc(b.location), macroLocation: b.macroLocation.map(loc), instruction: b.instruction, message: b.message)
    }
    static func slot(_ v: SlotView) -> Slot { Slot(address: hex(v.address), label: v.label, value: hex(v.value), holds: v.holds, markers: v.markers) }

    static func expectation(_ e: Expectation) -> JExpectation {
        JExpectation(location: loc(e.location), directive: e.description, kind: e.kind.rawValue, reason: e.reason, sites: e.sites)
    }

    static func counterexample(_ c: Counterexample) -> CX {
        CX(location: loc(c.location), macroLocation: c.macroLocation.map(loc), instruction: c.instruction,
           requirement: c.requirement, values: c.values.map { Value(name: $0.0, value: $0.1) },
           steps: c.steps.map { s in
               Step(location: loc(s.sourceLocation), instruction: s.text,
                    macro: s.macro.map { "\($0) at \(s.location)" }, rsp: s.rsp,
                    returnStackDepth: s.returnStackDepth, gs: s.kernelGS ? "kernel" : "user",
                    slots: s.touched.map(slot), notes: s.notes.isEmpty ? nil : s.notes)
           },
           stack: c.picture.map(slot), rsp: c.rsp, inputs: c.inputs.map { Value(name: $0.0, value: hex($0.1)) },
           blamedStep: c.blamedStepIndex, observation: c.observation.map(blame),
           related: c.related.isEmpty ? nil : c.related.map(blame))
    }

    public static func render(_ report: CheckReport) -> String {
        let counts = VerdictCounts(report)
        let doc = Document(
            schemaVersion: schemaVersion,
            tool: Tool(name: "ptregs-prove", version: toolVersion),
            diagnostics: report.diagnostics.map { d in
                Diag(location: loc(d.location), severity: d.severity.rawValue, message: d.message,
                     notes: d.notes.map { Note(location: loc($0.location), message: $0.message) })
            },
            gate: report.gate.map { d in Diag(location: loc(d.location), severity: "error", message: d.message, notes: []) },
            paths: report.paths.map { p in
                Path(name: p.name, location: loc(p.location), models: p.models, entry: p.entry.rawValue,
                     assumptions: p.assumptions.map { Assumption(label: $0.label, taken: $0.taken, feature: $0.feature, reason: $0.reason, location: loc($0.location),
                                                                         memoryBits: $0.memoryBits.map(RunAssumption.hex), memorySetBits: $0.memoryBits == nil ? nil : RunAssumption.hex($0.memorySetBits)) },
                     results: p.results.map { r in
                    var reason: String?
                    var cx: CX?
                    switch r.verdict {
                    case .proved: break
                    case .unknown(let why): reason = why
                    case .violated(let c): cx = counterexample(c)
                    }
                    return Result(invariant: r.invariant.rawValue, verdict: r.verdict.name, status: r.status.rawValue,
                                  expectedViolation: r.expectedViolation, reason: reason, obligations: r.obligations,
                                  solverQueries: r.solverQueries, counterexample: cx,
                                  violations: r.violations.map { v in
                                      JViolation(mechanism: v.mechanism.description, site: loc(v.site.location), disposition: v.disposition,
                                                 acceptedBy: v.acceptedBy.map(expectation), exceedsSitesOf: v.exceedsSitesOf.map(expectation),
                                                 counterexample: counterexample(v.counterexample))
                                  },
                                  staleExpectations: r.staleExpectations.map { e in
                                      JStale(location: loc(e.location), directive: e.description, kind: e.kind.rawValue, reason: e.reason,
                                             sites: e.sites, seenAt: r.sites(of: e).map { loc($0.location) })
                                  },
                                  undecided: r.undecided,
                                  decidedBy: r.decidedBy.map(\.rawValue))
                })
            },
            summary: Summary(files: report.files, paths: report.paths.count,
                             proved: counts.proved,
                             expectedViolations: counts.expectedViolations, limits: counts.limits,
                             unexpectedViolations: counts.unexpectedViolations,
                             violated: counts.violated,
                             unknown: counts.unknown,
                             staleExpectations: counts.staleExpectations,
                             inputErrors: report.diagnostics.count, exitCode: report.exitCode))
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? enc.encode(doc), let text = String(data: data, encoding: .utf8) else { return "{}\n" }
        return text + "\n"
    }
}
