/// Deciding a query by cases, without the solver.
///
/// Many queries the simplifier leaves open depend on a handful of conditions only: a
/// widened loop's head state chooses among constants on one or two tests of an input
/// (`irq_count == -1` picks the IRQ stack or not), and once each test has a truth value
/// every comparison folds. Such a query is unsatisfiable when it is false under every
/// truth assignment of those conditions: evaluated here by splitting on them, with no
/// Z3 context made. Conditions are split as if independent (`x == 1` and `x == 2` both
/// true is tried too), which can only add cases: a query this calls false everywhere
/// has no model. Anything else — a case that is true, a value that depends on an input
/// no condition settles, too many cases — goes to the solver as before.
///
/// The same cases give counterexamples: a query true in some case usually has inputs
/// that give each of its conditions its truth value (a flag bit set, a register not
/// -1), found by changing one input at a time, checked here and replayed by the caller.
/// On the corpus every counterexample the probes miss is found so, with no Z3 context.
extension TermFactory {
    /// At most this many cases are evaluated per query.
    public static let maximumCases = 64
    /// At most this many operations are evaluated seeking a model for one query (at
    /// most 1,920 on the corpus, 739 typically); past it the solver is asked.
    public static let maximumModelOperations = 100_000

    /// Whether `t` (a boolean term) is false in every case of its conditions.
    public func isFalseInEveryCase(_ t: Term) -> Bool {
        var split = caseSplit()
        return split.falseInEveryCase(t)
    }

    private func caseSplit() -> CaseSplit {
        // One memo per factory, kept across queries: a case costs the terms it visits,
        // not the size of the run's whole term store.
        let memo = caseSplitMemo ?? CaseSplit.Memo()
        caseSplitMemo = memo
        memo.cover(count)
        return CaseSplit(budget: Self.maximumCases, memo: memo)
    }

    /// Input values under which `t` (a boolean term) is true, found by cases without
    /// the solver, or nil. A case in which `t` is true is sought (each condition tried
    /// first with the truth it has when every input is 0) and realised: inputs are
    /// changed one at a time, each change making a condition with the wrong truth
    /// right, until every condition of the case has its truth. The result is checked —
    /// `t` evaluates to true with these values and every other input 0, as in a
    /// solver's model completion — so a wrong guess costs only the search; callers
    /// still replay the inputs on a concrete run before reporting anything.
    public func modelByCases(_ t: Term, operations: Int = maximumModelOperations) -> [String: UInt64]? {
        var split = caseSplit()
        split.operationLimit = split.memo.operations &+ operations
        guard let values = split.trueCase(t) else { return nil }
        var named: [String: UInt64] = [:]
        for (id, v) in values { named[Term(store, Int32(id)).name] = v }
        return named
    }
}

struct CaseSplit {
    /// A value in one case: known, or unknown because of a condition not yet given a
    /// truth value (split on it) or because of an input no condition settles (`nil`).
    enum Value {
        case known(UInt64)
        case unknown(condition: Term?)
    }

    var budget: Int
    /// The conditions' truth values in the current case, by term id.
    var assigned: [Int: Bool] = [:]
    /// Inputs' values by term id when evaluating one concrete assignment (any other
    /// input is 0); nil when splitting on conditions.
    var inputs: [Int: UInt64]?
    /// Seeking a model stops when the memo has evaluated this many operations.
    var operationLimit = Int.max
    var spent: Bool { memo.operations >= operationLimit }
    let memo: Memo

    init(budget: Int, memo: Memo) {
        self.budget = budget
        self.memo = memo
    }

    /// Values of the current case by term id, stamped with the case they belong to (a
    /// dictionary per case cost more than the evaluation; stamps need no clearing).
    final class Memo {
        var stamps: [UInt64] = []
        var values: [Value] = []
        var current: UInt64 = 0
        /// Operations evaluated so far (the bound on seeking a model counts them).
        var operations = 0
        /// Room for the ids of `terms` terms.
        func cover(_ terms: Int) {
            guard terms > stamps.count else { return }
            stamps += Array(repeating: 0, count: terms - stamps.count)
            values += Array(repeating: .unknown(condition: nil), count: terms - values.count)
        }
        func get(_ id: Int) -> Value? { id < stamps.count && stamps[id] == current ? values[id] : nil }
        func set(_ id: Int, _ v: Value) {
            guard id < stamps.count else { return }
            stamps[id] = current
            values[id] = v
        }
    }

