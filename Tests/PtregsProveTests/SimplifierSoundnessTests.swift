import Foundation
@testable import PtregsProve
import StackSemantics
import XCTest
import Z3Kit

/// The term simplifier rewrites every term as it is built (constant folding, `x+c1 ==
/// x+c2`, ite over constants, mask merging, contradictions in conjunctions…), and a
/// rewrite that is wrong would make a false obligation fold to "true". Each rewrite is
/// checked here against the solver's own bit-vector semantics, Alive-style: for every
/// construction, Z3 must prove the simplified term equal to the operation applied to
/// its operands, for all values of the variables.
final class SimplifierSoundnessTests: XCTestCase {
    /// One construction: what the simplifier made of `op(args)`.
    struct Construction {
        var op: String
        var args: [Term]
        var result: Term
        var raw: (Z3Context, [Z3Expr]) -> Z3Expr
    }

    /// Records constructions and checks them all in one query (and names the ones that
    /// fail when it is not unsat).
    final class Recorder {
        let f = TermFactory()
        var made: [Construction] = []

        func record(_ op: String, _ args: [Term], _ result: Term, _ raw: @escaping (Z3Context, [Z3Expr]) -> Z3Expr) -> Term {
            made.append(Construction(op: op, args: args, result: result, raw: raw))
            return result
        }
        func add(_ a: Term, _ b: Term) -> Term { record("add", [a, b], f.add(a, b)) { $0.add($1[0], $1[1]) } }
        func sub(_ a: Term, _ b: Term) -> Term { record("sub", [a, b], f.sub(a, b)) { $0.sub($1[0], $1[1]) } }
        func and(_ a: Term, _ b: Term) -> Term { record("and", [a, b], f.and(a, b)) { $0.bvAnd($1[0], $1[1]) } }
        func or(_ a: Term, _ b: Term) -> Term { record("or", [a, b], f.or(a, b)) { $0.bvOr($1[0], $1[1]) } }
        func xor(_ a: Term, _ b: Term) -> Term { record("xor", [a, b], f.xor(a, b)) { $0.bvXor($1[0], $1[1]) } }
        func mul(_ a: Term, _ b: Term) -> Term { record("mul", [a, b], f.mul(a, b)) { $0.mul($1[0], $1[1]) } }
        func shl(_ a: Term, _ b: Term) -> Term { record("shl", [a, b], f.shl(a, b)) { $0.shl($1[0], $1[1]) } }
        func lshr(_ a: Term, _ b: Term) -> Term { record("lshr", [a, b], f.lshr(a, b)) { $0.lshr($1[0], $1[1]) } }
        func ashr(_ a: Term, _ b: Term) -> Term { record("ashr", [a, b], f.ashr(a, b)) { $0.ashr($1[0], $1[1]) } }
        func not(_ a: Term) -> Term { record("not", [a], f.not(a)) { $0.bvNot($1[0]) } }
        func neg(_ a: Term) -> Term { record("neg", [a], f.neg(a)) { $0.neg($1[0]) } }
        func eq(_ a: Term, _ b: Term) -> Term { record("eq", [a, b], f.eq(a, b)) { $0.eq($1[0], $1[1]) } }
        func ult(_ a: Term, _ b: Term) -> Term { record("ult", [a, b], f.ult(a, b)) { $0.ult($1[0], $1[1]) } }
        func ule(_ a: Term, _ b: Term) -> Term { record("ule", [a, b], f.ule(a, b)) { $0.ule($1[0], $1[1]) } }
        func slt(_ a: Term, _ b: Term) -> Term { record("slt", [a, b], f.slt(a, b)) { $0.slt($1[0], $1[1]) } }
        func sle(_ a: Term, _ b: Term) -> Term { record("sle", [a, b], f.sle(a, b)) { $0.sle($1[0], $1[1]) } }
        func ite(_ c: Term, _ a: Term, _ b: Term) -> Term { record("ite", [c, a, b], f.ite(c, a, b)) { $0.ite($1[0], $1[1], $1[2]) } }
        func boolIte(_ c: Term, _ a: Term, _ b: Term) -> Term { record("boolIte", [c, a, b], f.boolIte(c, a, b)) { $0.ite($1[0], $1[1], $1[2]) } }
        func negation(_ a: Term) -> Term { record("negation", [a], f.negation(a)) { $0.not($1[0]) } }
        func allOf(_ xs: [Term]) -> Term { record("allOf", xs, f.allOf(xs)) { $0.and($1) } }
        func anyOf(_ xs: [Term]) -> Term { record("anyOf", xs, f.anyOf(xs)) { $0.or($1) } }
        func both(_ a: Term, _ b: Term) -> Term { record("both", [a, b], f.both(a, b)) { $0.and($1) } }
        func either(_ a: Term, _ b: Term) -> Term { record("either", [a, b], f.either(a, b)) { $0.or($1) } }

