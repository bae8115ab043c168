import Foundation
import PropertyBased
@testable import PtregsProve
import StackSemantics
import Testing
import Z3Kit

/// Deciding a query by cases (no solver) may only ever say "no model" when Z3 agrees;
/// anything it cannot settle goes to the solver.
@Suite struct CaseSplitTests {
    /// A widened IRQ-stack choice: rsp is one of two constants on one test of an input.
    @Test func aChoiceOnOneTestIsDecidedBothWays() {
        let f = TermFactory()
        let onIRQStack = f.eq(f.and(f.variable("percpu.irq_count"), f.const(0xffff_ffff)), f.const(0xffff_ffff))
        let rsp = f.ite(onIRQStack, f.const(0x3000), f.const(0x1000))
        #expect(f.isFalseInEveryCase(f.negation(f.ule(rsp, f.const(0x3000)))), "rsp ≤ 0x3000 on either stack")
        #expect(!f.isFalseInEveryCase(f.negation(f.ule(rsp, f.const(0x1000)))), "on the IRQ stack rsp > 0x1000")
        #expect(!f.isFalseInEveryCase(f.negation(f.eq(f.variable("x"), f.const(1)))), "an input nothing settles")
    }

    /// Conditions are split as if independent: `x == 1 ∧ x == 2` has no model, but the
    /// case where both hold is tried and is true, so the solver decides it.
    @Test func correlatedConditionsAreLeftToTheSolver() {
        let f = TermFactory()
        let x = f.variable("x")
        #expect(!f.isFalseInEveryCase(f.allOf([f.eq(x, f.const(1)), f.eq(x, f.const(2))])))
    }

    /// More conditions than the case budget: left to the solver, even when false.
    @Test func tooManyCasesAreLeftToTheSolver() {
        let f = TermFactory()
        /// How many of `n` boolean inputs hold equals both 3 and 5: no model, but only
        /// trying every case of the inputs shows it.
        func impossibleCount(_ n: Int) -> Term {
            var count = f.const(0)
            for k in 0..<n { count = f.add(count, f.ite(f.boolVariable("b\(k)"), f.const(1), f.const(0))) }
            return f.allOf([f.eq(count, f.const(3)), f.eq(count, f.const(5))])
        }
        let eight = impossibleCount(8), three = impossibleCount(3)
        #expect(eight.boolConstant == nil && three.boolConstant == nil, "the simplifier does not decide them")
        #expect(!f.isFalseInEveryCase(eight), "256 cases: over the budget")
        #expect(f.isFalseInEveryCase(three), "8 cases fit the budget")
    }

