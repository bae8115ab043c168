// Z3Kit: the only module that imports CZ3. It owns context lifetime, reference
// counting, error handling and timeouts; callers see a small Swift API over
// 64-bit bitvectors and booleans.
import CZ3

/// An error reported by Z3 (or a misuse of this API detected before calling Z3).
public struct Z3Error: Error, CustomStringConvertible {
    public let message: String
    public var description: String { "Z3 error: \(message)" }
    public init(message: String) { self.message = message }
}

/// One Z3 context. Not thread-safe: use one per task/thread, and never mix
/// expressions from different contexts (that is reported as an error).
///
/// Uses `Z3_mk_context_rc`: each `Z3Expr` inc_refs its AST and dec_refs it in
/// `deinit`, so a long-lived context does not keep every intermediate term alive
/// (with `Z3_mk_context` nothing is freed until the context dies). Every
/// `Z3Expr`, `Z3Solver` and `Z3Model` holds a strong reference to its context,
/// so the context is deleted only after all of them.
///
/// The builder functions do not throw. If one fails (e.g. a sort mismatch such as
/// `add(bool, bv)`), the first error is recorded here, a placeholder `true` is
/// returned, and every later `Z3Solver.check` on this context throws that error:
/// a query built from a placeholder would be meaningless.
public final class Z3Context {
    let raw: Z3_context
    private(set) var firstError: Z3Error?
    private let bvSort: Z3_sort
    private let boolSort: Z3_sort

    public init() {
        let cfg = Z3_mk_config()
        raw = Z3_mk_context_rc(cfg)!
        Z3_del_config(cfg)
        // Z3's default error handler prints and exits the process. This one does
        // nothing: every call is followed by a `Z3_get_error_code` check instead.
        Z3_set_error_handler(raw) { _, _ in }
        // Sorts are ASTs too in an rc context; keep the two we use alive.
        bvSort = Z3_mk_bv_sort(raw, 64)!
        boolSort = Z3_mk_bool_sort(raw)!
        Z3_inc_ref(raw, Z3_sort_to_ast(raw, bvSort))
        Z3_inc_ref(raw, Z3_sort_to_ast(raw, boolSort))
    }

    deinit {
        Z3_dec_ref(raw, Z3_sort_to_ast(raw, bvSort))
        Z3_dec_ref(raw, Z3_sort_to_ast(raw, boolSort))
        Z3_del_context(raw)
    }

    // MARK: error plumbing

    func record(_ error: Z3Error) {
        if firstError == nil { firstError = error }
    }

    /// The error raised by the last Z3 call on this context, if any.
    func lastError() -> Z3Error? {
        let code = Z3_get_error_code(raw)
        guard code != Z3_OK else { return nil }
        return Z3Error(message: String(cString: Z3_get_error_msg(raw, code)))
    }

    /// Records the last call's error (if any); returns true if there was one.
    @discardableResult
    func recordLastError() -> Bool {
        guard let e = lastError() else { return false }
        record(e)
        return true
    }

    /// Checks that `xs` belong to this context (an AST from another context
    /// would be undefined behaviour inside Z3), recording an error otherwise.
    func owns(_ xs: [Z3Expr]) -> Bool {
        guard xs.allSatisfy({ $0.context === self }) else {
            record(Z3Error(message: "expression belongs to a different Z3Context"))
            return false
        }
        return true
    }

    /// Wraps the result of one `Z3_mk_*` call; on failure records the error and
    /// returns a placeholder so building can continue.
    private func wrap(_ make: () -> Z3_ast?) -> Z3Expr {
        let ast = make()
        if recordLastError() || ast == nil {
            if ast == nil { record(Z3Error(message: "Z3 returned a null AST")) }
            return Z3Expr(context: self, ast: Z3_mk_true(raw)!)
        }
        return Z3Expr(context: self, ast: ast!)
    }

    private func unary(_ a: Z3Expr, _ f: (Z3_context?, Z3_ast?) -> Z3_ast?) -> Z3Expr {
        guard owns([a]) else { return placeholder() }
        return wrap { f(raw, a.ast) }
    }

