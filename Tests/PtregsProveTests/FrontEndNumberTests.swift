import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// Issue 14 item 4: numbers and immediates as gas reads them. Each row says what GNU as
/// 2.40 (`as --64`, then `objdump -d`) does with the line, and whether the tool agrees;
/// the table was made by running gas, and when `as` is installed the test runs it again.
final class FrontEndNumberTests: XCTestCase {
    enum Gas: Equatable {
        /// Assembled, the immediate objdump prints.
        case encodes(String)
        /// Assembled with a "value shortened" warning: the low bits of the value.
        case truncates(String)
        case rejects
    }

    enum Tool: Equatable {
        /// Accepts the line with gas's value (masked to the operation's width).
        case agrees
        /// Rejects it: where gas encodes something, the tool is deliberately stricter.
        case rejects
    }

    static let table: [(line: String, gas: Gas, tool: Tool)] = [
        // Spellings of numbers.
        ("movq $040, %rax", .encodes("0x20"), .agrees),
        ("movq $00, %rax", .encodes("0x0"), .agrees),
        ("movq $0777, %rax", .encodes("0x1ff"), .agrees),
        ("movq $-040, %rax", .encodes("0xffffffffffffffe0"), .agrees),
        ("movq $01777777777777777777777, %rax", .encodes("0xffffffffffffffff"), .agrees),
        ("movq $08, %rax", .rejects, .rejects),
        ("movq $019, %rax", .rejects, .rejects),
        ("movq $0b101, %rax", .encodes("0x5"), .agrees),
        ("movq $0B11, %rax", .encodes("0x3"), .agrees),
        ("movq $0b12, %rax", .rejects, .rejects),
        ("movq $0x1F, %rax", .encodes("0x1f"), .agrees),
        ("movq $0X1f, %rax", .encodes("0x1f"), .agrees),
        ("movq $0x, %rax", .rejects, .rejects),
        ("movq $0xg, %rax", .rejects, .rejects),
        ("movq $18446744073709551615, %rax", .encodes("0xffffffffffffffff"), .agrees),
        ("movq $18446744073709551616, %rax", .rejects, .rejects),
        ("movq $9223372036854775808, %rax", .encodes("0x8000000000000000"), .agrees),
        ("movq $1_000, %rax", .rejects, .rejects),
        ("movq $9abc, %rax", .rejects, .rejects),
        // Character constants: 'c, and 'c' (gas 2.40 reads both).
        ("movq $'a, %rax", .encodes("0x61"), .agrees),
        ("movq $'a', %rax", .encodes("0x61"), .agrees),
        ("movq $'a'+1, %rax", .encodes("0x62"), .agrees),
        ("movq $' , %rax", .encodes("0x20"), .agrees),
        ("movq $';, %rax", .encodes("0x3b"), .agrees),
        ("movq $'#, %rax", .encodes("0x23"), .agrees),
        ("movq $',, %rax", .encodes("0x2c"), .agrees),
        ("movq $'(, %rax", .encodes("0x28"), .agrees),
        ("movq $'\", %rax", .encodes("0x22"), .agrees),
        ("movq $'\\n, %rax", .encodes("0xa"), .agrees),
        ("movq $'\\t, %rax", .encodes("0x9"), .agrees),
        ("movq $'\\\\, %rax", .encodes("0x5c"), .agrees),
        ("movq $'\\', %rax", .encodes("0x27"), .agrees),
        // gas reads these escapes as neither C nor anything useful ('\0 is 0x30).
        ("movq $'\\0, %rax", .encodes("0x30"), .rejects),
        ("movq $'\\101, %rax", .encodes("0x1325"), .rejects),
        ("movq $'ab, %rax", .rejects, .rejects),
        // A 64-bit operation takes a sign-extended imm32; only mov to a register imm64.
        ("addq $0xffffffff, %rax", .rejects, .rejects),
        ("add $0xffffffff, %rax", .rejects, .rejects),
        ("addq $0x80000000, %rax", .rejects, .rejects),
        ("addq $-0x80000001, %rax", .rejects, .rejects),
        ("addq $0x7fffffff, %rax", .encodes("0x7fffffff"), .agrees),
        ("addq $-0x80000000, %rax", .encodes("0xffffffff80000000"), .agrees),
        ("addq $0xffffffff80000000, %rax", .encodes("0xffffffff80000000"), .agrees),
        ("addq $0xffffffffffffffff, %rax", .encodes("0xffffffffffffffff"), .agrees),
        ("addq $0xffffffff, (%rsp)", .rejects, .rejects),
        ("andq $0xffffffff00000000, %rax", .rejects, .rejects),
        ("subq $0x80000000, %rsp", .rejects, .rejects),
        ("cmpq $0xffffffff, %rax", .rejects, .rejects),
        ("testq $0x80000000, %rax", .rejects, .rejects),
        ("pushq $0xffffffff", .rejects, .rejects),
        ("pushq $0x7fffffff", .encodes("0x7fffffff"), .agrees),
        ("pushq $-1", .encodes("0xffffffffffffffff"), .agrees),
        ("movq $0xffffffff, %rax", .encodes("0xffffffff"), .agrees),
        ("mov $0xffffffff, %rax", .encodes("0xffffffff"), .agrees),
        ("movq $-0x80000001, %rax", .encodes("0xffffffff7fffffff"), .agrees),
        ("movq $0x8000000000000000, %rax", .encodes("0x8000000000000000"), .agrees),
        ("movabsq $0x1122334455667788, %rax", .encodes("0x1122334455667788"), .agrees),
        ("movq $0xffffffff, (%rsp)", .rejects, .rejects),
        ("movq $0x80000000, 8(%rsp)", .rejects, .rejects),
        ("cmovzq $1, %rax", .rejects, .rejects),
        // 32- and 8-bit operations: values that fit signed or unsigned.
        ("movl $0xffffffff, %eax", .encodes("0xffffffff"), .agrees),
        ("movl $-1, %eax", .encodes("0xffffffff"), .agrees),
        ("movl $-0x80000000, %eax", .encodes("0x80000000"), .agrees),
        ("addl $0xffffffff, %eax", .encodes("0xffffffff"), .agrees),
        ("testl $0xffffffff, %eax", .encodes("0xffffffff"), .agrees),
        ("movl $0x100000000, %eax", .truncates("0x0"), .rejects),
        ("xorl $0x1ffffffff, %eax", .truncates("0xffffffff"), .rejects),
        // gas keeps the low 32 bits without a word: the sign is lost.
        ("movl $-0x80000001, %eax", .encodes("0x7fffffff"), .rejects),
        ("movb $255, %al", .encodes("0xff"), .agrees),
        ("movb $-128, %al", .encodes("0x80"), .agrees),
        ("orb $-1, %al", .encodes("0xff"), .agrees),
        ("movb $256, %al", .truncates("0x0"), .rejects),
        ("movb $-129, %al", .encodes("0x7f"), .rejects),
        // bt's imm8, ret's imm16.
        ("btq $63, %rax", .encodes("0x3f"), .agrees),
        ("btq $255, %rax", .encodes("0xff"), .agrees),
        ("btq $-1, %rax", .encodes("0xff"), .agrees),
        ("btq $256, %rax", .rejects, .rejects),
        ("btl $-129, %eax", .rejects, .rejects),
        ("ret $0xfff8", .encodes("0xfff8"), .agrees),
        ("ret $0x10000", .rejects, .rejects),
        // The model keeps rsp 8-byte aligned; gas pops 0xfff8 bytes.
        ("ret $-8", .encodes("0xfff8"), .rejects),
    ]

