import Foundation
import SpecElaboration
import SpecSyntax
import StackSemantics

/// Compiler-style text: `file:line:col: error: …` lines that editors and CI problem
/// matchers parse, each violation followed by its replayed trace.
public struct TextReport {
    public var colour: Bool
    /// Print every step's touched slots, not just the blamed step's stack picture.
    public var verbose: Bool

    public init(colour: Bool, verbose: Bool = false) {
        self.colour = colour
        self.verbose = verbose
    }

    func paint(_ s: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }

    public static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    public static func why(_ inv: Invariant) -> String { InvariantRegistry.descriptor(inv).whyItMatters }

    public func render(_ report: CheckReport) -> String {
        var out = ""
        for d in report.diagnostics {
            out += "\(d.location): \(paint("error", "1;31")): \(d.message)\n"
            for n in d.notes { out += "\(n.location): note: \(n.message)\n" }
        }
        for g in report.gate { out += "\(g.location): \(paint("error", "1;31")): \(g.message)\n" }
        // A memory assumption is one declaration many paths read: one note names them.
        var readers: [(assumption: RunAssumption, paths: [String])] = []
        for p in report.paths {
            for r in p.results { out += renderResult(p, r) }
            for a in p.assumptions {
                guard a.memoryBits == nil else {
                    if let k = readers.firstIndex(where: { $0.assumption == a }) { readers[k].paths.append(p.name) } else { readers.append((a, [p.name])) }
                    continue
                }
                out += "\(a.location): note: \(p.name): checked only on runs where \(a.words)\n"
            }
        }
        for (a, paths) in readers {
            var names: [String] = []
            for n in paths where !names.contains(n) { names.append(n) }
            out += "\(a.location): note: \(paths.count) path\(paths.count == 1 ? "" : "s") (\(names.joined(separator: ", "))) checked only on runs where \(a.words)\n"
        }
        out += summary(report)
        return out
    }

    func renderResult(_ p: PathReport, _ r: InvariantResult) -> String {
        let head = "\(p.name): \(r.invariant.title)"
        var s = ""
        if case .proved = r.verdict, r.staleExpectations.isEmpty {
            let unannotated = r.invariant == .unwindAnnotations && !p.unwindAnnotated ? " (nothing annotated)" : ""
            return "\(p.location): \(paint("proved", "32")): \(head)\(unannotated)\(p.assumptions.isEmpty ? "" : " (under \(RunAssumption.directives(p.assumptions)))")\n"
        }
        // The violations of one mechanism together, a line each (one per site); the
        // declaration to write is suggested once per mechanism.
        var observationsShown: Set<String> = []
        var groups: [(Mechanism, [Violation])] = []
        for v in r.violations {
            if let k = groups.firstIndex(where: { $0.0 == v.mechanism }) { groups[k].1.append(v) } else { groups.append((v.mechanism, [v])) }
        }
        for (mechanism, vs) in groups {
            let sites = r.sites(of: mechanism)
            for v in vs {
                let cx = v.counterexample
                // With several sites, each line says which one it is.
                let site = sites.count > 1 ? ", site \(v.site.label(among: sites))" : ""
                switch v.acceptedBy {
                case nil:
                    s += "\(cx.location): \(paint("error", "1;31")): \(head) violated: \(cx.requirement) [\(mechanism)\(site)]"
                    s += r.siteCountExceeded(v).map { ": \($0)" } ?? ""
                    s += "\n"
                case let e? where e.kind == .violation:
                    s += "\(cx.location): \(paint("expected violation", "36")): \(head) violated: \(cx.requirement) [\(mechanism)\(site), expected at \(e.location)]\n"
                case let e?:
                    s += "\(cx.location): \(paint("model limit", "36")): \(head): reported falsely: \(cx.requirement) [\(mechanism)\(site): \(e.reason ?? "")]\n"
                }
            }
            if let v = vs.first(where: { $0.acceptedBy == nil }) {
                if let e = v.exceedsSitesOf {
                    s += "\(e.location): note: if every site is the same known bug and a fix is not part of the change, declare them all: `\(r.suggestedDeclaration(v))`; otherwise the new site is a new bug\n"
                } else {
                    s += "\(p.location): note: if the code has this bug and a fix is not part of the change, declare it after the .path: `\(r.suggestedDeclaration(v))`\n"
                }
            }
            for v in vs where v.acceptedBy == nil || verbose {
                // Registers wrong at one exit are each a mechanism of their own: the
                // notes that list the others are shown with the first of them only.
                let shownBefore = v.counterexample.observation.map { !observationsShown.insert("\($0.location)").inserted } ?? false
                s += renderViolationDetail(r.invariant, v.counterexample, relatedNotes: !shownBefore)
            }
        }
        for e in r.staleExpectations {
            s += "\(e.location): \(paint("error", "1;31")): \(head): `\(e.heading)` \(r.staleness(e))\n"
        }
        if let why = r.undecided {
            s += "\(p.location): \(paint("warning", "1;33")): \(head): unknown: \(why)\n"
        }
        return s
    }

