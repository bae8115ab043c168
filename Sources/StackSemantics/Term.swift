import Foundation

/// A symbolic 64-bit or boolean expression: the value domain of the proof run.
/// Terms are interned by a `TermFactory`, so structurally equal terms are the same
/// node and equality is identity. Construction simplifies eagerly (constant folding,
/// `x+c1 == x+c2`, ite over constants), which decides most obligations without Z3.
///
/// A term is a plain reference to a node its factory's store holds, without reference
/// counting: states, merges and obligations copy terms by the hundred thousand, and
/// counting those copies (a strong reference) cost 12.8% of a proof run. It stays
/// memory-safe when kept past its factory: stores are never deallocated (a finished
/// factory's store is emptied and reused by the next), and a term carries the store's
/// generation, so reading a term whose factory has ended traps instead of reading
/// freed memory.
public struct Term: Hashable, CustomStringConvertible {
    /// The operator, as a byte: what the simplifier tests on every construction.
    public enum Op: UInt8, Sendable {
        case const, bool, variable, boolVariable
        case add, sub, and, or, xor, not, neg, mul
        case eq, ult, ule, slt, sle
        case ite, boolIte
        case allOf, anyOf, negation
        /// Shifts by a 64-bit amount, as SMT-LIB's bvshl/bvlshr/bvashr: an amount of 64
        /// or more shifts every bit out (ashr: fills with the sign).
        case shl, lshr, ashr
    }
    // Safe unowned: stores live as long as the process (TermStore.Pool).
    unowned(unsafe) let store: TermStore
    let index: Int32
    /// The store's generation when the term was made.
    let generation: UInt32

    init(_ store: TermStore, _ index: Int32) {
        self.store = store
        self.index = index
        generation = store.generation
    }

    init(_ store: TermStore, _ index: Int32, generation: UInt32) {
        self.store = store
        self.index = index
        self.generation = generation
    }

    /// Whether the term's factory is still alive (every accessor but `id` and equality
    /// traps when it is not).
    public var isAlive: Bool { store.generation == generation }

    var node: TermStore.Node {
        precondition(store.generation == generation, "a term was used after its TermFactory ended")
        return store.nodes[Int(index)]
    }
    public var op: Op { node.op }
    /// A constant's value, a boolean constant's 0/1, a variable's name number.
    public var payload: UInt64 { node.payload }
    /// A variable's name (empty for other terms).
    public var name: String {
        let n = node
        return n.op == .variable || n.op == .boolVariable ? store.names[Int(n.payload)] : ""
    }
    public var args: TermArgs {
        let n = node
        return TermArgs(store: store, generation: generation, start: Int(n.argStart), count: Int(n.argCount))
    }
    public var id: Int { Int(index) }
    public var isBool: Bool { node.isBool }

    public static func == (a: Term, b: Term) -> Bool { a.index == b.index && a.store === b.store && a.generation == b.generation }
    public func hash(into h: inout Hasher) { h.combine(id) }

    // One read of the node (each read checks the term is alive).
    public var constant: UInt64? {
        let n = node
        return n.op == .const ? n.payload : nil
    }
    public var boolConstant: Bool? {
        let n = node
        return n.op == .bool ? n.payload != 0 : nil
    }

    public var description: String {
        switch op {
        case .const: return payload < 0x10000 ? "\(payload)" : "0x" + String(payload, radix: 16)
        case .bool: return payload != 0 ? "true" : "false"
        case .variable, .boolVariable: return name
        case .ite, .boolIte: return "ite(\(args[0]), \(args[1]), \(args[2]))"
        case .negation: return "!\(args[0])"
        case .not: return "~\(args[0])"
        case .neg: return "-\(args[0])"
        default:
            let symbol: String
            switch op {
            case .add: symbol = "+"
            case .sub: symbol = "-"
            case .and: symbol = "&"
            case .or: symbol = "|"
            case .xor: symbol = "^"
            case .mul: symbol = "*"
            case .eq: symbol = "=="
            case .ult: symbol = "<u"
            case .ule: symbol = "<=u"
            case .slt: symbol = "<s"
            case .sle: symbol = "<=s"
            case .allOf: symbol = "&&"
            case .anyOf: symbol = "||"
            case .shl: symbol = "<<"
            case .lshr: symbol = ">>u"
            case .ashr: symbol = ">>s"
            default: symbol = "?"
            }
            return "(" + args.map(\.description).joined(separator: " \(symbol) ") + ")"
        }
    }
}

