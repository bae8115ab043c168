import PtregsProve
import SpecElaboration
import XCTest

/// Stack placement (docs/model.md, "What the model assumes", "Stack placement";
/// Sources/StackSemantics/StackPlacement.swift): the model puts each stack at an address
/// of its choosing, so whatever depends on more of a stack address than its offset in
/// its stack and its 8-byte alignment is unknown — each of these once proved on the
/// model's fixed address.
final class StackPlacementTests: XCTestCase {
    static func assertPlacementUnknown(_ spec: String, path: String = "f", _ words: String, file: StaticString = #filePath, line: UInt = #line) {
        let report = SpecHarness.check(spec)
        XCTAssertEqual(report.diagnostics, [], file: file, line: line)
        XCTAssertEqual(report.paths.first { $0.name == path }?.results.count, Invariant.allCases.count, "no verdicts", file: file, line: line)
        for inv in Invariant.allCases {
            guard let r = SpecHarness.result(report, path: path, inv) else { continue }
            guard case .unknown(let why) = r.verdict else {
                XCTFail("\(inv): \(SpecHarness.describe(r.verdict))", file: file, line: line)
                continue
            }
            XCTAssertTrue(why.contains("depends on where the stack lies") && why.contains(words), why, file: file, line: line)
        }
    }

    func testAnInterruptEntrysRspBitsAreNotTheModels() {
        // The CPU aligns rsp to 16 before it pushes the 5-word frame: bit 3 of the entry
        // rsp is set on every run, so rbx is always clobbered. The model's address has it
        // clear and proved the path.
        Self.assertPlacementUnknown(".path f entry=interrupt from=kernel\nf:\ttestq $8, %rsp\n\tjz 1f\n\tmovq $0, %rbx\n1:\tiretq", "a test of bits")
    }

    func testRealigningRspIsUnknown() {
        Self.assertPlacementUnknown(".path f entry=function\nf:\torq $8, %rsp\n\tandq $-9, %rsp\n\tret", "a mask")
        let realign = """
        .path f entry=function
        f:\tpushq %rbp
        \tmovq %rsp, %rbp
        \tpushq %rbx
        \tandq $-16, %rsp
        \tmovq (%rsp), %rbx
        \tmovq %rbp, %rsp
        \tpopq %rbp
        \tret
        """
        Self.assertPlacementUnknown(realign, "a mask")
    }

    func testTruncationsAndConstantComparisonsAreUnknown() {
        Self.assertPlacementUnknown(".path f entry=function\nf:\tmovl %esp, %eax\n\tret", "32-bit truncation")
        Self.assertPlacementUnknown(".path f entry=function\nf:\tcmpq $0x1000, %rsp\n\tjb 1f\n\tret\n1:\tret", "comparison with a constant")
        Self.assertPlacementUnknown(".path f entry=function\nf:\tmovq %rsp, %rax\n\tshrq $12, %rax\n\tret", "shift")
        // A difference with a constant is a number the placement decides, not an address.
        Self.assertPlacementUnknown(".path f entry=function\nf:\tmovq $0x1000, %rax\n\tsubq %rsp, %rax\n\ttestl $0xfff0, %eax\n\tjz 1f\n\tmovq $0, %rbx\n1:\tret",
                                    "arithmetic that leaves every stack")
    }

    func testTruncationsThroughMemoryAndExchangesAreUnknown() {
        let test = "\ttestl $0xfff0, %ecx\n\tjz 1f\n\tmovq $0, %rbx\n1:\tret"
        Self.assertPlacementUnknown(".path f entry=function\nf:\tmovq %rsp, %rax\n\txorl %ecx, %ecx\n\txchgl %ecx, %eax\n" + test, "32-bit truncation")
        Self.assertPlacementUnknown(".percpu saved_sp\n.path f entry=function\nf:\tmovq %rsp, PER_CPU_VAR(saved_sp)\n\tmovl PER_CPU_VAR(saved_sp), %ecx\n" + test,
                                    "32-bit read of memory holding the stack address")
        Self.assertPlacementUnknown(".path f entry=function\nf:\tpushq %rsp\n\tmovl (%rsp), %ecx\n\taddq $8, %rsp\n" + test,
                                    "32-bit read of memory holding the stack address")
    }

    func testArithmeticLandingOnAnotherStackIsUnknown() {
        // 4 GiB above the entry stack is unrelated memory; in the model it is irq_stack's
        // stack, where the store and load looked like a saved register.
        let alias = """
        .percpu irq_stack stack
        .path f entry=function
        f:\tmovq %rsp, %rax
        \tmovabsq $0x100000000, %rcx
        \taddq %rcx, %rax
        \tmovq %rbx, -8(%rax)
        \tmovq $0, %rbx
        \tmovq -8(%rax), %rbx
        \tret
        """
        Self.assertPlacementUnknown(alias, "lands on irq_stack's stack")
    }

    func testAStackAddressOnSomeRunsOnlyIsStillChecked() {
        // rax is rsp on the runs where rsi is zero and an input on the others: the value
        // has no constant cases, yet on the first runs its bits are the placement's.
        let tail = "\tjz 1f\n\ttestq %rsi, %rsi\n\tjnz 1f\n\tmovq $0, %rbx\n1:\tret"
        let cmov = ".path f entry=function\nf:\tmovq %rdi, %rax\n\ttestq %rsi, %rsi\n\tcmovzq %rsp, %rax\n"
        Self.assertPlacementUnknown(cmov + "\ttestl $0xfff0, %eax\n" + tail, "a 32-bit truncation")
        Self.assertPlacementUnknown(cmov + "\ttestq $0x10, %rax\n" + tail, "a test of bits")
        // Through an offset, and through a join instead of a cmov.
        Self.assertPlacementUnknown(cmov + "\taddq $8, %rax\n\tcmpq $0x1000, %rax\n" + tail, "a comparison with a constant")
        let join = """
        .path f entry=function
        f:\tmovq %rdi, %rax
        \ttestq %rsi, %rsi
        \tjnz 2f
        \tleaq -16(%rsp), %rax
        2:\tandq $-32, %rax
        \ttestq %rax, %rax
        """
        Self.assertPlacementUnknown(join + "\n" + tail, "a mask")
        // A difference with a constant on the stack runs only.
        Self.assertPlacementUnknown(cmov + "\tmovq $0x1000, %rcx\n\tsubq %rax, %rcx\n\ttestq %rcx, %rcx\n" + tail, "arithmetic that leaves every stack")
    }

    func testWhatDependsOnlyOnTheStackItselfIsStillProved() {
        // Offsets, distances within one stack, comparisons of its slots, masks of the low
        // three bits (always clear), and a comparison with a value the path does not fix.
        let spec = """
        .path f entry=function
        f:\tpushq %rbx
        \tleaq 8(%rsp), %rax
        \tmovq %rsp, %rcx
        \tsubq %rax, %rcx
        \tcmpq %rax, %rsp
        \tjae 1f
        \tandq $-8, %rax
        \ttestq $7, %rsp
        \tjnz 1f
        \tcmpq %rdi, %rsp
        \ttestq %rdi, %rdi
        \tcmovzq %rsp, %rdi
        \tandq $-8, %rdi
        \taddq $16, %rdi
        \tcmpq %rdx, %rdi
        \tmovq %rsp, %rsi
        \txorl %esi, %esi
        \tmovq $1, %rbx
        1:\tpopq %rbx
        \tret
        """
        let report = SpecHarness.check(spec)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "f", inv) }
    }
}
