/// A symbolic 64-bit or boolean expression: the value domain of the proof run.
/// Terms are interned by a `TermFactory`, so structurally equal terms are the same
/// object and equality is identity. Construction simplifies eagerly (constant folding,
/// `x+c1 == x+c2`, ite over constants), which decides most obligations without Z3.
public final class Term: Hashable, CustomStringConvertible, @unchecked Sendable {
    public enum Kind: Hashable {
        case const(UInt64)
        case bool(Bool)
        case variable(String)
        case boolVariable(String)
        case add, sub, and, or, xor, not, neg, mul
        case eq, ult, ule, slt, sle
        case ite, boolIte
        case allOf, anyOf, negation
    }
    public let kind: Kind
    public let args: [Term]
    public let id: Int
    public let isBool: Bool

    init(kind: Kind, args: [Term], id: Int, isBool: Bool) {
        self.kind = kind
        self.args = args
        self.id = id
        self.isBool = isBool
    }

    public static func == (a: Term, b: Term) -> Bool { a === b }
    public func hash(into h: inout Hasher) { h.combine(id) }

    public var constant: UInt64? { if case .const(let v) = kind { return v }; return nil }
    public var boolConstant: Bool? { if case .bool(let v) = kind { return v }; return nil }

    public var description: String {
        switch kind {
        case .const(let v): return v < 0x10000 ? "\(v)" : "0x" + String(v, radix: 16)
        case .bool(let b): return b ? "true" : "false"
        case .variable(let n), .boolVariable(let n): return n
        case .ite, .boolIte: return "ite(\(args[0]), \(args[1]), \(args[2]))"
        case .negation: return "!\(args[0])"
        case .not: return "~\(args[0])"
        case .neg: return "-\(args[0])"
        default:
            let op: String
            switch kind {
            case .add: op = "+"
            case .sub: op = "-"
            case .and: op = "&"
            case .or: op = "|"
            case .xor: op = "^"
            case .mul: op = "*"
            case .eq: op = "=="
            case .ult: op = "<u"
            case .ule: op = "<=u"
            case .slt: op = "<s"
            case .sle: op = "<=s"
            case .allOf: op = "&&"
            case .anyOf: op = "||"
            default: op = "?"
            }
            return "(" + args.map(\.description).joined(separator: " \(op) ") + ")"
        }
    }
}

/// Interns and simplifies terms. One factory per proof run (not shared across tasks).
public final class TermFactory {
    /// A term's identity as plain integers: the operator, a payload (a constant's value,
    /// a variable's name number) and up to three argument ids inline — cheap to hash,
    /// with no array or string per lookup.
    struct Key: Hashable {
        let op: UInt8
        let payload: UInt64
        let a: Int32, b: Int32, c: Int32
        let rest: [Int]?
    }
    private var names: [String: UInt64] = [:]

    private func opcode(_ kind: Term.Kind) -> (UInt8, UInt64) {
        switch kind {
        case .const(let v): return (0, v)
        case .bool(let b): return (1, b ? 1 : 0)
        case .variable(let n), .boolVariable(let n):
            let id: UInt64
            if let known = names[n] { id = known } else { id = UInt64(names.count); names[n] = id }
            if case .variable = kind { return (2, id) }
            return (3, id)
        case .add: return (4, 0)
        case .sub: return (5, 0)
        case .and: return (6, 0)
        case .or: return (7, 0)
        case .xor: return (8, 0)
        case .not: return (9, 0)
        case .neg: return (10, 0)
        case .mul: return (11, 0)
        case .eq: return (12, 0)
        case .ult: return (13, 0)
        case .ule: return (14, 0)
        case .slt: return (15, 0)
        case .sle: return (16, 0)
        case .ite: return (17, 0)
        case .boolIte: return (18, 0)
        case .allOf: return (19, 0)
        case .anyOf: return (20, 0)
        case .negation: return (21, 0)
        }
    }
    private var table: [Key: Term] = [:]
    private var nextID = 0
    public private(set) var variables: [String: Term] = [:]
    private var leavesMemo: [Int: [(Term, UInt64)]?] = [:]
    private var leafValuesMemo: [Int: Set<UInt64>?] = [:]
    private var loopMemo: [Int: Bool] = [:]

