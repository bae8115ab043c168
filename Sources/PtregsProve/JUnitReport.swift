import Foundation
import SpecElaboration
import SpecSyntax

/// `--format junit`: one testcase per (path, invariant), grouped by spec file, for CI
/// dashboards. Violations the spec does not expect and stale expectations are
/// failures; unknown verdicts (exit 3) and input errors (exit 2) are errors, so no
/// dashboard shows green on a red job. Only the attributes of the common JUnit schema
/// (Jenkins', Ant's) are written: locations are in the messages and in system-out.
public enum JUnitReport {
    static func escape(_ s: String) -> String {
        // XML 1.0 has no C0 control characters but tab and newline.
        MarkupText.escape(s, apostrophe: "&apos;") { $0.value < 0x20 ? " " : nil }
    }

    public static func render(_ report: CheckReport) -> String {
        var suites: [(String, [String], Int, Int, Int)] = []   // name, cases, tests, failures, errors
        if !report.diagnostics.isEmpty {
            let cases = report.diagnostics.map { d in
                "    <testcase classname=\"input\" name=\"\(escape("\(d.location)"))\">\n" +
                "      <error type=\"bad-input\" message=\"\(escape("\(d.location): \(d.message)"))\">\(escape(d.description))</error>\n    </testcase>"
            }
            suites.append(("input", cases, cases.count, 0, cases.count))
        }
        if !report.gate.isEmpty {
            let cases = report.gate.map { d in
                "    <testcase classname=\"gate\" name=\"\(escape("\(d.location)"))\">\n" +
                "      <failure type=\"spec-out-of-date\" message=\"\(escape("\(d.location): \(d.message)"))\"/>\n    </testcase>"
            }
            suites.append(("spec-out-of-date", cases, cases.count, cases.count, 0))
        }
        var order: [String] = []
        var byFile: [String: [PathReport]] = [:]
        for p in report.paths {
            if byFile[p.file] == nil { order.append(p.file) }
            byFile[p.file, default: []].append(p)
        }
        let text = TextReport(colour: false, verbose: true)
        for file in order {
            var cases: [String] = []
            var failures = 0, errors = 0
            for p in byFile[file] ?? [] {
                for r in p.results {
                    var c = "    <testcase classname=\"\(escape(file)).\(escape(p.name))\" name=\"\(r.invariant.rawValue)\">"
                    // Where the path is declared, then its accepted violations, one line
                    // each, whatever the status.
                    let output = ["path \(p.name) at \(p.location)"] + r.violations.filter { $0.acceptedBy != nil }.map { v in
                        "\(v.acceptedBy?.kind == .limit ? "model limit" : "expected violation") at \(v.counterexample.location): \(v.counterexample.requirement) [\(v.mechanism)]"
                    }
                    switch r.status {
                    case .fail:
                        failures += 1
                        let unexpected = r.unexpected
                        let message = unexpected.first.map { "\($0.counterexample.location): \($0.counterexample.requirement) [\($0.mechanism)]" + (r.siteCountExceeded($0).map { ": \($0)" } ?? "") } ?? "\(p.location): \(p.name): \(r.invariant.title) violated"
                        let more = (unexpected.count > 1 ? " (and \(unexpected.count - 1) more unexpected violation\(unexpected.count == 2 ? "" : "s"))" : "")
                        let body = unexpected.map { "[\($0.mechanism)] \($0.counterexample.location): \($0.counterexample.requirement)" + (r.siteCountExceeded($0).map { "\n\($0)" } ?? "") + "\n" + text.renderTrace($0.counterexample) }.joined(separator: "\n")
                        c += "\n      <failure type=\"violated\" message=\"\(escape(message + more))\">\(escape(body))</failure>\n    "
                    case .stale:
                        failures += 1
                        let lines = r.staleExpectations.map { "\($0.location): `\($0.heading)` \(r.staleness($0))" }
                        c += "\n      <failure type=\"stale-expectation\" message=\"\(escape(lines.joined(separator: "; ")))\"/>\n    "
                    case .unknown:
                        // Unknown fails the run (exit 3): an error, not a skipped test, so a
                        // dashboard is not green on a red job.
                        errors += 1
                        c += "\n      <error type=\"unknown\" message=\"\(escape("\(p.location): \(p.name): \(r.invariant.title): unknown: \(r.undecided ?? "")"))\"/>\n    "
                    case .pass:
                        break
                    }
                    c += "\n      <system-out>\(escape(output.joined(separator: "\n")))</system-out>\n    </testcase>"
                    cases.append(c)
                }
            }
            suites.append((file, cases, cases.count, failures, errors))
        }
        let total = suites.reduce((0, 0, 0)) { ($0.0 + $1.2, $0.1 + $1.3, $0.2 + $1.4) }
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"ptregs-prove\" tests=\"\(total.0)\" failures=\"\(total.1)\" errors=\"\(total.2)\">\n"
        for s in suites {
            out += "  <testsuite name=\"\(escape(s.0))\" tests=\"\(s.2)\" failures=\"\(s.3)\" errors=\"\(s.4)\">\n"
            for c in s.1 { out += c + "\n" }
            out += "  </testsuite>\n"
        }
        out += "</testsuites>\n"
        return out
    }
}
