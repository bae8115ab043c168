/// The simplifier's rewrite rules, each stated once as data: a left side, a right side
/// and side conditions. `TermFactory` applies exactly these, through the Swift code they
/// generate (RuleCodeGeneration.swift; a test fails when the generated file differs),
/// and RewriteRuleProofTests asks Z3 to prove every one valid, Alive-style.
///
/// What is not a pattern, and is checked another way:
/// - the value of an operation on constants is `Term.Op.evaluate` (a rule's `fold`),
///   checked against the Z3 lowering on edge and random operands;
/// - conjunctions and disjunctions (`allOf`, `anyOf`, `both`, `either`) are normalised
///   as sets — flattened, deduplicated, the identity dropped, the absorbing constant and
///   `p && !p` decided, the join of a diamond `(P && c) || (P && !c)` back to `P` — over
///   any number of parts; that code is in Term.swift, and SimplifierSoundnessTests
///   checks it (with every rule as it runs) against Z3 on shaped and random terms.

/// One side of a rule (or a side condition): a tree over the term operations.
public indirect enum RuleExpr: Sendable, Equatable, CustomStringConvertible {
    /// Any term (left side), or the term bound to that variable (right side). A variable
    /// used twice on the left matches the same term twice.
    case term(Int)
    /// A bit-vector constant, bound to the variable.
    case constant(Int)
    case literal(RuleLiteral)
    /// Left side: a term with this operator and these arguments. Right side: the term
    /// the factory builds for it, itself simplified.
    case op(Term.Op, [RuleExpr])
    /// Left side only: the whole matched subterm bound to the variable, and its shape.
    case named(Int, RuleExpr)
    /// Left side only: the term the factory builds for the expression (after the shape
    /// has matched), e.g. the simplified negation of a bound condition.
    case built(RuleExpr)
    /// Right side only: the node as given, not rewritten further (a normal form).
    case node(Term.Op, [RuleExpr])
    /// Right side only: a commutative node with its arguments in term-number order.
    case ordered(Term.Op, RuleExpr, RuleExpr)
    /// Right side and side conditions: the operation's value on constant operands
    /// (`Term.Op.evaluate`).
    case fold(Term.Op, [RuleExpr])

    public var description: String {
        switch self {
        case .term(let v), .constant(let v): return RewriteRules.variableNames[v]
        case .literal(let l): return l.description
        case .named(let v, let e): return "\(RewriteRules.variableNames[v])@\(e)"
        case .built(let e): return "=\(e)"
        case .op(let op, let args): return Self.show(op, args)
        case .node(let op, let args): return Self.show(op, args)
        case .ordered(let op, let a, let b): return Self.show(op, [a, b])
        case .fold(let op, let args): return "[" + Self.show(op, args) + "]"
        }
    }

    static func show(_ op: Term.Op, _ args: [RuleExpr]) -> String {
        let infix: [Term.Op: String] = [.add: "+", .sub: "-", .mul: "*", .and: "&", .or: "|", .xor: "^", .eq: "==",
                                        .ult: "<u", .ule: "<=u", .slt: "<s", .sle: "<=s", .allOf: "&&", .anyOf: "||",
                                        .shl: "<<", .lshr: ">>u", .ashr: ">>s"]
        switch op {
        case .not: return "~\(args[0])"
        case .neg: return "-\(args[0])"
        case .negation: return "!\(args[0])"
        case .ite, .boolIte: return "ite(\(args.map(\.description).joined(separator: ", ")))"
        default: return "(" + args.map(\.description).joined(separator: " \(infix[op] ?? "\(op)") ") + ")"
        }
    }
}

/// Constants a rule names; their values at narrower widths are the same words
/// (0, 1, all ones), so a rule can be proved at every width.
public enum RuleLiteral: Sendable, Equatable, CustomStringConvertible {
    case zero, one, allOnes, `true`, `false`

    var op: Term.Op { self == .true || self == .false ? .bool : .const }
    var payload: UInt64 {
        switch self {
        case .zero, .false: return 0
        case .one, .true: return 1
        case .allOnes: return UInt64.max
        }
    }
    public var description: String {
        switch self {
        case .zero: return "0"
        case .one: return "1"
        case .allOnes: return "-1"
        case .true: return "true"
        case .false: return "false"
        }
    }
}