    /// A violation's notes, why it matters, its values and its replayed trace.
    func renderViolationDetail(_ inv: Invariant, _ cx: Counterexample, relatedNotes: Bool = true) -> String {
        var s = ""
        if let m = cx.macroLocation { s += "\(m): note: the blamed instruction `\(cx.instruction)` is expanded from here\n" }
        if let o = cx.observation { s += "\(o.location): note: the value is observed here, at `\(o.instruction)`\n" }
        for b in cx.related where relatedNotes {
            s += "\(b.location): note: also wrong there: \(b.message)\n"
            if let m = b.macroLocation { s += "\(m): note: `\(b.instruction)` is expanded from here\n" }
        }
        s += "  why it matters: \(Self.why(inv))\n"
        if !cx.values.isEmpty {
            s += "  values: " + cx.values.map { "\($0.0) = \($0.1)" }.joined(separator: ", ") + "\n"
        }
        s += renderTrace(cx)
        return s
    }

    public func renderTrace(_ cx: Counterexample) -> String {
        var s = "  counterexample (replayed on a concrete run):\n"
        let width = max(24, cx.steps.map(\.text.count).max() ?? 0)
        let blamedIndex = cx.blamedStepIndex
        for (k, step) in cx.steps.enumerated() {
            let blamed = k == blamedIndex
            // `>` the blamed step; `*` where its value is observed, when that comes later.
            let observed = k == cx.steps.count - 1 && !blamed
            let marker = blamed ? paint(">", "1;31") : observed ? paint("*", "1;33") : " "
            let text = step.text.padding(toLength: width, withPad: " ", startingAt: 0)
            // Show the line of the path's own file; a macro's line goes in brackets.
            let shown = step.sourceLocation
            s += "  \(marker) \(String(shown.line).leftPad(4)) \(text)  rsp=\(step.rsp) rs=\(step.returnStackDepth) gs=\(step.kernelGS ? "kernel" : "user")"
            if let name = step.macro {
                s += "  [\(name), \((step.location.file as NSString).lastPathComponent):\(step.location.line)]"
            } else if step.sourceLocation.file != step.location.file || step.sourceLocation.line != step.location.line {
                s += "  [\((step.location.file as NSString).lastPathComponent):\(step.location.line)]"
            }
            s += "\n"
            if verbose || blamed {
                for v in step.touched {
                    s += "         \(v.label): \(Self.hex(v.value)) \(v.holds)\n"
                }
            }
            for n in step.notes { s += "         (\(n))\n" }
        }
        if !cx.picture.isEmpty {
            s += "  stack before line \(cx.location.line) (rsp = \(cx.rsp)):\n"
            for v in cx.picture {
                let marks = v.markers.isEmpty ? "" : "  <- " + v.markers.joined(separator: ", ")
                s += "    \(v.label.padding(toLength: 36, withPad: " ", startingAt: 0)) \(Self.hex(v.value).leftPad(18))  \(v.holds)\(marks)\n"
            }
        }
        let shown = cx.inputs
        if !shown.isEmpty {
            s += "  inputs: " + shown.prefix(24).map { "\($0.0)=\(Self.hex($0.1))" }.joined(separator: " ") + (shown.count > 24 ? " …" : "") + "\n"
        }
        return s
    }

