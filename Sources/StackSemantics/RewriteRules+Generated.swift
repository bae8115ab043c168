// Generated from RewriteRules.all by RuleCodeGeneration.swift; do not edit.
// Regenerate: PTREGS_GENERATE_RULES=1 swift test --filter RewriteRuleProofTests

extension TermFactory {
    private func rewriteAdd(_ r0: Term, _ r1: Term) -> Term? {
        // (k1 + k2) → [(k1 + k2)]
        rule0: do {
            guard r0.op == .const else { break rule0 }
            guard r1.op == .const else { break rule0 }
            guard let f0 = Term.Op.add.evaluate(r0.payload, r1.payload) else { break rule0 }
            return const(f0)
        }
        // (z@ite(c, x, y) + k1) → ite(c, (x + k1), (y + k1)) if z is ite over constants
        rule1: do {
            guard r0.op == .ite else { break rule1 }
            let a0 = r0.args
            guard a0.count == 3 else { break rule1 }
            let r2 = a0[0]
            let r3 = a0[1]
            let r4 = a0[2]
            guard r1.op == .const else { break rule1 }
            guard leafValues(r0) != nil else { break rule1 }
            return ite(r2, add(r3, r1), add(r4, r1))
        }
        // (k1 + z@ite(c, x, y)) → ite(c, (k1 + x), (k1 + y)) if z is ite over constants
        rule2: do {
            guard r0.op == .const else { break rule2 }
            guard r1.op == .ite else { break rule2 }
            let a1 = r1.args
            guard a1.count == 3 else { break rule2 }
            let r2 = a1[0]
            let r3 = a1[1]
            let r4 = a1[2]
            guard leafValues(r1) != nil else { break rule2 }
            return ite(r2, add(r0, r3), add(r0, r4))
        }
        // ((x + k1) + (y + k2)) → (x + y) if [([(k1 + k2)] == 0)]
        rule3: do {
            guard r0.op == .add else { break rule3 }
            let a0 = r0.args
            guard a0.count == 2 else { break rule3 }
            let r2 = a0[0]
            let r3 = a0[1]
            guard r3.op == .const else { break rule3 }
            guard r1.op == .add else { break rule3 }
            let a1 = r1.args
            guard a1.count == 2 else { break rule3 }
            let r4 = a1[0]
            let r5 = a1[1]
            guard r5.op == .const else { break rule3 }
            guard let f0 = Term.Op.add.evaluate(r3.payload, r5.payload) else { break rule3 }
            guard let f1 = Term.Op.eq.evaluate(f0, 0) else { break rule3 }
            guard f1 != 0 else { break rule3 }
            return commutativeNode(.add, r2, r4, isBool: false)
        }
        // ((x + k1) + (y + k2)) → ((x + y) + [(k1 + k2)])
        rule4: do {
            guard r0.op == .add else { break rule4 }
            let a0 = r0.args
            guard a0.count == 2 else { break rule4 }
            let r2 = a0[0]
            let r3 = a0[1]
            guard r3.op == .const else { break rule4 }
            guard r1.op == .add else { break rule4 }
            let a1 = r1.args
            guard a1.count == 2 else { break rule4 }
            let r4 = a1[0]
            let r5 = a1[1]
            guard r5.op == .const else { break rule4 }
            guard let f0 = Term.Op.add.evaluate(r3.payload, r5.payload) else { break rule4 }
            return node(.add, commutativeNode(.add, r2, r4, isBool: false), const(f0), isBool: false)
        }
        // ((x + k1) + k2) → x if [([(k1 + k2)] == 0)]
        rule5: do {
            guard r0.op == .add else { break rule5 }
            let a0 = r0.args
            guard a0.count == 2 else { break rule5 }
            let r2 = a0[0]
            let r3 = a0[1]
            guard r3.op == .const else { break rule5 }
            guard r1.op == .const else { break rule5 }
            guard let f0 = Term.Op.add.evaluate(r3.payload, r1.payload) else { break rule5 }
            guard let f1 = Term.Op.eq.evaluate(f0, 0) else { break rule5 }
            guard f1 != 0 else { break rule5 }
            return r2
        }
        // ((x + k1) + k2) → (x + [(k1 + k2)])
        rule6: do {
            guard r0.op == .add else { break rule6 }
            let a0 = r0.args
            guard a0.count == 2 else { break rule6 }
            let r2 = a0[0]
            let r3 = a0[1]
            guard r3.op == .const else { break rule6 }
            guard r1.op == .const else { break rule6 }
            guard let f0 = Term.Op.add.evaluate(r3.payload, r1.payload) else { break rule6 }
            return node(.add, r2, const(f0), isBool: false)
        }
        // (k1 + (x + k2)) → x if [([(k1 + k2)] == 0)]
        rule7: do {
            guard r0.op == .const else { break rule7 }
            guard r1.op == .add else { break rule7 }
            let a1 = r1.args
            guard a1.count == 2 else { break rule7 }
            let r2 = a1[0]
            let r3 = a1[1]
            guard r3.op == .const else { break rule7 }
            guard let f0 = Term.Op.add.evaluate(r0.payload, r3.payload) else { break rule7 }
            guard let f1 = Term.Op.eq.evaluate(f0, 0) else { break rule7 }
            guard f1 != 0 else { break rule7 }
            return r2
        }
        // (k1 + (x + k2)) → (x + [(k1 + k2)])
        rule8: do {
            guard r0.op == .const else { break rule8 }
            guard r1.op == .add else { break rule8 }
            let a1 = r1.args
            guard a1.count == 2 else { break rule8 }
            let r2 = a1[0]
            let r3 = a1[1]
            guard r3.op == .const else { break rule8 }
            guard let f0 = Term.Op.add.evaluate(r0.payload, r3.payload) else { break rule8 }
            return node(.add, r2, const(f0), isBool: false)
        }
        // ((x + k1) + y) → ((x + y) + k1)
        rule9: do {
            guard r0.op == .add else { break rule9 }
            let a0 = r0.args
            guard a0.count == 2 else { break rule9 }
            let r2 = a0[0]
            let r3 = a0[1]
            guard r3.op == .const else { break rule9 }
            return node(.add, commutativeNode(.add, r2, r1, isBool: false), r3, isBool: false)
        }
        // (x + (y + k1)) → ((x + y) + k1)
        rule10: do {
            guard r1.op == .add else { break rule10 }
            let a1 = r1.args
            guard a1.count == 2 else { break rule10 }
            let r2 = a1[0]
            let r3 = a1[1]
            guard r3.op == .const else { break rule10 }
            return node(.add, commutativeNode(.add, r0, r2, isBool: false), r3, isBool: false)
        }
        // (x + 0) → x
        rule11: do {
            guard r1.op == .const, r1.payload == 0 else { break rule11 }
            return r0
        }
        // (0 + x) → x
        rule12: do {
            guard r0.op == .const, r0.payload == 0 else { break rule12 }
            return r1
        }
        // (x + k1) → (x + k1)
        rule13: do {
            guard r1.op == .const else { break rule13 }
            return node(.add, r0, r1, isBool: false)
        }
        // (k1 + x) → (x + k1)
        rule14: do {
            guard r0.op == .const else { break rule14 }
            return node(.add, r1, r0, isBool: false)
        }
        return nil
    }

