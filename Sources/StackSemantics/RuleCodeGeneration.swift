/// Writes `RewriteRules.all` as Swift: for each operator, one function that tries its
/// rules in order, each rule a block of `guard`s (its shape, then the terms it builds to
/// compare, then its side conditions) ending in the right side. The factory runs that
/// code (RewriteRules+Generated.swift), which is as fast as hand-written rewriting, and
/// RewriteRuleProofTests fails when the file is not exactly what the rules generate, so
/// the proved data and the code that runs cannot drift apart.
extension RewriteRules {
    /// The file's contents.
    public static func generatedSource(_ rules: [RewriteRule] = all) -> String {
        var out = """
        // Generated from RewriteRules.all by RuleCodeGeneration.swift; do not edit.
        // Regenerate: PTREGS_GENERATE_RULES=1 swift test --filter RewriteRuleProofTests

        extension TermFactory {

        """
        var byHead: [Term.Op: [RewriteRule]] = [:]
        for r in rules { byHead[r.head, default: []].append(r) }
        let heads = byHead.keys.sorted { $0.rawValue < $1.rawValue }
        var arities: [Int: [Term.Op]] = [:]
        for head in heads {
            guard let group = byHead[head], case .op(_, let operands) = group[0].lhs else { continue }
            arities[operands.count, default: []].append(head)
            out += function(head, arity: operands.count, group)
        }
        for arity in arities.keys.sorted() {
            let parameters = (0..<arity).map { "_ r\($0): Term" }.joined(separator: ", ")
            let arguments = (0..<arity).map { "r\($0)" }.joined(separator: ", ")
            out += "    /// The first rule for `op` that matches its \(arity == 1 ? "operand" : "operands"), applied; nil when none does.\n"
            out += "    @inline(__always) func applyRules(_ op: Term.Op, \(parameters)) -> Term? {\n"
            out += "        switch op {\n"
            for head in arities[arity] ?? [] { out += "        case .\(head): return \(functionName(head))(\(arguments))\n" }
            out += "        default: return nil\n        }\n    }\n\n"
        }
        out.removeLast()
        return out + "}\n"
    }

    static func functionName(_ op: Term.Op) -> String {
        let name = "\(op)"
        return "rewrite" + name.prefix(1).uppercased() + name.dropFirst()
    }

    private static func function(_ head: Term.Op, arity: Int, _ rules: [RewriteRule]) -> String {
        let parameters = (0..<arity).map { "_ r\($0): Term" }.joined(separator: ", ")
        var out = "    private func \(functionName(head))(\(parameters)) -> Term? {\n"
        for (n, rule) in rules.enumerated() {
            var writer = RuleWriter(label: "rule\(n)")
            out += "        // \(rule)\n"
            out += "        rule\(n): do {\n"
            for line in writer.body(rule) { out += "            " + line + "\n" }
            out += "        }\n"
        }
        return out + "        return nil\n    }\n\n"
    }

    /// One rule's block.
    private struct RuleWriter {
        let label: String
        var lines: [String] = []
        var registers = 0
        var bound: [Int: Int] = [:]
        var folds = 0

        init(label: String) { self.label = label }

        mutating func body(_ rule: RewriteRule) -> [String] {
            guard case .op(_, let operands) = rule.lhs else { preconditionFailure("a rule's left side is an operator: \(rule)") }
            registers = operands.count
            var built: [(Int, RuleExpr)] = []
            for (i, p) in operands.enumerated() { shape(p, i, &built) }
            // Built terms only after the whole shape has matched: which rules are tried
            // never changes which terms get made.
            for (r, e) in built { check("\(term(e)) == r\(r)") }
            for condition in rule.conditions {
                switch condition {
                case .constantLeaves(let v): check("leafValues(r\(register(v))) != nil")
                case .notOp(let v, let op): check("r\(register(v)).op != .\(op)")
                case .holds(let e): check("\(value(e)) != 0")
                }
            }
            lines.append("return \(term(rule.rhs))")
            // A subterm the rule never looks at again needs no name.
            return lines.enumerated().filter { i, line in
                guard line.hasPrefix("let r"), let name = line.split(separator: " ").dropFirst().first else { return true }
                return lines[(i + 1)...].contains { Self.mentions($0, String(name)) }
            }.map(\.element)
        }

