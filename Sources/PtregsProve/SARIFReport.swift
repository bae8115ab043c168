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

    static func rules() -> [[String: Any]] {
        var rules: [[String: Any]] = Invariant.allCases.map { inv in
            [
                "id": inv.rawValue,
                "name": inv.title.split(separator: " ").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined().replacingOccurrences(of: "-", with: ""),
                "shortDescription": ["text": inv.title],
                "fullDescription": ["text": TextReport.why(inv)],
                "help": ["text": "See Sources/StackSemantics/Invariants/ for the exact meaning of '\(inv.title)'."],
                "defaultConfiguration": ["level": "error"],
            ]
        }
        rules.append([
            "id": "bad-input",
            "name": "BadInput",
            "shortDescription": ["text": "the spec could not be parsed or elaborated"],
            "fullDescription": ["text": "A syntax or elaboration error: nothing in this unit was proved."],
            "defaultConfiguration": ["level": "error"],
        ])
        rules.append([
            "id": "spec-out-of-date",
            "name": "SpecOutOfDate",
            "shortDescription": ["text": "the assembly a spec models changed, but its spec did not"],
            "fullDescription": ["text": "The fingerprint of the modelled code differs from the one the spec records: re-read the code, update the spec, then its fingerprint."],
            "defaultConfiguration": ["level": "error"],
        ])
        return rules
    }

    public static func render(_ report: CheckReport) -> String {
        var results: [[String: Any]] = []
        let ruleIndex = Dictionary(uniqueKeysWithValues: (Invariant.allCases.map(\.rawValue) + ["bad-input", "spec-out-of-date"]).enumerated().map { ($1, $0) })
        for d in report.diagnostics {
            results.append([
                "ruleId": "bad-input", "ruleIndex": ruleIndex["bad-input"]!, "level": "error",
                "message": ["text": d.message],
                "locations": [location(d.location)],
                "relatedLocations": d.notes.enumerated().map { k, n in location(n.location, message: n.message).merging(["id": k]) { a, _ in a } },
            ])
        }
        for g in report.gate {
            results.append([
                "ruleId": "spec-out-of-date", "ruleIndex": ruleIndex["spec-out-of-date"] ?? 0, "level": "error",
                "message": ["text": g.message], "locations": [location(g.location)],
            ])
        }
        for p in report.paths {
            for r in p.results {
                let base: [String: Any] = ["ruleId": r.invariant.rawValue, "ruleIndex": ruleIndex[r.invariant.rawValue]!]
                for e in r.staleExpectations {
                    let what = e.kind == .limit ? "the model no longer reports it — remove the limit" : "now proves — update the expectation"
                    results.append(base.merging([
                        "level": "error",
                        "message": ["text": "\(p.name): \(r.invariant.title): `.\(e.kind.rawValue) \(e.mechanism)` matches no violation: \(what)"],
                        "locations": [location(e.location)],
                    ]) { a, _ in a })
                }
                if let why = r.undecided {
                    results.append(base.merging([
                        "level": "warning",
                        "message": ["text": "\(p.name): \(r.invariant.title): unknown: \(why)"],
                        "locations": [location(p.location)],
                    ]) { a, _ in a })
                }
                // Every violation, each with its mechanism; an accepted one is suppressed
                // in source (an expectation or a model limit), so the code-scanning UI
                // keeps it out of the alerts but not out of the record.
                for v in r.violations {
                    let cx = v.counterexample
                    var res = base.merging([
                        "level": v.acceptedBy == nil ? "error" : "note",
                        "message": ["text": "\(p.name): \(r.invariant.title) violated: \(cx.requirement) [\(v.mechanism)]"],
                        "locations": [location(cx.location)],
                        "properties": ["mechanism": v.mechanism.description, "disposition": v.disposition,
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
                    "informationUri": "https://example.invalid/ptregs-prove",
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