    private func binary(_ a: Z3Expr, _ b: Z3Expr,
                        _ f: (Z3_context?, Z3_ast?, Z3_ast?) -> Z3_ast?) -> Z3Expr {
        guard owns([a, b]) else { return placeholder() }
        return wrap { f(raw, a.ast, b.ast) }
    }

    private func nary(_ xs: [Z3Expr],
                      _ f: (Z3_context?, UInt32, UnsafePointer<Z3_ast?>?) -> Z3_ast?) -> Z3Expr {
        guard owns(xs) else { return placeholder() }
        let asts: [Z3_ast?] = xs.map { $0.ast }
        // `xs` keeps the ASTs alive for the duration of the call.
        return withExtendedLifetime(xs) { wrap { f(raw, UInt32(asts.count), asts) } }
    }

    private func placeholder() -> Z3Expr { Z3Expr(context: self, ast: Z3_mk_true(raw)!) }

    // MARK: constants and variables (64-bit bitvectors and booleans only)

    public func bv(_ value: UInt64) -> Z3Expr { wrap { Z3_mk_unsigned_int64(raw, value, bvSort) } }

    public func bvVar(_ name: String) -> Z3Expr {
        wrap { Z3_mk_const(raw, Z3_mk_string_symbol(raw, name), bvSort) }
    }

    /// A constant of `width` bits (the low bits of `value`): rewrite rules are proved at
    /// narrower widths too.
    public func bv(_ value: UInt64, width: UInt32) -> Z3Expr {
        wrap { Z3_mk_unsigned_int64(raw, width >= 64 ? value : value & ((1 << UInt64(width)) - 1), Z3_mk_bv_sort(raw, width)) }
    }

    public func bvVar(_ name: String, width: UInt32) -> Z3Expr {
        wrap { Z3_mk_const(raw, Z3_mk_string_symbol(raw, name), Z3_mk_bv_sort(raw, width)) }
    }

    public func boolConst(_ value: Bool) -> Z3Expr { wrap { value ? Z3_mk_true(raw) : Z3_mk_false(raw) } }

    public func boolVar(_ name: String) -> Z3Expr {
        wrap { Z3_mk_const(raw, Z3_mk_string_symbol(raw, name), boolSort) }
    }

    // MARK: bitvector arithmetic (wraps modulo 2^64)

    public func add(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_bvadd) }
    public func sub(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_bvsub) }
    public func mul(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_bvmul) }
    public func bvAnd(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_bvand) }
    public func bvOr(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_bvor) }
    public func bvXor(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_bvxor) }
    public func bvNot(_ a: Z3Expr) -> Z3Expr { unary(a, Z3_mk_bvnot) }
    public func neg(_ a: Z3Expr) -> Z3Expr { unary(a, Z3_mk_bvneg) }
    public func shl(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_bvshl) }
    public func lshr(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_bvlshr) }
    public func ashr(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_bvashr) }

    // MARK: predicates

    /// Equality; works for two bitvectors or two booleans.
    public func eq(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_eq) }
    public func ult(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_bvult) }
    public func ule(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_bvule) }
    public func slt(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_bvslt) }
    public func sle(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_bvsle) }

    // MARK: boolean structure

    public func ite(_ c: Z3Expr, _ t: Z3Expr, _ e: Z3Expr) -> Z3Expr {
        guard owns([c, t, e]) else { return placeholder() }
        return wrap { Z3_mk_ite(raw, c.ast, t.ast, e.ast) }
    }

    /// Conjunction; the empty conjunction is `true`.
    public func and(_ xs: [Z3Expr]) -> Z3Expr { xs.isEmpty ? boolConst(true) : nary(xs, Z3_mk_and) }
    /// Disjunction; the empty disjunction is `false`.
    public func or(_ xs: [Z3Expr]) -> Z3Expr { xs.isEmpty ? boolConst(false) : nary(xs, Z3_mk_or) }
    public func not(_ a: Z3Expr) -> Z3Expr { unary(a, Z3_mk_not) }
    public func implies(_ a: Z3Expr, _ b: Z3Expr) -> Z3Expr { binary(a, b, Z3_mk_implies) }
}