/// When a rule applies besides its shape.
public enum RuleCondition: Sendable, Equatable, CustomStringConvertible {
    /// The variable's term is a tree of if-then-else over constants (an address that
    /// stays enumerable). Says nothing about values: no hypothesis in the proof.
    case constantLeaves(Int)
    /// The variable's term is not made by this operator (the order rules are tried in).
    /// Says nothing about values.
    case notOp(Int, Term.Op)
    /// A fact about the rule's constants (a boolean `fold`): a hypothesis in the proof.
    case holds(RuleExpr)

    public var description: String {
        switch self {
        case .constantLeaves(let v): return "\(RewriteRules.variableNames[v]) is ite over constants"
        case .notOp(let v, let op): return "\(RewriteRules.variableNames[v]) is not \(op)"
        case .holds(let e): return "\(e)"
        }
    }
}

public struct RewriteRule: Sendable, CustomStringConvertible {
    public var lhs: RuleExpr
    public var rhs: RuleExpr
    public var conditions: [RuleCondition]

    public init(_ lhs: RuleExpr, _ rhs: RuleExpr, when conditions: [RuleCondition] = []) {
        self.lhs = lhs
        self.rhs = rhs
        self.conditions = conditions
    }

    /// The operator the rule rewrites.
    public var head: Term.Op {
        if case .op(let op, _) = lhs { return op }
        return .const
    }

    public var description: String {
        "\(lhs) → \(rhs)" + (conditions.isEmpty ? "" : " if " + conditions.map(\.description).joined(separator: ", "))
    }
}

/// How a node is made when no rule rewrites it.
public enum NodeOrder: Sendable {
    /// The arguments as given.
    case asGiven
    /// A commutative operator's arguments in term-number order, so `a+b` and `b+a`
    /// are one term.
    case ordered
}

public enum RewriteRules {
    // Rule variables. Their sorts (bit vector or boolean) follow from where they occur.
    static let variableNames = ["x", "y", "z", "c", "k1", "k2", "w"]
    private static let x = RuleExpr.term(0), y = RuleExpr.term(1), z = RuleExpr.term(2), c = RuleExpr.term(3), w = RuleExpr.term(6)
    private static let k1 = RuleExpr.constant(4), k2 = RuleExpr.constant(5)
    private static let zero = RuleExpr.literal(.zero), one = RuleExpr.literal(.one), allOnes = RuleExpr.literal(.allOnes)
    private static let yes = RuleExpr.literal(.true), no = RuleExpr.literal(.false)

    private static func op(_ o: Term.Op, _ args: RuleExpr...) -> RuleExpr { .op(o, args) }
    private static func fold(_ o: Term.Op, _ args: RuleExpr...) -> RuleExpr { .fold(o, args) }
    private static func node(_ o: Term.Op, _ args: RuleExpr...) -> RuleExpr { .node(o, args) }

    /// Constant operands fold; an if-then-else tree over constants and a constant
    /// distribute over the leaves, which keeps branch correlation visible (a merged rsp
    /// stays `ite(c, base-16, base-8)`, so addresses stay enumerable). Every bit-vector
    /// operator with two operands starts with these.
    private static func constantRules(_ o: Term.Op) -> [RewriteRule] {
        [RewriteRule(op(o, k1, k2), fold(o, k1, k2)),
         RewriteRule(op(o, .named(2, op(.ite, c, x, y)), k1), op(.ite, c, op(o, x, k1), op(o, y, k1)), when: [.constantLeaves(2)]),
         RewriteRule(op(o, k1, .named(2, op(.ite, c, x, y))), op(.ite, c, op(o, k1, x), op(o, k1, y)), when: [.constantLeaves(2)])]
    }

