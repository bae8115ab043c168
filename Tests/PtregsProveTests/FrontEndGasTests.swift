import Foundation
import PtregsProve
import SpecElaboration
import SpecSyntax
import XCTest

/// Issue 16 item 2: gas as the kernel uses it after the preprocessor. The directives
/// work the same in a spec file, so each is tried on spec text.
final class FrontEndGasTests: XCTestCase {
    func program(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> Program {
        let (programs, _, report) = try FrontEnd.elaborate(text)
        XCTAssertEqual(report.diagnostics, [], file: file, line: line)
        return try XCTUnwrap(programs.first, file: file, line: line)
    }

    // MARK: sections

    /// Data pushed into another section between two instructions leaves the code's
    /// fall-through alone.
    func testPushedSectionsKeepTheCodeContiguous() {
        let spec = """
        .path f entry=function
        \t.text
        f:
        \tpushq %rbx
        \t.pushsection .rodata, "a"
        table:
        \t.quad 1, 2
        \t.asciz "x"
        \t.popsection
        \tpopq %rbx
        \t.section .data
        \t.long 0
        \t.previous
        \tret
        """
        FrontEnd.assertProves(SpecHarness.check(spec))
    }

    func testCodeInAnotherSectionIsPlacedAfterAndNotFallenInto() throws {
        let spec = """
        .path f entry=function
        f:
        \tnop
        \t.pushsection .fixup, "ax"
        g:
        \tret
        \t.popsection
        \tret
        """
        let p = try program(spec)
        XCTAssertEqual(p.instructions.map(\.text), ["nop", "ret", "ret"])
        XCTAssertEqual(p.instructions.map(\.section), [".text", ".text", ".fixup"])
        XCTAssertEqual(p.labels["g"], 2)
        // A path that runs to the end of its section does not run into the next one.
        let off = ".path f entry=function\nf:\n\tnop\n\t.pushsection .fixup, \"ax\"\ng:\n\tret\n\t.popsection\n"
        FrontEnd.assertError(SpecHarness.check(off), "spec.pts:3:2",
                             "path 'f' runs off the end of section .text after this instruction: what follows it in memory is not in the source")
    }

    func testAnInstructionInADataSectionIsAnError() {
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\t.section .data\n\tret\n"), "spec.pts:4:2",
                             "'ret' in the data section .data: only code sections hold instructions (is a .section or .popsection missing?)")
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\tnop\n\t.popsection\n\tret\n"), "spec.pts:4:2", ".popsection without .pushsection")
    }