/// A Z3 term owned by one context. Keeps its context alive and holds one
/// reference on its AST for as long as it lives.
public final class Z3Expr {
    let context: Z3Context
    let ast: Z3_ast

    init(context: Z3Context, ast: Z3_ast) {
        self.context = context
        self.ast = ast
        Z3_inc_ref(context.raw, ast)
    }

    deinit { Z3_dec_ref(context.raw, ast) }

    /// The term in SMT-LIB2 syntax (copied: Z3's buffer is reused by the next call).
    public var smtlib: String { String(cString: Z3_ast_to_string(context.raw, ast)) }
}

public enum Z3CheckResult {
    case sat(Z3Model)
    case unsat
    case unknown(reason: String)
}

/// A solver in one context. Keeps its context alive and holds a reference on the
/// Z3 solver object. Errors from `assert`/`push`/`pop` are recorded in the context
/// and thrown by the next `check`.
public final class Z3Solver {
    let context: Z3Context
    let raw: Z3_solver
    let resourceLimit: UInt32?

    /// - Parameter timeoutMilliseconds: per-`check` time limit (Z3 param
    ///   "timeout"); on expiry `check` returns `.unknown` (reason usually
    ///   "timeout" or "canceled"). `nil` means no limit.
    /// - Parameter engine: which of Z3's solvers answers.
    public init(context: Z3Context, timeoutMilliseconds: UInt32?, resourceLimit: UInt32? = nil, engine: Engine = .general) {
        self.context = context
        let c = context.raw
        switch engine {
        case .general: raw = Z3_mk_solver(c)!
        case .core: raw = Z3_mk_simple_solver(c)!
        }
        Z3_solver_inc_ref(c, raw)
        self.resourceLimit = resourceLimit
        if timeoutMilliseconds != nil || resourceLimit != nil {
            let params = Z3_mk_params(c)
            Z3_params_inc_ref(c, params)
            if let ms = timeoutMilliseconds { Z3_params_set_uint(c, params, Z3_mk_string_symbol(c, "timeout"), ms) }
            // rlimit: a deterministic bound on Z3's work (unlike wall-clock timeouts).
            if let r = resourceLimit { Z3_params_set_uint(c, params, Z3_mk_string_symbol(c, "rlimit"), r) }
            Z3_solver_set_params(c, raw, params)
            Z3_params_dec_ref(c, params)
            context.recordLastError()
        }
    }

    deinit { Z3_solver_dec_ref(context.raw, raw) }

    /// Z3's solvers. `general` is `Z3_mk_solver`, incremental; `core` is
    /// `Z3_mk_simple_solver`, the SMT core without a tactic pipeline in front: on small
    /// one-shot queries it answers with a fraction of the set-up work (the QF_BV
    /// tactic solver, used before, cost the corpus 0.2 billion instructions more).
    public enum Engine: Sendable {
        case general, core
    }

    public func assert(_ e: Z3Expr) {
        guard context.owns([e]) else { return }
        Z3_solver_assert(context.raw, raw, e.ast)
        context.recordLastError()
    }

    public func push() {
        Z3_solver_push(context.raw, raw)
        context.recordLastError()
    }

    public func pop() {
        guard Z3_solver_get_num_scopes(context.raw, raw) > 0 else {
            context.record(Z3Error(message: "pop() without a matching push()"))
            return
        }
        Z3_solver_pop(context.raw, raw, 1)
        context.recordLastError()
    }

    public func check() throws -> Z3CheckResult {
        try check(assumptions: [])
    }