    private func rewriteSub(_ r0: Term, _ r1: Term) -> Term? {
        // (x - x) → 0
        rule0: do {
            guard r1 == r0 else { break rule0 }
            return const(0)
        }
        // (k1 - k2) → [(k1 - k2)]
        rule1: do {
            guard r0.op == .const else { break rule1 }
            guard r1.op == .const else { break rule1 }
            guard let f0 = Term.Op.sub.evaluate(r0.payload, r1.payload) else { break rule1 }
            return const(f0)
        }
        // (z@ite(c, x, y) - k1) → ite(c, (x - k1), (y - k1)) if z is ite over constants
        rule2: do {
            guard r0.op == .ite else { break rule2 }
            let a0 = r0.args
            guard a0.count == 3 else { break rule2 }
            let r2 = a0[0]
            let r3 = a0[1]
            let r4 = a0[2]
            guard r1.op == .const else { break rule2 }
            guard leafValues(r0) != nil else { break rule2 }
            return ite(r2, sub(r3, r1), sub(r4, r1))
        }
        // (k1 - z@ite(c, x, y)) → ite(c, (k1 - x), (k1 - y)) if z is ite over constants
        rule3: do {
            guard r0.op == .const else { break rule3 }
            guard r1.op == .ite else { break rule3 }
            let a1 = r1.args
            guard a1.count == 3 else { break rule3 }
            let r2 = a1[0]
            let r3 = a1[1]
            let r4 = a1[2]
            guard leafValues(r1) != nil else { break rule3 }
            return ite(r2, sub(r0, r3), sub(r0, r4))
        }
        // ((x + k1) - (x + k2)) → [(k1 - k2)]
        rule4: do {
            guard r0.op == .add else { break rule4 }
            let a0 = r0.args
            guard a0.count == 2 else { break rule4 }
            let r2 = a0[0]
            let r3 = a0[1]
            guard r3.op == .const else { break rule4 }
            guard r1.op == .add else { break rule4 }
            let a1 = r1.args
            guard a1.count == 2 else { break rule4 }
            let r4 = a1[0]
            let r5 = a1[1]
            guard r4 == r2 else { break rule4 }
            guard r5.op == .const else { break rule4 }
            guard let f0 = Term.Op.sub.evaluate(r3.payload, r5.payload) else { break rule4 }
            return const(f0)
        }
        // ((x + k1) - x) → k1
        rule5: do {
            guard r0.op == .add else { break rule5 }
            let a0 = r0.args
            guard a0.count == 2 else { break rule5 }
            let r2 = a0[0]
            let r3 = a0[1]
            guard r3.op == .const else { break rule5 }
            guard r1 == r2 else { break rule5 }
            return r3
        }
        // (x - (x + k1)) → [-k1]
        rule6: do {
            guard r1.op == .add else { break rule6 }
            let a1 = r1.args
            guard a1.count == 2 else { break rule6 }
            let r2 = a1[0]
            let r3 = a1[1]
            guard r2 == r0 else { break rule6 }
            guard r3.op == .const else { break rule6 }
            guard let f0 = Term.Op.neg.evaluate(r3.payload) else { break rule6 }
            return const(f0)
        }
        // (x - k1) → (x + [-k1])
        rule7: do {
            guard r1.op == .const else { break rule7 }
            guard let f0 = Term.Op.neg.evaluate(r1.payload) else { break rule7 }
            return add(r0, const(f0))
        }
        return nil
    }

