import StackSemantics
import Z3Kit

/// Translates terms into one Z3 context, each term once.
struct Z3Lowering {
    private let source: Z3ContextSource
    var z3: Z3Context { source.context }
    private var memo: [Int: Z3Expr] = [:]

    init(_ z3: Z3Context) { source = Z3ContextSource(z3) }
    /// Lowers into `source`'s context, made when the first term is lowered.
    init(_ source: Z3ContextSource) { self.source = source }

    /// The term's expression if it has been lowered.
    func lowered(_ t: Term) -> Z3Expr? { memo[t.id] }

    mutating func lower(_ t: Term) -> Z3Expr {
        if let e = memo[t.id] { return e }
        let a = t.args.map { lower($0) }
        let e: Z3Expr
        switch t.op {
        case .const: e = z3.bv(t.payload)
        case .bool: e = z3.boolConst(t.payload != 0)
        case .variable: e = z3.bvVar(t.name)
        case .boolVariable: e = z3.boolVar(t.name)
        case .add: e = z3.add(a[0], a[1])
        case .sub: e = z3.sub(a[0], a[1])
        case .mul: e = z3.mul(a[0], a[1])
        case .and: e = z3.bvAnd(a[0], a[1])
        case .or: e = z3.bvOr(a[0], a[1])
        case .xor: e = z3.bvXor(a[0], a[1])
        case .not: e = z3.bvNot(a[0])
        case .neg: e = z3.neg(a[0])
        case .shl: e = z3.shl(a[0], a[1])
        case .lshr: e = z3.lshr(a[0], a[1])
        case .ashr: e = z3.ashr(a[0], a[1])
        case .eq: e = z3.eq(a[0], a[1])
        case .ult: e = z3.ult(a[0], a[1])
        case .ule: e = z3.ule(a[0], a[1])
        case .slt: e = z3.slt(a[0], a[1])
        case .sle: e = z3.sle(a[0], a[1])
        case .ite, .boolIte: e = z3.ite(a[0], a[1], a[2])
        case .allOf: e = z3.and(a)
        case .anyOf: e = z3.or(a)
        case .negation: e = z3.not(a[0])
        }
        memo[t.id] = e
        return e
    }
}

/// A path's Z3 context, made on first use: making one costs about as much as a small
/// query, and most paths are decided by the simplifier and the concrete probes alone.
final class Z3ContextSource {
    private var made: Z3Context?
    init(_ z3: Z3Context? = nil) { made = z3 }
    var context: Z3Context {
        if let z3 = made { return z3 }
        let z3 = Z3Context()
        made = z3
        return z3
    }
}
