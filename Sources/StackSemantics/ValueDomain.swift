/// The abstract value domain the one interpreter runs over (docs/model.md, "One interpreter, several value domains"): 64-bit
/// values and booleans with the operations the instruction semantics need. It is
/// instantiated with Z3-bound terms to prove and with concrete numbers to replay.
public protocol ValueDomain {
    associatedtype Value
    associatedtype Bit

    func constant(_ v: UInt64) -> Value
    func bit(_ b: Bool) -> Bit
    func add(_ a: Value, _ b: Value) -> Value
    func sub(_ a: Value, _ b: Value) -> Value
    func and(_ a: Value, _ b: Value) -> Value
    func or(_ a: Value, _ b: Value) -> Value
    func xor(_ a: Value, _ b: Value) -> Value
    func not(_ a: Value) -> Value
    func neg(_ a: Value) -> Value
    func mul(_ a: Value, _ b: Value) -> Value
    /// Shifts by a 64-bit amount (`Term.Op.shl`, `.lshr`, `.ashr`: 64 or more shifts
    /// every bit out).
    func shiftLeft(_ a: Value, _ b: Value) -> Value
    func shiftRightLogical(_ a: Value, _ b: Value) -> Value
    func shiftRightArithmetic(_ a: Value, _ b: Value) -> Value
    func equal(_ a: Value, _ b: Value) -> Bit
    func unsignedLess(_ a: Value, _ b: Value) -> Bit
    func signedLess(_ a: Value, _ b: Value) -> Bit
    func select(_ c: Bit, _ a: Value, _ b: Value) -> Value
    func selectBit(_ c: Bit, _ a: Bit, _ b: Bit) -> Bit
    func all(_ xs: [Bit]) -> Bit
    func any(_ xs: [Bit]) -> Bit
    func negate(_ a: Bit) -> Bit
    /// `all([a, b])` and `any([a, b])`, the common case, without an array.
    func both(_ a: Bit, _ b: Bit) -> Bit
    func either(_ a: Bit, _ b: Bit) -> Bit

    /// A value the path does not determine: a register at entry, never-written memory,
    /// what an external function leaves in a clobbered register, a ptrace write.
    /// The same name always denotes the same input.
    func input(_ name: String) -> Value
    func inputBit(_ name: String) -> Bit

    /// Possible concrete values with their guards (addresses), nil if not enumerable.
    func cases(_ v: Value) -> [(Bit, UInt64)]?
    /// The constants `v` is on the runs where it is one (through selections and constant
    /// offsets); runs where it is not are left out. Guards are not consulted: a superset.
    func possibleConstants(_ v: Value) -> ConstantSet
    /// Statically known truth of a bit, if any.
    func known(_ b: Bit) -> Bool?
    /// Statically known value, if any.
    func knownValue(_ v: Value) -> UInt64?
    /// Structural identity (used by the loop check; concrete: equality).
    func same(_ a: Value, _ b: Value) -> Bool
    func sameBit(_ a: Bit, _ b: Bit) -> Bool
}

extension ValueDomain {
    func equalBits(_ a: Bit, _ b: Bit) -> Bit { selectBit(a, b, negate(b)) }
    func low32(_ a: Value) -> Value { and(a, constant(0xffff_ffff)) }
}

/// The proof domain: terms, interned and simplified by a `TermFactory`.
public struct SymbolicDomain: ValueDomain {
    public let f: TermFactory
    public init(_ f: TermFactory) { self.f = f }

