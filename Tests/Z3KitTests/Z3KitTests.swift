import Foundation
import XCTest
@testable import Z3Kit

final class Z3KitTests: XCTestCase {
    private func model(_ r: Z3CheckResult, file: StaticString = #filePath, line: UInt = #line) -> Z3Model? {
        guard case .sat(let m) = r else {
            XCTFail("expected sat, got \(r)", file: file, line: line)
            return nil
        }
        return m
    }

    private func isUnsat(_ r: Z3CheckResult) -> Bool {
        if case .unsat = r { return true }
        return false
    }

    func testVersion() {
        XCTAssertTrue(Z3Version.string.hasPrefix("4."), Z3Version.string)
    }

    func testSatWithModel() throws {
        let z = Z3Context()
        let x = z.bvVar("x")
        let s = Z3Solver(context: z, timeoutMilliseconds: nil)
        s.assert(z.eq(z.add(x, z.bv(1)), z.bv(5)))
        let m = try XCTUnwrap(model(try s.check()))
        XCTAssertEqual(m.evalBV(x), 4)
        XCTAssertEqual(m.evalBV(z.add(x, x)), 8)
        XCTAssertNil(m.evalBool(x), "a bitvector is not a boolean")
        XCTAssertNil(m.evalBV(z.eq(x, x)), "a boolean is not a bitvector numeral")
        // Model completion: an unconstrained variable still gets a value.
        XCTAssertNotNil(m.evalBV(z.bvVar("unconstrained")))
    }

    func testUnsat() throws {
        let z = Z3Context()
        let x = z.bvVar("x")
        let s = Z3Solver(context: z, timeoutMilliseconds: 5000)
        s.assert(z.ult(x, z.bv(3)))
        s.assert(z.ult(z.bv(5), x))
        XCTAssertTrue(isUnsat(try s.check()))
    }

    /// The SMT core (what the prover's queries use) answers sat with a model and
    /// unsat, and a query it stops at the work bound says so.
    func testCoreEngine() throws {
        let z = Z3Context()
        let x = z.bvVar("x"), y = z.bvVar("y")
        let sat = Z3Solver(context: z, timeoutMilliseconds: nil, engine: .core)
        sat.assert(z.eq(z.add(x, z.bv(1)), z.bv(5)))
        XCTAssertEqual(model(try sat.check())?.evalBV(x), 4)
        // ~(~(x + y) + y) == x, which Z3's rewriter alone does not settle.
        let identity = z.not(z.eq(z.bvNot(z.add(z.bvNot(z.add(x, y)), y)), x))
        let unsat = Z3Solver(context: z, timeoutMilliseconds: nil, engine: .core)
        unsat.assert(identity)
        XCTAssertTrue(isUnsat(try unsat.check()))
        let limited = Z3Solver(context: z, timeoutMilliseconds: nil, resourceLimit: 1, engine: .core)
        limited.assert(identity)
        guard case .unknown(let reason) = try limited.check() else { return XCTFail("expected unknown at the work bound") }
        XCTAssertTrue(reason.contains("resource limit"), reason)
    }

    func testPushPopAndAssumptions() throws {
        let z = Z3Context()
        let x = z.bvVar("x"), p = z.boolVar("p")
        let s = Z3Solver(context: z, timeoutMilliseconds: nil)
        s.assert(z.implies(p, z.eq(x, z.bv(7))))
        s.push()
        s.assert(z.eq(x, z.bv(8)))
        XCTAssertTrue(isUnsat(try s.check(assumptions: [p])))
        XCTAssertEqual(model(try s.check())?.evalBool(p), false)
        s.pop()
        XCTAssertEqual(model(try s.check(assumptions: [p]))?.evalBV(x), 7)
    }

    func testIteAndBooleanOps() throws {
        let z = Z3Context()
        let a = z.boolVar("a"), b = z.boolVar("b"), x = z.bvVar("x")
        let s = Z3Solver(context: z, timeoutMilliseconds: nil)
        s.assert(z.and([a, z.not(b)]))
        s.assert(z.eq(x, z.ite(z.or([a, b]), z.bv(10), z.bv(20))))
        s.assert(z.and([]))           // true
        s.assert(z.not(z.or([])))     // not false
        s.assert(z.eq(z.boolConst(true), a))
        let m = try XCTUnwrap(model(try s.check()))
        XCTAssertEqual(m.evalBool(a), true)
        XCTAssertEqual(m.evalBool(b), false)
        XCTAssertEqual(m.evalBool(z.implies(b, z.boolConst(false))), true)
        XCTAssertEqual(m.evalBV(x), 10)

        let s2 = Z3Solver(context: z, timeoutMilliseconds: nil)
        s2.assert(z.or([]))
        XCTAssertTrue(isUnsat(try s2.check()))
    }

