import Foundation
@testable import PtregsProve
import SpecElaboration
import XCTest

/// The wider instruction set (shifts and rotates, extensions, setCC, adc/sbb, 16-bit
/// operations, cmpxchg, xadd, leave, the lock prefix, endbr64, std/cld, ud2/int3): for
/// each instruction a spec that proves only if the model computes it exactly, and the
/// smallest mutation of it that must be found violated, with a replayed counterexample.
/// The CPU oracle (CPUOracleTests) checks the same semantics against the real CPU.
final class InstructionSetTests: XCTestCase {
    /// A function that saves rbx and restores it — unless the value `body` computes is
    /// wrong: `body` jumps to `ok` when it is right, else the saved rbx is zeroed.
    static func spec(_ body: [String]) -> String {
        ([".path f entry=function", "f:\tpushq %rbx"] + body.map { "\t" + $0 } + ["\tmovq $0, (%rsp)", "ok:\tpopq %rbx", "\tret"])
            .joined(separator: "\n")
    }

    /// The line of the restore (`popq %rbx`), which the violation blames.
    static func restoreLine(_ body: [String]) -> Int { body.count + 4 }

    /// `body` proves; with `from` replaced by `to` it is violated at the restore.
    func check(_ body: [String], mutate from: String, to: String, file: StaticString = #filePath, line: UInt = #line) {
        SpecHarness.assertProved(SpecHarness.check(Self.spec(body), invariants: [.restoreMatchesSave]), path: "f", .restoreMatchesSave,
                                 file: file, line: line)
        let mutated = body.map { $0 == from ? to : $0 }
        XCTAssertNotEqual(mutated, body, "the mutation changes nothing", file: file, line: line)
        SpecHarness.assertViolated(SpecHarness.check(Self.spec(mutated), invariants: [.restoreMatchesSave]), path: "f", .restoreMatchesSave,
                                   blamedLine: Self.restoreLine(mutated), requirementContains: "rbx", file: file, line: line)
    }

    // MARK: Extensions

    func testMovzblZeroExtends() {
        check(["movq $-1, %rax", "movzbl %al, %ecx", "cmpq $0xff, %rcx", "je ok"], mutate: "movzbl %al, %ecx", to: "movsbl %al, %ecx")
    }

    /// gas's other spellings of the extensions.
    func testMovzxAndMovsxSpellings() {
        check(["movq $-1, %rax", "movzx %al, %ecx", "cmpq $0xff, %rcx", "je ok"], mutate: "movzx %al, %ecx", to: "movsx %al, %ecx")
        check(["movq $-1, %rax", "movzw %ax, %rcx", "cmpq $0xffff, %rcx", "je ok"], mutate: "movzw %ax, %rcx", to: "movsw %ax, %rcx")
        check(["movl $0x80, %eax", "movsb %al, %rcx", "cmpq $-128, %rcx", "je ok"], mutate: "movsb %al, %rcx", to: "movzb %al, %rcx")
        check(["movl $-2, %eax", "movsxd %eax, %rcx", "cmpq $-2, %rcx", "je ok"], mutate: "movsxd %eax, %rcx", to: "movl %eax, %ecx")
        // Without operands movsb is the string instruction: not modelled, an error.
        let report = SpecHarness.check(".path f entry=function\nf:\tmovsb\n\tret")
        XCTAssertTrue(report.diagnostics.contains { $0.message.contains("unknown mnemonic 'movsb'") }, "\(report.diagnostics)")
    }

    func testMovzwqZeroExtends() {
        check(["movq $-1, %rax", "movzwq %ax, %rcx", "cmpq $0xffff, %rcx", "je ok"], mutate: "movzwq %ax, %rcx", to: "movswq %ax, %rcx")
    }

    func testMovsbqSignExtends() {
        check(["movl $0x80, %eax", "movsbq %al, %rcx", "cmpq $-128, %rcx", "je ok"], mutate: "movsbq %al, %rcx", to: "movzbq %al, %rcx")
    }