        /// The constructions whose result the solver shows can differ from the
        /// operation on its operands (empty: every rewrite made here is valid).
        func wrongRewrites(file: StaticString = #filePath, line: UInt = #line) -> [String] {
            let z3 = Z3Context()
            var lowering = Z3Lowering(z3)
            var differs: [Z3Expr] = []
            for c in made {
                let args = c.args.map { lowering.lower($0) }
                differs.append(z3.not(z3.eq(lowering.lower(c.result), c.raw(z3, args))))
            }
            let solver = Z3Solver(context: z3, timeoutMilliseconds: 60_000)
            solver.assert(z3.or(differs))
            switch try? solver.check() {
            case .unsat?:
                return []
            case .sat(let model)?:
                return zip(made, differs).filter { model.evalBool($0.1) == true }.map { c, _ in
                    "\(c.op)(\(c.args.map(\.description).joined(separator: ", "))) simplified to \(c.result)"
                }
            default:
                XCTFail("the solver gave no answer", file: file, line: line)
                return ["no answer"]
            }
        }
    }

    /// Operands of the shapes the rewrite rules look for: variables, edge constants,
    /// `x + c`, masks, negations, ite trees over constants and over terms.
    static func valueShapes(_ r: Recorder) -> [Term] {
        let f = r.f
        let x = f.variable("x"), y = f.variable("y"), c = f.boolVariable("c"), d = f.boolVariable("d")
        var out: [Term] = [x, y]
        out += [0, 1, 3, 8, 0xffff_ffff, 0x8000_0000_0000_0000, UInt64.max, 0xffff_c900_0040_0000].map { f.const($0) }
        out += [r.add(x, f.const(8)), r.add(x, f.const(UInt64.max - 7)), r.add(x, y), r.sub(x, y)]
        out += [r.and(x, f.const(3)), r.and(x, f.const(0xffff_ffff)), r.and(r.and(x, f.const(0xffff_ffff)), f.const(3))]
        out += [r.not(x), r.neg(x), r.or(x, f.const(1)), r.xor(x, y)]
        out += [r.ite(c, f.const(8), f.const(16)), r.ite(c, x, y), r.ite(c, f.const(0), f.const(1)),
                r.ite(c, r.ite(d, f.const(1), f.const(2)), f.const(3)), r.ite(c, x, f.const(0)), r.ite(r.negation(c), y, x)]
        return out
    }

    static func boolShapes(_ r: Recorder) -> [Term] {
        let f = r.f
        let x = f.variable("x"), y = f.variable("y"), c = f.boolVariable("c"), d = f.boolVariable("d")
        return [c, d, f.trueTerm, f.falseTerm, r.negation(c), r.both(c, d), r.either(c, r.negation(d)),
                r.eq(x, y), r.eq(r.and(x, f.const(3)), f.const(0)), r.ult(x, y), r.boolIte(c, d, f.falseTerm),
                r.allOf([c, d, r.negation(c)]), r.anyOf([r.both(c, d), r.both(c, r.negation(d))])]
    }