    func testBitvectorOps() throws {
        let z = Z3Context()
        let s = Z3Solver(context: z, timeoutMilliseconds: nil)
        let m = try XCTUnwrap(model(try s.check()))
        let a = z.bv(0xf0f0), b = z.bv(0xff00)
        XCTAssertEqual(m.evalBV(z.sub(z.bv(3), z.bv(5))), UInt64.max - 1)
        XCTAssertEqual(m.evalBV(z.mul(z.bv(1 << 63), z.bv(2))), 0)
        XCTAssertEqual(m.evalBV(z.bvAnd(a, b)), 0xf000)
        XCTAssertEqual(m.evalBV(z.bvOr(a, b)), 0xfff0)
        XCTAssertEqual(m.evalBV(z.bvXor(a, b)), 0x0ff0)
        XCTAssertEqual(m.evalBV(z.bvNot(z.bv(0))), UInt64.max)
        XCTAssertEqual(m.evalBV(z.neg(z.bv(1))), UInt64.max)
        XCTAssertEqual(m.evalBV(z.shl(z.bv(1), z.bv(63))), 1 << 63)
        XCTAssertEqual(m.evalBV(z.lshr(z.bv(1 << 63), z.bv(63))), 1)
        XCTAssertEqual(m.evalBV(z.ashr(z.bv(1 << 63), z.bv(63))), UInt64.max)
    }

    func testWraparound() throws {
        let z = Z3Context()
        let s = Z3Solver(context: z, timeoutMilliseconds: nil)
        // Valid iff its negation is unsat.
        s.assert(z.not(z.eq(z.add(z.bv(0xffff_ffff_ffff_ffff), z.bv(1)), z.bv(0))))
        XCTAssertTrue(isUnsat(try s.check()))
    }

    func testSignedComparison() throws {
        let z = Z3Context()
        let minusOne = z.bv(UInt64.max)
        let s = Z3Solver(context: z, timeoutMilliseconds: nil)
        let m = try XCTUnwrap(model(try s.check()))
        XCTAssertEqual(m.evalBool(z.slt(minusOne, z.bv(0))), true)
        XCTAssertEqual(m.evalBool(z.ult(minusOne, z.bv(0))), false)
        XCTAssertEqual(m.evalBool(z.sle(z.bv(1 << 63), minusOne)), true)
        XCTAssertEqual(m.evalBool(z.ule(z.bv(1 << 63), minusOne)), true)

        // Some x is signed-negative yet unsigned-greater than 5.
        let x = z.bvVar("x")
        s.assert(z.and([z.slt(x, z.bv(0)), z.ult(z.bv(5), x)]))
        let v = try XCTUnwrap(model(try s.check())?.evalBV(x))
        XCTAssertLessThan(Int64(bitPattern: v), 0)
    }

    /// Factoring a 64-bit semiprime takes Z3 seconds; a 10 ms limit must give up.
    func testTimeoutGivesUnknown() throws {
        let z = Z3Context()
        let x = z.bvVar("x"), y = z.bvVar("y")
        let s = Z3Solver(context: z, timeoutMilliseconds: 10)
        s.assert(z.ult(x, z.bv(1 << 32)))
        s.assert(z.ult(y, z.bv(1 << 32)))
        s.assert(z.ult(z.bv(1), x))
        s.assert(z.ult(z.bv(1), y))
        s.assert(z.eq(z.mul(x, y), z.bv(4_294_967_291 * 4_294_967_279)))
        let start = Date()
        guard case .unknown(let reason) = try s.check() else {
            return XCTFail("expected unknown")
        }
        XCTAssertFalse(reason.isEmpty)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
    }