    private func rewriteAnd(_ r0: Term, _ r1: Term) -> Term? {
        // (k1 & k2) → [(k1 & k2)]
        rule0: do {
            guard r0.op == .const else { break rule0 }
            guard r1.op == .const else { break rule0 }
            guard let f0 = Term.Op.and.evaluate(r0.payload, r1.payload) else { break rule0 }
            return const(f0)
        }
        // (z@ite(c, x, y) & k1) → ite(c, (x & k1), (y & k1)) if z is ite over constants
        rule1: do {
            guard r0.op == .ite else { break rule1 }
            let a0 = r0.args
            guard a0.count == 3 else { break rule1 }
            let r2 = a0[0]
            let r3 = a0[1]
            let r4 = a0[2]
            guard r1.op == .const else { break rule1 }
            guard leafValues(r0) != nil else { break rule1 }
            return ite(r2, and(r3, r1), and(r4, r1))
        }
        // (k1 & z@ite(c, x, y)) → ite(c, (k1 & x), (k1 & y)) if z is ite over constants
        rule2: do {
            guard r0.op == .const else { break rule2 }
            guard r1.op == .ite else { break rule2 }
            let a1 = r1.args
            guard a1.count == 3 else { break rule2 }
            let r2 = a1[0]
            let r3 = a1[1]
            let r4 = a1[2]
            guard leafValues(r1) != nil else { break rule2 }
            return ite(r2, and(r0, r3), and(r0, r4))
        }
        // ((k1 & x) & k2) → (x & [(k2 & k1)])
        rule3: do {
            guard r0.op == .and else { break rule3 }
            let a0 = r0.args
            guard a0.count == 2 else { break rule3 }
            let r2 = a0[0]
            let r3 = a0[1]
            guard r2.op == .const else { break rule3 }
            guard r1.op == .const else { break rule3 }
            guard let f0 = Term.Op.and.evaluate(r1.payload, r2.payload) else { break rule3 }
            return and(r3, const(f0))
        }
        // ((x & k1) & k2) → (x & [(k2 & k1)])
        rule4: do {
            guard r0.op == .and else { break rule4 }
            let a0 = r0.args
            guard a0.count == 2 else { break rule4 }
            let r2 = a0[0]
            let r3 = a0[1]
            guard r3.op == .const else { break rule4 }
            guard r1.op == .const else { break rule4 }
            guard let f0 = Term.Op.and.evaluate(r1.payload, r3.payload) else { break rule4 }
            return and(r2, const(f0))
        }
        // (k1 & z@(k2 & x)) → (z & k1)
        rule5: do {
            guard r0.op == .const else { break rule5 }
            guard r1.op == .and else { break rule5 }
            let a1 = r1.args
            guard a1.count == 2 else { break rule5 }
            let r2 = a1[0]
            guard r2.op == .const else { break rule5 }
            return and(r1, r0)
        }
        // (k1 & z@(x & k2)) → (z & k1)
        rule6: do {
            guard r0.op == .const else { break rule6 }
            guard r1.op == .and else { break rule6 }
            let a1 = r1.args
            guard a1.count == 2 else { break rule6 }
            let r3 = a1[1]
            guard r3.op == .const else { break rule6 }
            return and(r1, r0)
        }
        // (x & x) → x
        rule7: do {
            guard r1 == r0 else { break rule7 }
            return r0
        }
        // (0 & x) → 0
        rule8: do {
            guard r0.op == .const, r0.payload == 0 else { break rule8 }
            return const(0)
        }
        // (x & 0) → 0
        rule9: do {
            guard r1.op == .const, r1.payload == 0 else { break rule9 }
            return const(0)
        }
        // (-1 & x) → x
        rule10: do {
            guard r0.op == .const, r0.payload == UInt64.max else { break rule10 }
            return r1
        }
        // (x & -1) → x
        rule11: do {
            guard r1.op == .const, r1.payload == UInt64.max else { break rule11 }
            return r0
        }
        return nil
    }

