import SpecElaboration

/// A value of the certifying run: the simplified term the proof run would compute, and
/// the raw term the instruction semantics build with no rewriting at all.
public struct TwinTerm {
    public var simplified: Term
    public var raw: Term
    public init(simplified: Term, raw: Term) {
        self.simplified = simplified
        self.raw = raw
    }
}

/// The structural facts the run took from the simplifier — an address is one of these
/// stack slots, a branch cannot be taken, a value is this constant, two values are the
/// same — each stated over raw terms. A certificate asks the solver to check them too,
/// so a wrong simplification makes the certificate fail instead of hiding in it.
public final class SimplifierFacts {
    public private(set) var facts: [Term] = []
    private var seen: Set<Int> = []
    func note(_ fact: Term) {
        if fact.boolConstant == true { return }
        if seen.insert(fact.id).inserted { facts.append(fact) }
    }
}

/// The value domain of certificates: every operation is built twice, simplified (which
/// makes every structural decision exactly as the proof run does) and raw (which the
/// certificate is made of); every decision read off a simplified term is recorded as a
/// fact about the raw one.
public struct CertifyingDomain: ValueDomain {
    public let simplifier: TermFactory
    public let builder: TermFactory
    public let facts: SimplifierFacts

    public init() {
        simplifier = TermFactory()
        builder = TermFactory(raw: true)
        facts = SimplifierFacts()
    }

    typealias T = TwinTerm
    @inline(__always) func both(_ s: Term, _ r: Term) -> TwinTerm { TwinTerm(simplified: s, raw: r) }

    public func constant(_ v: UInt64) -> TwinTerm { both(simplifier.const(v), builder.const(v)) }
    public func bit(_ b: Bool) -> TwinTerm { both(simplifier.bool(b), builder.bool(b)) }
    public func add(_ a: TwinTerm, _ b: TwinTerm) -> TwinTerm { both(simplifier.add(a.simplified, b.simplified), builder.add(a.raw, b.raw)) }
    public func sub(_ a: TwinTerm, _ b: TwinTerm) -> TwinTerm { both(simplifier.sub(a.simplified, b.simplified), builder.sub(a.raw, b.raw)) }
    public func and(_ a: TwinTerm, _ b: TwinTerm) -> TwinTerm { both(simplifier.and(a.simplified, b.simplified), builder.and(a.raw, b.raw)) }
    public func or(_ a: TwinTerm, _ b: TwinTerm) -> TwinTerm { both(simplifier.or(a.simplified, b.simplified), builder.or(a.raw, b.raw)) }
    public func xor(_ a: TwinTerm, _ b: TwinTerm) -> TwinTerm { both(simplifier.xor(a.simplified, b.simplified), builder.xor(a.raw, b.raw)) }
    public func not(_ a: TwinTerm) -> TwinTerm { both(simplifier.not(a.simplified), builder.not(a.raw)) }
    public func neg(_ a: TwinTerm) -> TwinTerm { both(simplifier.neg(a.simplified), builder.neg(a.raw)) }
    public func mul(_ a: TwinTerm, _ b: TwinTerm) -> TwinTerm { both(simplifier.mul(a.simplified, b.simplified), builder.mul(a.raw, b.raw)) }
    public func shiftLeft(_ a: TwinTerm, _ b: TwinTerm) -> TwinTerm { both(simplifier.shl(a.simplified, b.simplified), builder.shl(a.raw, b.raw)) }
    public func shiftRightLogical(_ a: TwinTerm, _ b: TwinTerm) -> TwinTerm { both(simplifier.lshr(a.simplified, b.simplified), builder.lshr(a.raw, b.raw)) }
    public func shiftRightArithmetic(_ a: TwinTerm, _ b: TwinTerm) -> TwinTerm { both(simplifier.ashr(a.simplified, b.simplified), builder.ashr(a.raw, b.raw)) }
    public func equal(_ a: TwinTerm, _ b: TwinTerm) -> TwinTerm { both(simplifier.eq(a.simplified, b.simplified), builder.eq(a.raw, b.raw)) }
    public func unsignedLess(_ a: TwinTerm, _ b: TwinTerm) -> TwinTerm { both(simplifier.ult(a.simplified, b.simplified), builder.ult(a.raw, b.raw)) }
    public func signedLess(_ a: TwinTerm, _ b: TwinTerm) -> TwinTerm { both(simplifier.slt(a.simplified, b.simplified), builder.slt(a.raw, b.raw)) }
    public func select(_ c: TwinTerm, _ a: TwinTerm, _ b: TwinTerm) -> TwinTerm {
        both(simplifier.ite(c.simplified, a.simplified, b.simplified), builder.ite(c.raw, a.raw, b.raw))
    }
    public func selectBit(_ c: TwinTerm, _ a: TwinTerm, _ b: TwinTerm) -> TwinTerm {
        both(simplifier.boolIte(c.simplified, a.simplified, b.simplified), builder.boolIte(c.raw, a.raw, b.raw))
    }
    public func all(_ xs: [TwinTerm]) -> TwinTerm { both(simplifier.allOf(xs.map(\.simplified)), builder.allOf(xs.map(\.raw))) }
    public func any(_ xs: [TwinTerm]) -> TwinTerm { both(simplifier.anyOf(xs.map(\.simplified)), builder.anyOf(xs.map(\.raw))) }
    public func negate(_ a: TwinTerm) -> TwinTerm { both(simplifier.negation(a.simplified), builder.negation(a.raw)) }
    public func both(_ a: TwinTerm, _ b: TwinTerm) -> TwinTerm { both(simplifier.both(a.simplified, b.simplified), builder.both(a.raw, b.raw)) }
    public func either(_ a: TwinTerm, _ b: TwinTerm) -> TwinTerm { both(simplifier.either(a.simplified, b.simplified), builder.either(a.raw, b.raw)) }
    public func input(_ name: String) -> TwinTerm { both(simplifier.variable(name), builder.variable(name)) }
    public func inputBit(_ name: String) -> TwinTerm { both(simplifier.boolVariable(name), builder.boolVariable(name)) }

