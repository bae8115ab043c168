/// `RewriteRules.all` compiled for the factory: each rule's left side becomes a short
/// list of checks on the operands, its right side a small tree of build steps, and a
/// table gives, for an operator and its operands' operators, the rules that can match
/// at all (most constructions have none and go straight to the node). The rules are
/// read from the data once per process; nothing here states a rule of its own.
final class CompiledRules: Sendable {
    /// One check of a left side or a side condition. Registers hold term ids: the
    /// operands first, then subterms as the checks reach them.
    enum Step: Sendable {
        /// The register's term has this operator and arity; its arguments go to
        /// registers `first`...
        case op(register: UInt8, Term.Op, arity: UInt8, first: UInt8)
        case constant(register: UInt8)
        case literal(register: UInt8, Term.Op, UInt64)
        case same(register: UInt8, as: UInt8)
        /// Equal to the term built by an expression (run after every shape check, so
        /// which rules are tried never changes which terms get made).
        case built(register: UInt8, expression: Int32)
        case constantLeaves(register: UInt8)
        case notOp(register: UInt8, Term.Op)
        case holds(expression: Int32)
    }

    enum Kind: UInt8, Sendable { case register, literal, build, node, ordered, fold }

    /// A right-side (or condition) expression node; children are `children[start..<start+count]`.
    struct Expression: Sendable {
        var kind: Kind
        var op: Term.Op
        var register: UInt8
        var payload: UInt64
        var start: Int32
        var count: Int32
    }

    struct Rule: Sendable {
        var stepStart: Int32
        var stepCount: Int32
        var result: Int32
        /// The register holding the result when the right side is a bound term, else -1.
        var resultRegister: Int16
    }

    static let registerLimit = 16

    static let shared = CompiledRules(RewriteRules.all)

    static let opCount = 32
    let steps: [Step]
    let expressions: [Expression]
    let children: [Int32]
    let rules: [Rule]
    /// For each operator, the number of its first rule in `rules`.
    let ruleBase: [Int]
    /// Candidate rules of an operator given one operand's key: bit i is the operator's
    /// i-th rule, at index `(head * 3 + position) * keyCount + key`.
    let candidates: [UInt64]
    /// Candidate rules of an operator given which operands are one term (bit 0: the
    /// first and second, bit 1: first and third, bit 2: second and third), at
    /// `head * 8 + bits`.
    let identities: [UInt64]
    /// Whether an operator with no rule applying orders its arguments by term number.
    let ordersArguments: [Bool]