    private func rewriteOr(_ r0: Term, _ r1: Term) -> Term? {
        // (k1 | k2) → [(k1 | k2)]
        rule0: do {
            guard r0.op == .const else { break rule0 }
            guard r1.op == .const else { break rule0 }
            guard let f0 = Term.Op.or.evaluate(r0.payload, r1.payload) else { break rule0 }
            return const(f0)
        }
        // (z@ite(c, x, y) | k1) → ite(c, (x | k1), (y | k1)) if z is ite over constants
        rule1: do {
            guard r0.op == .ite else { break rule1 }
            let a0 = r0.args
            guard a0.count == 3 else { break rule1 }
            let r2 = a0[0]
            let r3 = a0[1]
            let r4 = a0[2]
            guard r1.op == .const else { break rule1 }
            guard leafValues(r0) != nil else { break rule1 }
            return ite(r2, or(r3, r1), or(r4, r1))
        }
        // (k1 | z@ite(c, x, y)) → ite(c, (k1 | x), (k1 | y)) if z is ite over constants
        rule2: do {
            guard r0.op == .const else { break rule2 }
            guard r1.op == .ite else { break rule2 }
            let a1 = r1.args
            guard a1.count == 3 else { break rule2 }
            let r2 = a1[0]
            let r3 = a1[1]
            let r4 = a1[2]
            guard leafValues(r1) != nil else { break rule2 }
            return ite(r2, or(r0, r3), or(r0, r4))
        }
        // (x | x) → x
        rule3: do {
            guard r1 == r0 else { break rule3 }
            return r0
        }
        // (0 | x) → x
        rule4: do {
            guard r0.op == .const, r0.payload == 0 else { break rule4 }
            return r1
        }
        // (x | 0) → x
        rule5: do {
            guard r1.op == .const, r1.payload == 0 else { break rule5 }
            return r0
        }
        return nil
    }

    private func rewriteXor(_ r0: Term, _ r1: Term) -> Term? {
        // (k1 ^ k2) → [(k1 ^ k2)]
        rule0: do {
            guard r0.op == .const else { break rule0 }
            guard r1.op == .const else { break rule0 }
            guard let f0 = Term.Op.xor.evaluate(r0.payload, r1.payload) else { break rule0 }
            return const(f0)
        }
        // (z@ite(c, x, y) ^ k1) → ite(c, (x ^ k1), (y ^ k1)) if z is ite over constants
        rule1: do {
            guard r0.op == .ite else { break rule1 }
            let a0 = r0.args
            guard a0.count == 3 else { break rule1 }
            let r2 = a0[0]
            let r3 = a0[1]
            let r4 = a0[2]
            guard r1.op == .const else { break rule1 }
            guard leafValues(r0) != nil else { break rule1 }
            return ite(r2, xor(r3, r1), xor(r4, r1))
        }
        // (k1 ^ z@ite(c, x, y)) → ite(c, (k1 ^ x), (k1 ^ y)) if z is ite over constants
        rule2: do {
            guard r0.op == .const else { break rule2 }
            guard r1.op == .ite else { break rule2 }
            let a1 = r1.args
            guard a1.count == 3 else { break rule2 }
            let r2 = a1[0]
            let r3 = a1[1]
            let r4 = a1[2]
            guard leafValues(r1) != nil else { break rule2 }
            return ite(r2, xor(r0, r3), xor(r0, r4))
        }
        // (x ^ x) → 0
        rule3: do {
            guard r1 == r0 else { break rule3 }
            return const(0)
        }
        // (0 ^ x) → x
        rule4: do {
            guard r0.op == .const, r0.payload == 0 else { break rule4 }
            return r1
        }
        // (x ^ 0) → x
        rule5: do {
            guard r1.op == .const, r1.payload == 0 else { break rule5 }
            return r0
        }
        return nil
    }

    private func rewriteNot(_ r0: Term) -> Term? {
        // ~k1 → [~k1]
        rule0: do {
            guard r0.op == .const else { break rule0 }
            guard let f0 = Term.Op.not.evaluate(r0.payload) else { break rule0 }
            return const(f0)
        }
        // ~~x → x
        rule1: do {
            guard r0.op == .not else { break rule1 }
            let a0 = r0.args
            guard a0.count == 1 else { break rule1 }
            let r1 = a0[0]
            return r1
        }
        return nil
    }

    private func rewriteNeg(_ r0: Term) -> Term? {
        // -k1 → [-k1]
        rule0: do {
            guard r0.op == .const else { break rule0 }
            guard let f0 = Term.Op.neg.evaluate(r0.payload) else { break rule0 }
            return const(f0)
        }
        return nil
    }

    private func rewriteMul(_ r0: Term, _ r1: Term) -> Term? {
        // (k1 * k2) → [(k1 * k2)]
        rule0: do {
            guard r0.op == .const else { break rule0 }
            guard r1.op == .const else { break rule0 }
            guard let f0 = Term.Op.mul.evaluate(r0.payload, r1.payload) else { break rule0 }
            return const(f0)
        }
        // (z@ite(c, x, y) * k1) → ite(c, (x * k1), (y * k1)) if z is ite over constants
        rule1: do {
            guard r0.op == .ite else { break rule1 }
            let a0 = r0.args
            guard a0.count == 3 else { break rule1 }
            let r2 = a0[0]
            let r3 = a0[1]
            let r4 = a0[2]
            guard r1.op == .const else { break rule1 }
            guard leafValues(r0) != nil else { break rule1 }
            return ite(r2, mul(r3, r1), mul(r4, r1))
        }
        // (k1 * z@ite(c, x, y)) → ite(c, (k1 * x), (k1 * y)) if z is ite over constants
        rule2: do {
            guard r0.op == .const else { break rule2 }
            guard r1.op == .ite else { break rule2 }
            let a1 = r1.args
            guard a1.count == 3 else { break rule2 }
            let r2 = a1[0]
            let r3 = a1[1]
            let r4 = a1[2]
            guard leafValues(r1) != nil else { break rule2 }
            return ite(r2, mul(r0, r3), mul(r0, r4))
        }
        // (1 * x) → x
        rule3: do {
            guard r0.op == .const, r0.payload == 1 else { break rule3 }
            return r1
        }
        // (x * 1) → x
        rule4: do {
            guard r1.op == .const, r1.payload == 1 else { break rule4 }
            return r0
        }
        return nil
    }