        /// Whether `line` names the register `name` (`r1` is not in `r12`).
        static func mentions(_ line: String, _ name: String) -> Bool {
            var rest = line[...]
            while let found = rest.firstRange(of: name) {
                let after = rest[found.upperBound...].first
                if !(after?.isNumber ?? false) { return true }
                rest = rest[found.upperBound...]
            }
            return false
        }

        mutating func check(_ condition: String) { lines.append("guard \(condition) else { break \(label) }") }

        func register(_ v: Int) -> Int {
            guard let r = bound[v] else { preconditionFailure("rule variable \(v) is not bound on the left side") }
            return r
        }

        mutating func bind(_ v: Int, _ r: Int) {
            if let earlier = bound[v] { check("r\(r) == r\(earlier)") } else { bound[v] = r }
        }

        mutating func shape(_ p: RuleExpr, _ r: Int, _ built: inout [(Int, RuleExpr)]) {
            switch p {
            case .term(let v): bind(v, r)
            case .constant(let v):
                check("r\(r).op == .const")
                bind(v, r)
            case .literal(let l): check("r\(r).op == .\(l.op), r\(r).payload == \(number(l.payload))")
            case .op(let op, let args):
                let first = registers
                registers += args.count
                check("r\(r).op == .\(op)")
                lines.append("let a\(r) = r\(r).args")
                check("a\(r).count == \(args.count)")
                for k in args.indices { lines.append("let r\(first + k) = a\(r)[\(k)]") }
                for (k, a) in args.enumerated() { shape(a, first + k, &built) }
            case .named(let v, let inner):
                bind(v, r)
                shape(inner, r, &built)
            case .built(let e): built.append((r, e))
            case .node, .ordered, .fold: preconditionFailure("\(p) is not a left-side pattern")
            }
        }

        func number(_ v: UInt64) -> String { v == UInt64.max ? "UInt64.max" : "\(v)" }

        /// A constant expression's value (a `UInt64`); folds are computed first, by
        /// `guard let`, so no term is made for them.
        mutating func value(_ e: RuleExpr) -> String {
            switch e {
            case .term(let v), .constant(let v): return "r\(register(v)).payload"
            case .literal(let l): return number(l.payload)
            case .fold(let op, let args):
                precondition((1...2).contains(args.count), "folds take one or two operands")
                let operands = args.map { value($0) }.joined(separator: ", ")
                let name = "f\(folds)"
                folds += 1
                lines.append("guard let \(name) = Term.Op.\(op).evaluate(\(operands)) else { break \(label) }")
                return name
            default: preconditionFailure("\(e) is not a constant expression")
            }
        }

        /// A right side: a Swift expression that makes its terms left to right, the
        /// arguments before their node.
        mutating func term(_ e: RuleExpr) -> String {
            switch e {
            case .term(let v), .constant(let v): return "r\(register(v))"
            case .literal(let l): return l.op == .bool ? "bool(\(l == .true))" : "const(\(number(l.payload)))"
            case .fold(let op, _):
                let v = value(e)
                return Self.isBool(op) ? "bool(\(v) != 0)" : "const(\(v))"
            case .op(let op, let args):
                let a = args.map { term($0) }.joined(separator: ", ")
                if op == .allOf || op == .anyOf { return "\(op)([\(a)])" }
                precondition((1...3).contains(args.count))
                return "\(op)(\(a))"
            case .node(let op, let args):
                precondition((1...3).contains(args.count))
                return "node(.\(op), \(args.map { term($0) }.joined(separator: ", ")), isBool: \(Self.isBool(op)))"
            case .ordered(let op, let a, let b):
                return "commutativeNode(.\(op), \(term(a)), \(term(b)), isBool: \(Self.isBool(op)))"
            case .named, .built: preconditionFailure("\(e) is not a right side")
            }
        }

        /// Whether an operator's value is a boolean.
        static func isBool(_ op: Term.Op) -> Bool {
            switch op {
            case .bool, .boolVariable, .eq, .ult, .ule, .slt, .sle, .boolIte, .allOf, .anyOf, .negation: return true
            default: return false
            }
        }
    }
}