/// The arguments of a term, read in place from its factory's storage.
public struct TermArgs: RandomAccessCollection {
    unowned(unsafe) let store: TermStore
    let generation: UInt32
    let start: Int
    public let count: Int
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(i: Int) -> Term {
        precondition(store.generation == generation, "a term was used after its TermFactory ended")
        return Term(store, store.arguments[start + i], generation: generation)
    }
}

/// Every term of one factory, by id, in flat storage: a term costs no allocation of its
/// own, and a run's terms are freed in a few blocks, not one by one.
final class TermStore {
    /// Stores of ended factories, emptied, for the next ones. A store is never freed,
    /// so a term that outlives its factory still points at a live object.
    final class Pool: @unchecked Sendable {
        // Guarded by `lock`: factories are made and ended on many tasks.
        private let lock = NSLock()
        private var free: [TermStore] = []

        func take() -> TermStore {
            lock.lock()
            defer { lock.unlock() }
            return free.popLast() ?? TermStore()
        }

        func give(_ store: TermStore) {
            store.clear()
            lock.lock()
            defer { lock.unlock() }
            free.append(store)
        }
    }
    static let pool = Pool()

    /// Bumped each time the store is emptied: terms made before are stale.
    @exclusivity(unchecked) private(set) var generation: UInt32 = 0
    struct Node {
        var op: Term.Op
        var isBool: Bool
        /// Memoised tree walks: 0 not asked, 1 no, 2 yes.
        var mentionsLoop: UInt8 = 0
        /// A conjunction may have thousands of parts.
        var argCount: Int32
        var argStart: Int32
        /// Index into `memos`, -1 when the term has none yet.
        var memo: Int32 = -1
        var payload: UInt64
    }
    /// Per-term memos of the factory's tree walks, for the few terms asked.
    struct Memo {
        var leaves: [(Term, UInt64)]??
        var leafValues: ConstantSet??
        var loopHeads: SortedSet<Int>?
        var possibleConstants: ConstantSet?
    }
    @exclusivity(unchecked) var nodes: UnsafeMutablePointer<Node>
    @exclusivity(unchecked) var count = 0
    @exclusivity(unchecked) var capacity = 1 << 10
    @exclusivity(unchecked) var arguments: UnsafeMutablePointer<Int32>
    @exclusivity(unchecked) var argumentCount = 0
    @exclusivity(unchecked) var argumentCapacity = 1 << 11
    /// Variable names, by a variable's payload.
    @exclusivity(unchecked) var names: [String] = []
    @exclusivity(unchecked) var memos: [Memo] = []

    private static let initialCapacity = 1 << 10, initialArgumentCapacity = 1 << 11

    private init() {
        nodes = .allocate(capacity: capacity)
        arguments = .allocate(capacity: argumentCapacity)
    }

    /// Frees every term (back to the first blocks' size) and starts a new generation.
    private func clear() {
        nodes.deinitialize(count: count)
        generation &+= 1
        count = 0
        argumentCount = 0
        names = []
        memos = []
        if capacity > Self.initialCapacity {
            nodes.deallocate()
            capacity = Self.initialCapacity
            nodes = .allocate(capacity: capacity)
        }
        if argumentCapacity > Self.initialArgumentCapacity {
            arguments.deallocate()
            argumentCapacity = Self.initialArgumentCapacity
            arguments = .allocate(capacity: argumentCapacity)
        }
    }

    func append(_ op: Term.Op, _ payload: UInt64, isBool: Bool, arity: Int, _ argument: (Int) -> Int32) -> Int32 {
        if count == capacity {
            let grown = UnsafeMutablePointer<Node>.allocate(capacity: capacity * 2)
            grown.moveInitialize(from: nodes, count: count)
            nodes.deallocate()
            nodes = grown
            capacity *= 2
        }
        while argumentCount + arity > argumentCapacity {
            let grown = UnsafeMutablePointer<Int32>.allocate(capacity: argumentCapacity * 2)
            grown.moveInitialize(from: arguments, count: argumentCount)
            arguments.deallocate()
            arguments = grown
            argumentCapacity *= 2
        }
        for k in 0..<arity { arguments[argumentCount + k] = argument(k) }
        (nodes + count).initialize(to: Node(op: op, isBool: isBool, argCount: Int32(arity), argStart: Int32(argumentCount), payload: payload))
        argumentCount += arity
        count += 1
        return Int32(count - 1)
    }