    private func rewriteEq(_ r0: Term, _ r1: Term) -> Term? {
        // (x == x) → true
        rule0: do {
            guard r1 == r0 else { break rule0 }
            return bool(true)
        }
        // (true == x) → x
        rule1: do {
            guard r0.op == .bool, r0.payload == 1 else { break rule1 }
            return r1
        }
        // (false == x) → !x
        rule2: do {
            guard r0.op == .bool, r0.payload == 0 else { break rule2 }
            return negation(r1)
        }
        // (x == true) → x
        rule3: do {
            guard r1.op == .bool, r1.payload == 1 else { break rule3 }
            return r0
        }
        // (x == false) → !x
        rule4: do {
            guard r1.op == .bool, r1.payload == 0 else { break rule4 }
            return negation(r0)
        }
        // (k1 == k2) → [(k1 == k2)]
        rule5: do {
            guard r0.op == .const else { break rule5 }
            guard r1.op == .const else { break rule5 }
            guard let f0 = Term.Op.eq.evaluate(r0.payload, r1.payload) else { break rule5 }
            return bool(f0 != 0)
        }
        // ((x + k1) == (x + k2)) → [(k1 == k2)]
        rule6: do {
            guard r0.op == .add else { break rule6 }
            let a0 = r0.args
            guard a0.count == 2 else { break rule6 }
            let r2 = a0[0]
            let r3 = a0[1]
            guard r3.op == .const else { break rule6 }
            guard r1.op == .add else { break rule6 }
            let a1 = r1.args
            guard a1.count == 2 else { break rule6 }
            let r4 = a1[0]
            let r5 = a1[1]
            guard r4 == r2 else { break rule6 }
            guard r5.op == .const else { break rule6 }
            guard let f0 = Term.Op.eq.evaluate(r3.payload, r5.payload) else { break rule6 }
            return bool(f0 != 0)
        }
        // ((x + k1) == x) → [(k1 == 0)]
        rule7: do {
            guard r0.op == .add else { break rule7 }
            let a0 = r0.args
            guard a0.count == 2 else { break rule7 }
            let r2 = a0[0]
            let r3 = a0[1]
            guard r3.op == .const else { break rule7 }
            guard r1 == r2 else { break rule7 }
            guard let f0 = Term.Op.eq.evaluate(r3.payload, 0) else { break rule7 }
            return bool(f0 != 0)
        }
        // (x == (x + k1)) → [(0 == k1)]
        rule8: do {
            guard r1.op == .add else { break rule8 }
            let a1 = r1.args
            guard a1.count == 2 else { break rule8 }
            let r2 = a1[0]
            let r3 = a1[1]
            guard r2 == r0 else { break rule8 }
            guard r3.op == .const else { break rule8 }
            guard let f0 = Term.Op.eq.evaluate(0, r3.payload) else { break rule8 }
            return bool(f0 != 0)
        }
        // (z@ite(c, x, y) == k1) → ite(c, (x == k1), (y == k1)) if z is ite over constants
        rule9: do {
            guard r0.op == .ite else { break rule9 }
            let a0 = r0.args
            guard a0.count == 3 else { break rule9 }
            let r2 = a0[0]
            let r3 = a0[1]
            let r4 = a0[2]
            guard r1.op == .const else { break rule9 }
            guard leafValues(r0) != nil else { break rule9 }
            return boolIte(r2, eq(r3, r1), eq(r4, r1))
        }
        // (k1 == z@ite(c, x, y)) → (z == k1)
        rule10: do {
            guard r0.op == .const else { break rule10 }
            guard r1.op == .ite else { break rule10 }
            let a1 = r1.args
            guard a1.count == 3 else { break rule10 }
            return eq(r1, r0)
        }
        // (ite(c, x, y) == x) → (c || (y == x)) if x is not ite
        rule11: do {
            guard r0.op == .ite else { break rule11 }
            let a0 = r0.args
            guard a0.count == 3 else { break rule11 }
            let r2 = a0[0]
            let r3 = a0[1]
            let r4 = a0[2]
            guard r1 == r3 else { break rule11 }
            guard r3.op != .ite else { break rule11 }
            return anyOf([r2, eq(r4, r3)])
        }
        // (ite(c, x, y) == y) → (!c || (x == y)) if y is not ite
        rule12: do {
            guard r0.op == .ite else { break rule12 }
            let a0 = r0.args
            guard a0.count == 3 else { break rule12 }
            let r2 = a0[0]
            let r3 = a0[1]
            let r4 = a0[2]
            guard r1 == r4 else { break rule12 }
            guard r4.op != .ite else { break rule12 }
            return anyOf([negation(r2), eq(r3, r4)])
        }
        // (x == z@ite(c, y, w)) → (z == x) if x is not ite
        rule13: do {
            guard r1.op == .ite else { break rule13 }
            let a1 = r1.args
            guard a1.count == 3 else { break rule13 }
            guard r0.op != .ite else { break rule13 }
            return eq(r1, r0)
        }
        // (ite(c, x, y) == ite(c, z, w)) → ite(c, (x == z), (y == w))
        rule14: do {
            guard r0.op == .ite else { break rule14 }
            let a0 = r0.args
            guard a0.count == 3 else { break rule14 }
            let r2 = a0[0]
            let r3 = a0[1]
            let r4 = a0[2]
            guard r1.op == .ite else { break rule14 }
            let a1 = r1.args
            guard a1.count == 3 else { break rule14 }
            let r5 = a1[0]
            let r6 = a1[1]
            let r7 = a1[2]
            guard r5 == r2 else { break rule14 }
            return boolIte(r2, eq(r3, r6), eq(r4, r7))
        }
        // ((x + k1) == k2) → (x == [(k2 - k1)])
        rule15: do {
            guard r0.op == .add else { break rule15 }
            let a0 = r0.args
            guard a0.count == 2 else { break rule15 }
            let r2 = a0[0]
            let r3 = a0[1]
            guard r3.op == .const else { break rule15 }
            guard r1.op == .const else { break rule15 }
            guard let f0 = Term.Op.sub.evaluate(r1.payload, r3.payload) else { break rule15 }
            return eq(r2, const(f0))
        }
        // (k1 == (x + k2)) → (x == [(k1 - k2)])
        rule16: do {
            guard r0.op == .const else { break rule16 }
            guard r1.op == .add else { break rule16 }
            let a1 = r1.args
            guard a1.count == 2 else { break rule16 }
            let r2 = a1[0]
            let r3 = a1[1]
            guard r3.op == .const else { break rule16 }
            guard let f0 = Term.Op.sub.evaluate(r0.payload, r3.payload) else { break rule16 }
            return eq(r2, const(f0))
        }
        return nil
    }