    func testMovswlSignExtendsAndZeroesTheUpperHalf() {
        check(["movq $-1, %rcx", "movl $0xfffe, %eax", "movswl %ax, %ecx", "movl $0xfffffffe, %edx", "cmpq %rdx, %rcx", "je ok"],
              mutate: "movswl %ax, %ecx", to: "movswq %ax, %rcx")
    }

    func testMovslqSignExtends() {
        check(["movl $-2, %eax", "movslq %eax, %rcx", "cmpq $-2, %rcx", "je ok"], mutate: "movslq %eax, %rcx", to: "movl %eax, %ecx")
    }

    /// For every input: a zero-extended byte is at most 255.
    func testMovzblOfAnyInputIsAByte() {
        check(["movzbl %dil, %eax", "cmpl $255, %eax", "jbe ok"], mutate: "movzbl %dil, %eax", to: "movsbl %dil, %eax")
    }

    // MARK: Shifts and rotates

    func testShlByAnImmediate() {
        check(["movq %rdi, %rax", "shlq $4, %rax", "testb $15, %al", "jz ok"], mutate: "shlq $4, %rax", to: "shlq $3, %rax")
    }

    func testShrIsLogical() {
        check(["movq $-1, %rax", "shrq $60, %rax", "cmpq $15, %rax", "je ok"], mutate: "shrq $60, %rax", to: "sarq $60, %rax")
    }

    func testSarIsArithmetic() {
        check(["movq $-16, %rax", "sarq $2, %rax", "cmpq $-4, %rax", "je ok"], mutate: "sarq $2, %rax", to: "shrq $2, %rax")
    }

    func testSalIsShl() {
        check(["movl $3, %eax", "sall $2, %eax", "cmpl $12, %eax", "je ok"], mutate: "sall $2, %eax", to: "sarl $2, %eax")
    }

    func testShiftByCl() {
        check(["movq %rdi, %rax", "movl $3, %ecx", "shlq %cl, %rax", "testb $7, %al", "jz ok"], mutate: "movl $3, %ecx", to: "movl $2, %ecx")
    }

    /// The count is masked to 6 bits for 64-bit operands: a shift by 64 is no shift.
    func testTheCountIsMasked() {
        check(["movl $5, %eax", "movl $64, %ecx", "shlq %cl, %rax", "cmpq $5, %rax", "je ok"], mutate: "movl $64, %ecx", to: "movl $63, %ecx")
    }

    /// CF is the last bit shifted out.
    func testShiftSetsCarryToTheLastBitOut() {
        check(["movl $1, %eax", "shrq %rax", "jc ok"], mutate: "shrq %rax", to: "shlq %rax")
    }

    /// A count of 0 changes no flag: ZF from the xor is still set.
    func testAShiftByZeroKeepsTheFlags() {
        check(["xorl %eax, %eax", "movl $0, %ecx", "shlq %cl, %rdi", "jz ok"], mutate: "movl $0, %ecx", to: "movl $1, %ecx")
    }

    func testRotates() {
        check(["movl $1, %eax", "rorq %rax", "btq $63, %rax", "jc ok"], mutate: "rorq %rax", to: "rolq %rax")
        check(["movl $0x81, %eax", "rolb $1, %al", "cmpl $0x03, %eax", "je ok"], mutate: "rolb $1, %al", to: "rorb $1, %al")
    }

    /// A flag the CPU leaves undefined is any value: OF after a shift by 2 decides nothing.
    func testAnUndefinedFlagIsNotAssumed() {
        let body = ["xorl %eax, %eax", "shlq $2, %rdi", "jno ok"]
        SpecHarness.assertViolated(SpecHarness.check(Self.spec(body), invariants: [.restoreMatchesSave]), path: "f", .restoreMatchesSave,
                                   blamedLine: Self.restoreLine(body))
        // By 1, OF is defined: MSB(result) xor CF; for 0 shifted, both are 0.
        SpecHarness.assertProved(SpecHarness.check(Self.spec(["xorl %edi, %edi", "shlq $1, %rdi", "jno ok"]), invariants: [.restoreMatchesSave]),
                                 path: "f", .restoreMatchesSave)
    }