    /// Term `i`'s memo record, if it has one. The fields are read in place by the
    /// three accessors below (a key path costs more than the walk it saves).
    @inline(__always) private func memoIndex(_ i: Int32) -> Int? {
        let m = nodes[Int(i)].memo
        return m < 0 ? nil : Int(m)
    }
    func leavesMemo(_ i: Int32) -> [(Term, UInt64)]?? { memoIndex(i).flatMap { memos[$0].leaves } }
    func leafValuesMemo(_ i: Int32) -> ConstantSet?? { memoIndex(i).flatMap { memos[$0].leafValues } }
    func loopHeadsMemo(_ i: Int32) -> SortedSet<Int>? { memoIndex(i).flatMap { memos[$0].loopHeads } }
    func possibleConstantsMemo(_ i: Int32) -> ConstantSet? { memoIndex(i).flatMap { memos[$0].possibleConstants } }
    func setMemo(_ i: Int32, _ change: (inout Memo) -> Void) {
        var m = nodes[Int(i)].memo
        if m < 0 {
            m = Int32(memos.count)
            memos.append(Memo())
            nodes[Int(i)].memo = m
        }
        change(&memos[Int(m)])
    }
}

/// Terms are the same exactly when they are the same node (interning).
public func === (a: Term, b: Term) -> Bool { a == b }
public func !== (a: Term, b: Term) -> Bool { !(a == b) }
/// As for class references: two absent terms are the same.
public func === (a: Term?, b: Term?) -> Bool { a == b }
public func !== (a: Term?, b: Term?) -> Bool { !(a == b) }

/// Interns and simplifies terms. One factory per proof run (not shared across tasks).
public final class TermFactory {
    /// The interning table: open addressing over term ids, hashed from the operator,
    /// the payload and the argument ids with a multiply-xorshift mix (the standard
    /// library's seeded SipHash was a sixth of a proof run).
    // The factory belongs to one run on one thread and never hands out `inout` access
    // to these: the runtime's exclusivity checks on every term construction are
    // switched off for them.
    @exclusivity(unchecked) private var table: UnsafeMutablePointer<Int32>
    @exclusivity(unchecked) private var capacity = 1 << 12
    let store = TermStore.pool.take()
    @exclusivity(unchecked) private var bitVectorVariables = VariableTable()
    @exclusivity(unchecked) private var booleanVariables = VariableTable()
    /// Constants below this are kept in an array once made, not looked up in the
    /// table. Terms are numbered in the order a run first asks for them, whatever
    /// the caches: numbering decides the order of commutative arguments, hence the
    /// solver's models and the counterexamples users see.
    private static let smallConstants = 256
    @exclusivity(unchecked) private var small: [Term?] = Array(repeating: nil, count: TermFactory.smallConstants)
    @exclusivity(unchecked) private var booleans: [Term?] = [nil, nil]
    /// Kept between queries decided by cases (see CaseSplit.swift).
    @exclusivity(unchecked) var caseSplitMemo: CaseSplit.Memo?
    /// Every variable made so far, by name.
    public var variables: [String: Term] { bitVectorVariables.dictionary.merging(booleanVariables.dictionary) { bv, _ in bv } }

    /// A raw factory builds every term exactly as asked — no folding, no rewriting, only
    /// sharing of identical nodes — for certificates whose solver check must redo what
    /// the simplifier decided.
    public let isRaw: Bool

    public init(raw: Bool = false) {
        isRaw = raw
        table = .allocate(capacity: capacity)
        table.initialize(repeating: -1, count: capacity)
    }

    deinit {
        table.deallocate()
        TermStore.pool.give(store)
    }

    public var count: Int { store.count }

    @inline(__always) private static func hashStart(_ op: Term.Op, _ payload: UInt64) -> UInt64 {
        let h = (UInt64(op.rawValue) &+ 1) &* 0x9E37_79B9_7F4A_7C15 ^ payload
        return (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
    }
    @inline(__always) private static func hashMix(_ h: UInt64, _ id: Int32) -> UInt64 {
        let m = (h ^ UInt64(truncatingIfNeeded: Int(id))) &* 0x94D0_49BB_1331_11EB
        return m ^ (m >> 31)
    }
    @inline(__always) private static func hashFinish(_ h: UInt64) -> UInt64 { h ^ (h >> 32) }

    /// The table hash of stored term `i`.
    private func storedHash(_ i: Int) -> UInt64 {
        let n = store.nodes[i]
        var h = Self.hashStart(n.op, n.payload)
        for k in 0..<Int(n.argCount) { h = Self.hashMix(h, store.arguments[Int(n.argStart) + k]) }
        return Self.hashFinish(h)
    }

    private func grow() {
        table.deallocate()
        capacity *= 2
        table = .allocate(capacity: capacity)
        table.initialize(repeating: -1, count: capacity)
        let mask = capacity - 1
        for t in 0..<store.count {
            var i = Int(truncatingIfNeeded: storedHash(t)) & mask
            while table[i] >= 0 { i = (i + 1) & mask }
            table[i] = Int32(t)
        }
    }

    /// Whether stored term `id` is `op(payload; args)`.
    @inline(__always) private func matches(_ id: Int32, _ op: Term.Op, _ payload: UInt64, _ arity: Int, _ arg: (Int) -> Int32) -> Bool {
        let n = store.nodes[Int(id)]
        guard n.op == op && n.payload == payload && Int(n.argCount) == arity else { return false }
        for k in 0..<arity where store.arguments[Int(n.argStart) + k] != arg(k) { return false }
        return true
    }

    /// The term `op(payload; args)`: found in the table or added to it.
    @inline(__always) private func intern(_ op: Term.Op, _ payload: UInt64, isBool: Bool, arity: Int, hash h: UInt64, _ arg: (Int) -> Int32) -> Term {
        let mask = capacity - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let id = table[i]
            if id < 0 { break }
            if matches(id, op, payload, arity, arg) { return Term(store, id) }
            i = (i + 1) & mask
        }
        let id = store.append(op, payload, isBool: isBool, arity: arity, arg)
        table[i] = id
        if store.count * 2 > capacity { grow() }
        return Term(store, id)
    }