    private func rewriteUlt(_ r0: Term, _ r1: Term) -> Term? {
        // (k1 <u k2) → [(k1 <u k2)]
        rule0: do {
            guard r0.op == .const else { break rule0 }
            guard r1.op == .const else { break rule0 }
            guard let f0 = Term.Op.ult.evaluate(r0.payload, r1.payload) else { break rule0 }
            return bool(f0 != 0)
        }
        // (x <u x) → false
        rule1: do {
            guard r1 == r0 else { break rule1 }
            return bool(false)
        }
        return nil
    }

    private func rewriteUle(_ r0: Term, _ r1: Term) -> Term? {
        // (k1 <=u k2) → [(k1 <=u k2)]
        rule0: do {
            guard r0.op == .const else { break rule0 }
            guard r1.op == .const else { break rule0 }
            guard let f0 = Term.Op.ule.evaluate(r0.payload, r1.payload) else { break rule0 }
            return bool(f0 != 0)
        }
        // (x <=u x) → true
        rule1: do {
            guard r1 == r0 else { break rule1 }
            return bool(true)
        }
        return nil
    }

    private func rewriteSlt(_ r0: Term, _ r1: Term) -> Term? {
        // (k1 <s k2) → [(k1 <s k2)]
        rule0: do {
            guard r0.op == .const else { break rule0 }
            guard r1.op == .const else { break rule0 }
            guard let f0 = Term.Op.slt.evaluate(r0.payload, r1.payload) else { break rule0 }
            return bool(f0 != 0)
        }
        // (x <s x) → false
        rule1: do {
            guard r1 == r0 else { break rule1 }
            return bool(false)
        }
        return nil
    }

    private func rewriteSle(_ r0: Term, _ r1: Term) -> Term? {
        // (k1 <=s k2) → [(k1 <=s k2)]
        rule0: do {
            guard r0.op == .const else { break rule0 }
            guard r1.op == .const else { break rule0 }
            guard let f0 = Term.Op.sle.evaluate(r0.payload, r1.payload) else { break rule0 }
            return bool(f0 != 0)
        }
        // (x <=s x) → true
        rule1: do {
            guard r1 == r0 else { break rule1 }
            return bool(true)
        }
        return nil
    }

    private func rewriteIte(_ r0: Term, _ r1: Term, _ r2: Term) -> Term? {
        // ite(true, x, y) → x
        rule0: do {
            guard r0.op == .bool, r0.payload == 1 else { break rule0 }
            return r1
        }
        // ite(false, x, y) → y
        rule1: do {
            guard r0.op == .bool, r0.payload == 0 else { break rule1 }
            return r2
        }
        // ite(c, x, x) → x
        rule2: do {
            guard r2 == r1 else { break rule2 }
            return r1
        }
        // ite(!c, x, y) → ite(c, y, x)
        rule3: do {
            guard r0.op == .negation else { break rule3 }
            let a0 = r0.args
            guard a0.count == 1 else { break rule3 }
            let r3 = a0[0]
            return ite(r3, r2, r1)
        }
        // ite(c, ite(c, x, z), y) → ite(c, x, y)
        rule4: do {
            guard r1.op == .ite else { break rule4 }
            let a1 = r1.args
            guard a1.count == 3 else { break rule4 }
            let r3 = a1[0]
            let r4 = a1[1]
            guard r3 == r0 else { break rule4 }
            return ite(r0, r4, r2)
        }
        // ite(c, x, ite(c, z, y)) → ite(c, x, y)
        rule5: do {
            guard r2.op == .ite else { break rule5 }
            let a2 = r2.args
            guard a2.count == 3 else { break rule5 }
            let r3 = a2[0]
            let r5 = a2[2]
            guard r3 == r0 else { break rule5 }
            return ite(r0, r1, r5)
        }
        return nil
    }