    /// Whether `t` is false in every case (each case evaluated afresh).
    mutating func falseInEveryCase(_ t: Term) -> Bool {
        guard budget > 0 else { return false }
        budget -= 1
        memo.current += 1
        switch evaluate(t) {
        case .known(let v):
            return v == 0
        case .unknown(nil):
            return false
        case .unknown(let c?):
            for truth in [true, false] {
                assigned[c.id] = truth
                guard falseInEveryCase(t) else { assigned[c.id] = nil; return false }
            }
            assigned[c.id] = nil
            return true
        }
    }

    // MARK: Models

    /// Inputs (by term id) making `t` true in some case, or nil within the budget.
    mutating func trueCase(_ t: Term) -> [Int: UInt64]? {
        guard budget > 0, !spent else { return nil }
        budget -= 1
        memo.current += 1
        switch evaluate(t) {
        case .known(let v):
            return v != 0 ? realise(t) : nil
        case .unknown(nil):
            return nil
        case .unknown(let c?):
            // The truth the condition has with every input 0 first: that case is the
            // likeliest to be realised, and with small values.
            let atZero = value(of: c, with: [:]) != 0
            for truth in [atZero, !atZero] {
                assigned[c.id] = truth
                if let found = trueCase(t) { assigned[c.id] = nil; return found }
            }
            assigned[c.id] = nil
            return nil
        }
    }

    /// A term's value with these inputs (every other input 0); nil for an operation
    /// it cannot evaluate.
    mutating func value(of t: Term, with values: [Int: UInt64]) -> UInt64? {
        inputs = values
        memo.current += 1
        defer { inputs = nil; memo.current += 1 }
        if case .known(let v) = evaluate(t) { return v }
        return nil
    }

    /// Inputs giving every condition of the current case its truth, then checked to
    /// make `t` true; nil if the changes run out first.
    mutating func realise(_ t: Term) -> [Int: UInt64]? {
        let store = t.store
        let conditions = assigned.sorted { $0.key < $1.key }.map { (term: Term(store, Int32($0.key)), truth: $0.value) }
        var values: [Int: UInt64] = [:]
        func holding(_ vs: [Int: UInt64]) -> [Bool] {
            conditions.map { c in value(of: c.term, with: vs).map { ($0 != 0) == c.truth } ?? false }
        }
        var holds = holding(values)
        for _ in 0..<(4 * conditions.count + 4) where !spent {
            guard let wrong = holds.firstIndex(of: false) else {
                return value(of: t, with: values) == 1 ? values : nil
            }
            // The change to one input that puts this condition right and leaves the
            // most conditions holding (the first such, for a deterministic result).
            let c = conditions[wrong]
            let (inputs, constants) = Self.parts(of: c.term)
            var best: (values: [Int: UInt64], holds: [Bool], count: Int)?
            for x in inputs {
                for v in Self.candidates(for: x, current: values[x.id] ?? 0, constants: constants,
                                         others: inputs.map { values[$0.id] ?? 0 }) {
                    guard !spent else { return nil }
                    var trial = values
                    trial[x.id] = v
                    guard value(of: c.term, with: trial).map({ ($0 != 0) == c.truth }) == true else { continue }
                    let now = holding(trial)
                    let count = now.count(where: { $0 })
                    if count > (best?.count ?? -1) { best = (trial, now, count) }
                }
            }
            guard let best else { return nil }
            values = best.values
            holds = best.holds
        }
        return nil
    }

    /// The inputs (in id order) and the distinct constants a condition mentions.
    static func parts(of t: Term) -> (inputs: [Term], constants: [UInt64]) {
        var seen: Set<Int> = []
        var inputs: [Term] = []
        var constants: [UInt64] = []
        var work = [t]
        while let x = work.popLast() {
            guard seen.insert(x.id).inserted else { continue }
            switch x.op {
            case .variable, .boolVariable: inputs.append(x)
            case .const: if !constants.contains(x.payload) { constants.append(x.payload) }
            default: work.append(contentsOf: x.args)
            }
        }
        return (inputs.sorted { $0.id < $1.id }, constants.sorted())
    }