    init(_ all: [RewriteRule]) {
        var steps: [Step] = [], expressions: [Expression] = [], children: [Int32] = [], rules: [Rule] = []
        var ruleBase = Array(repeating: 0, count: Self.opCount)
        var candidates = Array(repeating: UInt64(0), count: Self.opCount * 3 * Self.keyCount)
        var identities = Array(repeating: UInt64(0), count: Self.opCount * 8)
        // Grouped by operator, each group in the data's order.
        var byHead: [[RewriteRule]] = Array(repeating: [], count: Self.opCount)
        for r in all { byHead[Int(r.head.rawValue)].append(r) }
        for head in 0..<Self.opCount {
            ruleBase[head] = rules.count
            precondition(byHead[head].count <= 64, "at most 64 rules per operator")
            for (number, rule) in byHead[head].enumerated() {
                guard case .op(_, let operands) = rule.lhs else { preconditionFailure("a rule's left side is an operator: \(rule)") }
                precondition(operands.count <= 3, "rules rewrite operators of at most three operands: \(rule)")
                var compiler = Compiler(registers: operands.count)
                for (i, p) in operands.enumerated() { compiler.shape(p, register: UInt8(i)) }
                // Shapes first, then built terms, then conditions. The candidate table
                // has already checked the operands' keys and which operands are one
                // term: those checks are dropped.
                var ruleSteps = compiler.steps.filter { step in
                    switch step {
                    case .constant(let r), .literal(let r, _, _): return Int(r) >= operands.count
                    case .same(let r, let earlier): return Int(r) >= operands.count || Int(earlier) >= operands.count
                    default: return true
                    }
                }
                for (register, e) in compiler.builtChecks {
                    ruleSteps.append(.built(register: register, expression: compiler.expression(e, &expressions, &children)))
                }
                for condition in rule.conditions {
                    switch condition {
                    case .constantLeaves(let v): ruleSteps.append(.constantLeaves(register: compiler.register(of: v)))
                    case .notOp(let v, let op): ruleSteps.append(.notOp(register: compiler.register(of: v), op))
                    case .holds(let e): ruleSteps.append(.holds(expression: compiler.expression(e, &expressions, &children)))
                    }
                }
                let start = Int32(steps.count)
                steps += ruleSteps
                let result = compiler.expression(rule.rhs, &expressions, &children)
                precondition(compiler.registerCount <= CompiledRules.registerLimit, "a rule uses at most \(CompiledRules.registerLimit) registers")
                var resultRegister: Int16 = -1
                if case .term(let v) = rule.rhs { resultRegister = Int16(compiler.register(of: v)) }
                if case .constant(let v) = rule.rhs { resultRegister = Int16(compiler.register(of: v)) }
                rules.append(Rule(stepStart: start, stepCount: Int32(steps.count) - start, result: result, resultRegister: resultRegister))
                for position in 0..<3 {
                    for key in 0..<Self.keyCount {
                        let accepts = position >= operands.count || Self.accepts(operands[position], key)
                        if accepts { candidates[(head * 3 + position) * Self.keyCount + key] |= 1 << UInt64(number) }
                    }
                }
                // Operands a rule needs to be one term (`x - x`): checked on all three at once.
                var needs = 0
                for (i, j, bit) in [(0, 1, 1), (0, 2, 2), (1, 2, 4)] where i < operands.count && j < operands.count {
                    if case .term(let u) = operands[i], case .term(let v) = operands[j], u == v { needs |= bit }
                }
                for same in 0..<8 where same & needs == needs { identities[head * 8 + same] |= 1 << UInt64(number) }
            }
        }
        self.steps = steps
        self.expressions = expressions
        self.children = children
        self.rules = rules
        self.ruleBase = ruleBase
        self.candidates = candidates
        self.identities = identities
        ordersArguments = (0..<Self.opCount).map { i in
            Term.Op(rawValue: UInt8(i)).map { RewriteRules.nodeOrder($0) == .ordered } ?? false
        }
    }

    /// What the candidate table knows of an operand: its operator, and for constants
    /// the ones rules name (so `x + 0` is not tried on every `x + 8`).
    static let keyCount = 40
    static let otherConstant = 32, zeroKey = 33, oneKey = 34, allOnesKey = 35, falseKey = 36, trueKey = 37

    @inline(__always) static func key(_ op: Term.Op, _ payload: UInt64) -> Int {
        switch op {
        case .const: return payload == 0 ? zeroKey : (payload == 1 ? oneKey : (payload == UInt64.max ? allOnesKey : otherConstant))
        case .bool: return payload == 0 ? falseKey : trueKey
        default: return Int(op.rawValue)
        }
    }

    /// Whether a left-side operand pattern can match a term of key `key`.
    private static func accepts(_ p: RuleExpr, _ key: Int) -> Bool {
        switch p {
        case .term, .built: return key < keyCount
        case .constant: return (otherConstant...allOnesKey).contains(key)
        case .literal(let l): return key == Self.key(l.op, l.payload)
        case .op(let o, _): return o != .const && o != .bool && key == Int(o.rawValue)
        case .named(_, let inner): return accepts(inner, key)
        case .node, .ordered, .fold: return false
        }
    }

    /// Whether an operator's value is a boolean.
    static func isBool(_ op: Term.Op) -> Bool {
        switch op {
        case .bool, .boolVariable, .eq, .ult, .ule, .slt, .sle, .boolIte, .allOf, .anyOf, .negation: return true
        default: return false
        }
    }

    private struct Compiler {
        var steps: [Step] = []
        var builtChecks: [(UInt8, RuleExpr)] = []
        var registerCount: Int
        var bound: [Int: UInt8] = [:]

        init(registers: Int) { registerCount = registers }

        func register(of variable: Int) -> UInt8 {
            guard let r = bound[variable] else { preconditionFailure("rule variable \(variable) is not bound on the left side") }
            return r
        }

        mutating func bind(_ variable: Int, _ register: UInt8) {
            if let earlier = bound[variable] { steps.append(.same(register: register, as: earlier)) } else { bound[variable] = register }
        }