    func testErrorsAreThrownNotFatal() {
        let z = Z3Context()
        let s = Z3Solver(context: z, timeoutMilliseconds: nil)
        s.assert(z.eq(z.bvVar("x"), z.boolVar("p")))  // sort mismatch
        XCTAssertThrowsError(try s.check()) { error in
            XCTAssertFalse((error as? Z3Error)?.message.isEmpty ?? true, "\(error)")
        }

        let z2 = Z3Context()
        let s2 = Z3Solver(context: z2, timeoutMilliseconds: nil)
        s2.assert(z2.bv(1))  // not a boolean
        XCTAssertThrowsError(try s2.check())

        let z3 = Z3Context()
        _ = z3.add(z3.bv(1), z2.bv(1))  // mixed contexts
        XCTAssertThrowsError(try Z3Solver(context: z3, timeoutMilliseconds: nil).check())

        let z4 = Z3Context()
        let s4 = Z3Solver(context: z4, timeoutMilliseconds: nil)
        s4.pop()
        XCTAssertThrowsError(try s4.check())
    }

    func testSmtlibText() {
        let z = Z3Context()
        let x = z.bvVar("x")
        XCTAssertEqual(z.add(x, z.bv(1)).smtlib, "(bvadd x #x0000000000000001)")
        let s = Z3Solver(context: z, timeoutMilliseconds: nil)
        s.assert(z.eq(z.add(x, z.bv(1)), z.bv(5)))
        let text = s.smtlib2
        XCTAssertTrue(text.contains("declare-fun"), text)
        XCTAssertTrue(text.contains("(assert"), text)
        XCTAssertTrue(text.hasSuffix("(check-sat)\n"), text)
    }

    func testManyContextsAndExprs() throws {
        for i in 0..<200 {
            let z = Z3Context()
            var acc = z.bvVar("x")
            for j in 0..<200 { acc = z.add(z.mul(acc, z.bv(3)), z.bv(UInt64(j))) }
            let s = Z3Solver(context: z, timeoutMilliseconds: 5000)
            s.assert(z.eq(z.bvVar("x"), z.bv(UInt64(i))))
            s.assert(z.eq(acc, z.bvVar("y")))
            let m = try XCTUnwrap(model(try s.check()))
            XCTAssertEqual(m.evalBV(z.bvVar("x")), UInt64(i))
            XCTAssertEqual(m.evalBV(acc), m.evalBV(z.bvVar("y")))
        }
        // Objects may outlive the local context variable; they keep it alive.
        var leftover: (Z3Expr, Z3Model)?
        do {
            let z = Z3Context()
            let s = Z3Solver(context: z, timeoutMilliseconds: nil)
            s.assert(z.eq(z.bvVar("k"), z.bv(42)))
            leftover = (z.bvVar("k"), try XCTUnwrap(model(try s.check())))
        }
        XCTAssertEqual(leftover?.1.evalBV(leftover!.0), 42)
    }

    func testZ3BinaryAgreesOnExportedScript() throws {
        guard let z3 = ["/usr/bin/z3", "/usr/local/bin/z3"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }) else { throw XCTSkip("z3 binary not installed") }

        func run(_ script: String) throws -> String {
            let url = FileManager.default.temporaryDirectory
                .appendingPathComponent("z3kit-\(UUID().uuidString).smt2")
            try script.write(to: url, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: url) }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: z3)
            p.arguments = [url.path]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let out = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        let z = Z3Context()
        let x = z.bvVar("x"), p = z.boolVar("p")
        let sat = Z3Solver(context: z, timeoutMilliseconds: nil)
        sat.assert(z.eq(z.add(x, z.bv(1)), z.bv(5)))
        sat.assert(z.implies(p, z.slt(x, z.bv(0))))
        guard case .sat = try sat.check() else { return XCTFail("expected sat") }
        XCTAssertEqual(try run(sat.smtlib2), "sat", sat.smtlib2)

        let unsat = Z3Solver(context: z, timeoutMilliseconds: nil)
        unsat.assert(z.not(z.eq(z.add(z.bv(UInt64.max), z.bv(1)), z.bv(0))))
        unsat.assert(z.ite(p, z.ult(x, z.bv(3)), z.boolConst(true)))
        XCTAssertTrue(isUnsat(try unsat.check()))
        XCTAssertEqual(try run(unsat.smtlib2), "unsat", unsat.smtlib2)
    }
}