    /// Every rule, tried in this order for each operator (the first that matches wins).
    /// The order matters only for which normal form a term gets, never for soundness:
    /// each rule is valid on its own.
    public static let all: [RewriteRule] = {
        let sumIsZero = RuleCondition.holds(fold(.eq, fold(.add, k1, k2), zero))
        var rules: [RewriteRule] = []
        // x + c: constants are gathered into one last operand, so `x+c1 == x+c2` decides.
        rules += constantRules(.add)
        rules += [
            RewriteRule(op(.add, op(.add, x, k1), op(.add, y, k2)), .ordered(.add, x, y), when: [sumIsZero]),
            RewriteRule(op(.add, op(.add, x, k1), op(.add, y, k2)), node(.add, .ordered(.add, x, y), fold(.add, k1, k2))),
            RewriteRule(op(.add, op(.add, x, k1), k2), x, when: [sumIsZero]),
            RewriteRule(op(.add, op(.add, x, k1), k2), node(.add, x, fold(.add, k1, k2))),
            RewriteRule(op(.add, k1, op(.add, x, k2)), x, when: [sumIsZero]),
            RewriteRule(op(.add, k1, op(.add, x, k2)), node(.add, x, fold(.add, k1, k2))),
            RewriteRule(op(.add, op(.add, x, k1), y), node(.add, .ordered(.add, x, y), k1)),
            RewriteRule(op(.add, x, op(.add, y, k1)), node(.add, .ordered(.add, x, y), k1)),
            RewriteRule(op(.add, x, zero), x),
            RewriteRule(op(.add, zero, x), x),
            RewriteRule(op(.add, x, k1), node(.add, x, k1)),
            RewriteRule(op(.add, k1, x), node(.add, x, k1)),
        ]
        // x - y: a constant subtrahend becomes an addend.
        rules.append(RewriteRule(op(.sub, x, x), zero))
        rules += constantRules(.sub)
        rules += [
            RewriteRule(op(.sub, op(.add, x, k1), op(.add, x, k2)), fold(.sub, k1, k2)),
            RewriteRule(op(.sub, op(.add, x, k1), x), k1),
            RewriteRule(op(.sub, x, op(.add, x, k1)), fold(.neg, k1)),
            RewriteRule(op(.sub, x, k1), op(.add, x, fold(.neg, k1))),
        ]
        // (x & k1) & k2 → x & (k1 & k2): a 32-bit test of a masked value is the same
        // term as the mask itself, so two tests of `cs & 3` correlate.
        rules += constantRules(.and)
        rules += [
            RewriteRule(op(.and, op(.and, k1, x), k2), op(.and, x, fold(.and, k2, k1))),
            RewriteRule(op(.and, op(.and, x, k1), k2), op(.and, x, fold(.and, k2, k1))),
            RewriteRule(op(.and, k1, .named(2, op(.and, k2, x))), op(.and, z, k1)),
            RewriteRule(op(.and, k1, .named(2, op(.and, x, k2))), op(.and, z, k1)),
            RewriteRule(op(.and, x, x), x),
            RewriteRule(op(.and, zero, x), zero),
            RewriteRule(op(.and, x, zero), zero),
            RewriteRule(op(.and, allOnes, x), x),
            RewriteRule(op(.and, x, allOnes), x),
        ]
        rules += constantRules(.or)
        rules += [
            RewriteRule(op(.or, x, x), x),
            RewriteRule(op(.or, zero, x), x),
            RewriteRule(op(.or, x, zero), x),
        ]
        rules += constantRules(.xor)
        rules += [
            RewriteRule(op(.xor, x, x), zero),
            RewriteRule(op(.xor, zero, x), x),
            RewriteRule(op(.xor, x, zero), x),
        ]
        rules += constantRules(.mul)
        rules += [
            RewriteRule(op(.mul, one, x), x),
            RewriteRule(op(.mul, x, one), x),
        ]
        // Shifts: constants fold (a shift of a constant by a constant is a constant, so
        // addresses and masks built with shifts stay enumerable); a shift by 0 is its operand.
        for o in [Term.Op.shl, .lshr, .ashr] {
            rules += constantRules(o)
            rules.append(RewriteRule(op(o, x, zero), x))
        }
        rules += [
            RewriteRule(op(.not, k1), fold(.not, k1)),
            RewriteRule(op(.not, op(.not, x)), x),
            RewriteRule(op(.neg, k1), fold(.neg, k1)),
        ]
        // Equality: booleans against constants; bit vectors by their constant offsets,
        // and if-then-else decided per branch (branch correlation).
        rules += [
            RewriteRule(op(.eq, x, x), yes),
            RewriteRule(op(.eq, yes, x), x),
            RewriteRule(op(.eq, no, x), op(.negation, x)),
            RewriteRule(op(.eq, x, yes), x),
            RewriteRule(op(.eq, x, no), op(.negation, x)),
            RewriteRule(op(.eq, k1, k2), fold(.eq, k1, k2)),
            RewriteRule(op(.eq, op(.add, x, k1), op(.add, x, k2)), fold(.eq, k1, k2)),
            RewriteRule(op(.eq, op(.add, x, k1), x), fold(.eq, k1, zero)),
            RewriteRule(op(.eq, x, op(.add, x, k1)), fold(.eq, zero, k1)),
            RewriteRule(op(.eq, .named(2, op(.ite, c, x, y)), k1), op(.boolIte, c, op(.eq, x, k1), op(.eq, y, k1)), when: [.constantLeaves(2)]),
            RewriteRule(op(.eq, k1, .named(2, op(.ite, c, x, y))), op(.eq, z, k1)),
            // ite(c, x, y) == x  ⇔  c || y == x
            RewriteRule(op(.eq, op(.ite, c, x, y), x), op(.anyOf, c, op(.eq, y, x)), when: [.notOp(0, .ite)]),
            RewriteRule(op(.eq, op(.ite, c, x, y), y), op(.anyOf, op(.negation, c), op(.eq, x, y)), when: [.notOp(1, .ite)]),
            RewriteRule(op(.eq, x, .named(2, op(.ite, c, y, w))), op(.eq, z, x), when: [.notOp(0, .ite)]),
            RewriteRule(op(.eq, op(.ite, c, x, y), op(.ite, c, z, w)), op(.boolIte, c, op(.eq, x, z), op(.eq, y, w))),
            // x + k1 == k2  →  x == k2 - k1
            RewriteRule(op(.eq, op(.add, x, k1), k2), op(.eq, x, fold(.sub, k2, k1))),
            RewriteRule(op(.eq, k1, op(.add, x, k2)), op(.eq, x, fold(.sub, k1, k2))),
        ]
        for o in [Term.Op.ult, .ule, .slt, .sle] {
            rules.append(RewriteRule(op(o, k1, k2), fold(o, k1, k2)))
            rules.append(RewriteRule(op(o, x, x), o == .ult || o == .slt ? no : yes))
        }
        rules += [
            RewriteRule(op(.ite, yes, x, y), x),
            RewriteRule(op(.ite, no, x, y), y),
            RewriteRule(op(.ite, c, x, x), x),
            RewriteRule(op(.ite, op(.negation, c), x, y), op(.ite, c, y, x)),
            RewriteRule(op(.ite, c, op(.ite, c, x, z), y), op(.ite, c, x, y)),
            RewriteRule(op(.ite, c, x, op(.ite, c, z, y)), op(.ite, c, x, y)),
        ]
        // Boolean if-then-else: the condition itself in a branch (GS state after a
        // `swapgs` on one side) and constant branches become conjunctions.
        rules += [
            RewriteRule(op(.boolIte, yes, x, y), x),
            RewriteRule(op(.boolIte, no, x, y), y),
            RewriteRule(op(.boolIte, c, x, x), x),
            RewriteRule(op(.boolIte, c, c, y), op(.anyOf, c, y)),
            RewriteRule(op(.boolIte, c, x, c), op(.allOf, c, x)),
            RewriteRule(op(.boolIte, c, .named(0, .built(op(.negation, c))), y), op(.allOf, x, y)),
            RewriteRule(op(.boolIte, c, x, .named(1, .built(op(.negation, c)))), op(.anyOf, y, x)),
            RewriteRule(op(.boolIte, c, yes, no), c),
            RewriteRule(op(.boolIte, c, no, yes), op(.negation, c)),
            RewriteRule(op(.boolIte, c, yes, y), op(.anyOf, c, y)),
            RewriteRule(op(.boolIte, c, no, y), op(.allOf, op(.negation, c), y)),
            RewriteRule(op(.boolIte, c, x, yes), op(.anyOf, op(.negation, c), x)),
            RewriteRule(op(.boolIte, c, x, no), op(.allOf, c, x)),
        ]
        rules += [
            RewriteRule(op(.negation, yes), no),
            RewriteRule(op(.negation, no), yes),
            RewriteRule(op(.negation, op(.negation, c)), c),
        ]
        return rules
    }()

    /// How each operator's node is made when no rule applies.
    public static func nodeOrder(_ op: Term.Op) -> NodeOrder {
        switch op {
        case .add, .and, .or, .xor, .eq: return .ordered
        default: return .asGiven
        }
    }
}