    func testEveryRewriteOnEveryOperandShapeIsValid() {
        let r = Recorder()
        let values = Self.valueShapes(r), bools = Self.boolShapes(r)
        for a in values {
            _ = r.not(a); _ = r.neg(a)
            for b in values {
                _ = r.add(a, b); _ = r.sub(a, b); _ = r.and(a, b); _ = r.or(a, b); _ = r.xor(a, b); _ = r.mul(a, b)
                _ = r.shl(a, b); _ = r.lshr(a, b); _ = r.ashr(a, b)
                _ = r.eq(a, b); _ = r.ult(a, b); _ = r.ule(a, b); _ = r.slt(a, b); _ = r.sle(a, b)
            }
        }
        for c in bools {
            _ = r.negation(c)
            for a in values.prefix(14) { for b in values.suffix(10) { _ = r.ite(c, a, b) } }
            for p in bools {
                _ = r.both(c, p); _ = r.either(c, p); _ = r.allOf([c, p]); _ = r.anyOf([c, p]); _ = r.eq(c, p)
                for q in bools.prefix(6) { _ = r.boolIte(c, p, q); _ = r.allOf([c, p, q]); _ = r.anyOf([r.both(c, p), r.both(c, q)]) }
            }
        }
        XCTAssertGreaterThan(r.made.count, 5_000)
        XCTAssertEqual(r.wrongRewrites(), [])
    }

    /// Random nested constructions: rewrites applied to the results of rewrites.
    /// (Products of products are left to the shapes above: nested multiplication makes
    /// the query hard for the solver without testing any rule more.)
    func testRandomTermsSimplifyToEqualTerms() {
        var rng = SplitMix(seed: 0x5eed)
        for _ in 0..<16 {
            let r = Recorder()
            var values = Self.valueShapes(r), bools = Self.boolShapes(r)
            for _ in 0..<200 {
                func v() -> Term { values[Int(rng.next() % UInt64(values.count))] }
                func b() -> Term { bools[Int(rng.next() % UInt64(bools.count))] }
                switch rng.next() % 16 {
                case 0: values.append(r.add(v(), v()))
                case 1: values.append(r.sub(v(), v()))
                case 2: values.append(r.and(v(), v()))
                case 3: values.append(r.or(v(), v()))
                case 4: values.append(r.xor(v(), v()))
                case 5: values.append(r.ite(b(), v(), v()))
                case 6: values.append(r.not(v()))
                case 7: bools.append(r.eq(v(), v()))
                case 8: bools.append(r.ult(v(), v()))
                case 9: bools.append(r.slt(v(), v()))
                case 10: bools.append(r.both(b(), b()))
                case 11: bools.append(r.either(b(), b()))
                case 12: bools.append(r.negation(b()))
                case 13: bools.append(r.boolIte(b(), b(), b()))
                case 14: bools.append(r.anyOf([b(), b(), b()]))
                default: values.append(r.add(v(), r.f.const(rng.next() % 64)))
                }
            }
            XCTAssertEqual(r.wrongRewrites(), [])
        }
    }