        mutating func shape(_ p: RuleExpr, register: UInt8) {
            switch p {
            case .term(let v): bind(v, register)
            case .constant(let v):
                steps.append(.constant(register: register))
                bind(v, register)
            case .literal(let l): steps.append(.literal(register: register, l.op, l.payload))
            case .op(let op, let args):
                let first = UInt8(registerCount)
                registerCount += args.count
                precondition(registerCount < 256)
                steps.append(.op(register: register, op, arity: UInt8(args.count), first: first))
                for (i, a) in args.enumerated() { shape(a, register: first + UInt8(i)) }
            case .named(let v, let inner):
                bind(v, register)
                shape(inner, register: register)
            case .built(let e): builtChecks.append((register, e))
            case .node, .ordered, .fold: preconditionFailure("\(p) is not a left-side pattern")
            }
        }

        func expression(_ e: RuleExpr, _ out: inout [Expression], _ children: inout [Int32]) -> Int32 {
            func add(_ kind: Kind, _ op: Term.Op, _ args: [RuleExpr], register: UInt8 = 0, payload: UInt64 = 0) -> Int32 {
                let made = args.map { expression($0, &out, &children) }
                let start = Int32(children.count)
                children += made
                out.append(Expression(kind: kind, op: op, register: register, payload: payload, start: start, count: Int32(made.count)))
                return Int32(out.count - 1)
            }
            switch e {
            case .term(let v), .constant(let v): return add(.register, .const, [], register: register(of: v))
            case .literal(let l): return add(.literal, l.op, [], payload: l.payload)
            case .op(let op, let args):
                precondition(op == .allOf || op == .anyOf || (1...3).contains(args.count))
                return add(.build, op, args)
            case .node(let op, let args):
                precondition((1...3).contains(args.count))
                return add(.node, op, args)
            case .ordered(let op, let a, let b): return add(.ordered, op, [a, b])
            case .fold(let op, let args):
                precondition((1...2).contains(args.count), "folds take one or two operands")
                return add(.fold, op, args)
            case .named, .built: preconditionFailure("\(e) is not a right side")
            }
        }
    }
}

extension TermFactory {
    /// The first rule for `op(operands)` that matches, applied; nil when none does.
    /// `c` is unused (-1) for binary operators, `b` too for unary ones.
    @inline(__always)
    func applyRules(_ op: Term.Op, _ a: Int32, _ b: Int32 = -1, _ c: Int32 = -1) -> Term? {
        let table = rules
        let head = Int(op.rawValue)
        let width = CompiledRules.keyCount
        let na = store.nodes[Int(a)]
        var mask = table.candidates[head * 3 * width + CompiledRules.key(na.op, na.payload)]
        var same = 0
        if b >= 0 {
            let nb = store.nodes[Int(b)]
            mask &= table.candidates[(head * 3 + 1) * width + CompiledRules.key(nb.op, nb.payload)]
            same = a == b ? 1 : 0
        }
        if c >= 0 {
            let nc = store.nodes[Int(c)]
            mask &= table.candidates[(head * 3 + 2) * width + CompiledRules.key(nc.op, nc.payload)]
            same |= (a == c ? 2 : 0) | (b == c ? 4 : 0)
        }
        mask &= table.identities[head * 8 + same]
        while mask != 0 {
            let number = mask.trailingZeroBitCount
            mask &= mask - 1
            if let t = apply(table.ruleBase[head] + number, a, b, c) { return t }
        }
        return nil
    }

    private func apply(_ number: Int, _ a: Int32, _ b: Int32, _ c: Int32) -> Term? {
        let rule = rules.rules[number]
        var file = Registers()
        return withUnsafeMutablePointer(to: &file) { pointer in
            pointer.withMemoryRebound(to: Int32.self, capacity: CompiledRules.registerLimit) { registers in
                registers[0] = a
                registers[1] = b
                registers[2] = c
                var i = Int(rule.stepStart)
                let end = i + Int(rule.stepCount)
                while i < end {
                    guard check(rules.steps[i], registers) else { return nil }
                    i += 1
                }
                if rule.resultRegister >= 0 { return Term(store, registers[Int(rule.resultRegister)]) }
                return term(rule.result, registers)
            }
        }
    }

    /// A rule's registers, on the stack.
    private struct Registers {
        var r: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    }

    @inline(__always) private func register(_ registers: UnsafeMutablePointer<Int32>, _ r: UInt8) -> Int32 { registers[Int(r)] }