    /// Values worth trying for an input: the constants it is compared with or masked
    /// by, their neighbours, complements, lowest bits and differences, the current
    /// value with those bits set, cleared or flipped, and the other inputs' values.
    static func candidates(for x: Term, current: UInt64, constants: [UInt64], others: [UInt64]) -> [UInt64] {
        if x.op == .boolVariable { return [0, 1] }
        var out: [UInt64] = [0, ~0, current ^ 1, current &+ 1]
        for k in constants.prefix(8) {
            out += [k, k &+ 1, k &- 1, ~k, k & (0 &- k), 0 &- k, current | k, current & ~k, current ^ k]
            for j in constants.prefix(4) where j != k { out += [k &- j, k &+ j] }
        }
        out += others
        var seen: Set<UInt64> = []
        return out.filter { seen.insert($0).inserted }
    }

    /// The term's value in the current case (booleans as 0/1), with the same 64-bit
    /// meaning as the Z3 lowering.
    func evaluate(_ t: Term) -> Value {
        switch t.op {
        case .const, .bool: return .known(t.payload)
        case .variable: return inputs.map { .known($0[t.id] ?? 0) } ?? .unknown(condition: nil)
        case .boolVariable:
            if let inputs { return .known(inputs[t.id] ?? 0) }
            return assigned[t.id].map { .known($0 ? 1 : 0) } ?? .unknown(condition: t)
        default: break
        }
        if let v = memo.get(t.id) { return v }
        memo.operations &+= 1
        let v = evaluateOperation(t)
        memo.set(t.id, v)
        return v
    }

    private func evaluateOperation(_ t: Term) -> Value {
        let args = t.args
        switch t.op {
        case .allOf, .anyOf:
            // A false part decides a conjunction (a true one a disjunction) whatever
            // the others are; otherwise the first undecided part says what to split on.
            let decisive: UInt64 = t.op == .allOf ? 0 : 1
            var undecided = false
            var split: Term?
            for a in args {
                switch evaluate(a) {
                case .known(let v) where v == decisive: return .known(decisive)
                case .known: continue
                case .unknown(let c):
                    undecided = true
                    if split == nil { split = c }
                }
            }
            return undecided ? .unknown(condition: split) : .known(1 - decisive)
        case .negation:
            let v = evaluate(args[0])
            if case .known(let x) = v { return .known(1 - x) }
            return v
        case .ite, .boolIte:
            switch evaluate(args[0]) {
            case .known(let c): return evaluate(args[c != 0 ? 1 : 2])
            case let u: return u
            }
        case .eq, .ult, .ule, .slt, .sle:
            let a = evaluate(args[0]), b = evaluate(args[1])
            if case .known(let x) = a, case .known(let y) = b { return .known(Self.compare(t.op, x, y) ? 1 : 0) }
            // Split on a condition inside the operands first (it may settle them);
            // a comparison of inputs nothing settles is a condition itself.
            if case .unknown(let c?) = a { return .unknown(condition: c) }
            if case .unknown(let c?) = b { return .unknown(condition: c) }
            return assigned[t.id].map { .known($0 ? 1 : 0) } ?? .unknown(condition: t)
        default:
            var values: [UInt64] = []
            var undecided = false
            var split: Term?
            for a in args {
                switch evaluate(a) {
                case .known(let v): values.append(v)
                case .unknown(let c):
                    undecided = true
                    if split == nil { split = c }
                }
            }
            if undecided { return .unknown(condition: split) }
            return Self.arithmetic(t.op, values).map { .known($0) } ?? .unknown(condition: nil)
        }
    }

    static func compare(_ op: Term.Op, _ x: UInt64, _ y: UInt64) -> Bool { op.compare(x, y) }

    static func arithmetic(_ op: Term.Op, _ v: [UInt64]) -> UInt64? {
        switch op {
        case .add, .sub, .mul, .and, .or, .xor, .not, .neg, .shl, .lshr, .ashr: return op.evaluate(v)
        default: return nil
        }
    }
}