    /// Traps unless `t` is one of this factory's terms: a node that took another
    /// factory's term id would read past the end of this store.
    @inline(__always) private func own(_ t: Term) {
        precondition(t.store === store && t.generation == store.generation, "a term of another TermFactory")
    }

    private func make(_ op: Term.Op, _ payload: UInt64, _ args: [Term], isBool: Bool) -> Term {
        var h = Self.hashStart(op, payload)
        for a in args {
            own(a)
            h = Self.hashMix(h, a.index)
        }
        return intern(op, payload, isBool: isBool, arity: args.count, hash: Self.hashFinish(h)) { args[$0].index }
    }

    private func make(_ op: Term.Op, _ args: [Term], isBool: Bool) -> Term { make(op, 0, args, isBool: isBool) }

    /// A raw factory's term: the operation evaluated when its operands are constants (an
    /// ite when its condition is), otherwise the node as asked.
    private func raw(_ op: Term.Op, _ args: [Term], isBool: Bool) -> Term {
        if op == .ite || op == .boolIte, let c = args[0].boolConstant { return c ? args[1] : args[2] }
        var values: [UInt64] = []
        for a in args {
            guard a.op == .const || a.op == .bool else { return make(op, args, isBool: isBool) }
            values.append(a.payload)
        }
        guard let v = op.evaluate(values) else { return make(op, args, isBool: isBool) }
        return isBool ? bool(v != 0) : const(v)
    }

    // Fixed arities build no argument array.
    private func make(_ op: Term.Op, _ a: Term, isBool: Bool) -> Term {
        own(a)
        let h = Self.hashFinish(Self.hashMix(Self.hashStart(op, 0), a.index))
        return intern(op, 0, isBool: isBool, arity: 1, hash: h) { _ in a.index }
    }
    private func make(_ op: Term.Op, _ a: Term, _ b: Term, isBool: Bool) -> Term {
        own(a)
        own(b)
        let h = Self.hashFinish(Self.hashMix(Self.hashMix(Self.hashStart(op, 0), a.index), b.index))
        return intern(op, 0, isBool: isBool, arity: 2, hash: h) { $0 == 0 ? a.index : b.index }
    }
    private func make(_ op: Term.Op, _ a: Term, _ b: Term, _ c: Term, isBool: Bool) -> Term {
        own(a)
        own(b)
        own(c)
        let h = Self.hashFinish(Self.hashMix(Self.hashMix(Self.hashMix(Self.hashStart(op, 0), a.index), b.index), c.index))
        return intern(op, 0, isBool: isBool, arity: 3, hash: h) { $0 == 0 ? a.index : ($0 == 1 ? b.index : c.index) }
    }
    /// `op(a, b)` with the arguments in id order (commutative operators).
    private func commutative(_ op: Term.Op, _ a: Term, _ b: Term, isBool: Bool) -> Term {
        a.id <= b.id ? make(op, a, b, isBool: isBool) : make(op, b, a, isBool: isBool)
    }

    public func const(_ v: UInt64) -> Term {
        guard v < UInt64(Self.smallConstants) else { return make(.const, v, [], isBool: false) }
        if let t = small[Int(v)] { return t }
        let t = make(.const, v, [], isBool: false)
        small[Int(v)] = t
        return t
    }
    public func bool(_ b: Bool) -> Term {
        if let t = booleans[b ? 1 : 0] { return t }
        let t = make(.bool, b ? 1 : 0, [], isBool: true)
        booleans[b ? 1 : 0] = t
        return t
    }
    public var trueTerm: Term { bool(true) }
    public var falseTerm: Term { bool(false) }