    private func rewriteBoolIte(_ r0: Term, _ r1: Term, _ r2: Term) -> Term? {
        // ite(true, x, y) → x
        rule0: do {
            guard r0.op == .bool, r0.payload == 1 else { break rule0 }
            return r1
        }
        // ite(false, x, y) → y
        rule1: do {
            guard r0.op == .bool, r0.payload == 0 else { break rule1 }
            return r2
        }
        // ite(c, x, x) → x
        rule2: do {
            guard r2 == r1 else { break rule2 }
            return r1
        }
        // ite(c, c, y) → (c || y)
        rule3: do {
            guard r1 == r0 else { break rule3 }
            return anyOf([r0, r2])
        }
        // ite(c, x, c) → (c && x)
        rule4: do {
            guard r2 == r0 else { break rule4 }
            return allOf([r0, r1])
        }
        // ite(c, x@=!c, y) → (x && y)
        rule5: do {
            guard negation(r0) == r1 else { break rule5 }
            return allOf([r1, r2])
        }
        // ite(c, x, y@=!c) → (y || x)
        rule6: do {
            guard negation(r0) == r2 else { break rule6 }
            return anyOf([r2, r1])
        }
        // ite(c, true, false) → c
        rule7: do {
            guard r1.op == .bool, r1.payload == 1 else { break rule7 }
            guard r2.op == .bool, r2.payload == 0 else { break rule7 }
            return r0
        }
        // ite(c, false, true) → !c
        rule8: do {
            guard r1.op == .bool, r1.payload == 0 else { break rule8 }
            guard r2.op == .bool, r2.payload == 1 else { break rule8 }
            return negation(r0)
        }
        // ite(c, true, y) → (c || y)
        rule9: do {
            guard r1.op == .bool, r1.payload == 1 else { break rule9 }
            return anyOf([r0, r2])
        }
        // ite(c, false, y) → (!c && y)
        rule10: do {
            guard r1.op == .bool, r1.payload == 0 else { break rule10 }
            return allOf([negation(r0), r2])
        }
        // ite(c, x, true) → (!c || x)
        rule11: do {
            guard r2.op == .bool, r2.payload == 1 else { break rule11 }
            return anyOf([negation(r0), r1])
        }
        // ite(c, x, false) → (c && x)
        rule12: do {
            guard r2.op == .bool, r2.payload == 0 else { break rule12 }
            return allOf([r0, r1])
        }
        return nil
    }

    private func rewriteNegation(_ r0: Term) -> Term? {
        // !true → false
        rule0: do {
            guard r0.op == .bool, r0.payload == 1 else { break rule0 }
            return bool(false)
        }
        // !false → true
        rule1: do {
            guard r0.op == .bool, r0.payload == 0 else { break rule1 }
            return bool(true)
        }
        // !!c → c
        rule2: do {
            guard r0.op == .negation else { break rule2 }
            let a0 = r0.args
            guard a0.count == 1 else { break rule2 }
            let r1 = a0[0]
            return r1
        }
        return nil
    }

    private func rewriteShl(_ r0: Term, _ r1: Term) -> Term? {
        // (k1 << k2) → [(k1 << k2)]
        rule0: do {
            guard r0.op == .const else { break rule0 }
            guard r1.op == .const else { break rule0 }
            guard let f0 = Term.Op.shl.evaluate(r0.payload, r1.payload) else { break rule0 }
            return const(f0)
        }
        // (z@ite(c, x, y) << k1) → ite(c, (x << k1), (y << k1)) if z is ite over constants
        rule1: do {
            guard r0.op == .ite else { break rule1 }
            let a0 = r0.args
            guard a0.count == 3 else { break rule1 }
            let r2 = a0[0]
            let r3 = a0[1]
            let r4 = a0[2]
            guard r1.op == .const else { break rule1 }
            guard leafValues(r0) != nil else { break rule1 }
            return ite(r2, shl(r3, r1), shl(r4, r1))
        }
        // (k1 << z@ite(c, x, y)) → ite(c, (k1 << x), (k1 << y)) if z is ite over constants
        rule2: do {
            guard r0.op == .const else { break rule2 }
            guard r1.op == .ite else { break rule2 }
            let a1 = r1.args
            guard a1.count == 3 else { break rule2 }
            let r2 = a1[0]
            let r3 = a1[1]
            let r4 = a1[2]
            guard leafValues(r1) != nil else { break rule2 }
            return ite(r2, shl(r0, r3), shl(r0, r4))
        }
        // (x << 0) → x
        rule3: do {
            guard r1.op == .const, r1.payload == 0 else { break rule3 }
            return r0
        }
        return nil
    }

