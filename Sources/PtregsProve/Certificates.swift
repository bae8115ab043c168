import Foundation
import SpecElaboration
import StackSemantics
import Z3Kit

/// `--certify DIR`: for each proved (path, invariant) an SMT-LIB2 file whose `unsat`
/// is the proof, for any solver to re-check. It is built by the same interpreter over
/// raw terms (no simplification), so the solver redoes what the term simplifier and
/// case splitting decided: every obligation of the invariant, and every structural
/// fact the run took from the simplifier (which stack slot an address is, which branch
/// cannot be taken, which value is a constant) — see Certification.swift. A proof whose
/// certificate Z3 does not find unsat is not reported as proved.
extension PathProof {
    mutating func certify(_ plain: PathSemantics, into dir: URL) {
        let proved = report.results.indices.filter { if case .proved = report.results[$0].verdict { return true }; return false }
        guard !proved.isEmpty else { return }
        let run: CertifyingRun
        let stats = InductionStats()
        switch Result(catching: { () throws(CertifyingRun.Failure) in
            try CertifyingRun.run(plain, induction: Self.inductionProver(Z3ContextSource(), options, stats))
        }) {
        case .success(let r):
            run = r
        case .failure(.unsupported(let why)), .failure(.loop(let why)):
            for i in proved { report.results[i].verdict = .unknown("no certificate: the certifying run cannot follow the path (\(why))") }
            return
        }
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for i in proved {
            let inv = report.results[i].invariant
            let z3 = Z3Context()
            var lowering = Z3Lowering(z3)
            let solver = Z3Solver(context: z3, timeoutMilliseconds: options.timeoutMilliseconds, resourceLimit: options.resourceLimit)
            solver.assert(lowering.lower(run.negatedClaim(inv)))
            // The text before the check: afterwards the solver's own auxiliary symbols
            // would show up in it.
            let text = solver.smtlib2
            let answer: String
            switch try? solver.check() {
            case .unsat?: answer = "unsat"
            case .sat?: answer = "sat"
            default: answer = "unknown"
            }
            guard answer == "unsat" else {
                report.results[i].verdict = .unknown("no certificate: the certificate of this proof is \(answer), not unsat")
                continue
            }
            // The spec's whole path in the name: units of the same name in two directories
            // must not overwrite each other's certificates.
            let name = "\(sanitize(path.location.file)).\(sanitize(path.name)).\(inv.rawValue).smt2"
            let header = """
            ; ptregs-prove \(JSONReport.toolVersion) certificate
            ; spec: \(path.location.file)
            ; path: \(path.name)  (\(path.entry.rawValue) entry\(path.models.isEmpty ? "" : ", models \(path.models)"))
            ; invariant: \(inv.rawValue)\(report.assumptions.map { "\n; assumed (runs outside it are not covered): \($0)" }.joined())
            ; decided by the tool: \(report.results[i].solverQueries > 0 ? "Z3" : "the term simplifier and case splitting, without Z3")
            ; unsat proves: every one of the \(run.obligationCount(inv)) \(inv.rawValue) obligations of the path holds\(run.inductionChecks.isEmpty ? "" : ",\n; each of the \(run.inductionChecks.count) conditions that make its loop heads' widened states inductive holds"), and
            ; each of the \(run.facts.count) facts the term simplifier supplied to the run (stack slots of addresses,
            ; branches that cannot be taken, constants, equal values) is true. Terms are raw: nothing is simplified.
            ; re-check: z3 FILE; cvc5 FILE  (both must print unsat)
            (set-logic QF_BV)
            (set-info :status unsat)

            """
            do {
                try (header + text).write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
                report.results[i].certificate = name
            } catch {
                report.results[i].verdict = .unknown("no certificate: writing \(name) failed (\(error))")
            }
        }
    }
}