    public init() {}

    public var count: Int { nextID }

    private func make(_ kind: Term.Kind, _ args: [Term], isBool: Bool) -> Term {
        let (op, payload) = opcode(kind)
        let key: Key
        func id(_ i: Int) -> Int32 { Int32(truncatingIfNeeded: args[i].id) }
        switch args.count {
        case 0: key = Key(op: op, payload: payload, a: -1, b: -1, c: -1, rest: nil)
        case 1: key = Key(op: op, payload: payload, a: id(0), b: -1, c: -1, rest: nil)
        case 2: key = Key(op: op, payload: payload, a: id(0), b: id(1), c: -1, rest: nil)
        case 3: key = Key(op: op, payload: payload, a: id(0), b: id(1), c: id(2), rest: nil)
        default: key = Key(op: op, payload: payload, a: -2, b: -2, c: -2, rest: args.map(\.id))
        }
        if let t = table[key] { return t }
        let t = Term(kind: kind, args: args, id: nextID, isBool: isBool)
        nextID += 1
        table[key] = t
        return t
    }

    public func const(_ v: UInt64) -> Term { make(.const(v), [], isBool: false) }
    public func bool(_ b: Bool) -> Term { make(.bool(b), [], isBool: true) }
    public var trueTerm: Term { bool(true) }
    public var falseTerm: Term { bool(false) }

    public func variable(_ name: String) -> Term {
        let t = make(.variable(name), [], isBool: false)
        variables[name] = t
        return t
    }
    public func boolVariable(_ name: String) -> Term {
        let t = make(.boolVariable(name), [], isBool: true)
        variables[name] = t
        return t
    }

    /// Splits `x + c` into (x, c); a constant is (nil, c).
    private func linear(_ t: Term) -> (Term?, UInt64) {
        if let c = t.constant { return (nil, c) }
        if t.kind == .add, let c = t.args[1].constant { return (t.args[0], c) }
        return (t, 0)
    }

    public func add(_ a: Term, _ b: Term) -> Term {
        if let r = iteOverConstants(a, b, { $0 &+ $1 }) { return r }
        let (xa, ca) = linear(a), (xb, cb) = linear(b)
        let c = ca &+ cb
        switch (xa, xb) {
        case (nil, nil): return const(c)
        case (let x?, nil), (nil, let x?): return c == 0 ? x : make(.add, [x, const(c)], isBool: false)
        case (let x?, let y?):
            let (p, q) = x.id <= y.id ? (x, y) : (y, x)
            let s = make(.add, [p, q], isBool: false)
            return c == 0 ? s : make(.add, [s, const(c)], isBool: false)
        }
    }

    public func sub(_ a: Term, _ b: Term) -> Term {
        if a === b { return const(0) }
        let (xa, ca) = linear(a), (xb, cb) = linear(b)
        if let ite = iteOverConstants(a, b, { $0 &- $1 }) { return ite }
        if xa === xb { return const(ca &- cb) }
        if xb == nil { return add(a, const(0 &- cb)) }
        return make(.sub, [a, b], isBool: false)
    }

    /// Binary ops on an if-then-else tree of constants and a constant distribute over
    /// the leaves, keeping branch correlation visible to the simplifier (a merged rsp
    /// stays `ite(c, base-16, base-8)`, so addresses stay enumerable).
    private func iteOverConstants(_ a: Term, _ b: Term, _ f: (UInt64, UInt64) -> UInt64) -> Term? {
        if let ca = a.constant, let cb = b.constant { return const(f(ca, cb)) }
        if a.kind == .ite, let cb = b.constant { return mapLeaves(a) { f($0, cb) } }
        if b.kind == .ite, let ca = a.constant { return mapLeaves(b) { f(ca, $0) } }
        return nil
    }