    /// Counts kept across the property checks' runs, by name.
    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private var counts: [String: Int] = [:]
        func count(_ name: String, if holds: Bool = true) {
            lock.withLock { if holds { counts[name, default: 0] += 1 } }
        }
        subscript(_ name: String) -> Int { lock.withLock { counts[name] ?? 0 } }
    }

    /// A random query over two inputs, two boolean inputs and small constants, built
    /// by a little stack machine from `codes`.
    static func query(_ codes: [Int], _ f: TermFactory) -> Term {
        let x = f.variable("x"), y = f.variable("y")
        var values: [Term] = [f.and(x, f.const(3)), f.const(2)]
        var bits: [Term] = [f.boolVariable("p"), f.eq(f.and(y, f.const(1)), f.const(1))]
        for (k, c) in codes.enumerated() {
            let v1 = values[(c / 7) % values.count], v2 = values[(c / 3 + k) % values.count]
            let b1 = bits[(c / 5) % bits.count], b2 = bits[(c / 11 + k) % bits.count]
            switch c % 9 {
            case 0: values.append(f.ite(b1, v1, v2))
            case 1: values.append(f.add(v1, v2))
            case 2: values.append(f.and(v1, f.const(UInt64(c % 4))))
            case 3: bits.append(f.eq(v1, v2))
            case 4: bits.append(f.ult(v1, v2))
            case 5: bits.append(f.allOf([b1, f.negation(b2)]))
            case 6: bits.append(f.anyOf([b1, b2]))
            case 7: bits.append(f.boolIte(b1, b2, f.negation(b2)))
            default: values.append(f.const(UInt64(c % 5)))
            }
        }
        return bits[bits.count - 1]
    }

    @Test func noModelWheneverDecidedByCases() async {
        let tally = Tally()
        await propertyCheck(count: 400, input: Gen.int(in: 0...999).array(of: 1...14)) { codes in
            let f = TermFactory()
            let t = Self.query(codes, f)
            let decided = f.isFalseInEveryCase(t)
            tally.count("queries")
            tally.count("decided", if: decided)
            guard decided else { return }
            let answer = try? Self.solver(asserting: t).solver.check()
            if case .unsat = answer {} else { Issue.record("decided by cases but Z3 finds a model: \(t) (codes \(codes))") }
        }
        #expect(tally["decided"] > 20, "the property is not vacuous: \(tally["decided"]) of \(tally["queries"]) decided")
    }

    /// A Z3 solver (its SMT core, as the prover uses it) given `t`.
    static func solver(asserting t: Term) -> (solver: Z3Solver, lowering: Z3Lowering) {
        var lowering = Z3Lowering(Z3Context())
        let solver = Z3Solver(context: lowering.z3, timeoutMilliseconds: 10_000, engine: .core)
        solver.assert(lowering.lower(t))
        return (solver, lowering)
    }

    // MARK: Models by cases

    /// Whatever inputs cases find make the query true for Z3 too (every input they do
    /// not name being 0), and they find inputs for most satisfiable random queries.
    @Test func modelsByCasesSatisfyTheQuery() async {
        let tally = Tally()
        await propertyCheck(count: 400, input: Gen.int(in: 0...999).array(of: 1...14)) { codes in
            let f = TermFactory()
            let t = Self.query(codes, f)
            let model = f.modelByCases(t)
            let asked = Self.solver(asserting: t)
            let solver = asked.solver
            var lowering = asked.lowering
            let satisfiable: Bool
            switch try? solver.check() {
            case .sat?: satisfiable = true
            case .unsat?: satisfiable = false
            default: Issue.record("Z3 gave no answer for \(t)"); return
            }
            tally.count("satisfiable", if: satisfiable)
            tally.count("found", if: model != nil)
            guard let model else { return }
            #expect(satisfiable, "cases found inputs for an unsatisfiable query: \(t) (codes \(codes))")
            // The inputs themselves, pinned, must leave the query true.
            for name in f.variableNames(t) {
                guard let x = f.variables[name] else { Issue.record("no variable \(name)"); return }
                let v = model[name] ?? 0
                solver.assert(lowering.lower(x.isBool ? (v != 0 ? x : f.negation(x)) : f.eq(x, f.const(v))))
            }
            if case .sat? = try? solver.check() {} else { Issue.record("the inputs \(model) do not make \(t) true (codes \(codes))") }
        }
        #expect(tally["found"] * 10 > tally["satisfiable"] * 7, "cases realise most satisfiable queries: \(tally["found"]) of \(tally["satisfiable"])")
    }

    /// The shape of the syscall exit's work tests: three reads of TI_flags, a work bit
    /// clear at the first, a notify bit set at the second, the user's rcx not -1.
    @Test func aThreadFlagsCaseIsRealised() throws {
        let f = TermFactory()
        let first = f.variable("unmodelled[TI_flags]@16"), second = f.variable("unmodelled[TI_flags]@28")
        let rcx = f.variable("entry.rcx")
        let traced = f.negation(f.eq(f.and(first, f.const(0x10c1)), f.const(0)))
        let work = f.negation(f.eq(f.and(second, f.const(0x0000_fffe)), f.const(0)))
        let t = f.allOf([f.negation(traced), work, f.negation(f.eq(rcx, f.const(~0)))])
        let model = try #require(f.modelByCases(t))
        #expect((model["unmodelled[TI_flags]@16"] ?? 0) & 0x10c1 == 0)
        #expect((model["unmodelled[TI_flags]@28"] ?? 0) & 0xfffe != 0)
        #expect((model["entry.rcx"] ?? 0) != ~0)
        // And nothing for a query with no model.
        let x = f.variable("x")
        #expect(f.modelByCases(f.allOf([f.eq(x, f.const(1)), f.eq(x, f.const(2))])) == nil)
    }

    /// Seeking a model is bounded by the operations it evaluates: a query it would
    /// realise given more is left to the solver.
    @Test func seekingAModelIsBounded() throws {
        let f = TermFactory()
        var sum = f.variable("x0")
        for k in 1..<200 { sum = f.add(sum, f.variable("x\(k)")) }
        let t = f.eq(sum, f.const(5))
        #expect(f.modelByCases(t) == nil, "each try evaluates 200 operations: over the bound")
        let model = try #require(f.modelByCases(t, operations: 10_000_000))
        #expect((0..<200).reduce(UInt64(0)) { $0 &+ (model["x\($1)"] ?? 0) } == 5)
    }

    /// A restore violation on the syscall path that the probes miss (it needs exit work
    /// pending after a syscall that was not traced): found by cases and replayed, with
    /// fewer Z3 queries than without cases, and blamed on the same step as when Z3 finds
    /// it, with the same other registers wrong at the same exit — and the same
    /// violations in all.
    @Test func theSyscallRcxRestoreIsRefutedWithoutTheSolver() throws {
        let spec = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Specs/arch/x86/kernel/entry_64/stub_iopl.after.pts")
        func restore(fastPath: Bool) throws -> InvariantResult {
            var options = ProverOptions()
            options.structuralFastPath = fastPath
            options.invariants = [.restoreMatchesSave]
            var checker = Checker(options: options)
            checker.pathFilters = ["system_call"]
            checker.jobs = 1
            let report = checker.check([spec.path])
            let path = try #require(report.paths.first)
            return try #require(path.results.first { $0.invariant == .restoreMatchesSave })
        }
        let byCases = try restore(fastPath: true), byZ3 = try restore(fastPath: false)
        guard case .violated(let cx) = byCases.verdict, case .violated(let z3cx) = byZ3.verdict else {
            Issue.record("expected violations: \(byCases.verdict.name), \(byZ3.verdict.name)"); return
        }
        #expect(byCases.solverQueries < byZ3.solverQueries)
        #expect(byCases.violations.map(\.mechanism) == byZ3.violations.map(\.mechanism))
        #expect(cx.location == z3cx.location && cx.instruction == z3cx.instruction)
        // Every register wrong at the iretq is reported: rcx's restore among them (the
        // first, r11's, is the model's limit (2) in docs/corpus.md: sys_iopl's new flags).
        let rcx = try #require(([cx.instruction] + cx.related.map(\.instruction)).first { $0.contains("%rcx") }, "\(cx.requirement)")
        #expect(z3cx.related.map(\.instruction) == cx.related.map(\.instruction))
        // The replay read the -1 the fix-up wrote over the saved user rcx.
        #expect(cx.related.contains { $0.instruction == rcx && $0.message.contains("which held the constant -1") }, "\(cx.related.map(\.message))")
        #expect(cx.inputs.contains { $0.0.hasPrefix("unmodelled[TI_flags") && $0.1 != 0 }, "exit work pending")
    }

    /// The IRQ entry's widened frame: rsp is the IRQ stack or not on one test of
    /// `irq_count`, so its open frame obligations are proved by cases — no Z3 query —
    /// and `--explain` says so.
    @Test func theIRQEntryFrameIsProvedByCases() throws {
        let specs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Specs/arch/x86/kernel/entry_64/interrupt.before.pts")
        var options = ProverOptions()
        options.recordObligations = true
        var checker = Checker(options: options)
        checker.pathFilters = ["apic_timer_interrupt"]
        checker.jobs = 1
        let report = checker.check([specs.path])
        let path = try #require(report.paths.first)
        let frame = try #require(path.results.first { $0.invariant == .frameBalance })
        #expect(frame.verdict.name == "proved")
        #expect(frame.obligations > 0 && frame.solverQueries == 0, "open obligations, decided without Z3")
        #expect(path.obligations.contains { $0.invariant == .frameBalance && $0.outcome == "proved by cases (decided without the solver)" })
    }
}