    /// The one definition of each operation's value (`Term.Op.evaluate`, used by case
    /// splitting and the raw builder) agrees with the Z3 lowering on edge and random
    /// operands, for every operation.
    func testOperationValuesAgreeWithTheZ3Lowering() {
        let f = TermFactory(raw: true)
        var rng = SplitMix(seed: 0x0b5e)
        let edges: [UInt64] = [0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0xffff_ffff, 0x1_0000_0000, 0x7fff_ffff_ffff_ffff,
                               0x8000_0000_0000_0000, UInt64.max, UInt64.max - 1]
        var operands: [(UInt64, UInt64)] = []
        for a in edges { for b in edges { operands.append((a, b)) } }
        for _ in 0..<200 { operands.append((rng.next(), rng.next() >> (rng.next() % 64))) }
        let binary: [Term.Op] = [.add, .sub, .mul, .and, .or, .xor, .shl, .lshr, .ashr, .eq, .ult, .ule, .slt, .sle]
        // Every operand pinned in one model; Z3 then computes each lowered term itself.
        let z3 = Z3Context()
        var lowering = Z3Lowering(z3)
        var pins: [Z3Expr] = []
        var checks: [(String, Z3Expr, Bool, UInt64)] = []
        for (i, (a, b)) in operands.enumerated() {
            let x = f.variable("x\(i)"), y = f.variable("y\(i)")
            pins += [z3.eq(lowering.lower(x), z3.bv(a)), z3.eq(lowering.lower(y), z3.bv(b))]
            var cases: [(Term.Op, Term, [UInt64])] = binary.map { op in
                let t: Term
                switch op {
                case .add: t = f.add(x, y)
                case .sub: t = f.sub(x, y)
                case .mul: t = f.mul(x, y)
                case .and: t = f.and(x, y)
                case .or: t = f.or(x, y)
                case .xor: t = f.xor(x, y)
                case .shl: t = f.shl(x, y)
                case .lshr: t = f.lshr(x, y)
                case .ashr: t = f.ashr(x, y)
                case .eq: t = f.eq(x, y)
                case .ult: t = f.ult(x, y)
                case .ule: t = f.ule(x, y)
                case .slt: t = f.slt(x, y)
                default: t = f.sle(x, y)
                }
                return (op, t, [a, b])
            }
            cases.append((.not, f.not(x), [a]))
            cases.append((.neg, f.neg(x), [a]))
            for (op, t, values) in cases {
                guard let v = op.evaluate(values) else { XCTFail("\(op) has no value"); continue }
                checks.append(("\(op)(\(values.map { "0x" + String($0, radix: 16) }.joined(separator: ", ")))", lowering.lower(t), t.isBool, v))
            }
        }
        XCTAssertGreaterThan(checks.count, 4_000)
        let solver = Z3Solver(context: z3, timeoutMilliseconds: 60_000)
        solver.assert(z3.and(pins))
        guard case .sat(let model)? = try? solver.check() else { return XCTFail("no model of the operands") }
        var disagreements: [String] = []
        for (what, e, isBool, v) in checks {
            let z = isBool ? model.evalBool(e).map { $0 ? UInt64(1) : 0 } : model.evalBV(e)
            if z != v { disagreements.append("\(what): evaluate 0x\(String(v, radix: 16)), Z3 \(z.map { "0x" + String($0, radix: 16) } ?? "none")") }
        }
        XCTAssertEqual(disagreements.prefix(5), [])
    }

    /// The check is not vacuous: a wrong rewrite is found.
    func testAWrongRewriteIsFound() {
        let r = Recorder()
        let x = r.f.variable("x")
        // "x + 1 simplifies to x" — recorded as if the simplifier had done it.
        _ = r.record("add", [x, r.f.const(1)], x) { $0.add($1[0], $1[1]) }
        XCTAssertEqual(r.wrongRewrites().count, 1)
    }
}

/// The rewrite rules themselves, proved: for every rule of `RewriteRules.all` and every
/// operand width, Z3 must find no values of the rule's variables for which the side
/// conditions hold and the left side differs from the right. The term language has
/// 64-bit values only (narrower operations are masks over them); the rules are proved at
/// 8, 16 and 32 bits as well, so none depends on the width by accident.
final class RewriteRuleProofTests: XCTestCase {
    static let widths: [UInt32] = [8, 16, 32, 64]

    enum Sort: Hashable { case bitVector, boolean }

    /// The sort of each rule variable, from where it occurs; variables that could be
    /// either (`x == x`) are left out, and proved at both.
    static func sorts(of rule: RewriteRule) -> [Int: Sort] {
        var sorts: [Int: Sort] = [:]
        func resultSort(_ e: RuleExpr) -> Sort? {
            switch e {
            case .term(let v): return sorts[v]
            case .constant: return .bitVector
            case .literal(let l): return l == .true || l == .false ? .boolean : .bitVector
            case .named(_, let inner), .built(let inner): return resultSort(inner)
            case .op(let op, _), .node(let op, _), .fold(let op, _), .ordered(let op, _, _):
                switch op {
                case .eq, .ult, .ule, .slt, .sle, .boolIte, .allOf, .anyOf, .negation, .bool, .boolVariable: return .boolean
                default: return .bitVector
                }
            }
        }
        func visit(_ e: RuleExpr, _ expected: Sort?) {
            switch e {
            case .term(let v): if let expected, sorts[v] == nil { sorts[v] = expected }
            case .constant(let v): sorts[v] = .bitVector
            case .literal: break
            case .named(let v, let inner):
                if let s = expected ?? resultSort(inner), sorts[v] == nil { sorts[v] = s }
                visit(inner, expected)
            case .built(let inner): visit(inner, expected)
            case .op(let op, let args), .node(let op, let args), .fold(let op, let args):
                visitArguments(op, args)
            case .ordered(let op, let a, let b): visitArguments(op, [a, b])
            }
        }
        func visitArguments(_ op: Term.Op, _ args: [RuleExpr]) {
            switch op {
            case .eq:
                let s = args.lazy.compactMap(resultSort).first
                for a in args { visit(a, s) }
            case .ite:
                for (i, a) in args.enumerated() { visit(a, i == 0 ? .boolean : .bitVector) }
            case .boolIte, .allOf, .anyOf, .negation:
                for a in args { visit(a, .boolean) }
            default:
                for a in args { visit(a, .bitVector) }
            }
        }
        // Sorts flow between sides through equalities: a few passes reach a fixpoint.
        for _ in 0..<4 {
            visit(rule.lhs, nil)
            visit(rule.rhs, resultSort(rule.lhs))
            for case .holds(let e) in rule.conditions { visit(e, .boolean) }
        }
        return sorts
    }