    /// The spec around one line: a function that returns after it.
    static func spec(_ line: String) -> String {
        ".path f entry=function\nf:\n\t\(line)\n" + (line.hasPrefix("ret") ? "" : "\tret\n")
    }

    /// The immediate and width of the line's first instruction, if it has one.
    static func immediate(of op: SpecElaboration.Operation) -> (Int64, Width)? {
        switch op {
        case .move(.immediate(let v), _, let w), .alu(_, .immediate(let v), _, let w), .test(.immediate(let v), _, let w),
             .compare(.immediate(let v), _, let w):
            return (v, w)
        case .push(.immediate(let v)): return (v, .q)
        case .bitTest(_, .immediate(let v), _, _): return (v, .b)
        case .ret(let n): return (n, .q)
        default: return nil
        }
    }

    func testNumbersAndImmediatesAsGasReadsThem() throws {
        let assembled = GasProbe.immediates(of: Self.table.map(\.line))
        if GasProbe.available { XCTAssertNotNil(assembled, "gas is installed but did not run") }
        for (k, (line, gas, tool)) in Self.table.enumerated() {
            let (programs, _, report) = try FrontEnd.elaborate(Self.spec(line))
            switch tool {
            case .rejects:
                XCTAssertEqual(report.exitCode, 2, "\(line): the tool must reject it")
                XCTAssertEqual(report.diagnostics.first?.location.line, 3, line)
            case .agrees:
                XCTAssertEqual(report.diagnostics, [], line)
                guard let op = programs.first?.instructions.first?.operation, let (v, w) = Self.immediate(of: op) else {
                    XCTFail("\(line): no immediate decoded")
                    continue
                }
                let value = "0x" + String(UInt64(bitPattern: v) & w.mask, radix: 16)
                guard case .encodes(let expected) = gas else {
                    XCTFail("\(line): the table says gas does not encode it")
                    continue
                }
                XCTAssertEqual(value, expected, "\(line): the tool's value")
            }
            guard let assembled else { continue }
            let got = assembled[k]
            switch gas {
            case .rejects: XCTAssertNil(got, "\(line): gas accepts it")
            case .encodes(let v): XCTAssertTrue(got?.value == v && got?.warned == false, "\(line): gas gives \(String(describing: got))")
            case .truncates(let v): XCTAssertTrue(got?.value == v && got?.warned == true, "\(line): gas gives \(String(describing: got))")
            }
        }
    }

