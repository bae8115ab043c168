@testable import StackSemantics
import XCTest

/// The storage the proof run's speed rests on: interned terms in flat storage, and a
/// state's slots as a sorted array. Both must behave exactly like the dictionaries
/// and objects they replaced.
final class StateStorageTests: XCTestCase {
    func testStackSlotsKeepAddressOrderAndLastWrite() {
        var slots = StackSlots<UInt64>()
        let addresses: [UInt64] = [0x40, 0x8, 0x100, 0x20, 0x18, 0x38]
        for (k, a) in addresses.enumerated() {
            slots[a] = StackSlot(value: UInt64(k), origin: 1)
        }
        XCTAssertEqual(slots.count, addresses.count)
        XCTAssertEqual(slots.keys, addresses.sorted(), "iteration is in address order, whatever the write order")
        XCTAssertEqual(slots.map(\.key), addresses.sorted())
        slots[0x20] = StackSlot(value: 99, origin: 2)
        XCTAssertEqual(slots[0x20]?.value, 99, "a second write replaces the slot")
        XCTAssertEqual(slots.count, addresses.count)
        XCTAssertNil(slots[0x28], "an address never written has no slot")
        slots[0x8] = nil
        XCTAssertNil(slots[0x8])
        XCTAssertEqual(slots.keys, [0x18, 0x20, 0x38, 0x40, 0x100])
        // Copies are values: writing one leaves the other alone.
        var copy = slots
        copy[0x18] = StackSlot(value: 7, origin: 0)
        XCTAssertEqual(slots[0x18]?.value, 4)
        XCTAssertEqual(copy[0x18]?.value, 7)
    }

    func testTermsStayInternedAcrossStorageGrowth() {
        let f = TermFactory()
        let x = f.variable("x")
        // Far more terms (and arguments) than the storage starts with.
        var sums: [Term] = []
        for k in 0..<5000 { sums.append(f.add(x, f.const(UInt64(k) * 8 + 1000))) }
        XCTAssertGreaterThan(f.count, 5000)
        for k in stride(from: 0, to: 5000, by: 97) {
            let again = f.add(x, f.const(UInt64(k) * 8 + 1000))
            XCTAssertTrue(again === sums[k], "the same expression is the same term")
            XCTAssertEqual(again.op, .add)
            XCTAssertTrue(again.args[0] === x)
            XCTAssertEqual(again.args[1].constant, UInt64(k) * 8 + 1000)
        }
        XCTAssertTrue(f.variable("x") === x)
        XCTAssertEqual(x.name, "x")
        XCTAssertFalse(sums[1] === sums[2])
    }

    /// A run's reach conditions can be conjunctions of hundreds of branch tests.
    func testWideConjunctionsKeepEveryPart() {
        let f = TermFactory()
        let parts = (0..<300).map { f.boolVariable("c\($0)") }
        let all = f.allOf(parts)
        XCTAssertEqual(all.op, .allOf)
        XCTAssertEqual(all.args.count, 300)
        XCTAssertEqual(Set(all.args.map(\.id)), Set(parts.map(\.id)))
        XCTAssertTrue(f.allOf(parts.reversed()) === all, "the same parts in another order are the same term")
    }

    func testLeafValuesOfNestedChoices() {
        let f = TermFactory()
        let c1 = f.boolVariable("c1"), c2 = f.boolVariable("c2")
        let inner = f.ite(c2, f.const(8), f.const(16))
        let outer = f.ite(c1, inner, f.const(24))
        XCTAssertEqual(f.leafValues(outer), [8, 16, 24])
        XCTAssertEqual(f.leafValues(inner), [8, 16])
        XCTAssertEqual(f.leafValues(of: f.const(16), within: [8, 16, 24]), true)
        XCTAssertEqual(f.leafValues(of: f.const(32), within: [8, 16, 24]), false)
        XCTAssertNil(f.leafValues(f.ite(c1, f.variable("y"), f.const(1))), "a choice with a non-constant leaf")
        XCTAssertEqual(f.loopHeadsMentioned(f.add(f.variable("loop@12.0"), f.variable("loop@3.1"))), [3, 12])
        XCTAssertEqual(f.loopHeadsMentioned(f.variable("loopy")), [])
    }
    /// `both`/`either` skip the array of `allOf`/`anyOf` in common cases. They must give
    /// the same term and make the same terms in the same order (term numbers decide
    /// argument order, hence the solver's models and the counterexamples users see).
    func testBothAndEitherMakeWhatAllOfAndAnyOfMake() {
        func operands(_ f: TermFactory) -> [Term] {
            let x = f.boolVariable("x"), y = f.boolVariable("y")
            let z = f.eq(f.variable("r"), f.const(8))
            return [f.trueTerm, f.falseTerm, x, y, z, f.negation(x), f.allOf([x, z]), f.anyOf([y, z]), f.allOf([y, f.negation(z)])]
        }
        let count = operands(TermFactory()).count
        for i in 0..<count {
            for j in 0..<count {
                for conjunction in [true, false] {
                    let plain = TermFactory(), quick = TermFactory()
                    let p = operands(plain), q = operands(quick)
                    let expected = conjunction ? plain.allOf([p[i], p[j]]) : plain.anyOf([p[i], p[j]])
                    let got = conjunction ? quick.both(q[i], q[j]) : quick.either(q[i], q[j])
                    XCTAssertEqual(got.id, expected.id, "\(conjunction ? "both" : "either")(\(p[i]), \(p[j]))")
                    XCTAssertEqual(quick.count, plain.count, "the same terms made for \(p[i]), \(p[j])")
                    // Whatever is made next is numbered alike.
                    XCTAssertEqual(quick.boolVariable("after").id, plain.boolVariable("after").id)
                }
            }
        }
    }
    /// Variables are found by name in a table of their own (not the standard
    /// dictionary): the same name is the same term however large the table grows.
    func testVariablesByNameAcrossTableGrowth() {
        let f = TermFactory()
        var made: [String: Term] = [:]
        for k in 0..<3000 {
            let name = k % 3 == 0 ? "clobbered.r\(k)@\(k * 7)" : "loop@\(k % 17).\(k)"
            made[name] = f.variable(name)
        }
        for (name, t) in made { XCTAssertTrue(f.variable(name) === t, name) }
        XCTAssertEqual(f.variables.count, made.count)
        XCTAssertTrue(f.boolVariable("loop@3.3") !== f.variable("loop@3.3"), "a boolean and a bit-vector variable of one name are two terms")
        XCTAssertTrue(f.boolVariable("loop@3.3") === f.boolVariable("loop@3.3"))
        XCTAssertTrue(f.variable("") === f.variable(""))
        XCTAssertTrue(f.variable("é@1") !== f.variable("e@1"))
    }
}