    public func variable(_ name: String) -> Term {
        let hash = VariableTable.hash(name)
        if let t = bitVectorVariables.term(named: name, hash: hash) { return t }
        let t = makeVariable(name, .variable)
        bitVectorVariables.insert(t, named: name, hash: hash)
        return t
    }
    public func boolVariable(_ name: String) -> Term {
        let hash = VariableTable.hash(name)
        if let t = booleanVariables.term(named: name, hash: hash) { return t }
        let t = makeVariable(name, .boolVariable)
        booleanVariables.insert(t, named: name, hash: hash)
        return t
    }

    /// A new variable term. Callers look the name up first (a run asks for each input
    /// many times, and that one lookup is then all it costs), so the table never has to
    /// find a variable: its payload is just a fresh number.
    private func makeVariable(_ name: String, _ op: Term.Op) -> Term {
        store.names.append(name)
        return make(op, UInt64(store.names.count - 1), [], isBool: op == .boolVariable)
    }

    // The operators below rewrite by `RewriteRules`, through the code generated from
    // them (RewriteRules+Generated.swift); a term no rule rewrites is made as the node
    // `RewriteRules.nodeOrder` says.

    public func add(_ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.add, [a, b], isBool: false) }
        return rewritten(.add, a, b, isBool: false)
    }
    public func sub(_ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.sub, [a, b], isBool: false) }
        return rewritten(.sub, a, b, isBool: false)
    }
    public func and(_ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.and, [a, b], isBool: false) }
        return rewritten(.and, a, b, isBool: false)
    }
    public func or(_ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.or, [a, b], isBool: false) }
        return rewritten(.or, a, b, isBool: false)
    }
    public func xor(_ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.xor, [a, b], isBool: false) }
        return rewritten(.xor, a, b, isBool: false)
    }
    public func mul(_ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.mul, [a, b], isBool: false) }
        return rewritten(.mul, a, b, isBool: false)
    }
    public func shl(_ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.shl, [a, b], isBool: false) }
        return rewritten(.shl, a, b, isBool: false)
    }
    public func lshr(_ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.lshr, [a, b], isBool: false) }
        return rewritten(.lshr, a, b, isBool: false)
    }
    public func ashr(_ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.ashr, [a, b], isBool: false) }
        return rewritten(.ashr, a, b, isBool: false)
    }
    public func not(_ a: Term) -> Term {
        if isRaw { return raw(.not, [a], isBool: false) }
        return rewritten(.not, a, isBool: false)
    }
    public func neg(_ a: Term) -> Term {
        if isRaw { return raw(.neg, [a], isBool: false) }
        return rewritten(.neg, a, isBool: false)
    }
    public func eq(_ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.eq, [a, b], isBool: true) }
        return rewritten(.eq, a, b, isBool: true)
    }
    public func ult(_ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.ult, [a, b], isBool: true) }
        return rewritten(.ult, a, b, isBool: true)
    }
    public func ule(_ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.ule, [a, b], isBool: true) }
        return rewritten(.ule, a, b, isBool: true)
    }
    public func slt(_ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.slt, [a, b], isBool: true) }
        return rewritten(.slt, a, b, isBool: true)
    }
    public func sle(_ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.sle, [a, b], isBool: true) }
        return rewritten(.sle, a, b, isBool: true)
    }
    public func ite(_ c: Term, _ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.ite, [c, a, b], isBool: false) }
        if let t = applyRules(.ite, c, a, b) { return t }
        return make(.ite, c, a, b, isBool: false)
    }
    public func boolIte(_ c: Term, _ a: Term, _ b: Term) -> Term {
        if isRaw { return raw(.boolIte, [c, a, b], isBool: true) }
        if let t = applyRules(.boolIte, c, a, b) { return t }
        return make(.boolIte, c, a, b, isBool: true)
    }
    public func negation(_ a: Term) -> Term {
        if isRaw { return raw(.negation, [a], isBool: true) }
        return rewritten(.negation, a, isBool: true)
    }

    @inline(__always) private func rewritten(_ op: Term.Op, _ a: Term, _ b: Term, isBool: Bool) -> Term {
        if let t = applyRules(op, a, b) { return t }
        return RewriteRules.nodeOrder(op) == .ordered ? commutative(op, a, b, isBool: isBool) : make(op, a, b, isBool: isBool)
    }
    @inline(__always) private func rewritten(_ op: Term.Op, _ a: Term, isBool: Bool) -> Term {
        if let t = applyRules(op, a) { return t }
        return make(op, a, isBool: isBool)
    }

    /// A rule's node, made as given (RewriteRules+Generated.swift).
    func node(_ op: Term.Op, _ a: Term, isBool: Bool) -> Term { make(op, a, isBool: isBool) }
    func node(_ op: Term.Op, _ a: Term, _ b: Term, isBool: Bool) -> Term { make(op, a, b, isBool: isBool) }
    func node(_ op: Term.Op, _ a: Term, _ b: Term, _ c: Term, isBool: Bool) -> Term { make(op, a, b, c, isBool: isBool) }
    func commutativeNode(_ op: Term.Op, _ a: Term, _ b: Term, isBool: Bool) -> Term { commutative(op, a, b, isBool: isBool) }

    /// The distinct parts of `op(xs)` with nested `op`s flattened and the identity
    /// constant dropped; nil when a part is the absorbing constant.
    private func distinctParts(_ xs: [Term], of op: Term.Op, absorbing: Bool) -> PartSet? {
        var set = PartSet()
        func take(_ t: Term) -> Bool {
            if let k = t.boolConstant { return k != absorbing }
            set.insert(t)
            return true
        }
        for x in xs {
            if x.op == op {
                for i in x.args where !take(i) { return nil }
            } else if !take(x) {
                return nil
            }
        }
        return set
    }

    public func allOf(_ xs: [Term]) -> Term {
        if isRaw { return xs.isEmpty ? trueTerm : raw(.allOf, xs, isBool: true) }
        guard let parts = distinctParts(xs, of: .allOf, absorbing: false) else { return falseTerm }
        for p in parts.terms where parts.contains(negation(p).id) { return falseTerm }
        if parts.terms.isEmpty { return trueTerm }
        if parts.terms.count == 1 { return parts.terms[0] }
        return make(.allOf, parts.terms.sorted { $0.id < $1.id }, isBool: true)
    }

    /// `allOf([a, b])` and `anyOf([a, b])`, without the array when a side is a
    /// constant or both are one term (most reaches and guards are plainly true).
    public func both(_ a: Term, _ b: Term) -> Term { pair(a, b, .allOf) }
    public func either(_ a: Term, _ b: Term) -> Term { pair(a, b, .anyOf) }

    /// Makes the same terms in the same order as `allOf`/`anyOf` — the negation their
    /// contradiction check asks for — since term numbers decide argument order, hence
    /// the solver's models.
    private func pair(_ a: Term, _ b: Term, _ op: Term.Op) -> Term {
        if isRaw { return raw(op, [a, b], isBool: true) }
        // The constant that decides: false for a conjunction, true for a disjunction.
        let absorbing = op == .anyOf
        if a.boolConstant == absorbing || b.boolConstant == absorbing { return bool(absorbing) }
        if a.boolConstant == !absorbing, b.op != op {
            if b.boolConstant == nil { _ = negation(b) }
            return b
        }
        if b.boolConstant == !absorbing || a == b, a.op != op {
            _ = negation(a)
            return a
        }
        return op == .allOf ? allOf([a, b]) : anyOf([a, b])
    }

    public func anyOf(_ xs: [Term]) -> Term {
        if isRaw { return xs.isEmpty ? falseTerm : raw(.anyOf, xs, isBool: true) }
        guard let set = distinctParts(xs, of: .anyOf, absorbing: true) else { return trueTerm }
        for p in set.terms where set.contains(negation(p).id) { return trueTerm }
        let parts = set.terms
        // (P && c) || (P && !c) → P: the join of a diamond gives back its fork's condition.
        if parts.count == 2 {
            let a = parts[0].op == .allOf ? Array(parts[0].args) : [parts[0]]
            let b = parts[1].op == .allOf ? Array(parts[1].args) : [parts[1]]
            if a.count == b.count {
                let onlyA = a.filter { x in !b.contains { $0 === x } }, onlyB = b.filter { x in !a.contains { $0 === x } }
                if onlyA.count == 1, onlyB.count == 1, negation(onlyA[0]) === onlyB[0] {
                    return allOf(a.filter { x in b.contains { $0 === x } })
                }
            }
            // P || (P && x) → P
            if sbSubset(a, of: b) { return parts[0] }
            if sbSubset(b, of: a) { return parts[1] }
        }
        if parts.isEmpty { return falseTerm }
        if parts.count == 1 { return parts[0] }
        return make(.anyOf, parts.sorted { $0.id < $1.id }, isBool: true)
    }

    private func sbSubset(_ a: [Term], of b: [Term]) -> Bool {
        a.allSatisfy { x in b.contains { $0 === x } }
    }

    /// Names of the variables a term mentions.
    public func variableNames(_ t: Term) -> Set<String> {
        var seen: Set<Int> = []
        var out: Set<String> = []
        var work = [t]
        while let x = work.popLast() {
            guard seen.insert(x.id).inserted else { continue }
            if x.op == .variable || x.op == .boolVariable { out.insert(x.name) } else { work += x.args }
        }
        return out
    }

    /// The possible constant values of an address term with their guards, or nil when
    /// the term is not a tree of if-then-else over constants. Memoised: addresses are
    /// asked for at every access.
    public func leaves(_ t: Term) -> [(Term, UInt64)]? {
        guard t.op == .ite || t.op == .const else { return nil }
        if let cached = store.leavesMemo(t.index) { return cached }
        if let c = t.constant {
            // Kept too: rsp is a constant, and its one leaf is asked for at every access.
            let result = [(trueTerm, c)]
            store.setMemo(t.index) { $0.leaves = .some(result) }
            return result
        }
        var result: [(Term, UInt64)]?
        if let a = leaves(t.args[1]), let b = leaves(t.args[2]) {
            let c = t.args[0]
            result = a.map { (allOf([c, $0.0]), $0.1) } + b.map { (allOf([negation(c), $0.0]), $0.1) }
        }
        store.setMemo(t.index) { $0.leaves = .some(result) }
        return result
    }

    /// Whether a term depends on a loop-head variable (a widened state's world).
    public func mentionsLoopVariable(_ t: Term) -> Bool {
        switch t.op {
        case .variable, .boolVariable: return t.name.hasPrefix("loop@")
        case .const, .bool: return false
        default:
            let cached = store.nodes[t.id].mentionsLoop
            if cached != 0 { return cached == 2 }
            let r = t.args.contains { mentionsLoopVariable($0) }
            store.nodes[t.id].mentionsLoop = r ? 2 : 1
            return r
        }
    }

    /// The loop heads whose variables (`loop@H.…`) a term mentions. Memoised: loop
    /// checks ask it of every part of every widened state on every pass.
    public func loopHeadsMentioned(_ t: Term) -> SortedSet<Int> {
        switch t.op {
        case .const, .bool:
            return []
        case .variable, .boolVariable:
            return Self.loopHead(ofVariable: t.name).map { SortedSet($0) } ?? []
        default:
            guard mentionsLoopVariable(t) else { return [] }
            if let cached = store.loopHeadsMemo(t.index) { return cached }
            var result: SortedSet<Int> = []
            for a in t.args { result.formUnion(loopHeadsMentioned(a)) }
            store.setMemo(t.index) { $0.loopHeads = result }
            return result
        }
    }

    /// H of a loop variable's name `loop@H.…`.
    static func loopHead(ofVariable name: String) -> Int? {
        let u = name.utf8
        guard u.starts(with: "loop@".utf8) else { return nil }
        var head = 0, digits = 0
        for byte in u.dropFirst(5) {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
            head = head &* 10 &+ Int(byte - UInt8(ascii: "0"))
            digits += 1
        }
        return digits > 0 && u.dropFirst(5 + digits).first == UInt8(ascii: ".") ? head : nil
    }

    /// The constants `t` is on the runs where it is one: through selections and
    /// constant offsets, leaving out the runs where it is not (`ite(c, S, rdi) + 8`
    /// gives {S + 8}). A superset of what a run can reach: guards are not consulted.
    public func possibleConstants(_ t: Term) -> ConstantSet {
        if let c = t.constant { return ConstantSet(c) }
        switch t.op {
        case .ite, .add, .sub: break
        default: return ConstantSet()
        }
        if let cached = store.possibleConstantsMemo(t.index) { return cached }
        var result = ConstantSet()
        switch t.op {
        case .ite:
            result = possibleConstants(t.args[1])
            result.formUnion(possibleConstants(t.args[2]))
        case .add where t.args.count == 2:
            if let k = t.args[0].constant {
                for v in possibleConstants(t.args[1]).values { result.insert(k &+ v) }
            } else if let k = t.args[1].constant {
                for v in possibleConstants(t.args[0]).values { result.insert(v &+ k) }
            }
        case .sub where t.args.count == 2:
            if let k = t.args[1].constant {
                for v in possibleConstants(t.args[0]).values { result.insert(v &- k) }
            } else if let k = t.args[0].constant {
                for v in possibleConstants(t.args[1]).values { result.insert(k &- v) }
            }
        default: break
        }
        store.setMemo(t.index) { $0.possibleConstants = result }
        return result
    }

    /// Whether every constant `t` may take is in `allowed` (nil: `t` is not a choice
    /// among constants). Builds no set for a constant.
    public func leafValues(of t: Term, within allowed: ConstantSet) -> Bool? {
        if let c = t.constant { return allowed.contains(c) }
        return leafValues(t).map { $0.isSubset(of: allowed) }
    }

    private func collectLeafValues(_ x: Term, into values: inout ConstantSet) -> Bool {
        if let c = x.constant { values.insert(c); return true }
        guard x.op == .ite else { return false }
        if let cached = store.leafValuesMemo(x.index) {
            guard let known = cached else { return false }
            values.formUnion(known)
            return true
        }
        return collectLeafValues(x.args[1], into: &values) && collectLeafValues(x.args[2], into: &values)
    }

    /// Just the constants of `leaves`, without building guards.
    public func leafValues(_ t: Term) -> ConstantSet? {
        if let c = t.constant { return ConstantSet(c) }
        guard t.op == .ite else { return nil }
        if let cached = store.leafValuesMemo(t.index) { return cached }
        // One set for the whole tree (a set per subtree and a union per ite was the
        // most frequent allocation of a proof run).
        var values = ConstantSet()
        let result: ConstantSet? = collectLeafValues(t.args[1], into: &values) && collectLeafValues(t.args[2], into: &values) ? values : nil
        store.setMemo(t.index) { $0.leafValues = .some(result) }
        return result
    }
}

