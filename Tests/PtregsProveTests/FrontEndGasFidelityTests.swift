import Foundation
import PtregsProve
import SpecElaboration
import SpecSyntax
import XCTest

/// Places where the front end once read assembly differently from gas 2.40 or cpp
/// without an error, so a broken file proved. Each is now read as gas/cpp read it
/// (checked against `as --64` by hand; the expected instructions are gas's) or is an
/// input error at its line.
final class FrontEndGasFidelityTests: XCTestCase {
    func program(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> Program {
        let (programs, _, report) = try FrontEnd.elaborate(text)
        XCTAssertEqual(report.diagnostics, [], file: file, line: line)
        return try XCTUnwrap(programs.first, file: file, line: line)
    }

    // MARK: F1: macro names ignore case

    /// gas looks macros up in lower case: `popq %rbx` invokes the empty macro `POPQ`,
    /// so rbx is never restored.
    func testAMacroOfAnyCaseShadowsTheInstruction() throws {
        let spec = """
        .macro POPQ reg
        .endm
        .path f entry=function
        f:
        \tpushq %rbx
        \tmovq $1, %rbx
        \tpopq %rbx
        \tPopQ %rbx
        \tret
        """
        XCTAssertEqual(try program(spec).instructions.map(\.text), ["pushq %rbx", "movq $1, %rbx", "ret"])
        let report = SpecHarness.check(spec)
        guard let r = SpecHarness.result(report, path: "f", .restoreMatchesSave), case .violated = r.verdict else {
            return XCTFail("the empty macro leaves rbx clobbered: \(report.diagnostics)")
        }
    }

    func testMacrosDifferingOnlyInCaseAreADuplicate() {
        let spec = ".macro Restore\n\tpopq %rbx\n.endm\n.macro restore\n.endm\n.path f entry=function\nf:\n\tret\n"
        FrontEnd.assertError(SpecHarness.check(spec), "spec.pts:4:1",
                             "duplicate macro 'restore' (first defined at spec.pts:1:1 as 'Restore'; gas's macro names ignore case)")
        // `.purgem` finds it in any case, as gas's does.
        let purged = ".macro Restore\n\tpopq %rbx\n.endm\n.purgem RESTORE\n.macro restore\n.endm\n.path f entry=function\nf:\n\trestore\n\tret\n"
        XCTAssertEqual(try program(purged).instructions.map(\.text), ["ret"])
    }

    // MARK: F2: a macro named after a directive

    /// gas warns "attempt to redefine pseudo-op ignored" and runs its directive.
    func testAMacroNamedAfterADirectiveIsRefused() {
        for (directive, shown) in [(".align n", ".align"), (".code64", ".code64"), (".ALIGN n", ".align")] {
            let spec = ".macro \(directive)\n\tpopq %rbx\n.endm\n.path f entry=function\nf:\n\tret\n"
            FrontEnd.assertError(SpecHarness.check(spec), "spec.pts:1:1",
                                 "gas ignores a macro named after its directive '\(shown)': the directive runs, not the macro")
        }
        // A dotted name that is no directive is a macro to gas.
        let own = ".macro .pop_it\n\tpopq %rbx\n.endm\n.path f entry=function\nf:\n\tpushq %rbx\n\t.pop_it\n\tret\n"
        FrontEnd.assertProves(SpecHarness.check(own))
    }

    // MARK: F3: .ifc as gas compares

    /// gas's first operand ends at the first comma, whatever encloses it, and quotes
    /// are characters like any other.
    func testIfcComparesTheTextAsGasCutsIt() throws {
        let spec = """
        .path f entry=function
        f:
        \t.ifc "a",a
        \tud2
        \t.endif
        \t.ifc 'a',a
        \tud2
        \t.endif
        \t.ifc (a,b),(a,b)
        \tud2
        \t.endif
        \t.ifc "a,b","a,b"
        \tud2
        \t.endif
        \t.ifc "a","a"
        \tnop
        \t.endif
        \t.ifc 'a','a'
        \tnop
        \t.endif
        \t.ifnc a,'a'
        \tnop
        \t.endif
        \t.ifc (a),(a)
        \tnop
        \t.endif
        \t.ifc a , a
        \tnop
        \t.endif
        \tret
        """
        XCTAssertEqual(try program(spec).instructions.map(\.text), ["nop", "nop", "nop", "nop", "nop", "ret"])
    }

    /// What gas reads in a way not modelled is refused: blanks inside an operand (gas
    /// matches `a + b` with `a+b`), single quotes other than around one operand, and
    /// `.ifeqs` strings that are not in double quotes or hold escapes.
    func testIfcFormsGasReadsOtherwiseAreErrors() {
        func check(_ line: String) -> CheckReport {
            SpecHarness.check(".path f entry=function\nf:\n\t\(line)\n\tnop\n\t.endif\n\tret\n")
        }
        FrontEnd.assertError(check(".ifc a + b,a+b"), "spec.pts:3:7",
                             ".ifc operand 'a + b' has a blank inside: gas's reading of it (it drops some blanks) is not modelled")
        FrontEnd.assertError(check(".ifc 'a,b','a,b'"), "spec.pts:3:7",
                             ".ifc operand ''a' with single quotes other than around it: gas's reading of it is not modelled")
        FrontEnd.assertError(check(".ifeqs 'a','a'"), "spec.pts:3:9", "expected a string in double quotes")
        FrontEnd.assertError(check(".ifeqs \"a\\x62\",\"ab\""), "spec.pts:3:9", "escapes in a compared string are not modelled: gas reads them")
    }
}