    private func mapLeaves(_ t: Term, _ f: (UInt64) -> UInt64) -> Term? {
        if let c = t.constant { return const(f(c)) }
        guard t.kind == .ite, leafValues(t) != nil, let x = mapLeaves(t.args[1], f), let y = mapLeaves(t.args[2], f) else { return nil }
        return ite(t.args[0], x, y)
    }

    public func and(_ a: Term, _ b: Term) -> Term {
        if let r = iteOverConstants(a, b, { $0 & $1 }) { return r }
        // (x & k1) & k2 → x & (k1 & k2): a 32-bit test of a masked value is the same
        // term as the mask itself, so two tests of `cs & 3` correlate.
        if let k = b.constant, a.kind == .and, let k2 = a.args.compactMap(\.constant).first {
            return and(a.args.first { $0.constant == nil } ?? a, const(k & k2))
        }
        if let k = a.constant, b.kind == .and, b.args.contains(where: { $0.constant != nil }) { return and(b, const(k)) }
        if a === b { return a }
        if a.constant == 0 || b.constant == 0 { return const(0) }
        if a.constant == UInt64.max { return b }
        if b.constant == UInt64.max { return a }
        return make(.and, a.id <= b.id ? [a, b] : [b, a], isBool: false)
    }
    public func or(_ a: Term, _ b: Term) -> Term {
        if let r = iteOverConstants(a, b, { $0 | $1 }) { return r }
        if a === b { return a }
        if a.constant == 0 { return b }
        if b.constant == 0 { return a }
        return make(.or, a.id <= b.id ? [a, b] : [b, a], isBool: false)
    }
    public func xor(_ a: Term, _ b: Term) -> Term {
        if let r = iteOverConstants(a, b, { $0 ^ $1 }) { return r }
        if a === b { return const(0) }
        if a.constant == 0 { return b }
        if b.constant == 0 { return a }
        return make(.xor, a.id <= b.id ? [a, b] : [b, a], isBool: false)
    }
    public func mul(_ a: Term, _ b: Term) -> Term {
        if let r = iteOverConstants(a, b, { $0 &* $1 }) { return r }
        if a.constant == 1 { return b }
        if b.constant == 1 { return a }
        return make(.mul, [a, b], isBool: false)
    }
    public func not(_ a: Term) -> Term {
        if let c = a.constant { return const(~c) }
        if a.kind == .not { return a.args[0] }
        return make(.not, [a], isBool: false)
    }
    public func neg(_ a: Term) -> Term {
        if let c = a.constant { return const(0 &- c) }
        return make(.neg, [a], isBool: false)
    }

    public func eq(_ a: Term, _ b: Term) -> Term {
        if a === b { return trueTerm }
        if a.isBool {
            if let x = a.boolConstant { return x ? b : negation(b) }
            if let y = b.boolConstant { return y ? a : negation(a) }
            return make(.eq, a.id <= b.id ? [a, b] : [b, a], isBool: true)
        }
        let (xa, ca) = linear(a), (xb, cb) = linear(b)
        if xa === xb { return bool(ca == cb) }
        // ite(c, k1, k2) == k: decide per branch (branch correlation).
        if a.kind == .ite, b.constant != nil || b.kind == .ite || a.args[1].constant != nil {
            if b.constant != nil, leafValues(a) != nil {
                return boolIte(a.args[0], eq(a.args[1], b), eq(a.args[2], b))
            }
        }
        if b.kind == .ite, a.constant != nil { return eq(b, a) }
        if a.kind == .ite, b.kind != .ite, a.args[1] === b || a.args[2] === b {
            // ite(c, x, y) == x  ⇔  c || y == x
            let other = a.args[1] === b ? a.args[2] : a.args[1]
            let c = a.args[1] === b ? a.args[0] : negation(a.args[0])
            return anyOf([c, eq(other, b)])
        }
        if b.kind == .ite, a.kind != .ite { return eq(b, a) }
        if a.kind == .ite, b.kind == .ite, a.args[0] === b.args[0] {
            return boolIte(a.args[0], eq(a.args[1], b.args[1]), eq(a.args[2], b.args[2]))
        }
        // x + c1 == c2  →  x == c2 - c1
        if let x = xa, xb == nil, ca != 0 { return eq(x, const(cb &- ca)) }
        if let y = xb, xa == nil, cb != 0 { return eq(y, const(ca &- cb)) }
        return make(.eq, a.id <= b.id ? [a, b] : [b, a], isBool: true)
    }