    /// The simplifier's cases; each raw guard is "the raw value is this constant", and
    /// that one of them holds is a fact.
    public func cases(_ v: TwinTerm) -> [(TwinTerm, UInt64)]? {
        guard let leaves = simplifier.leaves(v.simplified) else { return nil }
        var values: [UInt64] = []
        for (_, a) in leaves where !values.contains(a) { values.append(a) }
        if values.count == 1, v.raw.constant == values[0] {
            return leaves.map { (both($0.0, builder.bool(true)), $0.1) }
        }
        facts.note(builder.anyOf(values.map { builder.eq(v.raw, builder.const($0)) }))
        return leaves.map { g, a in (both(g, builder.eq(v.raw, builder.const(a))), a) }
    }

    /// The simplifier's: it only ever makes a run unsupported, which needs no fact.
    public func possibleConstants(_ v: TwinTerm) -> ConstantSet { simplifier.possibleConstants(v.simplified) }

    public func known(_ b: TwinTerm) -> Bool? {
        guard let k = b.simplified.boolConstant else { return nil }
        if b.raw.boolConstant != k { facts.note(k ? b.raw : builder.negation(b.raw)) }
        return k
    }

    public func knownValue(_ v: TwinTerm) -> UInt64? {
        guard let k = v.simplified.constant else { return nil }
        if v.raw.constant != k { facts.note(builder.eq(v.raw, builder.const(k))) }
        return k
    }

    public func same(_ a: TwinTerm, _ b: TwinTerm) -> Bool {
        guard a.simplified === b.simplified else { return false }
        if a.raw !== b.raw { facts.note(builder.eq(a.raw, b.raw)) }
        return true
    }

    public func sameBit(_ a: TwinTerm, _ b: TwinTerm) -> Bool { same(a, b) }
}

/// A path run over the certifying domain: the obligations with raw reach and claim, the
/// conditions that make each loop head's widened state inductive, and the facts the run
/// took from the simplifier.
public struct CertifyingRun {
    public var obligations: [Obligation<CertifyingDomain>]
    /// Claims the run assumed after recording them (see `LoopRun.assumedClaims`): every
    /// invariant's proof needs them too.
    public var assumedClaims: [Obligation<CertifyingDomain>]
    public var inductionChecks: [InductionCheck<CertifyingDomain>]
    public var facts: [Term]
    public var builder: TermFactory

    public enum Failure: Error {
        case unsupported(String)
        case loop(String)
    }

    /// The proof run's own walk (merging at joins, widening loops, the same induction
    /// prover), so it makes the very decisions the proof made.
    public static func run(_ plain: PathSemantics, induction: InductionProver?) throws(Failure) -> CertifyingRun {
        let semantics = PathSemantics(program: plain.program, path: plain.path, graph: plain.graph, setup: plain.setup)
        let d = CertifyingDomain()
        let run = SymbolicExecutor.run(semantics, domain: d, keepDecided: true, induction: induction)
        if let u = run.unsupported { throw .unsupported(u.reason) }
        if let (_, reason) = run.loopFailure { throw .loop(reason) }
        return CertifyingRun(obligations: run.obligations, assumedClaims: run.assumedClaims, inductionChecks: run.inductionChecks, facts: d.facts.facts, builder: d.builder)
    }

    /// "Some obligation of `inv` fails, some loop invariant is not inductive, or some
    /// simplifier fact is false": unsat is the proof of `inv` on the path.
    public func negatedClaim(_ inv: Invariant) -> Term {
        let b = builder
        let failures = (obligations.filter { $0.invariant == inv } + assumedClaims).map { b.both($0.reach.raw, b.negation($0.claim.raw)) }
        let notInductive = inductionChecks.map { b.both($0.reach.raw, b.negation($0.claim.raw)) }
        return b.anyOf(facts.map { b.negation($0) } + notInductive + failures)
    }

    public func obligationCount(_ inv: Invariant) -> Int { obligations.filter { $0.invariant == inv }.count }
}
