import Foundation
import SpecElaboration
import SpecSyntax
import StackSemantics

/// `--format sarif`: SARIF 2.1.0 for code-scanning UIs. One result per violation (and
/// per unknown verdict, stale expectation or input error), located at the blamed
/// line, with the replayed trace as a codeFlow; rule metadata per invariant.
public enum SARIFReport {
    public static let schema = "https://json.schemastore.org/sarif-2.1.0.json"

    static func location(_ l: SourceLocation, message: String? = nil) -> [String: Any] {
        var loc: [String: Any] = [
            "physicalLocation": [
                "artifactLocation": ["uri": l.file],
                "region": ["startLine": max(1, l.line), "startColumn": max(1, l.column)],
            ] as [String: Any],
        ]
        if let m = message { loc["message"] = ["text": m] }
        return loc
    }

    /// A rule's help for a kernel reviewer reading an alert: what it checks, why it
    /// matters, a two-line example, and how to fix or declare it.
    static func help(_ id: String) -> (text: String, markdown: String) {
        let parts: [String]
        switch id {
        case "bad-input":
            parts = ["The spec (or the assembly it reads with `.source`) could not be parsed or elaborated: a syntax error, an unknown name, a macro that cannot be expanded, a declaration that contradicts another.",
                     "Nothing in a file with an input error is proved: every path of that file is left unchecked until the error is fixed.",
                     "movq %gs:0x10, %rax   # an absolute per-CPU offset: the model needs the variable's name",
                     "Each alert is at the line and column of one error and says what was expected there; every error of the file is reported in the same run. Fix them and run ptregs-prove again."]
        case "spec-out-of-date":
            parts = ["The assembly a spec models (`.models FILE lines=A-B` or `symbol=NAME`) has changed since the spec recorded its fingerprint, but the spec was not changed in the same commit.",
                     "A spec that no longer matches the code proves something about code that is not there: the real change is unchecked.",
                     ".models arch/x86/entry/entry_64.S symbol=entry_SYSCALL_64 fingerprint=...   # the symbol's code changed",
                     "Re-read the changed code, bring the spec's transcription up to date, then record the new fingerprint (`ptregs-prove --fingerprint FILE@SYMBOL` prints the `.models` line)."]
        default:
            if let inv = Invariant(rawValue: id) {
                let h = InvariantRegistry.descriptor(inv).reviewerHelp
                parts = [h.checks, h.why, h.example, h.fix]
            } else {
                parts = ["'\(id)'.", "", "", "Fix the input the alert names."]
            }
        }
        let text = parts[0] + " " + parts[1] + (parts[2].isEmpty ? "" : "\nExample: " + parts[2]) + "\nFix: " + parts[3]
        let markdown = parts[0] + " " + parts[1] + (parts[2].isEmpty ? "" : "\n\nExample:\n\n```\n" + parts[2] + "\n```") + "\n\n**Fix:** " + parts[3]
        return (text, markdown)
    }

    static func rule(id: String, name: String, short: String, full: String) -> [String: Any] {
        let h = help(id)
        return [
            "id": id,
            "name": name,
            "shortDescription": ["text": short],
            "fullDescription": ["text": full],
            "help": ["text": h.text, "markdown": h.markdown],
            "defaultConfiguration": ["level": "error"],
        ]
    }

    static func rules() -> [[String: Any]] {
        var rules: [[String: Any]] = Invariant.allCases.map { inv in
            rule(id: inv.rawValue,
                 name: inv.title.split(separator: " ").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined().replacingOccurrences(of: "-", with: ""),
                 short: inv.title, full: TextReport.why(inv))
        }
        rules.append(rule(id: "bad-input", name: "BadInput", short: "the spec could not be parsed or elaborated",
                          full: "A syntax or elaboration error: nothing in this file was proved."))
        rules.append(rule(id: "spec-out-of-date", name: "SpecOutOfDate", short: "the assembly a spec models changed, but its spec did not",
                          full: "The fingerprint of the modelled code differs from the one the spec records: re-read the code, update the spec, then its fingerprint."))
        return rules
    }

    /// A result's identity across runs for code-scanning UIs, stable when lines move:
    /// a hash of the file, the rule and what the result is about (a violation's
    /// mechanism, a path's name), never of a line number.
    static func fingerprint(_ parts: [String]) -> [String: String] {
        // FNV-1a, 64 bits: deterministic across runs and platforms (Hasher is seeded).
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in parts.joined(separator: "\u{1F}").utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        let hex = String(h, radix: 16)
        return ["ptregsProve/v1": String(repeating: "0", count: 16 - hex.count) + hex]
    }