    /// SF and OF are undefined after bt*, CF is the bit and ZF is kept.
    func testBitTestLeavesSignAndOverflowUndefined() {
        let body = ["xorl %eax, %eax", "btq $0, %rdi", "jns ok"]
        SpecHarness.assertViolated(SpecHarness.check(Self.spec(body), invariants: [.restoreMatchesSave]), path: "f", .restoreMatchesSave,
                                   blamedLine: Self.restoreLine(body))
        check(["xorl %eax, %eax", "btsq $0, %rdi", "jz ok"], mutate: "xorl %eax, %eax", to: "orl $1, %eax")
    }

    // MARK: setCC, adc, sbb

    func testSetCC() {
        check(["cmpq %rdi, %rdi", "sete %al", "testb %al, %al", "jnz ok"], mutate: "sete %al", to: "setne %al")
        // A byte write keeps the rest of the register.
        check(["movq $-1, %rax", "xorl %ecx, %ecx", "setnz %al", "cmpq $-256, %rax", "je ok"], mutate: "setnz %al", to: "setz %al")
    }

    func testAdcAddsTheCarry() {
        check(["movq $-1, %rax", "addq $1, %rax", "movl $0, %ecx", "adcq $0, %rcx", "cmpq $1, %rcx", "je ok"],
              mutate: "adcq $0, %rcx", to: "addq $0, %rcx")
    }

    func testSbbSubtractsTheBorrow() {
        check(["xorl %eax, %eax", "cmpq $1, %rax", "sbbq %rcx, %rcx", "cmpq $-1, %rcx", "je ok"], mutate: "sbbq %rcx, %rcx", to: "subq %rcx, %rcx")
    }

    // MARK: 16-bit operations

    func testSixteenBitMoveKeepsTheRest() {
        check(["movq $-1, %rax", "movw $0, %ax", "cmpq $-65536, %rax", "je ok"], mutate: "movw $0, %ax", to: "movl $0, %eax")
    }

    func testSixteenBitAddCarriesOutOfSixteenBits() {
        check(["movl $0xffff, %eax", "addw $1, %ax", "jc ok"], mutate: "addw $1, %ax", to: "addl $1, %eax")
    }

    func testSixteenBitTestAndCompare() {
        check(["movl $0x10000, %eax", "testw %ax, %ax", "jz ok"], mutate: "testw %ax, %ax", to: "testl %eax, %eax")
        check(["movl $0x18000, %eax", "cmpw $0x8000, %ax", "je ok"], mutate: "cmpw $0x8000, %ax", to: "cmpl $0x8000, %eax")
    }

    /// A 16-bit store into a saved slot changes its low bits only: still a wrong restore.
    func testSixteenBitStoreIntoASavedSlotIsFound() {
        let spec = ".path f entry=function\nf:\tpushq %rbx\n\tmovw $0, (%rsp)\n\tpopq %rbx\n\tret"
        SpecHarness.assertViolated(SpecHarness.check(spec, invariants: [.restoreMatchesSave]), path: "f", .restoreMatchesSave, blamedLine: 4)
    }

    func testPushwIsRejected() {
        let report = SpecHarness.check(".path f entry=function\nf:\tpushw %ax\n\tret")
        XCTAssertTrue(report.diagnostics.contains { $0.message.contains("pushw moves rsp by 2") }, "\(report.diagnostics)")
    }

    // MARK: cmpxchg, xadd, lock

    func testCmpxchgExchangesWhenEqual() {
        check(["movl $5, %eax", "movl $5, %ecx", "movl $7, %edx", "cmpxchgq %rdx, %rcx", "cmpq $7, %rcx", "je ok"],
              mutate: "movl $5, %eax", to: "movl $6, %eax")
    }

    func testCmpxchgLoadsTheAccumulatorWhenNot() {
        check(["movl $6, %eax", "movl $5, %ecx", "movl $7, %edx", "cmpxchgq %rdx, %rcx", "cmpq $5, %rax", "je ok"],
              mutate: "cmpxchgq %rdx, %rcx", to: "cmpxchgq %rcx, %rdx")
    }