    @inline(__always)
    private func check(_ step: CompiledRules.Step, _ registers: UnsafeMutablePointer<Int32>) -> Bool {
        switch step {
        case .op(let r, let op, let arity, let first):
            let n = store.nodes[Int(register(registers, r))]
            guard n.op == op, n.argCount == Int32(arity) else { return false }
            for k in 0..<Int(arity) { registers[Int(first) + k] = store.arguments[Int(n.argStart) + k] }
            return true
        case .constant(let r):
            return store.nodes[Int(register(registers, r))].op == .const
        case .literal(let r, let op, let payload):
            let n = store.nodes[Int(register(registers, r))]
            return n.op == op && n.payload == payload
        case .same(let r, let earlier):
            return register(registers, r) == register(registers, earlier)
        case .built(let r, let e):
            return term(e, registers)?.index == register(registers, r)
        case .constantLeaves(let r):
            return leafValues(Term(store, register(registers, r))) != nil
        case .notOp(let r, let op):
            return store.nodes[Int(register(registers, r))].op != op
        case .holds(let e):
            return value(e, registers).map { $0 != 0 } ?? false
        }
    }

    /// The value of a constant expression (a fold, a literal, a bound constant); no
    /// term is made.
    private func value(_ e: Int32, _ registers: UnsafeMutablePointer<Int32>) -> UInt64? {
        let x = rules.expressions[Int(e)]
        switch x.kind {
        case .register: return store.nodes[Int(register(registers, x.register))].payload
        case .literal: return x.payload
        case .fold:
            guard let a = value(rules.children[Int(x.start)], registers) else { return nil }
            if x.count == 1 { return x.op.evaluate(a) }
            guard let b = value(rules.children[Int(x.start) + 1], registers) else { return nil }
            return x.op.evaluate(a, b)
        case .build, .node, .ordered: return nil
        }
    }

    /// The term of a right side, made left to right, arguments before their node.
    private func term(_ e: Int32, _ registers: UnsafeMutablePointer<Int32>) -> Term? {
        let x = rules.expressions[Int(e)]
        switch x.kind {
        case .register: return Term(store, register(registers, x.register))
        case .literal: return x.op == .bool ? bool(x.payload != 0) : const(x.payload)
        case .fold:
            guard let v = value(e, registers) else { return nil }
            return CompiledRules.isBool(x.op) ? bool(v != 0) : const(v)
        case .build, .node, .ordered:
            let start = Int(x.start), isBool = CompiledRules.isBool(x.op)
            guard let a = term(rules.children[start], registers) else { return nil }
            if x.count == 1 { return x.kind == .node ? node(x.op, a, isBool: isBool) : build(x.op, a) }
            guard let b = term(rules.children[start + 1], registers) else { return nil }
            if x.count == 2 {
                switch x.kind {
                case .node: return node(x.op, a, b, isBool: isBool)
                case .ordered: return commutativeNode(x.op, a, b, isBool: isBool)
                default: return build(x.op, a, b)
                }
            }
            guard let c = term(rules.children[start + 2], registers) else { return nil }
            return x.kind == .node ? node(x.op, a, b, c, isBool: isBool) : build(x.op, a, b, c)
        }
    }

    /// `op(a…)` through the factory's own builder (simplified in turn).
    private func build(_ op: Term.Op, _ a: Term) -> Term? {
        switch op {
        case .not: return not(a)
        case .neg: return neg(a)
        case .negation: return negation(a)
        case .allOf: return allOf([a])
        case .anyOf: return anyOf([a])
        default: return nil
        }
    }
    private func build(_ op: Term.Op, _ a: Term, _ b: Term) -> Term? {
        switch op {
        case .add: return add(a, b)
        case .sub: return sub(a, b)
        case .mul: return mul(a, b)
        case .and: return and(a, b)
        case .or: return or(a, b)
        case .xor: return xor(a, b)
        case .eq: return eq(a, b)
        case .ult: return ult(a, b)
        case .ule: return ule(a, b)
        case .slt: return slt(a, b)
        case .sle: return sle(a, b)
        case .allOf: return allOf([a, b])
        case .anyOf: return anyOf([a, b])
        default: return nil
        }
    }
    private func build(_ op: Term.Op, _ a: Term, _ b: Term, _ c: Term) -> Term? {
        switch op {
        case .ite: return ite(a, b, c)
        case .boolIte: return boolIte(a, b, c)
        case .allOf: return allOf([a, b, c])
        case .anyOf: return anyOf([a, b, c])
        default: return nil
        }
    }
}
