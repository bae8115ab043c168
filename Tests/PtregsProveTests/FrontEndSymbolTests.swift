import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// Issue 14 item 3 (the front end's part): a symbol address the model cannot place is an
/// elaboration error, never address 0.
final class FrontEndSymbolTests: XCTestCase {
    func testLeaOfAnUnknownSymbolIsAnError() {
        let spec = ".extern foo\n.path f entry=function\nf:\n\tleaq no_such_symbol(%rip), %rax\n\tcall *%rax\n\tret\n"
        FrontEnd.assertError(SpecHarness.check(spec), "spec.pts:4:7",
                             "unknown symbol 'no_such_symbol' in 'leaq': the model gives addresses only to labels of the spec and to .extern declarations (add the label 'no_such_symbol:' or declare '.extern no_such_symbol')")
    }

    /// Sibling: the other way to load an address, `movq $sym, %reg`.
    func testMovOfAnUnknownSymbolIsAnError() {
        let spec = ".path f entry=function\nf:\n\tmovq $no_such_symbol, %rax\n\tret\n"
        FrontEnd.assertError(SpecHarness.check(spec), "spec.pts:3:8",
                             "unknown constant 'no_such_symbol' (define it with #define, .equ or -D; for an address, make it a label of the spec or declare '.extern no_such_symbol')")
    }

    /// Siblings: rip-relative text that names no single symbol.
    func testLeaOfALocalLabelOrAnOffsetIsAnError() {
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\tleaq 1f(%rip), %rax\n1:\tret\n"), "spec.pts:3:7",
                             "the address of the local label '1f' is not modelled: give the instruction a named label")
        FrontEnd.assertError(SpecHarness.check(".extern foo\n.path f entry=function\nf:\n\tleaq foo+8(%rip), %rax\n\tret\n"), "spec.pts:4:7",
                             "'foo+8(%rip)' is not a symbol's address: the model gives addresses only to a label or an .extern named alone (no offset or expression)")
        FrontEnd.assertError(SpecHarness.check("#define OFF 8\n.path f entry=function\nf:\n\tleaq OFF(%rip), %rax\n\tret\n"), "spec.pts:4:7",
                             "'OFF' is a constant, not a symbol: 'OFF(%rip)' is rip plus OFF, an address the model does not give")
        FrontEnd.assertError(SpecHarness.check(".extern foo\n.path f entry=function\nf:\n\tmovq $foo+8, %rax\n\tret\n"), "spec.pts:4:8",
                             "unknown constant 'foo': it is a symbol (a label or an .extern), and only '$foo' alone or 'leaq foo(%rip)' gives its address")
    }

    /// Known symbols still load their addresses: the extern's contract is followed.
    func testLeaAndMovOfKnownSymbolsProve() {
        let spec = """
        .extern foo
        .path f entry=function
        f:
        \tleaq foo(%rip), %rax
        \tcall *%rax
        \tmovq $foo, %rax
        \tcall *%rax
        \tpushq $f
        \taddq $8, %rsp
        \tret
        """
        FrontEnd.assertProves(SpecHarness.check(spec))
    }

    /// Over the whole corpus: every address the elaborated code loads is one the model
    /// places (the interpreter's fallback to 0 is unreachable).
    func testEveryLoadedAddressInTheCorpusIsKnown() {
        let (programs, _, report) = Checker().elaborateUnits([CorpusTests.specsPath])
        XCTAssertEqual(report.diagnostics, [])
        var loads = 0
        for program in programs {
            for i in program.instructions {
                guard case .loadAddress(let sym, _) = i.operation else { continue }
                loads += 1
                XCTAssertNotNil(program.symbolAddress(sym), "\(i.location): \(i.text)")
            }
        }
        XCTAssertGreaterThan(loads, 0, "the corpus loads addresses (ia32 stubs, error_entry)")
    }
}