    /// `lock cmpxchg` into the saved slot: writing back another value breaks the restore;
    /// writing the register that was saved keeps it.
    func testLockedCmpxchgIntoASavedSlot() {
        let good = ".path f entry=function\nf:\tpushq %rbx\n\tmovq %rbx, %rax\n\tlock cmpxchgq %rbx, (%rsp)\n\tpopq %rbx\n\tret"
        SpecHarness.assertProved(SpecHarness.check(good, invariants: [.restoreMatchesSave]), path: "f", .restoreMatchesSave)
        let bad = good.replacingOccurrences(of: "lock cmpxchgq %rbx, (%rsp)", with: "lock cmpxchgq %rdx, (%rsp)")
        SpecHarness.assertViolated(SpecHarness.check(bad, invariants: [.restoreMatchesSave]), path: "f", .restoreMatchesSave, blamedLine: 5)
        let separate = good.replacingOccurrences(of: "lock cmpxchgq %rdx, (%rsp)", with: "lock; cmpxchgq %rdx, (%rsp)")
        SpecHarness.assertProved(SpecHarness.check(separate, invariants: [.restoreMatchesSave]), path: "f", .restoreMatchesSave)
    }

    func testXaddExchangesAndAdds() {
        check(["movl $3, %eax", "movl $4, %ecx", "xaddq %rax, %rcx", "subq %rax, %rcx", "cmpq $3, %rcx", "je ok"],
              mutate: "xaddq %rax, %rcx", to: "xchgq %rax, %rcx")
    }

    func testLockNeedsALockableMemoryDestination() {
        for bad in ["lock movq %rax, (%rsp)", "lock addq $1, %rax", "lock", "lock; movq %rax, %rbx"] {
            let report = SpecHarness.check(".path f entry=function\nf:\tpushq %rbx\n\t\(bad)\n\tpopq %rbx\n\tret")
            XCTAssertTrue(report.diagnostics.contains { $0.message.contains("#UD") }, "\(bad): \(report.diagnostics)")
        }
        for good in ["lock addq $1, (%rsp)", "lock; incl (%rsp)", "lock btsq $3, (%rsp)", "lock xaddl %eax, (%rsp)"] {
            let report = SpecHarness.check(".path f entry=function\nf:\tpushq %rax\n\t\(good)\n\tpopq %rax\n\tret")
            XCTAssertEqual(report.diagnostics, [], good)
        }
    }

    // MARK: leave, endbr64, std/cld

