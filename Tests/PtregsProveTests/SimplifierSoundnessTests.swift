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
        let binary: [Term.Op] = [.add, .sub, .mul, .and, .or, .xor, .eq, .ult, .ule, .slt, .sle]
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