    private func rewriteLshr(_ r0: Term, _ r1: Term) -> Term? {
        // (k1 >>u k2) → [(k1 >>u k2)]
        rule0: do {
            guard r0.op == .const else { break rule0 }
            guard r1.op == .const else { break rule0 }
            guard let f0 = Term.Op.lshr.evaluate(r0.payload, r1.payload) else { break rule0 }
            return const(f0)
        }
        // (z@ite(c, x, y) >>u k1) → ite(c, (x >>u k1), (y >>u k1)) if z is ite over constants
        rule1: do {
            guard r0.op == .ite else { break rule1 }
            let a0 = r0.args
            guard a0.count == 3 else { break rule1 }
            let r2 = a0[0]
            let r3 = a0[1]
            let r4 = a0[2]
            guard r1.op == .const else { break rule1 }
            guard leafValues(r0) != nil else { break rule1 }
            return ite(r2, lshr(r3, r1), lshr(r4, r1))
        }
        // (k1 >>u z@ite(c, x, y)) → ite(c, (k1 >>u x), (k1 >>u y)) if z is ite over constants
        rule2: do {
            guard r0.op == .const else { break rule2 }
            guard r1.op == .ite else { break rule2 }
            let a1 = r1.args
            guard a1.count == 3 else { break rule2 }
            let r2 = a1[0]
            let r3 = a1[1]
            let r4 = a1[2]
            guard leafValues(r1) != nil else { break rule2 }
            return ite(r2, lshr(r0, r3), lshr(r0, r4))
        }
        // (x >>u 0) → x
        rule3: do {
            guard r1.op == .const, r1.payload == 0 else { break rule3 }
            return r0
        }
        return nil
    }

    private func rewriteAshr(_ r0: Term, _ r1: Term) -> Term? {
        // (k1 >>s k2) → [(k1 >>s k2)]
        rule0: do {
            guard r0.op == .const else { break rule0 }
            guard r1.op == .const else { break rule0 }
            guard let f0 = Term.Op.ashr.evaluate(r0.payload, r1.payload) else { break rule0 }
            return const(f0)
        }
        // (z@ite(c, x, y) >>s k1) → ite(c, (x >>s k1), (y >>s k1)) if z is ite over constants
        rule1: do {
            guard r0.op == .ite else { break rule1 }
            let a0 = r0.args
            guard a0.count == 3 else { break rule1 }
            let r2 = a0[0]
            let r3 = a0[1]
            let r4 = a0[2]
            guard r1.op == .const else { break rule1 }
            guard leafValues(r0) != nil else { break rule1 }
            return ite(r2, ashr(r3, r1), ashr(r4, r1))
        }
        // (k1 >>s z@ite(c, x, y)) → ite(c, (k1 >>s x), (k1 >>s y)) if z is ite over constants
        rule2: do {
            guard r0.op == .const else { break rule2 }
            guard r1.op == .ite else { break rule2 }
            let a1 = r1.args
            guard a1.count == 3 else { break rule2 }
            let r2 = a1[0]
            let r3 = a1[1]
            let r4 = a1[2]
            guard leafValues(r1) != nil else { break rule2 }
            return ite(r2, ashr(r0, r3), ashr(r0, r4))
        }
        // (x >>s 0) → x
        rule3: do {
            guard r1.op == .const, r1.payload == 0 else { break rule3 }
            return r0
        }
        return nil
    }

    /// The first rule for `op` that matches its operand, applied; nil when none does.
    @inline(__always) func applyRules(_ op: Term.Op, _ r0: Term) -> Term? {
        switch op {
        case .not: return rewriteNot(r0)
        case .neg: return rewriteNeg(r0)
        case .negation: return rewriteNegation(r0)
        default: return nil
        }
    }

    /// The first rule for `op` that matches its operands, applied; nil when none does.
    @inline(__always) func applyRules(_ op: Term.Op, _ r0: Term, _ r1: Term) -> Term? {
        switch op {
        case .add: return rewriteAdd(r0, r1)
        case .sub: return rewriteSub(r0, r1)
        case .and: return rewriteAnd(r0, r1)
        case .or: return rewriteOr(r0, r1)
        case .xor: return rewriteXor(r0, r1)
        case .mul: return rewriteMul(r0, r1)
        case .eq: return rewriteEq(r0, r1)
        case .ult: return rewriteUlt(r0, r1)
        case .ule: return rewriteUle(r0, r1)
        case .slt: return rewriteSlt(r0, r1)
        case .sle: return rewriteSle(r0, r1)
        case .shl: return rewriteShl(r0, r1)
        case .lshr: return rewriteLshr(r0, r1)
        case .ashr: return rewriteAshr(r0, r1)
        default: return nil
        }
    }

    /// The first rule for `op` that matches its operands, applied; nil when none does.
    @inline(__always) func applyRules(_ op: Term.Op, _ r0: Term, _ r1: Term, _ r2: Term) -> Term? {
        switch op {
        case .ite: return rewriteIte(r0, r1, r2)
        case .boolIte: return rewriteBoolIte(r0, r1, r2)
        default: return nil
        }
    }
}
