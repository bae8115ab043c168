import Foundation
import SpecElaboration
import SpecSyntax

/// `--format junit`: one testcase per (path, invariant), grouped by spec file, for CI
/// dashboards. Violations the spec does not expect and stale expectations are
/// failures, unknown verdicts are skipped, input errors are errors.
public enum JUnitReport {
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n", "\t": out.unicodeScalars.append(c)
            default:
                if c.value < 0x20 { out += " " } else { out.unicodeScalars.append(c) }
            }
        }
        return out
    }

    public static func render(_ report: CheckReport) -> String {
        var suites: [(String, [String], Int, Int, Int, Int)] = []   // name, cases, tests, failures, errors, skipped
        if !report.diagnostics.isEmpty {
            let cases = report.diagnostics.map { d in
                "    <testcase classname=\"input\" name=\"\(escape("\(d.location)"))\" file=\"\(escape(d.location.file))\" line=\"\(d.location.line)\">\n" +
                "      <error type=\"bad-input\" message=\"\(escape(d.message))\">\(escape(d.description))</error>\n    </testcase>"
            }
            suites.append(("input", cases, cases.count, 0, cases.count, 0))
        }
        if !report.gate.isEmpty {
            let cases = report.gate.map { d in
                "    <testcase classname=\"gate\" name=\"\(escape("\(d.location)"))\" file=\"\(escape(d.location.file))\" line=\"\(d.location.line)\">\n" +
                "      <failure type=\"spec-out-of-date\" message=\"\(escape(d.message))\"/>\n    </testcase>"
            }
            suites.append(("spec-out-of-date", cases, cases.count, cases.count, 0, 0))
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
                    var c = "    <testcase classname=\"\(escape(file)).\(escape(p.name))\" name=\"\(r.invariant.rawValue)\" file=\"\(escape(file))\" line=\"\(p.location.line)\">"
                    // Accepted violations, one line each, whatever the status.
                    let accepted = r.violations.filter { $0.acceptedBy != nil }.map { v in
                        "\(v.acceptedBy?.kind == .limit ? "model limit" : "expected violation") at \(v.counterexample.location): \(v.counterexample.requirement) [\(v.mechanism)]"
                    }
                    switch r.status {
                    case .fail:
                        failures += 1
                        let unexpected = r.unexpected
                        let first = unexpected[0].counterexample
                        let message = "\(first.location): \(first.requirement) [\(unexpected[0].mechanism)]" + (unexpected.count > 1 ? " (and \(unexpected.count - 1) more unexpected violation\(unexpected.count == 2 ? "" : "s"))" : "")
                        let body = unexpected.map { "[\($0.mechanism)] \($0.counterexample.location): \($0.counterexample.requirement)\n" + text.renderTrace($0.counterexample) }.joined(separator: "\n")
                        c += "\n      <failure type=\"violated\" message=\"\(escape(message))\">\(escape(body))</failure>\n    "
                    case .stale:
                        failures += 1
                        let lines = r.staleExpectations.map { "\($0.location): `.\($0.kind.rawValue) \($0.mechanism)` matches no violation" }
                        c += "\n      <failure type=\"stale-expectation\" message=\"\(escape(lines.joined(separator: "; ")))\"/>\n    "
                    case .unknown:
                        // Unknown fails the run (exit 3): an error, not a skipped test, so a
                        // dashboard is not green on a red job.
                        errors += 1
                        c += "\n      <error type=\"unknown\" message=\"\(escape("unknown: \(r.undecided ?? "")"))\"/>\n    "
                    case .pass:
                        break
                    }
                    if !accepted.isEmpty {
                        c += "\n      <system-out>\(escape(accepted.joined(separator: "\n")))</system-out>\n    "
                    }
                    c += "</testcase>"
                    cases.append(c)
                }
            }
            suites.append((file, cases, cases.count, failures, errors, 0))
        }
        let total = suites.reduce((0, 0, 0, 0)) { ($0.0 + $1.2, $0.1 + $1.3, $0.2 + $1.4, $0.3 + $1.5) }
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"ptregs-prove\" tests=\"\(total.0)\" failures=\"\(total.1)\" errors=\"\(total.2)\" skipped=\"\(total.3)\">\n"
        for s in suites {
            out += "  <testsuite name=\"\(escape(s.0))\" tests=\"\(s.2)\" failures=\"\(s.3)\" errors=\"\(s.4)\" skipped=\"\(s.5)\">\n"
            for c in s.1 { out += c + "\n" }
            out += "  </testsuite>\n"
        }
        out += "</testsuites>\n"
        return out
    }
}