    public func ult(_ a: Term, _ b: Term) -> Term {
        if let x = a.constant, let y = b.constant { return bool(x < y) }
        if a === b { return falseTerm }
        return make(.ult, [a, b], isBool: true)
    }
    public func ule(_ a: Term, _ b: Term) -> Term {
        if let x = a.constant, let y = b.constant { return bool(x <= y) }
        if a === b { return trueTerm }
        return make(.ule, [a, b], isBool: true)
    }
    public func slt(_ a: Term, _ b: Term) -> Term {
        if let x = a.constant, let y = b.constant { return bool(Int64(bitPattern: x) < Int64(bitPattern: y)) }
        if a === b { return falseTerm }
        return make(.slt, [a, b], isBool: true)
    }
    public func sle(_ a: Term, _ b: Term) -> Term {
        if let x = a.constant, let y = b.constant { return bool(Int64(bitPattern: x) <= Int64(bitPattern: y)) }
        if a === b { return trueTerm }
        return make(.sle, [a, b], isBool: true)
    }

    public func ite(_ c: Term, _ a: Term, _ b: Term) -> Term {
        if let k = c.boolConstant { return k ? a : b }
        if a === b { return a }
        if c.kind == .negation { return ite(c.args[0], b, a) }
        // ite(c, ite(c, x, _), y) → ite(c, x, y)
        if a.kind == .ite, a.args[0] === c { return ite(c, a.args[1], b) }
        if b.kind == .ite, b.args[0] === c { return ite(c, a, b.args[2]) }
        return make(.ite, [c, a, b], isBool: false)
    }

    public func boolIte(_ c: Term, _ a: Term, _ b: Term) -> Term {
        if let k = c.boolConstant { return k ? a : b }
        if a === b { return a }
        // The condition itself in a branch (GS state after a `swapgs` on one side).
        if a === c { return anyOf([c, b]) }
        if b === c { return allOf([c, a]) }
        if a === negation(c) { return allOf([a, b]) }
        if b === negation(c) { return anyOf([b, a]) }
        if let x = a.boolConstant, let y = b.boolConstant { return x && !y ? c : (!x && y ? negation(c) : (x ? trueTerm : falseTerm)) }
        if let x = a.boolConstant { return x ? anyOf([c, b]) : allOf([negation(c), b]) }
        if let y = b.boolConstant { return y ? anyOf([negation(c), a]) : allOf([c, a]) }
        return make(.boolIte, [c, a, b], isBool: true)
    }

    public func negation(_ a: Term) -> Term {
        if let k = a.boolConstant { return bool(!k) }
        if a.kind == .negation { return a.args[0] }
        return make(.negation, [a], isBool: true)
    }

    public func allOf(_ xs: [Term]) -> Term {
        var parts: [Term] = []
        var seen: Set<Int> = []
        for x in xs {
            let items = x.kind == .allOf ? x.args : [x]
            for i in items {
                if i.boolConstant == true { continue }
                if i.boolConstant == false { return falseTerm }
                if seen.insert(i.id).inserted { parts.append(i) }
            }
        }
        for p in parts where seen.contains(negation(p).id) { return falseTerm }
        if parts.isEmpty { return trueTerm }
        if parts.count == 1 { return parts[0] }
        parts.sort { $0.id < $1.id }
        return make(.allOf, parts, isBool: true)
    }

