/// What each term operation computes on concrete 64-bit values (booleans as 0 and 1):
/// one definition, used by case splitting, by the raw term builder (which evaluates an
/// operation only when every operand is a constant) and checked against Z3's lowering.
extension Term.Op {
    /// The value of this operation on constant operands; nil for leaves.
    public func evaluate(_ v: [UInt64]) -> UInt64? {
        switch (self, v.count) {
        case (.add, 2): return v[0] &+ v[1]
        case (.sub, 2): return v[0] &- v[1]
        case (.mul, 2): return v[0] &* v[1]
        case (.and, 2): return v[0] & v[1]
        case (.or, 2): return v[0] | v[1]
        case (.xor, 2): return v[0] ^ v[1]
        case (.not, 1): return ~v[0]
        case (.neg, 1): return 0 &- v[0]
        case (.eq, 2), (.ult, 2), (.ule, 2), (.slt, 2), (.sle, 2): return compare(v[0], v[1]) ? 1 : 0
        case (.ite, 3), (.boolIte, 3): return v[0] != 0 ? v[1] : v[2]
        case (.negation, 1): return v[0] == 0 ? 1 : 0
        case (.allOf, _): return v.allSatisfy { $0 != 0 } ? 1 : 0
        case (.anyOf, _): return v.contains { $0 != 0 } ? 1 : 0
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