    /// The exact diagnostics of the main classes (and where they point).
    func testOctalDigitAndOutOfRangeImmediateMessages() {
        FrontEnd.assertError(SpecHarness.check(Self.spec("movq $08, %rax")), "spec.pts:3:8",
                             "malformed number '08': a leading 0 makes it octal, as gas reads it, and octal has no digit 8 or 9")
        FrontEnd.assertError(SpecHarness.check(Self.spec("addq $0xffffffff, %rax")), "spec.pts:3:7",
                             "immediate $0xffffffff (4294967295) does not fit 'addq': a 64-bit operation takes a sign-extended 32-bit immediate (-2147483648…2147483647); only mov or movabs to a register takes a 64-bit one")
        FrontEnd.assertError(SpecHarness.check(Self.spec("movl $0x100000000, %eax")), "spec.pts:3:7",
                             "immediate $0x100000000 (4294967296) does not fit the 32 bits of 'movl' (-2147483648…4294967295): gas would keep only its low 32 bits")
        FrontEnd.assertError(SpecHarness.check(Self.spec("btq $256, %rax")), "spec.pts:3:6",
                             "bit number $256 (256) does not fit the 8-bit immediate of 'btq' (-128…255)")
        FrontEnd.assertError(SpecHarness.check(Self.spec("movq $'\\0, %rax")), "spec.pts:3:8",
                             "character escape '\\0' is not supported (gas does not read it as C does): write the number")
    }

    /// `040` is 32: a frame of 040 bytes is 4 slots, and the restore at 040-8 is the save.
    func testOctalOffsetsReachTheSlotGasMeans() {
        let spec = """
        .path f entry=function
        f:
        \tsubq $040, %rsp
        \tmovq %rbx, 030(%rsp)
        \tmovq $0, %rbx
        \tmovq 24(%rsp), %rbx
        \taddq $32, %rsp
        \tret
        """
        FrontEnd.assertProves(SpecHarness.check(spec))
        // Read as decimal (40 and 30) the frame would be unbalanced and the save missed.
        let decimal = spec.replacingOccurrences(of: "$040", with: "$40").replacingOccurrences(of: "030(", with: "30(")
        XCTAssertNotEqual(SpecHarness.check(decimal).exitCode, 0)
    }

    /// The scale of an index is an expression too: `010` is 8.
    func testScaleIsReadAsGasReadsIt() throws {
        let (programs, _, report) = try FrontEnd.elaborate(Self.spec("movq (,%rax,010), %rbx"))
        XCTAssertEqual(report.diagnostics, [])
        guard case .move(.memory(let m), _, _)? = programs.first?.instructions.first?.operation else { return XCTFail("no memory operand") }
        XCTAssertEqual(m.scale, 8)
        if GasProbe.available { XCTAssertTrue(GasProbe.disassembly(of: "movq (,%rax,010), %rbx")?.output.contains("(,%rax,8)") == true) }
    }

    /// Where C and gas evaluate the same text differently, the spec must say which.
    func testExpressionsWhereCAndGasDisagreeAreErrors() {
        // gas: 1 + (2 << 3) = 17; C: (1 + 2) << 3 = 24.
        FrontEnd.assertError(SpecHarness.check(Self.spec("movq $1+2<<3, %rax")), "spec.pts:3:11",
                             "C and gas group 'a + b << c' differently (C: (a + b) << c; gas: a + (b << c)): add parentheses")
        // gas: (4 | 1) & 2 = 0; C: 4 | (1 & 2) = 4.
        FrontEnd.assertError(SpecHarness.check(Self.spec("movq $4|1&2, %rax")), "spec.pts:3:9",
                             "C and gas group 'a | b & c' differently (C: a | (b & c); gas: (a | b) & c): add parentheses")
        // gas shifts right logically: -1 >> 60 is 15 there.
        FrontEnd.assertError(SpecHarness.check(Self.spec("movq $-1>>60, %rax")), "spec.pts:3:10",
                             "'>>' of a negative value: gas shifts in zeros, C copies the sign bit; write the value you mean")
        // gas: 3 < 4 is -1.
        FrontEnd.assertError(SpecHarness.check(Self.spec("movq $3<4, %rax")), "spec.pts:3:9",
                             "the value of '<' is -1 for true in gas but 1 in C: use a comparison only as a condition (.if, #if, or under &&, || or !)")
        // cpp pastes #define text: X*2 is 1+2*2 = 5 to gas, not 6.
        FrontEnd.assertError(SpecHarness.check("#define X 1+2\n.path f entry=function\nf:\n\tmovq $X*2, %rax\n\tret\n"), "spec.pts:4:8",
                             "'X' is #defined with '+' outside parentheses: cpp pastes its text under this '*', which groups differently from its value; write its #define as (…)")
        // The same text in a condition, parenthesized, or pasted where it groups alike.
        let fine = """
        #define X 1+2
        #define Y (1+2)
        .path f entry=function
        f:
        \tmovq $X+Y*2, %rax
        \tmovq $(1+2)<<3, %rcx
        \t.if 3<4 && Y == 3
        \tmovq $(-1)/2, %rdx
        \t.endif
        \tret
        """
        FrontEnd.assertProves(SpecHarness.check(fine))
    }
}
