import Foundation
import PtregsProve
import SpecElaboration
import SpecSyntax
import XCTest

/// The messages issue 20 found misleading, each with what it must say now: the
/// location, what is wrong, and what to write instead.
final class MessageTests: XCTestCase {
    /// The report's only diagnostic, at `location`, containing every one of `phrases`
    /// and none of `never`.
    func assertMessage(_ report: CheckReport, _ location: String, _ phrases: [String], never: [String] = [],
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(report.exitCode, 2, "diagnostics: \(report.diagnostics)", file: file, line: line)
        XCTAssertEqual(report.diagnostics.count, 1, "\(report.diagnostics)", file: file, line: line)
        guard let d = report.diagnostics.first else { return }
        XCTAssertEqual(d.location.description, location, d.message, file: file, line: line)
        for p in phrases { XCTAssertTrue(d.message.contains(p), "'\(d.message)' lacks '\(p)'", file: file, line: line) }
        for p in never { XCTAssertFalse(d.message.contains(p), "'\(d.message)' says '\(p)'", file: file, line: line) }
    }

    func check(_ text: String) -> CheckReport { SpecHarness.check(text) }

    func testEntryIsAKernelMacroNotAnUnknownOne() {
        assertMessage(check(".path f entry=function\nENTRY(f)\n\tret\n"), "spec.pts:2:1",
                      ["'ENTRY' is a kernel macro from linkage.h", "write the label it defines, 'f:'", "'.source"],
                      never: ["unknown macro", "define it with .macro"])
    }

    func testSymFuncEndSaysToLeaveItOut() {
        assertMessage(check(".path f entry=function\nf:\n\tret\nSYM_FUNC_END(f)\n"), "spec.pts:4:1",
                      ["'SYM_FUNC_END' is a kernel macro from linkage.h", "only marks where 'f' ends: leave it out of the spec"],
                      never: ["unknown macro"])
    }

    func testAnAbsoluteGSOffsetIsAPerCPUMessage() {
        assertMessage(check(".path f entry=function\nf:\n\tmovq %gs:0x10, %rax\n\tret\n"), "spec.pts:3:11",
                      ["'0x10' is an offset into the per-CPU area with no symbol", "'.percpu SYMBOL'", "PER_CPU_VAR(SYMBOL)"],
                      never: ["unknown register"])
    }

    func testAMisspeltRegisterSetWordListsTheValidWords() {
        assertMessage(check(".path f entry=function preserves=calee\nf:\n\tret\n"), "spec.pts:1:34",
                      ["unknown register 'calee'", "did you mean 'callee'?", "'caller', 'callee', 'none', 'all'", "'rbx,rbp,r12'"])
    }

    func testACallThroughAStackSlotIsNotAnExternToDeclare() {
        assertMessage(check(".path f entry=function\nf:\n\tcall *8(%rsp)\n\tret\n"), "spec.pts:3:8",
                      ["indirect call through the memory operand '8(%rsp)' is not modelled", "'call *%rax'", "load the target into a register first"],
                      never: [".extern 8"])
    }

    func testAJumpThroughMemoryIsNotAnExternToDeclare() {
        assertMessage(check(".path f entry=function\nf:\n\tjmp *(%rax)\n\tret\n"), "spec.pts:3:7",
                      ["indirect jmp through the memory operand '(%rax)' is not modelled", "'jmp *%rax'"],
                      never: [".extern", "TABLE"])
    }

    func testACallThroughAnUndeclaredTableStillNamesItsContract() {
        assertMessage(check(".path f entry=function\nf:\n\tcall *sys_call_table(,%rax,8)\n\tret\n"), "spec.pts:3:8",
                      ["declare its contract with '.extern sys_call_table"])
    }

    func testAPerCPUFieldWithBlanksIsNamedAsItMustBeDeclared() {
        assertMessage(check(".percpu a\n#define B 8\n.path f entry=function\nf:\n\tmovq PER_CPU_VAR(a + B), %rax\n\tret\n"), "spec.pts:5:19",
                      ["unknown per-CPU variable 'a+8' (offset 8 into 'a', of which only a is declared)", "declare it with '.percpu a+8'"],
                      never: ["a + B"])
    }

    func testAPerCPUDeclarationWithBlanksSaysToDropThem() {
        assertMessage(check(".percpu a + B\n.path f entry=function\nf:\n\tret\n"), "spec.pts:1:11",
                      ["write a per-CPU field's offset without blanks: '.percpu a+B'"])
    }

    func testAMisspeltNamedMacroArgumentIsAnErrorNotPositional() {
        let spec = ".macro M reg, offset=0\n\tmovq \\reg, \\offset(%rsp)\n.endm\n.path f entry=function\nf:\n\tsubq $16, %rsp\n\tM %rbx, ofset=8\n\taddq $16, %rsp\n\tret\n"
        assertMessage(check(spec), "spec.pts:7:10",
                      ["macro 'M' has no parameter 'ofset' (did you mean 'offset'?)", "its parameters are 'reg', 'offset'", "defined at spec.pts:1:1"])
        // Spelt right, it binds by name and the spec proves.
        let fixed = check(spec.replacingOccurrences(of: "ofset=8", with: "offset=8"))
        XCTAssertEqual(fixed.diagnostics, [])
        XCTAssertEqual(fixed.exitCode, 0)
    }

    func testAMissingRequiredArgumentSaysItIsRequired() {
        assertMessage(check(".macro M a, arg:req\n\tpushq \\arg\n\tpopq \\arg\n.endm\n.path f entry=function\nf:\n\tM a=1\n\tret\n"), "spec.pts:7:2",
                      ["macro 'M' requires argument 'arg'", "'arg:req'", "defined at spec.pts:1:1"],
                      never: ["has no parameter"])
    }

    /// A call in an included file is named with its file, not a bare line number that
    /// reads as the unit's.
    func testReturnStackMessagesNameTheCallSiteFile() {
        let include = "stub:\n\tpopq %rax\n\taddq $1, %rax\n\tpushq %rax\n\tret\nwrapper:\n\tcall stub\n\tret\n"
        let unit = "#include \"stub.ptsh\"\n.path f entry=function\nf:\n\tcall wrapper\n\tret\n"
        let report = SpecHarness.check(["stub.ptsh": include, "spec.pts": unit], unit: "spec.pts")
        XCTAssertEqual(report.diagnostics, [])
        let r = SpecHarness.result(report, path: "f", .returnStack)
        let requirements = r?.violations.map(\.counterexample.requirement) ?? []
        XCTAssertTrue(requirements.contains { $0.contains("ret must return to the address pushed by the call at stub.ptsh:7") }, "\(requirements)")
    }
}
