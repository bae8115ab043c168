/// What each term operation computes on concrete 64-bit values (booleans as 0 and 1):
/// one definition, used by case splitting, by the raw term builder (which evaluates an
/// operation only when every operand is a constant), by the simplifier's constant
/// folding (`RuleExpr.fold`) and checked against Z3's lowering.
extension Term.Op {
    /// The value of this operation on constant operands; nil for leaves.
    public func evaluate(_ v: [UInt64]) -> UInt64? {
        switch (self, v.count) {
        case (.allOf, _): return v.allSatisfy { $0 != 0 } ? 1 : 0
        case (.anyOf, _): return v.contains { $0 != 0 } ? 1 : 0
        case (_, 1): return evaluate(v[0])
        case (_, 2): return evaluate(v[0], v[1])
        case (.ite, 3), (.boolIte, 3): return v[0] != 0 ? v[1] : v[2]
        default: return nil
        }
    }

    /// A unary operation's value (no array: folding runs on every construction).
    public func evaluate(_ a: UInt64) -> UInt64? {
        switch self {
        case .not: return ~a
        case .neg: return 0 &- a
        case .negation: return a == 0 ? 1 : 0
        case .allOf, .anyOf: return a != 0 ? 1 : 0
        default: return nil
        }
    }

    /// A binary operation's value.
    public func evaluate(_ a: UInt64, _ b: UInt64) -> UInt64? {
        switch self {
        case .add: return a &+ b
        case .sub: return a &- b
        case .mul: return a &* b
        case .and: return a & b
        case .or: return a | b
        case .xor: return a ^ b
        case .shl: return b >= 64 ? 0 : a << b
        case .lshr: return b >= 64 ? 0 : a >> b
        case .ashr: return UInt64(bitPattern: Int64(bitPattern: a) >> min(b, 63))
        case .eq, .ult, .ule, .slt, .sle: return compare(a, b) ? 1 : 0
        case .allOf: return a != 0 && b != 0 ? 1 : 0
        case .anyOf: return a != 0 || b != 0 ? 1 : 0
        default: return nil
        }
    }

    /// A comparison's truth on two values (64-bit, two's complement for the signed ones).
    public func compare(_ x: UInt64, _ y: UInt64) -> Bool {
        switch self {
        case .eq: return x == y
        case .ult: return x < y
        case .ule: return x <= y
        case .slt: return Int64(bitPattern: x) < Int64(bitPattern: y)
        case .sle: return Int64(bitPattern: x) <= Int64(bitPattern: y)
        default: return false
        }
    }
}