    func testDataAmongInstructionsIsAnError() {
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\t.byte 0x0f, 0x01, 0xf8\n\tret\n"), "spec.pts:3:2",
                             "'.byte' in the code section .text: data among instructions is not modelled (is a .section missing?)")
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\tnop\n\t.align 8, 0xcc\n\tret\n"), "spec.pts:4:12",
                             "alignment in code filled with 0xcc, not nops (0x90): bytes the model cannot decode")
        // Padding with nops runs as nothing.
        FrontEnd.assertProves(SpecHarness.check(".path f entry=function\nf:\n\tnop\n\t.p2align 4, 0x90\n\t.skip 3, 0x90\n\t.balign 8\n\tret\n"))
    }

    /// A local label is found in source order, whatever section holds it; one in a data
    /// section labels no instruction.
    func testLocalLabelsAcrossSections() throws {
        let spec = """
        .path f entry=function
        f:
        1:\tnop
        \t.pushsection .fixup, "ax"
        \tjmp 1b
        \t.popsection
        \tret
        """
        let p = try program(spec)
        XCTAssertEqual(p.instructions.last?.operation, .jump(.code(0, label: "1b")))
        let data = ".path f entry=function\nf:\n\t.pushsection .rodata\n1:\t.quad 0\n\t.popsection\n\tjmp 1b\n"
        FrontEnd.assertError(SpecHarness.check(data), "spec.pts:6:6", "local label '1b' labels no instruction (it is in a data section, or at the end of its section)")
    }

    func testCode32IsNotModelled() {
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\tnop\n\t.code32\n\tret\n"), "spec.pts:5:2",
                             "'ret' after .code32: only 64-bit code is modelled (.code64)")
        FrontEnd.assertProves(SpecHarness.check(".path f entry=function\n\t.code32\n\t.code64\nf:\n\tret\n"))
    }

    func testSymbolDirectives() {
        let spec = """
        .path f entry=function
        \t.globl f, g
        \t.weak g
        \t.local h
        \t.hidden f
        \t.type f, @function
        \t.type g, %function
        \t.type h STT_NOTYPE
        f:
        g:
        \tret
        \t.size f, .-f
        """
        FrontEnd.assertProves(SpecHarness.check(spec))
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\n\t.type f, @frob\nf:\n\tret\n"), "spec.pts:2:11", "unknown symbol type '@frob'")
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\n\t.globl 1x\nf:\n\tret\n"), "spec.pts:2:9", ".globl needs a symbol name, found '1x'")
    }

    // MARK: repetition

    func testReptIrpAndIrpc() throws {
        let spec = """
        .path f entry=function
        f:
        \t.rept 2
        \tpushq %rbx
        \t.endr
        \t.irp reg, rbx, rbx
        \tpopq %\\reg
        \t.endr
        \t.irpc n, 12
        \tnop
        \t.endr
        \tret
        """
        let p = try program(spec)
        XCTAssertEqual(p.instructions.map(\.text), ["pushq %rbx", "pushq %rbx", "popq %rbx", "popq %rbx", "nop", "nop", "ret"])
        XCTAssertEqual(p.instructions[2].expansion.first?.message, "in repetition of .irp")
        FrontEnd.assertProves(SpecHarness.check(spec))
    }

    func testRepetitionInsideAMacroSeesTheMacroArguments() throws {
        let spec = """
        .macro SAVE n, reg
        \t.rept \\n
        \tpushq \\reg
        \t.endr
        .endm
        .path f entry=function
        f:
        \tSAVE 3, %rbx
        \taddq $24, %rsp
        \tret
        """
        XCTAssertEqual(try program(spec).instructions.map(\.text), ["pushq %rbx", "pushq %rbx", "pushq %rbx", "addq $24, %rsp", "ret"])
    }

    func testRepetitionErrors() {
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\t.rept 2\n\tnop\n\tret\n"), "spec.pts:3:2",
                             "unterminated .rept: no .endr before the end of the file")
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\t.rept -1\n\t.endr\n\tret\n"), "spec.pts:3:8",
                             ".rept count -1 is outside 0…200000")
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\t.endr\n\tret\n"), "spec.pts:3:2", ".endr without .rept, .irp or .irpc")
        // Nested repetitions are bounded like macros.
        let bomb = ".path f entry=function\nf:\n\t.rept 1000\n\t.rept 1000\n\tnop\n\t.endr\n\t.endr\n\tret\n"
        let report = SpecHarness.check(bomb)
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertTrue(report.diagnostics.first?.message.contains("expansion is bounded") == true, "\(report.diagnostics)")
    }

    // MARK: macros

    func testUniqueLabelsFromBackslashAt() throws {
        let spec = """
        .macro SKIP
        \tjmp .Lskip_\\@
        .Lskip_\\@:
        \tnop
        .endm
        .path f entry=function
        f:
        \tSKIP
        \tSKIP
        \tret
        """
        let p = try program(spec)
        XCTAssertEqual(p.instructions.map(\.text), ["jmp .Lskip_0", "nop", "jmp .Lskip_1", "nop", "ret"])
        FrontEnd.assertProves(SpecHarness.check(spec))
    }

    func testRequiredAndVariadicParameters() throws {
        let spec = """
        .macro PUSH_TWO first:req, second:req
        \tpushq \\first
        \tpushq \\second
        .endm
        .macro PUSH_ALL first:req, rest:vararg
        \tpushq \\first
        \t.ifnb \\rest
        \tPUSH_TWO \\rest
        \t.endif
        .endm
        .path f entry=function
        f:
        \tPUSH_ALL %rbx, %rbp, %r12
        \taddq $24, %rsp
        \tret
        """
        XCTAssertEqual(try program(spec).instructions.map(\.text), ["pushq %rbx", "pushq %rbp", "pushq %r12", "addq $24, %rsp", "ret"])
        let missing = ".macro M a:req\n\tpushq \\a\n.endm\n.path f entry=function\nf:\n\tM\n\tret\n"
        FrontEnd.assertError(SpecHarness.check(missing), "spec.pts:6:2", "macro 'M' requires argument 'a' (it is declared 'a:req'; defined at spec.pts:1:1)")
        // Without arguments for it, a :vararg parameter is blank.
        let none = ".macro M a, rest:vararg\n\tpushq \\a\n\t.ifb \\rest\n\tpopq \\a\n\t.endif\n.endm\n.path f entry=function\nf:\n\tM %rbx\n\tret\n"
        FrontEnd.assertProves(SpecHarness.check(none))
        FrontEnd.assertError(SpecHarness.check(".macro M a:often\n.endm\n.path f entry=function\nf:\n\tret\n"), "spec.pts:1:1",
                             "unknown qualifier ':often' of macro parameter 'a' (gas has :req and :vararg)")
    }

    // MARK: conditional assembly

    func testConditionFamily() throws {
        let spec = """
        .macro PICK x, y=
        \t.ifb \\y
        \tpushq %rbx
        \t.else
        \tpushq %rbp
        \t.endif
        \t.ifc \\x, rbx
        \tpopq %rbx
        \t.elseif 1
        \tpopq %rbp
        \t.endif
        .endm
        .path f entry=function
        f:
        \tPICK rbx
        \tPICK rbp, 1
        \t.ifeq 0
        \tnop
        \t.endif
        \t.ifgt -1
        \tud2
        \t.elseif 0
        \tud2
        \t.else
        \tnop
        \t.endif
        \t.ifndef NOT_THERE
        \tnop
        \t.endif
        \t.ifdef f
        \tnop
        \t.endif
        \t.ifnc 'a', 'a'
        \tud2
        \t.endif
        \tret
        """
        XCTAssertEqual(try program(spec).instructions.map(\.text),
                       ["pushq %rbx", "popq %rbx", "pushq %rbp", "popq %rbp", "nop", "nop", "nop", "nop", "ret"])
    }

    func testElseifAfterElseAndWithoutIf() {
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\t.if 1\n\t.else\n\t.elseif 1\n\t.endif\n\tret\n"), "spec.pts:5:2",
                             ".elseif after .else (the .if is at spec.pts:3:2)")
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\t.elseif 1\n\tret\n"), "spec.pts:3:2", ".elseif without .if")
    }

    func testErrorAndWarningStopTheUnit() {
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\t.if 1\n\t.error \"no such config\"\n\t.endif\n\tret\n"), "spec.pts:4:2",
                             ".error: no such config")
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\t.warning \"odd\"\n\tret\n"), "spec.pts:3:2",
                             ".warning: odd (the assembler would only warn; the check stops here)")
        // A branch not taken is not read.
        FrontEnd.assertProves(SpecHarness.check(".path f entry=function\nf:\n\t.if 0\n\t.error \"never\"\n\t.endif\n\tret\n"))
    }

    // MARK: CFI

    func testCFIDirectivesAreKeptNotDropped() throws {
        let spec = """
        .macro PUSH_CFI reg
        \tpushq \\reg
        \t.cfi_adjust_cfa_offset 8
        .endm
        .path f entry=function
        f:
        \t.cfi_startproc
        \tPUSH_CFI %rbx
        \tpopq %rbx
        \t.cfi_adjust_cfa_offset -8
        \tret
        \t.cfi_endproc
        """
        let p = try program(spec)
        XCTAssertEqual(p.frameAnnotations.map(\.directive), [".cfi_startproc", ".cfi_adjust_cfa_offset", ".cfi_adjust_cfa_offset", ".cfi_endproc"])
        XCTAssertEqual(p.frameAnnotations.map(\.instruction), [0, 1, 2, nil])
        XCTAssertTrue(p.frameAnnotations[1].location.description.hasSuffix("/spec.pts:3:2"), "\(p.frameAnnotations[1].location)")
        XCTAssertEqual(p.frameAnnotations[1].expansion.first?.message, "in expansion of macro 'PUSH_CFI'")
        XCTAssertEqual(p.frameAnnotations[1].operands, ["8"])
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\t.cfi_frobnicate\n\tret\n"), "spec.pts:3:2", "unknown CFI directive '.cfi_frobnicate'")
    }
}