    static func variables(of e: RuleExpr) -> Set<Int> {
        switch e {
        case .term(let v), .constant(let v): return [v]
        case .literal: return []
        case .named(let v, let inner): return variables(of: inner).union([v])
        case .built(let inner): return variables(of: inner)
        case .op(_, let args), .node(_, let args), .fold(_, let args): return args.reduce(into: []) { $0.formUnion(variables(of: $1)) }
        case .ordered(_, let a, let b): return variables(of: a).union(variables(of: b))
        }
    }

    /// An expression of a rule at a width, in Z3. `named` variables on the left side are
    /// the subterm they name.
    struct Lowering {
        let z3: Z3Context
        let width: UInt32
        let sorts: [Int: Sort]
        var variables: [Int: Z3Expr] = [:]

        mutating func variable(_ v: Int) -> Z3Expr {
            if let e = variables[v] { return e }
            let name = "v\(v)"
            let e = sorts[v] == .boolean ? z3.boolVar(name) : z3.bvVar(name, width: width)
            variables[v] = e
            return e
        }

        mutating func lower(_ e: RuleExpr) -> Z3Expr {
            switch e {
            case .term(let v), .constant(let v): return variable(v)
            case .literal(let l):
                switch l {
                case .zero: return z3.bv(0, width: width)
                case .one: return z3.bv(1, width: width)
                case .allOnes: return z3.bv(UInt64.max, width: width)
                case .true: return z3.boolConst(true)
                case .false: return z3.boolConst(false)
                }
            case .named(let v, let inner):
                let x = lower(inner)
                variables[v] = x
                return x
            case .built(let inner): return lower(inner)
            case .op(let op, let args), .node(let op, let args), .fold(let op, let args): return apply(op, args.map { lower($0) })
            case .ordered(let op, let a, let b): return apply(op, [lower(a), lower(b)])
            }
        }

        func apply(_ op: Term.Op, _ a: [Z3Expr]) -> Z3Expr {
            switch op {
            case .add: return z3.add(a[0], a[1])
            case .sub: return z3.sub(a[0], a[1])
            case .mul: return z3.mul(a[0], a[1])
            case .and: return z3.bvAnd(a[0], a[1])
            case .or: return z3.bvOr(a[0], a[1])
            case .xor: return z3.bvXor(a[0], a[1])
            case .not: return z3.bvNot(a[0])
            case .neg: return z3.neg(a[0])
            case .shl: return z3.shl(a[0], a[1])
            case .lshr: return z3.lshr(a[0], a[1])
            case .ashr: return z3.ashr(a[0], a[1])
            case .eq: return z3.eq(a[0], a[1])
            case .ult: return z3.ult(a[0], a[1])
            case .ule: return z3.ule(a[0], a[1])
            case .slt: return z3.slt(a[0], a[1])
            case .sle: return z3.sle(a[0], a[1])
            case .ite, .boolIte: return z3.ite(a[0], a[1], a[2])
            case .allOf: return z3.and(a)
            case .anyOf: return z3.or(a)
            case .negation: return z3.not(a[0])
            case .const, .bool, .variable, .boolVariable: return z3.boolConst(false)
            }
        }
    }

