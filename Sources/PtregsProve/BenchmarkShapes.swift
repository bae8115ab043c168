/// Generated inputs for `ptregs-bench` and the tests that check the optimisations do not
/// change a verdict on them: function-shaped code (a six-register prologue, a 168-byte
/// frame, nine argument spills, N independent branch diamonds, the restores) and straight
/// lines. Each input is written twice from the same instruction text: as a spec (`.pts`)
/// and as a plain gas file for `as` and objtool.
public enum BenchmarkShapes {
    /// What the conditional arm of each diamond `testq $bit, %src; jz 1f; <arm>; 1:` does.
    public enum Arm: String, CaseIterable, Sendable {
        /// Adds to a register and stores it into one of 12 scratch slots.
        case spill
        /// Reloads one of the nine saved arguments and stores it into a scratch slot.
        case reload
        /// A push, a register write and the pop that gives it back.
        case pushpop
        /// Register writes only.
        case regs
        /// A call to an `.extern` C function.
        case call
        /// The five above in turn.
        case mixed
    }

    /// The diamonds' input name in the benchmark table.
    public static func name(_ arm: Arm) -> String { "dia-\(arm.rawValue)" }

    static let saved = ["rbx", "rbp", "r12", "r13", "r14", "r15"]
    static let arguments = ["rdi", "rsi", "rdx", "rcx", "r8", "r9", "rax", "r10", "r11"]
    /// Registers the arms write: never r12/r13, the diamonds' tests read those.
    static let scratch = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r14", "r15"]
    static let frameSize = 168   // 9 argument slots + 12 scratch slots, 8 bytes each

    /// The instruction text of a function with `n` diamonds whose arms are `arm`s. With
    /// `clobberAt`, that diamond's arm also stores r13 (the second argument) over the
    /// slot where the prologue saved rbx: a restore violation on the runs that take it.
    public static func diamondBody(_ arm: Arm, _ n: Int, clobberAt: Int? = nil) -> String {
        var s = ""
        for r in saved { s += "\tpushq %\(r)\n" }
        s += "\tsubq $\(frameSize), %rsp\n"
        for (i, r) in arguments.enumerated() { s += "\tmovq %\(r), \(8 * i)(%rsp)\n" }
        s += "\tmovq %rdi, %r12\n\tmovq %rsi, %r13\n"
        let kinds: [Arm] = [.spill, .reload, .pushpop, .regs, .call]
        for i in 0..<n {
            let kind = arm == .mixed ? kinds[i % kinds.count] : arm
            let src = i % 2 == 0 ? "r12" : "r13"
            let reg = scratch[i % scratch.count]
            let slot = 8 * arguments.count + 8 * (i % 12)
            s += "\ttestq $\(1 << (i % 31)), %\(src)\n\tjz 1f\n"
            switch kind {
            case .spill:
                s += "\taddq $\(i + 1), %\(reg)\n\tmovq %\(reg), \(slot)(%rsp)\n"
            case .reload:
                s += "\tmovq \(8 * (i % arguments.count))(%rsp), %\(reg)\n\tmovq %\(reg), \(slot)(%rsp)\n"
            case .pushpop:
                s += "\tpushq %\(reg)\n\tmovq $\(i + 1), %\(reg)\n\tpopq %\(reg)\n"
            case .regs:
                s += "\taddq $\(i + 1), %\(reg)\n"
            case .call, .mixed:
                s += "\tcall bench_helper\n"
            }
            if i == clobberAt { s += "\tmovq %r13, \(frameSize + 8 * (saved.count - 1))(%rsp)\n" }
            s += "1:\n"
        }
        s += "\taddq $\(frameSize), %rsp\n"
        for r in saved.reversed() { s += "\tpopq %\(r)\n" }
        return s + "\tret\n"
    }

    /// The instruction text of a function of `l` straight-line operations.
    public static func straightLineBody(_ l: Int) -> String {
        var s = "\tpushq %rbx\n\tsubq $16, %rsp\n"
        var emitted = 2
        var k = 0
        while emitted < l - 4 {
            switch k % 4 {
            case 0: s += "\tmovq %rdi, 8(%rsp)\n"
            case 1: s += "\tmovq 8(%rsp), %rdi\n"
            case 2: s += "\tpushq %rsi\n"
            default: s += "\tpopq %rsi\n"
            }
            k += 1
            emitted += 1
        }
        return s + "\taddq $16, %rsp\n\tpopq %rbx\n\tret\n"
    }

    /// `body` as a spec: one function path named `bench`.
    public static func spec(_ body: String) -> String {
        ".extern bench_helper\n.path bench entry=function\nbench:\n" + body
    }

    /// `body` as a gas file: the function `bench` in `.text`, for `as` and objtool.
    public static func gas(_ body: String) -> String {
        "\t.text\n\t.globl bench\n\t.type bench, @function\nbench:\n" + body + "\t.size bench, .-bench\n"
    }
}