/// Issue 16 item 3: per-CPU accesses as `PER_CPU_VAR` reads after the preprocessor.
final class FrontEndPerCPUTests: XCTestCase {
    /// A syscall that returns at once, its per-CPU accesses written `operand`-style.
    static func syscall(saveUserSP: String, loadKernelSP: String, restoreUserSP: String, declarations: String) -> String {
        """
        \(declarations)
        .path sc entry=syscall kstack=cpu_tss_rw+TSS_sp0
        sc:
        \tswapgs
        \tmovq %rsp, \(saveUserSP)
        \tmovq \(loadKernelSP), %rsp
        \tpushq %rcx
        \tpopq %rcx
        \tmovq \(restoreUserSP), %rsp
        \tswapgs
        \tsysretq
        """
    }

    static let declarations = "#define TSS_sp0 4\n#define TSS_sp2 20\n.percpu cpu_tss_rw+TSS_sp0 stack\n.percpu cpu_tss_rw+TSS_sp2"

    /// Every spelling of one per-CPU field is one variable: the user's rsp saved through
    /// one spelling comes back through another.
    func testSegmentFormsNameTheSameVariable() {
        let spec = Self.syscall(saveUserSP: "%gs:cpu_tss_rw+TSS_sp2", loadKernelSP: "%gs:(cpu_tss_rw + 4)(%rip)",
                                restoreUserSP: "PER_CPU_VAR(cpu_tss_rw + 20)", declarations: Self.declarations)
        FrontEnd.assertProves(SpecHarness.check(spec))
    }