/// Variables by name: open addressing over an FNV-1a hash of the name's bytes. A run
/// asks for an input by name at every read of it and makes thousands of loop and merge
/// variables; the standard dictionary's seeded SipHash of each name cost more than the
/// term work around it.
struct VariableTable {
    private var slots: [Int32] = Array(repeating: -1, count: 64)
    private var names: [String] = []
    private var hashes: [UInt64] = []
    private var terms: [Term] = []

    static func hash(_ name: String) -> UInt64 { SampleInputs.fnv1a(name) }

    func term(named name: String, hash: UInt64) -> Term? {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash ^ (hash >> 29)) & mask
        while true {
            let e = Int(slots[i])
            if e < 0 { return nil }
            if hashes[e] == hash && names[e] == name { return terms[e] }
            i = (i + 1) & mask
        }
    }

    /// `name` must not be in the table yet.
    mutating func insert(_ t: Term, named name: String, hash: UInt64) {
        if (names.count + 1) * 2 > slots.count { grow() }
        names.append(name)
        hashes.append(hash)
        terms.append(t)
        place(Int32(names.count - 1))
    }

    private mutating func place(_ e: Int32) {
        let mask = slots.count - 1
        let h = hashes[Int(e)]
        var i = Int(truncatingIfNeeded: h ^ (h >> 29)) & mask
        while slots[i] >= 0 { i = (i + 1) & mask }
        slots[i] = e
    }

    private mutating func grow() {
        slots = Array(repeating: -1, count: slots.count * 2)
        for e in names.indices { place(Int32(e)) }
    }

    var dictionary: [String: Term] { Dictionary(zip(names, terms), uniquingKeysWith: { a, _ in a }) }
}