    /// Checks the assertions together with `assumptions` (boolean literals).
    public func check(assumptions: [Z3Expr]) throws -> Z3CheckResult {
        _ = context.owns(assumptions)
        if let e = context.firstError { throw e }
        let asts: [Z3_ast?] = assumptions.map { $0.ast }
        let r = withExtendedLifetime(assumptions) {
            Z3_solver_check_assumptions(context.raw, raw, UInt32(asts.count), asts)
        }
        if let e = context.lastError() { throw e }
        switch r {
        case Z3_L_TRUE:
            let m = Z3_solver_get_model(context.raw, raw)
            if let e = context.lastError() { throw e }
            guard let m else { throw Z3Error(message: "sat but Z3 returned no model") }
            return .sat(Z3Model(context: context, raw: m))
        case Z3_L_FALSE:
            return .unsat
        default:
            let reason = String(cString: Z3_solver_get_reason_unknown(context.raw, raw))
            // The SMT core stops at the work bound without saying so: name the limit.
            if let limit = resourceLimit, reason == "unknown" || reason == "canceled", workDone() >= UInt64(limit) {
                return .unknown(reason: "max. resource limit exceeded (\(limit) units of work)")
            }
            return .unknown(reason: reason)
        }
    }

    /// Z3's count of the work the solver did (its "rlimit count" statistic).
    func workDone() -> UInt64 {
        let c = context.raw
        guard let stats = Z3_solver_get_statistics(c, raw) else { return 0 }
        Z3_stats_inc_ref(c, stats)
        defer { Z3_stats_dec_ref(c, stats) }
        for i in 0..<Z3_stats_size(c, stats) where String(cString: Z3_stats_get_key(c, stats, i)) == "rlimit count" {
            return Z3_stats_is_uint(c, stats, i) ? UInt64(Z3_stats_get_uint_value(c, stats, i)) : UInt64(Z3_stats_get_double_value(c, stats, i))
        }
        return 0
    }

    /// The asserted formulas as a complete SMT-LIB2 script ending in `(check-sat)`,
    /// which the `z3` binary can re-check. Assumptions passed to `check` are not
    /// included.
    public var smtlib2: String {
        String(cString: Z3_solver_to_string(context.raw, raw)) + "(check-sat)\n"
    }
}

/// A model from a `sat` answer. Keeps its context alive and holds a reference on
/// the Z3 model object.
public final class Z3Model {
    let context: Z3Context
    let raw: Z3_model

    init(context: Z3Context, raw: Z3_model) {
        self.context = context
        self.raw = raw
        Z3_model_inc_ref(context.raw, raw)
    }

    deinit { Z3_model_dec_ref(context.raw, raw) }

    /// Evaluates `e` with model completion (unconstrained variables get a value);
    /// the result is owned by a `Z3Expr`. nil on error or foreign expression.
    private func eval(_ e: Z3Expr) -> Z3Expr? {
        guard e.context === context else { return nil }
        var out: Z3_ast?
        let ok = Z3_model_eval(context.raw, raw, e.ast, true, &out)
        guard ok, context.lastError() == nil, let out else { return nil }
        return Z3Expr(context: context, ast: out)
    }

    /// The value of a bitvector term, or nil if it is not a bitvector numeral
    /// that fits in 64 bits.
    public func evalBV(_ e: Z3Expr) -> UInt64? {
        guard let v = eval(e) else { return nil }
        let c = context.raw
        guard Z3_is_numeral_ast(c, v.ast),
              Z3_get_sort_kind(c, Z3_get_sort(c, v.ast)) == Z3_BV_SORT else { return nil }
        var n: UInt64 = 0
        guard Z3_get_numeral_uint64(c, v.ast, &n), context.lastError() == nil else { return nil }
        return n
    }

    /// The value of a boolean term, or nil if it does not evaluate to true/false.
    public func evalBool(_ e: Z3Expr) -> Bool? {
        guard let v = eval(e) else { return nil }
        switch Z3_get_bool_value(context.raw, v.ast) {
        case Z3_L_TRUE: return true
        case Z3_L_FALSE: return false
        default: return nil
        }
    }
}

/// Process-wide Z3 settings.
public enum Z3Global {
    /// Z3's memory bound for the whole process, in megabytes: past it a query fails
    /// (and becomes an "unknown" verdict) instead of taking the machine down.
    public static func setMemoryLimit(megabytes: UInt32) {
        Z3_global_param_set("memory_max_size", String(megabytes))
    }
}

public enum Z3Version {
    /// Z3's full version string, e.g. "4.8.12.0".
    public static var string: String { String(cString: Z3_get_full_version()) }
}