    /// Two different fields are two variables: restoring from the wrong one is caught.
    func testADifferentFieldIsADifferentVariable() {
        let spec = Self.syscall(saveUserSP: "%gs:cpu_tss_rw+TSS_sp2", loadKernelSP: "%gs:cpu_tss_rw+TSS_sp0",
                                restoreUserSP: "%gs:cpu_tss_rw+TSS_sp0", declarations: Self.declarations)
        SpecHarness.assertViolated(SpecHarness.check(spec), path: "sc", .frameBalance, blamedLine: 14, requirementContains: "sysretq must leave with the user's rsp")
    }

    func testPlainSymbol() throws {
        let spec = """
        .percpu old_rsp
        .percpu kernel_stack stack
        .path sc entry=syscall
        sc:
        \tswapgs
        \tmovq %rsp, %gs:old_rsp
        \tmovq %gs:kernel_stack, %rsp
        \tmovq PER_CPU_VAR(old_rsp), %rsp
        \tswapgs
        \tsysretq
        """
        FrontEnd.assertProves(SpecHarness.check(spec))
        let (programs, _, _) = try FrontEnd.elaborate(spec)
        guard case .move(_, .memory(let m), _)? = programs.first?.instructions[1].operation else { return XCTFail("not a store") }
        XCTAssertEqual(m.perCPU, "old_rsp")
    }