    public static func render(_ report: CheckReport) -> String {
        var results: [[String: Any]] = []
        let ruleIndex = Dictionary(uniqueKeysWithValues: (Invariant.allCases.map(\.rawValue) + ["bad-input", "spec-out-of-date"]).enumerated().map { ($1, $0) })
        for d in report.diagnostics {
            results.append([
                "ruleId": "bad-input", "ruleIndex": ruleIndex["bad-input"] ?? 0, "level": "error",
                "message": ["text": d.message],
                "partialFingerprints": fingerprint([d.location.file, "bad-input", d.message]),
                "locations": [location(d.location)],
                "relatedLocations": d.notes.enumerated().map { k, n in location(n.location, message: n.message).merging(["id": k]) { a, _ in a } },
            ])
        }
        for g in report.gate {
            results.append([
                "ruleId": "spec-out-of-date", "ruleIndex": ruleIndex["spec-out-of-date"] ?? 0, "level": "error",
                "message": ["text": g.message], "locations": [location(g.location)],
                "partialFingerprints": fingerprint([g.location.file, "spec-out-of-date", g.message]),
            ])
        }
        for p in report.paths {
            for r in p.results {
                let base: [String: Any] = ["ruleId": r.invariant.rawValue, "ruleIndex": ruleIndex[r.invariant.rawValue] ?? 0]
                for e in r.staleExpectations {
                    results.append(base.merging([
                        "level": "error",
                        "message": ["text": "\(p.name): \(r.invariant.title): `\(e.heading)` \(r.staleness(e))"],
                        "locations": [location(e.location)],
                        "partialFingerprints": fingerprint([e.location.file, r.invariant.rawValue, p.name, "stale", e.kind.rawValue, "\(e.mechanism)"]),
                    ]) { a, _ in a })
                }
                if let why = r.undecided {
                    results.append(base.merging([
                        "level": "warning",
                        "message": ["text": "\(p.name): \(r.invariant.title): unknown: \(why)"],
                        "locations": [location(p.location)],
                        "partialFingerprints": fingerprint([p.location.file, r.invariant.rawValue, p.name, "unknown"]),
                    ]) { a, _ in a })
                }
                // Every violation, each with its mechanism; an accepted one is suppressed
                // in source (an expectation or a model limit), so the code-scanning UI
                // keeps it out of the alerts but not out of the record.
                for v in r.violations {
                    let cx = v.counterexample
                    // A mechanism's second and later sites (in code order) are told apart
                    // by their rank, not their line: the first keeps the mechanism's own.
                    let rank = r.sites(of: v.mechanism).firstIndex(of: v.site) ?? 0
                    let exceeded = r.siteCountExceeded(v).map { ": \($0)" } ?? ""
                    var res = base.merging([
                        "level": v.acceptedBy == nil ? "error" : "note",
                        "message": ["text": "\(p.name): \(r.invariant.title) violated: \(cx.requirement) [\(v.mechanism)]\(exceeded)"],
                        "locations": [location(cx.location)],
                        "partialFingerprints": fingerprint([cx.location.file, r.invariant.rawValue, p.name, v.mechanism.description]
                                                           + (rank == 0 ? [] : ["site \(rank + 1)"])),
                        "properties": ["mechanism": v.mechanism.description, "disposition": v.disposition, "site": v.site.label(among: r.sites(of: v.mechanism)),
                                       "decidedBy": r.decidedBy.map(\.rawValue)] as [String: Any],
                        "codeFlows": [[
                            "message": ["text": "counterexample replayed on a concrete run"],
                            "threadFlows": [[
                                "locations": cx.steps.map { s -> [String: Any] in
                                    let slots = s.touched.map { "\($0.label) = \(TextReport.hex($0.value)) \($0.holds)" }.joined(separator: "; ")
                                    let text = "\(s.text)   rsp=\(s.rsp) rs=\(s.returnStackDepth) gs=\(s.kernelGS ? "kernel" : "user")" + (slots.isEmpty ? "" : "   [\(slots)]")
                                    return ["location": location(s.sourceLocation, message: text)]
                                },
                            ]],
                        ]],
                    ]) { a, _ in a }
                    if !p.assumptions.isEmpty {
                        res["properties"] = (res["properties"] as? [String: Any] ?? [:]).merging(["assumptions": p.assumptions.map(\.description)]) { a, _ in a }
                    }
                    // Where the wrong value is observed, and every other one wrong there.
                    let related = (cx.observation.map { [$0] } ?? []) + cx.related
                    if !related.isEmpty {
                        res["relatedLocations"] = related.enumerated().map { k, b -> [String: Any] in
                            var l = location(b.location, message: b.message)
                            l["id"] = k + 1
                            return l
                        }
                    }
                    if let e = v.acceptedBy {
                        let why = e.kind == .limit ? "a known false report of the model (\(e)): \(e.reason ?? "")" : "the spec expects this violation (\(e), \(e.location))"
                        res["suppressions"] = [["kind": "inSource", "justification": why]]
                    }
                    results.append(res)
                }
            }
        }
        let doc: [String: Any] = [
            "$schema": schema,
            "version": "2.1.0",
            "runs": [[
                "tool": ["driver": [
                    "name": "ptregs-prove",
                    "version": JSONReport.toolVersion,
                    "rules": rules(),
                ] as [String: Any]],
                "columnKind": "unicodeCodePoints",
                "results": results,
            ] as [String: Any]],
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]),
              let text = String(data: data, encoding: .utf8) else { return "{}\n" }
        return text + "\n"
    }
}
