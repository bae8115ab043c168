import CPUOracle
import Foundation
import SpecElaboration
import Testing

/// The CPU as an oracle (issue 15 item 5): random function-shaped programs run natively
/// and on the concrete interpreter must end alike, and what a native run breaks the
/// prover must not prove. `Scripts/cpu-oracle.sh` runs the same with any seed, longer.
@Suite struct CPUOracleTests {
    static let unavailable = CPUOracle.unavailable()
    static let seed: UInt64 = 0x0c90_5eed
    static let programs = 500

    @Test(.enabled(if: unavailable == nil, "skipped: the CPU oracle needs x86-64 Linux with binutils' `as` and a C compiler `cc`"))
    func interpreterEndsWhereTheCPUEnds() throws {
        let s = try CPUOracle.run(CPUOracle.Options(seed: Self.seed, programs: Self.programs))
        let shown = s.findings.prefix(3).map(CPUOracle.report).joined(separator: "\n")
        #expect(s.findings.count == 0, "the first findings:\n\(shown)")
        #expect(s.runs == 3 * Self.programs && s.agreed == s.runs, "\(s.agreed) of \(s.runs) runs agreed")
        // Not vacuous: runs that reach the path's ret, that leave by a tail-called
        // function's ret, whose ret goes to data,
        // every invariant the CPU can show broken broken by some run, and the prover asked.
        #expect(s.exited > 0 && s.returned > 0 && s.faulted > s.returned,
                "\(s.exited) runs exited, \(s.returned) returned after a tail call, \(s.faulted - s.returned) faulted")
        for inv in [Invariant.restoreMatchesSave, .frameBalance, .returnStack] {
            #expect(s.brokenNatively[inv, default: 0] > 0, "no native run broke \(inv.rawValue)")
        }
        #expect(s.proved > 0)
        // Runs that stop at a ud2 or int3, where the model's run ends too, in the same state.
        #expect(s.trapped > 0, "no run stopped at a trap")
    }

    /// Every construct the oracle is meant to exercise appears in the test's programs.
    @Test func generatorCoversTheInstructionSubset() {
        let text = (0..<Self.programs).map { CPUOracle.program(seed: Self.seed, index: $0).dsl }.joined(separator: "\n")
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        func has(_ prefix: String, _ rest: String = "") -> Bool { lines.contains { $0.hasPrefix(prefix) && (rest.isEmpty || $0.contains(rest)) } }
        let conditions = ["z", "e", "nz", "ne", "a", "nbe", "be", "na", "ae", "nb", "nc", "b", "nae", "c",
                          "l", "nge", "ge", "nl", "le", "ng", "g", "nle", "s", "ns", "o", "no"]
        for c in conditions {
            #expect(has("j\(c) "), "no j\(c)")
            #expect(has("cmov\(c) ") || has("cmov\(c)q "), "no cmov\(c)")
            #expect(has("set\(c) "), "no set\(c)")
        }
        var mnemonics = ["pushq", "popq", "leaq", "call", "ret", "mov ", "jmp", "leave", "std", "cld", "endbr64", "ud2", "int3",
                         "movzbw ", "movzbl ", "movzbq ", "movzwl ", "movzwq ", "movsbw ", "movsbl ", "movsbq ", "movswl ", "movswq ", "movslq ",
                         "movzx ", "movsx ", "movzb ", "movzw ", "movsb ", "movsw ", "movsxd "]
        for base in ["mov", "add", "sub", "and", "or", "xor", "inc", "dec", "neg", "not", "test", "cmp", "xchg",
                     "adc", "sbb", "shl", "sal", "shr", "sar", "rol", "ror", "cmpxchg", "xadd"] {
            mnemonics += ["q", "l", "w", "b"].map { base + $0 + " " }
        }
        // Shifts and rotates by 1 (no count), by an immediate and by %cl.
        for base in ["shl", "shr", "sar", "rol", "ror"] {
            #expect(lines.contains { $0.hasPrefix(base) && !$0.contains(",") }, "no \(base) by 1")
            #expect(has(base, "%cl, "), "no \(base) by %cl")
            #expect(has(base, "$"), "no \(base) by an immediate")
        }
        // The lock prefix, in one statement and alone before its instruction.
        #expect(has("lock cmpxchg", "(%r"), "no lock cmpxchg")
        #expect(has("lock; cmpxchg"), "no lock; cmpxchg")
        #expect(has("lock xadd"), "no lock xadd")
        #expect(has("lock adc") || has("lock sbb"), "no locked adc/sbb")
        #expect(has("cmpxchgl %", ", %"), "no cmpxchg with a 32-bit register destination")
        mnemonics += ["bt", "bts", "btr", "btc"].flatMap { [$0 + "q ", $0 + "l "] }
        for m in mnemonics { #expect(has(m), "no \(m)") }
        // Forms the semantics treat specially.
        #expect(has("xchgq %", "(%rsp)"), "no xchg with memory")
        #expect(has("popq ", "(%rsp)"), "no pop into a stack slot")
        #expect(has("pushq %rsp"), "no push of rsp")
        #expect(has("popq %rsp"), "no pop into rsp")
        #expect(has("movl ", "%e"), "no 32-bit register write")
        #expect(has("movb ", "l"), "no 8-bit register write")
        // A narrow access inside a slot, away from its start (an rsp displacement that is
        // no multiple of 8).
        #expect(lines.contains { l in
            guard l.hasPrefix("movb ") || l.hasPrefix("movw ") || l.hasPrefix("movl "), let r = l.range(of: "(%rsp)") else { return false }
            let disp = l[..<r.lowerBound].split(whereSeparator: { $0 == " " || $0 == "," }).last.flatMap { Int($0) }
            return disp.map { $0 % 8 != 0 } ?? false
        }, "no narrow access inside a stack slot")
        #expect(has("", ",8)"), "no access indexed by a loop counter")
        #expect(has("", "(%rbp)"), "no frame-pointer access")
        #expect(has("movq PER_CPU_VAR("), "no input pointer")
        #expect(has("movl ", ", PER_CPU_VAR(oracle_v"), "no narrow per-CPU store")
        #expect(has("movq %rsp, PER_CPU_VAR(oracle_v"), "no rsp kept in a per-CPU variable")
        #expect(has("", "(%r") && lines.contains { $0.contains("(%rsp)") }, "no memory operands")
        let programs = (0..<Self.programs).map { CPUOracle.program(seed: Self.seed, index: $0) }
        #expect(programs.contains { $0.loopDepth >= 2 }, "no nested loop")
        #expect(programs.contains { $0.tailCalls > 0 }, "no tail call")
        // Local functions follow the path's code: a call after `f0:` is made by one.
        #expect(programs.contains { $0.dsl.components(separatedBy: "\nf0:\n").last?.contains("\tcall f") == true && $0.dsl.contains("\nf0:\n") },
                "no call from one local function to another")
    }
}