/// A few values kept sorted in an array: the constants a choice among constants may
/// take, the loop heads a term mentions. Hashing them into a `Set` was a tenth of the
/// loop checks; there are a handful at most.
public struct SortedSet<Element: Comparable & Sendable>: Equatable, Sendable, ExpressibleByArrayLiteral {
    public private(set) var values: [Element] = []
    public init() {}
    public init(_ e: Element) { values = [e] }
    public init(arrayLiteral elements: Element...) { for e in elements { insert(e) } }

    /// Where `e` is or would go.
    private func position(_ e: Element) -> Int {
        var lo = 0, hi = values.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if values[mid] < e { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public func contains(_ e: Element) -> Bool {
        let i = position(e)
        return i < values.count && values[i] == e
    }

    public mutating func insert(_ e: Element) {
        let i = position(e)
        if i < values.count && values[i] == e { return }
        values.insert(e, at: i)
    }

    public mutating func formUnion(_ other: SortedSet) {
        for e in other.values { insert(e) }
    }

    public func isSubset(of other: SortedSet) -> Bool {
        values.allSatisfy { other.contains($0) }
    }
}

public typealias ConstantSet = SortedSet<UInt64>

/// The distinct parts of a conjunction or disjunction, first occurrence first. Most have
/// a handful of parts: a linear scan, with a hash set only for long ones.
struct PartSet {
    private(set) var terms: [Term] = []
    private var ids: Set<Int>?

    mutating func insert(_ t: Term) {
        if contains(t.id) { return }
        terms.append(t)
        if ids != nil {
            ids?.insert(t.id)
        } else if terms.count > 16 {
            ids = Set(terms.map(\.id))
        }
    }

    func contains(_ id: Int) -> Bool {
        if let ids { return ids.contains(id) }
        return terms.contains { $0.id == id }
    }
}