    public func anyOf(_ xs: [Term]) -> Term {
        var parts: [Term] = []
        var seen: Set<Int> = []
        for x in xs {
            let items = x.kind == .anyOf ? x.args : [x]
            for i in items {
                if i.boolConstant == false { continue }
                if i.boolConstant == true { return trueTerm }
                if seen.insert(i.id).inserted { parts.append(i) }
            }
        }
        for p in parts where seen.contains(negation(p).id) { return trueTerm }
        // (P && c) || (P && !c) → P: the join of a diamond gives back its fork's condition.
        if parts.count == 2 {
            let a = parts[0].kind == .allOf ? parts[0].args : [parts[0]]
            let b = parts[1].kind == .allOf ? parts[1].args : [parts[1]]
            if a.count == b.count {
                let sa = Set(a.map(\.id)), sb = Set(b.map(\.id))
                let onlyA = a.filter { !sb.contains($0.id) }, onlyB = b.filter { !sa.contains($0.id) }
                if onlyA.count == 1, onlyB.count == 1, negation(onlyA[0]) === onlyB[0] {
                    return allOf(a.filter { sb.contains($0.id) })
                }
            }
            // P || (P && x) → P
            if sbSubset(a, of: b) { return parts[0] }
            if sbSubset(b, of: a) { return parts[1] }
        }
        if parts.isEmpty { return falseTerm }
        if parts.count == 1 { return parts[0] }
        parts.sort { $0.id < $1.id }
        return make(.anyOf, parts, isBool: true)
    }

    private func sbSubset(_ a: [Term], of b: [Term]) -> Bool {
        let sb = Set(b.map(\.id))
        return a.allSatisfy { sb.contains($0.id) }
    }

    /// Names of the variables a term mentions.
    public func variableNames(_ t: Term) -> Set<String> {
        var seen: Set<Int> = []
        var out: Set<String> = []
        var work = [t]
        while let x = work.popLast() {
            guard seen.insert(x.id).inserted else { continue }
            switch x.kind {
            case .variable(let n), .boolVariable(let n): out.insert(n)
            default: work += x.args
            }
        }
        return out
    }

    /// The possible constant values of an address term with their guards, or nil when
    /// the term is not a tree of if-then-else over constants. Memoised: addresses are
    /// asked for at every access.
    public func leaves(_ t: Term) -> [(Term, UInt64)]? {
        if let c = t.constant { return [(trueTerm, c)] }
        guard t.kind == .ite else { return nil }
        if let cached = leavesMemo[t.id] { return cached }
        var result: [(Term, UInt64)]?
        if let a = leaves(t.args[1]), let b = leaves(t.args[2]) {
            let c = t.args[0]
            result = a.map { (allOf([c, $0.0]), $0.1) } + b.map { (allOf([negation(c), $0.0]), $0.1) }
        }
        leavesMemo[t.id] = .some(result)
        return result
    }

    /// Whether a term depends on a loop-head variable (a widened state's world).
    public func mentionsLoopVariable(_ t: Term) -> Bool {
        switch t.kind {
        case .variable(let n), .boolVariable(let n): return n.hasPrefix("loop@")
        case .const, .bool: return false
        default:
            if let cached = loopMemo[t.id] { return cached }
            let r = t.args.contains { mentionsLoopVariable($0) }
            loopMemo[t.id] = r
            return r
        }
    }

    /// Just the constants of `leaves`, without building guards.
    public func leafValues(_ t: Term) -> Set<UInt64>? {
        if let c = t.constant { return [c] }
        guard t.kind == .ite else { return nil }
        if let cached = leafValuesMemo[t.id] { return cached }
        var result: Set<UInt64>?
        if let a = leafValues(t.args[1]), let b = leafValues(t.args[2]) { result = a.union(b) }
        leafValuesMemo[t.id] = .some(result)
        return result
    }
}