    /// What is wrong with each rule that Z3 does not prove (empty: every rule is valid
    /// at every width, given its side conditions).
    static func unprovedRules(_ rules: [RewriteRule]) -> [String] {
        let z3 = Z3Context()
        var failures: [String] = []
        for rule in rules {
            let sorts = Self.sorts(of: rule)
            let open = Self.variables(of: rule.lhs).subtracting(sorts.keys).sorted()
            // Every way of giving the variables sorts that the rule leaves open.
            var assignments: [[Int: Sort]] = [sorts]
            for v in open {
                assignments = assignments.flatMap { s in [Sort.bitVector, .boolean].map { s.merging([v: $0]) { a, _ in a } } }
            }
            for width in widths {
                for assignment in assignments {
                    var lowering = Lowering(z3: z3, width: width, sorts: assignment)
                    let lhs = lowering.lower(rule.lhs)
                    let rhs = lowering.lower(rule.rhs)
                    var hypotheses: [Z3Expr] = []
                    for case .holds(let e) in rule.conditions { hypotheses.append(lowering.lower(e)) }
                    let solver = Z3Solver(context: z3, timeoutMilliseconds: 60_000)
                    solver.assert(z3.and(hypotheses))
                    solver.assert(z3.not(z3.eq(lhs, rhs)))
                    switch try? solver.check() {
                    case .unsat?: continue
                    case .sat(let model)?:
                        let values = lowering.variables.keys.sorted().compactMap { v -> String? in
                            guard let e = lowering.variables[v], Self.variables(of: rule.lhs).contains(v) else { return nil }
                            let value = assignment[v] == .boolean ? model.evalBool(e).map { "\($0)" } : model.evalBV(e).map { "0x" + String($0, radix: 16) }
                            return "\(RuleExpr.term(v)) = \(value ?? "?")"
                        }
                        failures.append("\(rule) is wrong at \(width) bits: \(values.joined(separator: ", "))")
                    default:
                        failures.append("\(rule): no answer at \(width) bits")
                    }
                }
            }
        }
        return failures
    }

    /// Operators whose nodes put their arguments in term-number order, and are not
    /// commutative.
    static func nonCommutative(_ ops: [Term.Op]) -> [Term.Op] {
        let z3 = Z3Context()
        return ops.filter { op in
            widths.contains { width in
                let argumentSort: Sort = op == .allOf || op == .anyOf ? .boolean : .bitVector
                let lowering = Lowering(z3: z3, width: width, sorts: [:])
                let a = argumentSort == .boolean ? z3.boolVar("a") : z3.bvVar("a", width: width)
                let b = argumentSort == .boolean ? z3.boolVar("b") : z3.bvVar("b", width: width)
                let solver = Z3Solver(context: z3, timeoutMilliseconds: 60_000)
                solver.assert(z3.not(z3.eq(lowering.apply(op, [a, b]), lowering.apply(op, [b, a]))))
                guard case .unsat? = try? solver.check() else { return true }
                return false
            }
        }
    }

    /// The operators a table orders by term number: as nodes when no rule applies, and
    /// in right sides.
    static func orderedOperators(_ rules: [RewriteRule]) -> [Term.Op] {
        var ops: Set<Term.Op> = []
        func visit(_ e: RuleExpr) {
            switch e {
            case .ordered(let op, let a, let b): ops.insert(op); visit(a); visit(b)
            case .op(_, let args), .node(_, let args), .fold(_, let args): args.forEach(visit)
            case .named(_, let inner), .built(let inner): visit(inner)
            case .term, .constant, .literal: break
            }
        }
        for r in rules { visit(r.rhs) }
        let all: [Term.Op] = [.add, .sub, .and, .or, .xor, .not, .neg, .mul, .shl, .lshr, .ashr, .eq, .ult, .ule, .slt, .sle, .ite, .boolIte, .allOf, .anyOf, .negation]
        ops.formUnion(all.filter { RewriteRules.nodeOrder($0) == .ordered })
        return ops.sorted { $0.rawValue < $1.rawValue }
    }

    func testEveryRewriteRuleIsValidAtEveryWidth() {
        XCTAssertGreaterThan(RewriteRules.all.count, 80)
        XCTAssertEqual(Self.unprovedRules(RewriteRules.all), [])
    }