    func testWhatIsNoPerCPUVariable() {
        let head = ".percpu old_rsp\n.path f entry=function\nf:\n"
        FrontEnd.assertError(SpecHarness.check(head + "\tmovq %gs:40, %rax\n\tret\n"), "spec.pts:4:11",
                             "'40' is an offset into the per-CPU area with no symbol: the model knows per-CPU variables by name, so write the symbol the kernel places there ('%gs:SYMBOL', 'PER_CPU_VAR(SYMBOL)' or SYMBOL+OFFSET), declared with '.percpu SYMBOL'")
        FrontEnd.assertError(SpecHarness.check(head + "\tmovq %gs:8(%rax), %rax\n\tret\n"), "spec.pts:4:7",
                             "'%gs:8(%rax)': only a per-CPU variable (%gs:symbol or %gs:symbol+offset) is modelled after a segment prefix")
        FrontEnd.assertError(SpecHarness.check(head + "\tmovq %gs:other, %rax\n\tret\n"), "spec.pts:4:11",
                             "unknown per-CPU variable 'other': declare it with '.percpu other'")
        FrontEnd.assertError(SpecHarness.check(head + "\tmovq %gs:old_rsp+8, %rax\n\tret\n"), "spec.pts:4:11",
                             "unknown per-CPU variable 'old_rsp+8' (offset 8 into 'old_rsp', of which only old_rsp is declared): declare it with '.percpu old_rsp+8' (a field of a per-CPU symbol is a variable of its own, its offset written without blanks)")
    }

    /// Two declared fields that share bytes would not see each other's writes.
    func testOverlappingFieldsAreRefused() {
        FrontEnd.assertError(SpecHarness.check(".percpu tss+0\n.percpu tss+4\n.path f entry=function\nf:\n\tret\n"), "spec.pts:2:9",
                             "per-CPU variable 'tss+4' overlaps 'tss': fields of one per-CPU symbol must be at least 8 bytes apart")
        FrontEnd.assertProves(SpecHarness.check(".percpu tss+0\n.percpu tss+8\n.path f entry=function\nf:\n\tret\n"))
    }
}

/// gas's symbol assignment and quoted macro arguments.
final class FrontEndAssignmentTests: XCTestCase {
    /// `name = value` in a `.rept`, as entry code builds its vector stubs.
    func testAssignmentsCanBeSetAgain() throws {
        let spec = """
        .path f entry=function
        f:
        \tvector = 0x20
        \t.rept 3
        \tpushq $(~vector+0x80)
        \tvector = vector + 1
        \t.endr
        \t.set vector, vector * 2
        \tpushq $vector
        \taddq $32, %rsp
        \tret
        """
        let (programs, _, report) = try FrontEnd.elaborate(spec)
        XCTAssertEqual(report.diagnostics, [])
        XCTAssertEqual(programs.first?.instructions.map(\.operation).prefix(4), [.push(.immediate(0x5f)), .push(.immediate(0x5e)), .push(.immediate(0x5d)), .push(.immediate(0x46))])
        FrontEnd.assertProves(SpecHarness.check(spec))
    }

    /// A constant kept as an expression would see a later value where gas saw the
    /// earlier one: then the name cannot be set again. `#define` and `.equiv` never can.
    func testWhatCannotBeSetAgain() {
        FrontEnd.assertError(SpecHarness.check(".set LATER_X, 8\n.equ Y, LATER_X + Z\n.equ Z, 1\nLATER_X = 16\n.path f entry=function\nf:\n\tret\n"), "spec.pts:4:9",
                             "duplicate definition of 'LATER_X' (first defined at spec.pts:1:6)")
        FrontEnd.assertError(SpecHarness.check("#define X 1\n.set X, 2\n.path f entry=function\nf:\n\tret\n"), "spec.pts:2:6",
                             "duplicate definition of 'X' (first defined at spec.pts:1:9)")
        FrontEnd.assertError(SpecHarness.check(".set X, 1\n.equiv X, 2\n.path f entry=function\nf:\n\tret\n"), "spec.pts:2:8",
                             "duplicate definition of 'X' (first defined at spec.pts:1:6)")
    }