    /// `--explain`: the verdicts, then one run step by step with what each step had to
    /// satisfy and how that was decided.
    public func render(_ e: Explanation) -> String {
        var s = ""
        for r in e.report.results {
            s += renderResult(e.report, r)
            s += "  \(r.invariant.rawValue): " + (r.decidedBy.isEmpty ? "no obligations on this path" : "decided by \(r.decidedBy.map(\.rawValue).joined(separator: ", "))") + "\n"
        }
        s += "explanation of \(e.report.name) (\(e.report.entry.rawValue) entry\(e.report.models.isEmpty ? "" : ", models \(e.report.models)")):\n"
        for a in e.report.assumptions { s += "  checked only on runs where \(a.words)\n" }
        s += "  one concrete run (no TIF work pending; registers at entry hold distinct values):\n"
        var byNode: [Int: [ObligationOutcome]] = [:]
        for o in e.report.obligations { byNode[o.node, default: []].append(o) }
        var explained: Set<Int> = []
        for step in e.steps {
            let shown = step.sourceLocation
            s += "  \(String(shown.line).leftPad(4)) \(step.text)   rsp=\(step.rsp) rs=\(step.returnStackDepth) gs=\(step.kernelGS ? "kernel" : "user")"
            if let name = step.macro {
                s += "  [\(name), \((step.location.file as NSString).lastPathComponent):\(step.location.line)]"
            }
            s += "\n"
            for v in step.touched { s += "         \(v.label): \(Self.hex(v.value)) \(v.holds)\n" }
            for n in step.notes { s += "         (\(n))\n" }
            if explained.insert(step.node).inserted {
                for o in byNode[step.node] ?? [] { s += "         must hold [\(o.invariant.rawValue)]: \(o.requirement) — \(o.outcome)\n" }
            }
        }
        if let n = e.note { s += "  (\(n))\n" }
        if !e.report.loopInductions.isEmpty {
            s += "  loop invariants (each widened loop head state shown inductive: it holds on entry, and one trip round the loop from it lands back in it):\n"
            for c in e.report.loopInductions {
                s += "    line \(c.location.line), \(c.side): \(c.parts) — decided \(c.decidedBy == "simplifier" ? "by the term simplifier" : c.decidedBy)\n"
            }
        }
        return s
    }

    func summary(_ report: CheckReport) -> String {
        let c = VerdictCounts(report)
        var s = "\(report.paths.count) path\(report.paths.count == 1 ? "" : "s") in \(report.files) file\(report.files == 1 ? "" : "s"): "
        s += "\(c.proved) proved, \(c.violated) violated, \(c.unknown) unknown"
        s += "; violations: \(c.expectedViolations) expected, \(c.limits) model limit\(c.limits == 1 ? "" : "s"), \(c.unexpectedViolations) unexpected"
        if c.staleExpectations > 0 { s += ", \(c.staleExpectations) expectation\(c.staleExpectations == 1 ? "" : "s") out of date" }
        if !report.diagnostics.isEmpty { s += ", \(report.diagnostics.count) input error\(report.diagnostics.count == 1 ? "" : "s")" }
        if !report.gate.isEmpty { s += ", \(report.gate.count) spec\(report.gate.count == 1 ? "" : "s") out of date" }
        let assuming = report.paths.filter { !$0.assumptions.isEmpty }
        if !assuming.isEmpty {
            s += "; \(assuming.count) path\(assuming.count == 1 ? "" : "s") checked under \(RunAssumption.directives(assuming.flatMap(\.assumptions)))"
        }
        return s + "\n"
    }
}