    func testLeave() {
        let good = ".path f entry=function\nf:\tendbr64\n\tpushq %rbp\n\tmovq %rsp, %rbp\n\tpushq %rbx\n\tsubq $24, %rsp\n\tstd\n\tcld\n\tleave\n\tret"
        let report = SpecHarness.check(good)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "f", inv) }
        // The frame pointer set after another push: leave pops the wrong slot into rbp.
        let bad = good.replacingOccurrences(of: "\tmovq %rsp, %rbp\n\tpushq %rbx\n", with: "\tpushq %rbx\n\tmovq %rsp, %rbp\n")
        SpecHarness.assertViolated(SpecHarness.check(bad, invariants: [.restoreMatchesSave]), path: "f", .restoreMatchesSave, blamedLine: 9)
        SpecHarness.assertViolated(SpecHarness.check(bad, invariants: [.frameBalance]), path: "f", .frameBalance, blamedLine: 10)
    }

    // MARK: Traps

    /// Runs that reach a trap end there; the path's other runs are checked as usual.
    func testATrapEndsItsRunsOnly() {
        let spec = ".path f entry=function\nf:\tpushq %rbx\n\ttestq %rdi, %rdi\n\tjz 1f\n\tmovq $0, (%rsp)\n\tud2\n1:\tpopq %rbx\n\tret"
        SpecHarness.assertProved(SpecHarness.check(spec, invariants: [.restoreMatchesSave]), path: "f", .restoreMatchesSave)
        // Not skipped: without the trap the clobbered rbx reaches the ret.
        let fallsThrough = spec.replacingOccurrences(of: "\tud2\n", with: "\tnop\n")
        SpecHarness.assertViolated(SpecHarness.check(fallsThrough, invariants: [.restoreMatchesSave]), path: "f", .restoreMatchesSave, blamedLine: 7)
    }

    /// A path whose every run traps never exits: nothing about its exits is proved.
    func testAPathThatOnlyTrapsIsNeverProved() {
        for trap in ["ud2", "int3"] {
            let spec = ".path f entry=function\nf:\tpushq %rbx\n\tmovq $0, %rbx\n\t\(trap)"
            let report = SpecHarness.check(spec)
            XCTAssertEqual(report.diagnostics, [])
            for inv in Invariant.allCases {
                guard let r = SpecHarness.result(report, path: "f", inv) else { continue }
                guard case .unknown(let why) = r.verdict else { XCTFail("\(trap) \(inv): \(SpecHarness.describe(r.verdict))"); continue }
                XCTAssertTrue(why.contains("ends in a trap"), why)
            }
        }
    }

    /// The same when the trap is not the only way out in the code but the only one any
    /// run takes — a `ret` no input reaches, a loop that never ends, or an `.assume` that
    /// removes every run that exits: proving the exits of no run proved broken code.
    func testAPathNoRunOfWhichExitsIsNeverProved() {
        let shapes = [
            "deadRet": ".path f entry=function\nf:\tmovq $0, %rbx\n\txorl %eax, %eax\n\ttestl %eax, %eax\n\tjz 1f\n\tret\n1:\tud2",
            "spin": ".path f entry=function\nf:\tmovq $0, %rbx\n\txorl %eax, %eax\n1:\ttestl %eax, %eax\n\tjz 1b\n\tret",
            "assumed": ".path f entry=function\n.assume taken x reason=\"the other way\"\nf:\txorl %eax, %eax\n\ttestl %eax, %eax\n\tjnz x\n\tmovq $0, %rbx\n\tret\nx:\tret",
        ]
        for (name, spec) in shapes.sorted(by: { $0.key < $1.key }) {
            let report = SpecHarness.check(spec)
            XCTAssertEqual(report.diagnostics, [], name)
            XCTAssertEqual(report.paths.first?.results.count, Invariant.allCases.count, name)
            for inv in Invariant.allCases {
                guard let r = SpecHarness.result(report, path: "f", inv) else { continue }
                guard case .unknown(let why) = r.verdict else { XCTFail("\(name) \(inv): \(SpecHarness.describe(r.verdict))"); continue }
                XCTAssertTrue(why.contains("no run of the path reaches an exit"), why)
            }
        }
        // A loop that never ends though the widened run cannot tell: rcx stays odd, so
        // the `jnz` is always taken. No exact run reaches the ret.
        let odd = ".path f entry=function\nf:\tmovq $1, %rcx\n1:\tmovq (%rdi), %rdx\n\tandq $-2, %rdx\n\txorq %rdx, %rcx\n\ttestq %rcx, %rcx\n\tjnz 1b\n\tret"
        let oddReport = SpecHarness.check(odd)
        XCTAssertEqual(oddReport.paths.first?.results.count, Invariant.allCases.count)
        for r in oddReport.paths.first?.results ?? [] {
            guard case .unknown(let why) = r.verdict else { XCTFail("odd \(r.invariant): \(SpecHarness.describe(r.verdict))"); continue }
            XCTAssertTrue(why.contains("the loop may never end"), why)
        }
        // A counted loop of 16 to 31 trips, more than the unrolled runs take, still exits: a
        // concrete run of the path shows it, and the path proves.
        let counted = ".path f entry=function\nf:\tmovl %edi, %ecx\n\torl $16, %ecx\n\tandl $31, %ecx\n1:\tdecl %ecx\n\tjnz 1b\n\tret"
        let countedReport = SpecHarness.check(counted)
        for inv in Invariant.allCases { SpecHarness.assertProved(countedReport, path: "f", inv) }
        // A ret some input reaches keeps its verdict, and the clobber is found.
        let reachable = ".path f entry=function\nf:\tmovq $0, %rbx\n\ttestl %eax, %eax\n\tjz 1f\n\tret\n1:\tud2"
        SpecHarness.assertViolated(SpecHarness.check(reachable, invariants: [.restoreMatchesSave]), path: "f", .restoreMatchesSave, blamedLine: 2)
    }

    // MARK: Real source files

    /// A kernel-style `.S` file (issue 16) with the instructions entry code uses: its path
    /// proves; a path through an instruction outside the model is unknown, never skipped.
    func testARealFileWithTheWiderSet() throws {
        let code = """
        wide_demo:
        \tendbr64
        \tpushq %rbx
        \tpushq %rbp
        \tmovq %rsp, %rbp
        \tmovzwl %di, %eax
        \tshlq $3, %rax
        \tsubq $8, %rsp
        \tmovq %rax, (%rsp)
        \tmovq %rsi, %rdx
        \tlock; cmpxchgq %rdx, (%rsp)
        \tsete %cl
        \tmovslq %ecx, %rcx
        \ttestq %rdi, %rdi
        \tjnz 1f
        \tud2
        1:\tleave
        \tpopq %rbx
        \tret
        other_demo:
        \trclq $1, %rax
        \tret
        """
        let sidecar = ".source \"arch/x86/entry/wide.S\"\n.path wide_demo entry=function\n.path other_demo entry=function\n"
        let report = try FrontEndSourceTests.check("checks/wide.pts", ["arch/x86/entry/wide.S": code, "checks/wide.pts": sidecar])
        XCTAssertEqual(report.diagnostics, [])
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "wide_demo", inv) }
        guard let r = SpecHarness.result(report, path: "other_demo", .restoreMatchesSave), case .unknown(let why) = r.verdict else {
            return XCTFail("expected unknown")
        }
        XCTAssertTrue(why.hasPrefix("unsupported: unknown mnemonic 'rclq'"), why)
    }

    // MARK: Certificates

    /// Proofs through shifts, extensions, rotates and the rest come with certificates
    /// that z3 and cvc5 both find unsat.
    func testCertificatesOfTheNewInstructionsRecheck() throws {
        for solver in ["z3", "cvc5"] where !CertificateTests.installed(solver) {
            throw XCTSkip("\(solver) is not installed")
        }
        let bodies: [[String]] = [
            ["movq %rdi, %rax", "shlq $4, %rax", "testb $15, %al", "jz ok"],
            ["movzbl %dil, %eax", "cmpl $255, %eax", "jbe ok"],
            ["movq %rdi, %rax", "movq %rdi, %rcx", "rolq %cl, %rax", "rorq %cl, %rax", "cmpq %rdi, %rax", "je ok"],
            ["movq %rdi, %rax", "sarq %cl, %rax", "movq %rdi, %rdx", "shrq %cl, %rdx", "xorq %rdx, %rax", "shlq %cl, %rax", "testq %rax, %rax", "jle ok"],
            ["movslq %edi, %rax", "cltq", "movq %rax, %rdx", "adcq $0, %rdx", "sbbq $0, %rdx", "cmpq %rax, %rdx", "jae ok"],
        ]
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-insn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        for (k, body) in bodies.enumerated() {
            try Self.spec(body).write(to: root.appendingPathComponent("s\(k).pts"), atomically: true, encoding: .utf8)
        }
        let dir = root.appendingPathComponent("certificates")
        var options = ProverOptions()
        options.certifyDirectory = dir
        options.invariants = [.restoreMatchesSave]
        var checker = Checker(options: options)
        checker.jobs = 2
        let report = checker.check([root.path])
        XCTAssertEqual(report.diagnostics, [])
        XCTAssertEqual(report.paths.count, bodies.count)
        for p in report.paths {
            guard let r = p.results.first else { continue }
            guard case .proved = r.verdict, let name = r.certificate else { XCTFail("\(p.name): \(SpecHarness.describe(r.verdict))"); continue }
            let url = dir.appendingPathComponent(name)
            for solver in ["z3", "cvc5"] { XCTAssertEqual(CertificateTests.answer(solver, url), "unsat", "\(solver) on \(name)") }
        }
    }
}