    public func constant(_ v: UInt64) -> Term { f.const(v) }
    public func bit(_ b: Bool) -> Term { f.bool(b) }
    public func add(_ a: Term, _ b: Term) -> Term { f.add(a, b) }
    public func sub(_ a: Term, _ b: Term) -> Term { f.sub(a, b) }
    public func and(_ a: Term, _ b: Term) -> Term { f.and(a, b) }
    public func or(_ a: Term, _ b: Term) -> Term { f.or(a, b) }
    public func xor(_ a: Term, _ b: Term) -> Term { f.xor(a, b) }
    public func not(_ a: Term) -> Term { f.not(a) }
    public func neg(_ a: Term) -> Term { f.neg(a) }
    public func mul(_ a: Term, _ b: Term) -> Term { f.mul(a, b) }
    public func shiftLeft(_ a: Term, _ b: Term) -> Term { f.shl(a, b) }
    public func shiftRightLogical(_ a: Term, _ b: Term) -> Term { f.lshr(a, b) }
    public func shiftRightArithmetic(_ a: Term, _ b: Term) -> Term { f.ashr(a, b) }
    public func equal(_ a: Term, _ b: Term) -> Term { f.eq(a, b) }
    public func unsignedLess(_ a: Term, _ b: Term) -> Term { f.ult(a, b) }
    public func signedLess(_ a: Term, _ b: Term) -> Term { f.slt(a, b) }
    public func select(_ c: Term, _ a: Term, _ b: Term) -> Term { f.ite(c, a, b) }
    public func selectBit(_ c: Term, _ a: Term, _ b: Term) -> Term { f.boolIte(c, a, b) }
    public func all(_ xs: [Term]) -> Term { f.allOf(xs) }
    public func any(_ xs: [Term]) -> Term { f.anyOf(xs) }
    public func both(_ a: Term, _ b: Term) -> Term { f.both(a, b) }
    public func either(_ a: Term, _ b: Term) -> Term { f.either(a, b) }
    public func negate(_ a: Term) -> Term { f.negation(a) }
    public func input(_ name: String) -> Term { f.variable(name) }
    public func inputBit(_ name: String) -> Term { f.boolVariable(name) }
    public func cases(_ v: Term) -> [(Term, UInt64)]? { f.leaves(v) }
    public func possibleConstants(_ v: Term) -> ConstantSet { f.possibleConstants(v) }
    public func known(_ b: Term) -> Bool? { b.boolConstant }
    public func knownValue(_ v: Term) -> UInt64? { v.constant }
    public func same(_ a: Term, _ b: Term) -> Bool { a === b }
    public func sameBit(_ a: Term, _ b: Term) -> Bool { a === b }
}

/// The replay domain: plain numbers; inputs come from an oracle (the Z3 model).
public struct ConcreteDomain: ValueDomain {
    public let oracle: (String) -> UInt64
    public init(oracle: @escaping (String) -> UInt64) { self.oracle = oracle }

    public func constant(_ v: UInt64) -> UInt64 { v }
    public func bit(_ b: Bool) -> Bool { b }
    public func add(_ a: UInt64, _ b: UInt64) -> UInt64 { a &+ b }
    public func sub(_ a: UInt64, _ b: UInt64) -> UInt64 { a &- b }
    public func and(_ a: UInt64, _ b: UInt64) -> UInt64 { a & b }
    public func or(_ a: UInt64, _ b: UInt64) -> UInt64 { a | b }
    public func xor(_ a: UInt64, _ b: UInt64) -> UInt64 { a ^ b }
    public func not(_ a: UInt64) -> UInt64 { ~a }
    public func neg(_ a: UInt64) -> UInt64 { 0 &- a }
    public func mul(_ a: UInt64, _ b: UInt64) -> UInt64 { a &* b }
    // The shifts' one definition is `Term.Op.evaluate`, which always has a value for them.
    public func shiftLeft(_ a: UInt64, _ b: UInt64) -> UInt64 { Term.Op.shl.evaluate(a, b) ?? 0 }
    public func shiftRightLogical(_ a: UInt64, _ b: UInt64) -> UInt64 { Term.Op.lshr.evaluate(a, b) ?? 0 }
    public func shiftRightArithmetic(_ a: UInt64, _ b: UInt64) -> UInt64 { Term.Op.ashr.evaluate(a, b) ?? 0 }
    public func equal(_ a: UInt64, _ b: UInt64) -> Bool { a == b }
    public func unsignedLess(_ a: UInt64, _ b: UInt64) -> Bool { a < b }
    public func signedLess(_ a: UInt64, _ b: UInt64) -> Bool { Int64(bitPattern: a) < Int64(bitPattern: b) }
    public func select(_ c: Bool, _ a: UInt64, _ b: UInt64) -> UInt64 { c ? a : b }
    public func selectBit(_ c: Bool, _ a: Bool, _ b: Bool) -> Bool { c ? a : b }
    public func all(_ xs: [Bool]) -> Bool { xs.allSatisfy { $0 } }
    public func any(_ xs: [Bool]) -> Bool { xs.contains(true) }
    public func both(_ a: Bool, _ b: Bool) -> Bool { a && b }
    public func either(_ a: Bool, _ b: Bool) -> Bool { a || b }
    public func negate(_ a: Bool) -> Bool { !a }
    public func input(_ name: String) -> UInt64 { oracle(name) }
    public func inputBit(_ name: String) -> Bool { oracle(name) != 0 }
    public func cases(_ v: UInt64) -> [(Bool, UInt64)]? { [(true, v)] }
    public func possibleConstants(_ v: UInt64) -> ConstantSet { ConstantSet(v) }
    public func known(_ b: Bool) -> Bool? { b }
    public func knownValue(_ v: UInt64) -> UInt64? { v }
    public func same(_ a: UInt64, _ b: UInt64) -> Bool { a == b }
    public func sameBit(_ a: Bool, _ b: Bool) -> Bool { a == b }
}