    func testOperatorsWhoseArgumentsAreOrderedAreCommutative() {
        let ordered = Self.orderedOperators(RewriteRules.all)
        XCTAssertEqual(Set(ordered), [.add, .and, .or, .xor, .eq])
        XCTAssertEqual(Self.nonCommutative(ordered), [])
    }

    /// The code the factory runs is what the proved rules generate (set
    /// PTREGS_GENERATE_RULES=1 to rewrite the file after changing a rule).
    func testTheFactoryRunsTheCodeTheRulesGenerate() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/StackSemantics/RewriteRules+Generated.swift")
        let expected = RewriteRules.generatedSource()
        if ProcessInfo.processInfo.environment["PTREGS_GENERATE_RULES"] == "1" {
            try expected.write(to: file, atomically: true, encoding: .utf8)
        }
        let running = try String(contentsOf: file, encoding: .utf8)
        XCTAssertTrue(running == expected, "\(file.path) is not what RewriteRules.all generates: regenerate it with PTREGS_GENERATE_RULES=1 swift test --filter RewriteRuleProofTests")
    }

    /// Every fold names an operation with a value at its number of operands (a fold
    /// without one would make its rule never apply).
    func testEveryFoldHasAValue() {
        func folds(_ e: RuleExpr) -> [(Term.Op, Int)] {
            switch e {
            case .fold(let op, let args): return [(op, args.count)] + args.flatMap(folds)
            case .op(_, let args), .node(_, let args): return args.flatMap(folds)
            case .ordered(_, let a, let b): return folds(a) + folds(b)
            case .named(_, let inner), .built(let inner): return folds(inner)
            case .term, .constant, .literal: return []
            }
        }
        for rule in RewriteRules.all {
            let all = folds(rule.rhs) + rule.conditions.flatMap { c -> [(Term.Op, Int)] in
                if case .holds(let e) = c { return folds(e) }
                return []
            }
            for (op, arity) in all {
                XCTAssertNotNil(op.evaluate(Array(repeating: 1, count: arity)), "\(op) in \(rule)")
            }
        }
    }

    /// The proof is not vacuous: wrong rules in a copy of the table are rejected, each
    /// with values that show it.
    func testWrongRulesAreRejected() {
        let x = RuleExpr.term(0), y = RuleExpr.term(1), c = RuleExpr.term(3), k1 = RuleExpr.constant(4), k2 = RuleExpr.constant(5)
        let wrong = [
            // (x + k1) + k2 → x + (k1 - k2)
            RewriteRule(.op(.add, [.op(.add, [x, k1]), k2]), .node(.add, [x, .fold(.sub, [k1, k2])])),
            // (x + k1) + k2 → x without its condition k1 + k2 == 0
            RewriteRule(.op(.add, [.op(.add, [x, k1]), k2]), x),
            // a wrong condition: k1 + k2 == 1
            RewriteRule(.op(.add, [.op(.add, [x, k1]), k2]), x,
                        when: [.holds(.fold(.eq, [.fold(.add, [k1, k2]), .literal(.one)]))]),
            // x <s y is not x <u y
            RewriteRule(.op(.slt, [x, y]), .op(.ult, [x, y])),
            // ite(c, x, y) == x  ⇔  c || y == x, with the condition negated
            RewriteRule(.op(.eq, [.op(.ite, [c, x, y]), x]), .op(.anyOf, [.op(.negation, [c]), .op(.eq, [y, x])])),
            // x & 0xff..ff is x only where the mask is all ones
            RewriteRule(.op(.and, [x, .literal(.one)]), x),
        ]
        let table = RewriteRules.all + wrong
        let failures = Self.unprovedRules(table)
        for rule in wrong {
            XCTAssertTrue(failures.contains { $0.hasPrefix("\(rule) is wrong") }, "not rejected: \(rule)")
        }
        XCTAssertTrue(failures.allSatisfy { f in wrong.contains { f.hasPrefix("\($0)") } }, "\(failures)")
        XCTAssertEqual(Self.nonCommutative([.sub, .add, .ult]), [.sub, .ult])
    }
}

/// A small deterministic generator (the test's terms do not change between runs).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