    func testQuotedMacroArgumentsLoseTheirQuotes() throws {
        let spec = """
        .macro MAYBE insn, other
        \t\\insn
        .endm
        .path f entry=function
        f:
        \tMAYBE "pushq %rbx", ""
        \tMAYBE "popq %rbx", x
        \tret
        """
        let (programs, _, report) = try FrontEnd.elaborate(spec)
        XCTAssertEqual(report.diagnostics, [])
        XCTAssertEqual(programs.first?.instructions.map(\.text), ["pushq %rbx", "popq %rbx", "ret"])
    }
}

extension FrontEndAssignmentTests {
    /// A macro argument with `;` is several statements, as gas reads the line after
    /// substitution (ALTERNATIVE "testb %al, %al; jz 1f", …).
    func testSemicolonsInAnArgumentSeparateStatements() throws {
        let spec = """
        .macro TWICE insns
        \t\\insns
        .endm
        .path f entry=function
        f:
        \tTWICE "pushq %rbx; popq %rbx"
        \tret
        """
        let (programs, _, report) = try FrontEnd.elaborate(spec)
        XCTAssertEqual(report.diagnostics, [])
        XCTAssertEqual(programs.first?.instructions.map(\.text), ["pushq %rbx", "popq %rbx", "ret"])
        XCTAssertEqual(programs.first?.instructions.map(\.sourceLocation.line), [6, 6, 7])
        FrontEnd.assertProves(SpecHarness.check(spec))
    }
}

extension FrontEndGasTests {
    /// Hostile repetition: deep nesting and empty bodies run many times stay bounded.
    func testRepetitionIsBoundedEvenWhenEmpty() {
        let deep = ".path f entry=function\nf:\n" + String(repeating: "\t.rept 1\n", count: 100) + String(repeating: "\t.endr\n", count: 100) + "\tret\n"
        FrontEnd.assertError(SpecHarness.check(deep), "spec.pts:67:2", "repetitions nested more than 64 deep")
        let empty = ".path f entry=function\nf:\n\t.rept 100000\n\t.rept 100000\n\t.endr\n\t.endr\n\tret\n"
        let start = Date()
        let report = SpecHarness.check(empty)
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertTrue(report.diagnostics.first?.message.contains("expansion is bounded") == true, "\(report.diagnostics)")
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
    }
}

extension FrontEndGasTests {
    func testPurgemExitmAndNotEqual() throws {
        let spec = """
        .macro ONE
        \tpushq %rbx
        .endm
        .purgem ONE
        .macro ONE
        \tpushq %rbp
        \t.if 1 <> 2
        \t.exitm
        \t.endif
        \tpushq %rbx
        .endm
        .path f entry=function
        f:
        \tONE
        \tpopq %rbp
        \tret
        """
        XCTAssertEqual(try program(spec).instructions.map(\.text), ["pushq %rbp", "popq %rbp", "ret"])
        FrontEnd.assertError(SpecHarness.check(".path f entry=function\nf:\n\t.exitm\n\tret\n"), "spec.pts:3:2", ".exitm outside a macro or repetition")
        FrontEnd.assertError(SpecHarness.check(".purgem NONE\n.path f entry=function\nf:\n\tret\n"), "spec.pts:1:9", "no macro 'NONE' to purge")
    }

    /// `%` after a value is gas's modulo (3.x's `.if ((vector-0x20)%7) <> 6`), before a
    /// name a register.
    func testPercentAfterAValueIsModulo() throws {
        let p = try program(".path f entry=function\nf:\n\tvector = 0x2f\n\t.if ((vector-0x20)%7) <> 0\n\tpushq %rbx\n\tpopq %rbx\n\t.endif\n\t.if (9 % 7) == 2\n\tnop\n\t.endif\n\tret\n")
        XCTAssertEqual(p.instructions.map(\.text), ["pushq %rbx", "popq %rbx", "nop", "ret"])
    }
}
