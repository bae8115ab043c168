import Foundation
import SpecElaboration

/// Flag bits as the generator tracks them.
enum FlagBit {
    static let zf: UInt8 = 1, cf: UInt8 = 2, sf: UInt8 = 4, of: UInt8 = 8
    static let all: UInt8 = 15
}

/// One line of a generated program. Most are the same text for the DSL and for gas;
/// the few that differ are the ones the harness stands in for.
enum GenLine {
    case label(String)
    case op(String)
    /// DSL: the per-CPU pointer load; gas: the harness's input-buffer pointer.
    case pointerLoad(Register)
    /// A jump or conditional jump to a label of the program.
    case jump(String, String)
    /// A call to a local function; gas marks the return point so the harness can name it.
    case call(String)
    /// The path's own `ret`; gas records which exit it was and jumps to the harness epilogue.
    case exit(Int)
    /// A local function's `ret` (a real `ret` natively too).
    case ret
    /// `ud2` or `int3` with its id; gas first records the id for the harness.
    case trap(String, Int)
}

/// A generated function-shaped program, in the DSL and in gas.
public struct OracleProgram: Sendable {
    public var index: Int
    public var seed: UInt64
    /// The spec text ptregs-prove reads.
    public var dsl: String
    /// For each exit (the path's `ret`s in text order): the flags whose value does not
    /// depend on where the stacks and code are (comparable with the model's).
    public var exitFlags: [UInt8]
    /// Calls in text order (their return points, natively).
    public var callCount: Int
    /// For each local function: the flags comparable at its `ret` (when a tail call
    /// makes it the path's exit).
    public var functionExitFlags: [UInt8]
    public var tailCalls: Int
    /// How deep loops nest (0: no loop).
    public var loopDepth: Int
    public var localFunctions: Int
    /// For each trap (in text order): the flags comparable at it.
    public var trapFlags: [UInt8] = []
    let lines: [GenLine]
    /// The harness tells a trap from a fault by the id stored before it (ids from here).
    public static let trapIDBase = 1000

    static let pathName = "random"
    static let pointerVariable = "oracle_input"
    /// Per-CPU value variables (`.percpu NAME`, like old_rsp); natively, globals.
    public static let perCPUValues = 2
    public static func perCPUValue(_ k: Int) -> String { "oracle_v\(k)" }

    /// The program for gas, every label prefixed so many programs share one file.
    func gas(prefix p: String) -> String {
        var out = ""
        var call = 0
        for l in lines {
            switch l {
            case .label(let n): out += "\(p)\(n):\n"
            case .op(let t):
                var g = t
                for k in 0..<Self.perCPUValues {
                    g = g.replacingOccurrences(of: "PER_CPU_VAR(\(Self.perCPUValue(k)))", with: "\(Self.perCPUValue(k))(%rip)")
                }
                out += "\t\(g)\n"
            case .pointerLoad(let r): out += "\tmovq oracle_input_ptr(%rip), %\(r.name)\n"
            case .jump(let m, let t): out += "\t\(m) \(p)\(t)\n"
            case .call(let t):
                out += "\tcall \(p)\(t)\n\(p)rp\(call):\n"
                call += 1
            case .exit(let k): out += "\tmovq $\(k), oracle_exit_id(%rip)\n\tjmp oracle_exit\n"
            case .ret: out += "\tret\n"
            case .trap(let m, let k): out += "\tmovq $\(Self.trapIDBase + k), oracle_exit_id(%rip)\n\t\(m)\n"
            }
        }
        return out
    }
}

/// What the generator knows of the machine at a program point, to keep values whose
/// bits depend on where the stacks and code are (stack addresses, return addresses)
/// out of arithmetic, narrow accesses and flags: the model places them elsewhere than
/// the CPU, and only whole copies of them can be compared (by translation).
struct AbstractFrame {
    /// rsp relative to the entry rsp, in bytes.
    var delta = 0
    /// Slot (by offset from the entry rsp) → may hold an address.
    var known: [Int: Bool] = [:]
    /// Unknown slots below this offset may hold addresses (a callee ran there).
    var pessimisticBelow = Int.min
    /// Every unknown slot may hold an address (a local function knows nothing of its caller).
    var allAddress = false
    /// Flags that hold address-independent, defined values.
    var flags: UInt8 = FlagBit.all
    /// rbp as a frame pointer: its offset from the entry rsp, when known.
    var rbp: Int?
    /// The address register's value as an offset from the entry rsp, when known.
    var x: Int?
    /// Per-CPU value variable → may hold an address.
    var perCPUAddress = [Bool](repeating: false, count: OracleProgram.perCPUValues)

    func isAddress(_ off: Int) -> Bool { known[off] ?? (allAddress || off < pessimisticBelow) }

    /// After a call: the callee pushed its return address and whatever it liked below rsp.
    mutating func forgetBelowRSP() {
        pessimisticBelow = max(pessimisticBelow, delta)
        for k in known.keys where k < delta { known[k] = nil }
    }

    /// The state after either of two runs.
    func joined(_ o: AbstractFrame) -> AbstractFrame {
        var r = self
        r.pessimisticBelow = max(pessimisticBelow, o.pessimisticBelow)
        r.allAddress = allAddress || o.allAddress
        r.flags = flags & o.flags
        r.rbp = rbp == o.rbp ? rbp : nil
        r.x = x == o.x ? x : nil
        r.perCPUAddress = zip(perCPUAddress, o.perCPUAddress).map { $0 || $1 }
        var keys = Set(known.keys)
        keys.formUnion(o.known.keys)
        r.known = [:]
        for k in keys { r.known[k] = isAddress(k) || o.isAddress(k) }
        return r
    }
}

/// Random function-shaped programs in the DSL's instruction subset (see the file
/// `CPUOracle.swift` for what the oracle does with them).
struct ProgramGenerator {
    var rng: OracleRandom
    var lines: [GenLine] = []
    var labels = 0
    var exitFlags: [UInt8] = []
    var trapFlags: [UInt8] = []
    var tailCalls = 0
    var epilogueLeaksAddress = false
    var callCount = 0

    /// The register that holds the input buffer's address (never written after the load).
    let pointer: Register
    /// The one register that may hold addresses besides rsp (and rbp as frame pointer).
    let scratchAddress: Register?
    let framePointer: Bool
    /// Loop counters: never written by local functions (a loop must terminate).
    let counterPool: [Register]
    /// Registers that hold only address-independent values.
    let dataRegisters: [Register]
    var saved: [Register] = []
    var activeCounters: [Register] = []
    /// The innermost loop's rsp offset at its head: an address stored at or above it
    /// would reach the next iteration's start, which was generated assuming none.
    var loopFloor: Int?
    var loopDepth = 0
    var deepestLoop = 0
    var depth = 0
    var budget = 0
    /// Random data stores go below this offset (the saved registers and the return
    /// address are overwritten only on purpose, by the bug injections).
    var storeCeiling = 0
    var inFunction: Int?
    var functionExitFlags: [Int: UInt8] = [:]
    let functionCount: Int

    static let conditions: [(String, UInt8)] = [
        ("z", FlagBit.zf), ("e", FlagBit.zf), ("nz", FlagBit.zf), ("ne", FlagBit.zf),
        ("a", FlagBit.cf | FlagBit.zf), ("nbe", FlagBit.cf | FlagBit.zf), ("be", FlagBit.cf | FlagBit.zf), ("na", FlagBit.cf | FlagBit.zf),
        ("ae", FlagBit.cf), ("nb", FlagBit.cf), ("nc", FlagBit.cf), ("b", FlagBit.cf), ("nae", FlagBit.cf), ("c", FlagBit.cf),
        ("l", FlagBit.sf | FlagBit.of), ("nge", FlagBit.sf | FlagBit.of), ("ge", FlagBit.sf | FlagBit.of), ("nl", FlagBit.sf | FlagBit.of),
        ("le", FlagBit.zf | FlagBit.sf | FlagBit.of), ("ng", FlagBit.zf | FlagBit.sf | FlagBit.of),
        ("g", FlagBit.zf | FlagBit.sf | FlagBit.of), ("nle", FlagBit.zf | FlagBit.sf | FlagBit.of),
        ("s", FlagBit.sf), ("ns", FlagBit.sf), ("o", FlagBit.of), ("no", FlagBit.of),
    ]

    static let callerSaved: [Register] = [.rax, .rcx, .rdx, .rsi, .rdi, .r8, .r9, .r10, .r11]

    init(seed: UInt64) {
        var rng = OracleRandom(seed: seed)
        var free = Register.allCases.filter { $0 != .rsp }
        let p = rng.pick(Self.callerSaved)
        free.removeAll { $0 == p }
        let fp = rng.chance(0.3)
        if fp { free.removeAll { $0 == .rbp } }
        var x: Register?
        if rng.chance(0.5) {
            let candidates = Self.callerSaved.filter { free.contains($0) }
            let r = rng.pick(candidates)
            x = r
            free.removeAll { $0 == r }
        }
        pointer = p
        framePointer = fp
        scratchAddress = x
        dataRegisters = free
        // Caller-saved, so a loop by itself breaks no invariant.
        counterPool = Array(rng.shuffled(free.filter { Self.callerSaved.contains($0) }).prefix(2))
        self.rng = rng
        functionCount = rng.int(4)
    }

    // MARK: Registers and operands

    static func name(_ r: Register, _ w: Width) -> String {
        let q = r.name
        switch w {
        case .q: return "%" + q
        case .l:
            if q.hasPrefix("r"), let n = Int(q.dropFirst()) { return "%r\(n)d" }
            return "%e" + q.dropFirst()
        case .w:
            if q.hasPrefix("r"), let n = Int(q.dropFirst()) { return "%r\(n)w" }
            return "%" + q.dropFirst()
        case .b:
            if q.hasPrefix("r"), let n = Int(q.dropFirst()) { return "%r\(n)b" }
            switch r {
            case .rax: return "%al"
            case .rcx: return "%cl"
            case .rdx: return "%dl"
            case .rbx: return "%bl"
            case .rbp: return "%bpl"
            case .rsi: return "%sil"
            case .rdi: return "%dil"
            default: return "%spl"
            }
        }
    }

    static func suffix(_ w: Width) -> String { w.suffix }

    var readable: [Register] { dataRegisters + [pointer] }

    var writable: [Register] {
        dataRegisters.filter { !activeCounters.contains($0) && (inFunction == nil || !counterPool.contains($0)) }
    }

    /// A register to write: mostly one the ABI lets us clobber (or one main saved).
    mutating func pickWritable() -> Register {
        let w = writable
        let free = w.filter { !Register.calleeSaved.contains($0) || (inFunction == nil && saved.contains($0)) }
        if !free.isEmpty && !rng.chance(0.01) { return rng.pick(free) }
        return rng.pick(w)
    }

    mutating func width() -> Width { rng.pick([.q, .q, .l, .l, .w, .b]) }

    mutating func immediate(_ w: Width, mov: Bool = false) -> String {
        func hex(_ v: UInt64) -> String { "$0x" + String(v, radix: 16) }
        let r = rng.next()
        switch w {
        case .b: return rng.pick(["$0", "$1", "$0x7f", "$0x80", "$0xff", "$-1", "$-128", "$\(r % 256)"])
        case .w: return rng.pick(["$0", "$1", "$0x7fff", "$0x8000", "$0xffff", "$-1", "$-32768", "$\(r % 65536)"])
        case .l:
            return rng.pick(["$0", "$1", "$-1", "$0x7fffffff", "$0x80000000", "$0xffffffff", hex(r & 0xffff_ffff), "$\(r % 64)"])
        case .q:
            var xs = ["$0", "$1", "$-1", "$0x7fffffff", "$-0x80000000", "$\(Int32(truncatingIfNeeded: r))", "$\(r % 64)"]
            if mov { xs += ["$0x8000000000000000", "$0xffffffff", hex(r), "$0x7fffffffffffffff"] }
            return rng.pick(xs)
        }
    }

    /// A stack slot operand and its offset from the entry rsp. `dataOnly`: the slot must
    /// hold no address (it is read into a data register, or partly written). `write`:
    /// random stores stay below the saved registers. `address`: what is stored may be an
    /// address, so not where the current loop's next iteration would find it.
    mutating func slot(_ f: AbstractFrame, dataOnly: Bool, write: Bool = false, address: Bool = false) -> (off: Int, text: String)? {
        let top = write ? storeCeiling - 8 : (inFunction == nil ? 24 : 16)
        let low = f.delta - (rng.chance(0.1) ? 16 : 0)
        guard low <= top else { return nil }
        var cands: [Int] = []
        for off in stride(from: low, through: top, by: 8) {
            if dataOnly && f.isAddress(off) { continue }
            if address, let floor = loopFloor, off >= floor { continue }
            cands.append(off)
        }
        guard !cands.isEmpty else { return nil }
        let off = rng.pick(cands)
        return (off, slotText(f, off))
    }

    /// A narrow access somewhere inside the slot, not only at its start (nmi's `testb`
    /// on the saved rflags' second byte): any offset that keeps it in the slot.
    mutating func narrowPart(_ f: AbstractFrame, _ s: (off: Int, text: String), _ w: Width) -> String {
        guard w != .q, rng.chance(0.4) else { return s.text }
        let k = rng.int(9 - Int(w.bytes))
        return k == 0 ? s.text : slotText(f, s.off + k)
    }

    mutating func slotText(_ f: AbstractFrame, _ off: Int, rspAfter: Int? = nil) -> String {
        if let bp = f.rbp, rng.chance(0.4) { return "\(off - bp)(%rbp)" }
        if let x = f.x, let r = scratchAddress, rng.chance(0.3) { return "\(off - x)(%\(r.name))" }
        let d = off - (rspAfter ?? f.delta)
        return d == 0 && rng.chance(0.5) ? "(%rsp)" : "\(d)(%rsp)"
    }

    mutating func pointerOperand(narrow: Bool = false) -> String {
        let off = narrow && rng.chance(0.3) ? rng.int(500) : 8 * rng.int(in: 4...62)
        return off == 0 ? "(%\(pointer.name))" : "\(off)(%\(pointer.name))"
    }

    /// A per-CPU value variable as an operand.
    mutating func perCPU(_ f: AbstractFrame, dataOnly: Bool) -> (k: Int, text: String)? {
        let cands = (0..<OracleProgram.perCPUValues).filter { !dataOnly || !f.perCPUAddress[$0] }
        guard !cands.isEmpty else { return nil }
        let k = rng.pick(cands)
        return (k, "PER_CPU_VAR(\(OracleProgram.perCPUValue(k)))")
    }

    /// A data source of width w: register, immediate, slot, per-CPU variable or input memory.
    mutating func source(_ f: AbstractFrame, _ w: Width, allowMemory: Bool, allowImmediate: Bool = true) -> (String, Bool) {
        let k = rng.int(11)
        if allowMemory && k < 2, let s = slot(f, dataOnly: true) { return (s.text, true) }
        if allowMemory && k == 2 { return (pointerOperand(narrow: w != .q), true) }
        if allowMemory && k == 10, let v = perCPU(f, dataOnly: true) { return (v.text, true) }
        if allowImmediate && k < 5 { return (immediate(w), false) }
        return (Self.name(rng.pick(readable), w), false)
    }

    mutating func emit(_ text: String) {
        lines.append(.op(text))
        budget -= 1
    }

    mutating func label() -> String {
        labels += 1
        return "L\(labels)"
    }

    // MARK: Single instructions

    /// A flag-setting instruction on data.
    mutating func setFlags(_ f: inout AbstractFrame) {
        let w = width()
        switch rng.int(3) {
        case 0, 1:
            // The second operand is never an immediate; at most one is memory.
            let (a, mem) = source(f, w, allowMemory: true)
            var b = Self.name(rng.pick(readable), w)
            if !mem && rng.chance(0.3) { b = rng.chance(0.5) ? pointerOperand(narrow: w != .q) : (slot(f, dataOnly: true)?.text ?? b) }
            emit("\(rng.chance(0.5) ? "cmp" : "test")\(Self.suffix(w)) \(a), \(b)")
        default:
            let op = rng.pick(["add", "sub", "and", "or", "xor"])
            let (a, _) = source(f, w, allowMemory: true)
            emit("\(op)\(Self.suffix(w)) \(a), \(Self.name(pickWritable(), w))")
        }
        f.flags = FlagBit.all
    }

    mutating func condition(_ f: inout AbstractFrame) -> String {
        if rng.chance(0.3) || !Self.conditions.contains(where: { $0.1 & f.flags == $0.1 }) { setFlags(&f) }
        return rng.pick(Self.conditions.filter { $0.1 & f.flags == $0.1 }).0
    }

    mutating func dataOp(_ f: inout AbstractFrame) {
        // The instructions of the wider set (shifts, extensions, setCC, adc/sbb,
        // cmpxchg, xadd, the lock prefix, std/cld, endbr64), now and then.
        if rng.chance(0.3) { return widerOp(&f) }
        switch rng.int(22) {
        case 0...4: move(&f)
        case 5...8: alu(&f)
        case 9, 10: unary(&f)
        case 11, 12: setFlags(&f)
        case 13: bitTest(&f)
        case 14: lea(&f)
        case 15, 16: exchange(&f)
        case 17: conditionalMove(&f)
        case 18: if activeCounters.isEmpty { conditionalMove(&f) } else { indexedRead(&f) }
        default:
            if scratchAddress != nil { addressOp(&f) } else { move(&f) }
        }
    }

    mutating func widerOp(_ f: inout AbstractFrame) {
        switch rng.int(9) {
        case 0, 1: shift(&f)
        case 2: extend(&f)
        case 3: setCondition(&f)
        case 4: carryArithmetic(&f)
        case 5: compareExchange(&f)
        case 6: exchangeAdd(&f)
        case 7:
            // DF: only string instructions read it; the harness clears it at the exit too.
            emit("std")
            move(&f)
            emit("cld")
        default:
            emit(rng.chance(0.5) ? "endbr64" : "nop")
        }
    }

    /// A data destination of width w: a register, now and then a data slot or per-CPU variable.
    mutating func dataDestination(_ f: inout AbstractFrame, _ w: Width, memory: Double = 0.25) -> (text: String, isMemory: Bool) {
        if rng.chance(memory) {
            if rng.chance(0.8), let s = slot(f, dataOnly: true, write: true) { return (s.text, true) }
            if let v = perCPU(f, dataOnly: true) { return (v.text, true) }
        }
        return (Self.name(pickWritable(), w), false)
    }

    /// `shl`/`sal`/`shr`/`sar`/`rol`/`ror` by an immediate, by 1 or by %cl.
    mutating func shift(_ f: inout AbstractFrame) {
        let w = width()
        let op = rng.pick(["shl", "sal", "shr", "sar", "rol", "ror"])
        let (dst, _) = dataDestination(&f, w)
        let rotate = op == "rol" || op == "ror"
        // %cl only when rcx holds data (its bits must not depend on where things are).
        let byCL = dataRegisters.contains(.rcx) && rng.chance(0.3)
        if byCL {
            emit("\(op)\(Self.suffix(w)) %cl, \(dst)")
            // A count of 0 leaves every flag; otherwise rotates set CF (and OF for 1),
            // shifts set ZF, SF and CF (CF undefined for a count past an 8/16-bit width).
            if rotate {
                f.flags &= ~FlagBit.of
            } else {
                f.flags &= FlagBit.zf | FlagBit.sf | (w == .q || w == .l ? FlagBit.cf : 0)
            }
            return
        }
        let n: Int
        switch rng.int(5) {
        case 0: n = 1
        case 1: n = rng.int(in: 0...(w.bits + 8))
        case 2: n = rng.pick([0, 32, 63, 64, 255])
        default: n = rng.int(in: 1...(w.bits - 1))
        }
        if n == 1 && rng.chance(0.5) {
            emit("\(op)\(Self.suffix(w)) \(dst)")
        } else {
            emit("\(op)\(Self.suffix(w)) $\(n), \(dst)")
        }
        let count = n & (w == .q ? 63 : 31)
        if count == 0 { return }
        if rotate {
            f.flags = (f.flags & (FlagBit.zf | FlagBit.sf)) | FlagBit.cf | (count == 1 ? FlagBit.of : 0)
        } else {
            f.flags = FlagBit.zf | FlagBit.sf | (count < w.bits ? FlagBit.cf : 0) | (count == 1 ? FlagBit.of : 0)
        }
    }

    /// `movzbl`, `movswq`, `movslq`…
    mutating func extend(_ f: inout AbstractFrame) {
        let forms: [(String, Width, Width)] = [("movzbw", .b, .w), ("movzbl", .b, .l), ("movzbq", .b, .q), ("movzwl", .w, .l), ("movzwq", .w, .q),
                                               ("movsbw", .b, .w), ("movsbl", .b, .l), ("movsbq", .b, .q), ("movswl", .w, .l), ("movswq", .w, .q),
                                               ("movslq", .l, .q)]
        let (m, from, to) = rng.pick(forms)
        let (src, isMemory) = source(f, from, allowMemory: true, allowImmediate: false)
        // gas's other spellings: movzx/movsx (a register source says the width), movzb,
        // movsw… (the destination says it), movsxd.
        let sign = m.hasPrefix("movs") ? "movs" : "movz"
        var spelling = m
        if rng.chance(0.3) {
            if from == .l { spelling = "movsxd" }
            else if !isMemory && rng.chance(0.5) { spelling = sign + "x" }
            else { spelling = sign + (from == .b ? "b" : "w") }
        }
        emit("\(spelling) \(src), \(Self.name(pickWritable(), to))")
    }

    mutating func setCondition(_ f: inout AbstractFrame) {
        let c = condition(&f)
        let (dst, _) = dataDestination(&f, .b)
        emit("set\(c) \(dst)")
    }

    /// `adc`/`sbb`: CF must be comparable first.
    mutating func carryArithmetic(_ f: inout AbstractFrame) {
        if f.flags & FlagBit.cf == 0 { setFlags(&f) }
        let w = width()
        let op = rng.pick(["adc", "sbb"])
        if rng.chance(0.25), let s = slot(f, dataOnly: true, write: true) {
            let src = rng.chance(0.5) ? immediate(w) : Self.name(rng.pick(readable), w)
            emit("\(rng.chance(0.3) ? "lock " : "")\(op)\(Self.suffix(w)) \(src), \(s.text)")
        } else {
            let (src, _) = source(f, w, allowMemory: true)
            emit("\(op)\(Self.suffix(w)) \(src), \(Self.name(pickWritable(), w))")
        }
        f.flags = FlagBit.all
    }

    /// `cmpxchg` (now and then locked): rax is the accumulator, so it must hold data and be writable.
    mutating func compareExchange(_ f: inout AbstractFrame) {
        guard writable.contains(.rax) else { return alu(&f) }
        let w = width()
        let src = Self.name(rng.pick(readable), w)
        let (dst, isMemory) = dataDestination(&f, w, memory: 0.5)
        let lock = isMemory && rng.chance(0.5) ? (rng.chance(0.5) ? "lock " : "lock; ") : ""
        emit("\(lock)cmpxchg\(Self.suffix(w)) \(src), \(dst)")
        f.flags = FlagBit.all
    }

    mutating func exchangeAdd(_ f: inout AbstractFrame) {
        let w = width()
        let src = Self.name(pickWritable(), w)
        let (dst, isMemory) = dataDestination(&f, w, memory: 0.5)
        emit("\(isMemory && rng.chance(0.5) ? "lock " : "")xadd\(Self.suffix(w)) \(src), \(dst)")
        f.flags = FlagBit.all
    }

    mutating func move(_ f: inout AbstractFrame) {
        let w = width()
        switch rng.int(6) {
        case 0: emit("mov\(Self.suffix(w)) \(Self.name(rng.pick(readable), w)), \(Self.name(pickWritable(), w))")
        case 1: emit("mov\(Self.suffix(w)) \(immediate(w, mov: true)), \(Self.name(pickWritable(), w))")
        case 2:
            let src = rng.chance(0.5) ? slot(f, dataOnly: true).map { narrowPart(f, $0, w) } : rng.chance(0.3) ? perCPU(f, dataOnly: true)?.text : nil
            emit("mov\(Self.suffix(w)) \(src ?? pointerOperand(narrow: w != .q)), \(Self.name(pickWritable(), w))")
        case 3 where rng.chance(0.3):
            // A per-CPU store: a whole one makes the variable data.
            guard let v = perCPU(f, dataOnly: w != .q) else { return move(&f) }
            emit("mov\(Self.suffix(w)) \(rng.chance(0.3) ? immediate(w) : Self.name(rng.pick(readable), w)), \(v.text)")
            if w == .q { f.perCPUAddress[v.k] = false }
        case 3, 4:
            // A store: a whole-width store makes the slot data; a narrow one needs data there.
            guard let s = slot(f, dataOnly: w != .q, write: true) else { return move(&f) }
            let src = rng.chance(0.3) ? immediate(w) : Self.name(rng.pick(readable), w)
            emit("mov\(Self.suffix(w)) \(src), \(narrowPart(f, s, w))")
            if w == .q { f.known[s.off] = false }
        default:
            // Without a suffix: the register says the width.
            emit("mov \(Self.name(rng.pick(readable), w)), \(Self.name(pickWritable(), w))")
        }
    }

    mutating func alu(_ f: inout AbstractFrame) {
        let w = width()
        let op = rng.pick(["add", "sub", "and", "or", "xor"])
        if rng.chance(0.25), let s = rng.chance(0.8) ? slot(f, dataOnly: true, write: true) : perCPU(f, dataOnly: true).map({ (off: 0, text: $0.text) }) {
            let src = rng.chance(0.5) ? immediate(w) : Self.name(rng.pick(readable), w)
            emit("\(op)\(Self.suffix(w)) \(src), \(s.text)")
        } else {
            let (src, _) = source(f, w, allowMemory: true)
            emit("\(op)\(Self.suffix(w)) \(src), \(Self.name(pickWritable(), w))")
        }
        f.flags = FlagBit.all
    }

    mutating func unary(_ f: inout AbstractFrame) {
        let w = width()
        let op = rng.pick(["inc", "dec", "neg", "not"])
        let dst = rng.chance(0.25) ? slot(f, dataOnly: true, write: true)?.text : rng.chance(0.1) ? perCPU(f, dataOnly: true)?.text : nil
        emit("\(op)\(Self.suffix(w)) \(dst ?? Self.name(pickWritable(), w))")
        switch op {
        case "neg": f.flags = FlagBit.all
        case "not": break
        default: f.flags |= FlagBit.zf | FlagBit.sf | FlagBit.of   // CF is left as it was
        }
    }

    mutating func bitTest(_ f: inout AbstractFrame) {
        let w: Width = rng.chance(0.5) ? .q : .l
        let kind = rng.pick(["bt", "bts", "btr", "btc"])
        // Bit numbers past the width too: the CPU takes them modulo the width.
        let n = rng.chance(0.15) ? rng.int(in: w.bits...(w.bits + 40)) : rng.int(w.bits)
        var dst = Self.name(kind == "bt" ? rng.pick(readable) : pickWritable(), w)
        if rng.chance(0.3) {
            if kind == "bt" && rng.chance(0.5) { dst = pointerOperand() }
            else if rng.chance(0.2), let v = perCPU(f, dataOnly: true) { dst = v.text }
            else if let s = slot(f, dataOnly: true, write: kind != "bt") { dst = s.text }
        }
        emit("\(kind)\(Self.suffix(w)) $\(n), \(dst)")
        // CF is the bit; SF and OF are undefined after it; ZF is left as it was.
        f.flags = (f.flags | FlagBit.cf) & ~(FlagBit.sf | FlagBit.of)
    }

    /// A read through a loop counter (0–3 in every loop body) as the index:
    /// `d(%rsp,%counter,8)`, where all four slots it may reach hold data.
    mutating func indexedRead(_ f: inout AbstractFrame) {
        guard let c = activeCounters.last, let floor = loopFloor else { return move(&f) }
        let top = inFunction == nil ? 24 : 16
        var bases: [Int] = []
        for off in stride(from: max(floor, f.delta), through: top - 24, by: 8) where (0...3).allSatisfy({ !f.isAddress(off + 8 * $0) }) {
            bases.append(off)
        }
        guard !bases.isEmpty else { return move(&f) }
        let off = rng.pick(bases)
        let w = width()
        let base = f.rbp.map { "\(off - $0)(%rbp" } ?? "\(off - f.delta)(%rsp"
        let src = "\(base),%\(c.name),8)"
        if rng.chance(0.5) {
            emit("mov\(Self.suffix(w)) \(src), \(Self.name(pickWritable(), w))")
        } else {
            emit("\(rng.pick(["add", "cmp", "xor"]))\(Self.suffix(w)) \(src), \(Self.name(pickWritable(), w))")
            f.flags = FlagBit.all
        }
    }

    mutating func lea(_ f: inout AbstractFrame) {
        let base = rng.pick(readable)
        let disp = rng.pick([0, 8, -8, 1, 0x7f, -0x1000, rng.int(1 << 20)])
        var text = "\(disp)(%\(base.name)"
        if rng.chance(0.6) { text += ",%\(rng.pick(readable).name),\(rng.pick([1, 2, 4, 8]))" }
        emit("leaq \(text)), \(Self.name(pickWritable(), .q))")
    }

    mutating func exchange(_ f: inout AbstractFrame) {
        let w = width()
        let a = pickWritable()
        if rng.chance(0.35), let s = rng.chance(0.8) ? slot(f, dataOnly: true, write: true)?.text : perCPU(f, dataOnly: true)?.text {
            emit(rng.chance(0.5) ? "xchg\(Self.suffix(w)) \(Self.name(a, w)), \(s)" : "xchg\(Self.suffix(w)) \(s), \(Self.name(a, w))")
        } else {
            let b = rng.chance(0.1) ? a : pickWritable()
            emit("xchg\(Self.suffix(w)) \(Self.name(a, w)), \(Self.name(b, w))")
        }
    }

    mutating func conditionalMove(_ f: inout AbstractFrame) {
        let c = condition(&f)
        let mnemonic = "cmov" + c + (rng.chance(0.5) ? "q" : "")
        let src: String
        switch rng.int(4) {
        case 0: src = slot(f, dataOnly: true)?.text ?? Self.name(rng.pick(readable), .q)
        case 1: src = pointerOperand()
        default: src = Self.name(rng.pick(readable), .q)
        }
        emit("\(mnemonic) \(src), \(Self.name(pickWritable(), .q))")
    }

    /// Instructions on the register that may hold addresses: whole copies only.
    mutating func addressOp(_ f: inout AbstractFrame) {
        guard let x = scratchAddress else { return }
        let X = Self.name(x, .q)
        switch rng.int(9) {
        case 8:
            // old_rsp: rsp (or a copy) kept in a per-CPU variable — in the path's own code
            // outside loops, where the generator knows every later reader.
            if inFunction == nil && loopFloor == nil, let v = perCPU(f, dataOnly: false), rng.chance(0.6) {
                emit("movq \(rng.chance(0.5) ? "%rsp" : X), \(v.text)")
                f.perCPUAddress[v.k] = true
            } else if let v = perCPU(f, dataOnly: false) {
                emit("movq \(v.text), \(X)")
                f.x = nil
            }
        case 7:
            // Writes to rsp itself: `pop %rsp` takes the popped value (not rsp + 8);
            // a register that holds rsp's value moves it nowhere.
            if f.x == f.delta && rng.chance(0.5) {
                emit("movq \(X), %rsp")
            } else {
                emit("pushq %rsp")
                emit("popq %rsp")
                f.known[f.delta - 8] = true   // left below rsp
            }
        case 0:
            emit("movq %rsp, \(X)")
            f.x = f.delta
        case 1:
            let d = 8 * rng.int(in: -2...3)
            emit("leaq \(d)(%rsp), \(X)")
            f.x = f.delta + d
        case 2:
            guard let s = slot(f, dataOnly: false) else { return }
            emit("movq \(s.text), \(X)")
            f.x = nil
        case 3:
            guard let s = slot(f, dataOnly: false, write: true, address: true) else { return }
            emit("movq \(X), \(s.text)")
            f.known[s.off] = true
        case 4:
            guard let s = slot(f, dataOnly: false, write: true, address: true) else { return }
            // The address may use X itself: the CPU forms it before the exchange.
            emit("xchgq \(X), \(s.text)")
            f.known[s.off] = true
            f.x = nil
        case 5:
            let c = condition(&f)
            let src = rng.chance(0.5) ? "%rsp" : (slot(f, dataOnly: false)?.text ?? "%rsp")
            emit("cmov\(c)q \(src), \(X)")
            f.x = nil
        default:
            emit("movq \(Self.name(rng.pick(readable), .q)), \(X)")
            f.x = nil
        }
    }

    // MARK: Blocks

    mutating func statements(_ f: inout AbstractFrame, count: Int) {
        for _ in 0..<count where budget > 0 { statement(&f) }
    }

    mutating func statement(_ f: inout AbstractFrame) {
        let nested = depth < 3 && budget > 4
        let k = rng.int(24)
        if nested && k < 2 { pushBlock(&f) }
        else if nested && k == 2 { adjustBlock(&f) }
        else if nested && (k == 3 || k == 4) { diamond(&f) }
        else if nested && k == 5 && inFunction == nil && loopDepth < 2 { loop(&f) }
        else if k == 6 || k == 7 { call(&f) }
        else if k == 8 && inFunction == nil { earlyExit(&f) }
        else if k == 9 && inFunction == nil && rng.chance(0.25) { trap(&f) }
        else { dataOp(&f) }
    }

    mutating func nestedBlock(_ f: inout AbstractFrame) {
        depth += 1
        statements(&f, count: rng.int(in: 1...4))
        depth -= 1
    }

    /// `push X … pop Y`: Y is usually X (a save and its restore).
    mutating func pushBlock(_ f: inout AbstractFrame) {
        var isAddress = false
        var reg: Register?
        let kind = rng.int(8)
        let pushRSP = rng.chance(0.3)
        switch kind {
        case 0: emit("pushq \(immediate(.q))")
        case 1:
            guard let s = slot(f, dataOnly: false) else { return }
            isAddress = f.isAddress(s.off)
            emit("pushq \(s.text)")
        case 2:
            if rng.chance(0.3), let v = perCPU(f, dataOnly: false) {
                isAddress = f.perCPUAddress[v.k]
                emit("pushq \(v.text)")
            } else {
                emit("pushq \(pointerOperand())")
            }
        case 3 where scratchAddress != nil:
            reg = scratchAddress
            isAddress = true
            emit("pushq %\(scratchAddress!.name)")
        case 4 where pushRSP:
            isAddress = true
            emit("pushq %rsp")
        default:
            let r = rng.pick(readable)
            reg = r
            emit("pushq %\(r.name)")
        }
        f.delta -= 8
        f.known[f.delta] = isAddress
        nestedBlock(&f)
        isAddress = f.isAddress(f.delta)
        let discard = rng.chance(0.1)
        if discard {
            if rng.chance(0.5) { emit("addq $8, %rsp"); f.flags = 0 } else { emit("leaq 8(%rsp), %rsp") }
            f.delta += 8
            return
        }
        if isAddress {
            if let x = scratchAddress, rng.chance(0.7) {
                emit("popq %\(x.name)")
                f.x = nil
            } else if let s = popSlot(f, address: true) {
                emit("popq \(s.text)")
                f.known[s.off] = true
            } else {
                emit("addq $8, %rsp")
                f.flags = 0
            }
            f.delta += 8
            return
        }
        if rng.chance(0.05), let v = perCPU(f, dataOnly: false) {
            emit("popq \(v.text)")
            f.delta += 8
            f.perCPUAddress[v.k] = false
            return
        }
        if rng.chance(0.15), let s = popSlot(f, address: false) {
            emit("popq \(s.text)")
            f.delta += 8
            f.known[s.off] = false
            return
        }
        let w = writable
        let target: Register
        if let r = reg, w.contains(r), !rng.chance(0.1) { target = r } else { target = pickWritable() }
        emit("popq %\(target.name)")
        f.delta += 8
    }

    /// `popq off(%rsp)`: the CPU forms the address with rsp already incremented.
    mutating func popSlot(_ f: AbstractFrame, address: Bool) -> (off: Int, text: String)? {
        var after = f
        after.delta += 8
        let top = storeCeiling - 8
        guard after.delta <= top else { return nil }
        var cands: [Int] = []
        for off in stride(from: after.delta, through: top, by: 8) {
            if address, let floor = loopFloor, off >= floor { continue }
            cands.append(off)
        }
        guard !cands.isEmpty else { return nil }
        let off = rng.pick(cands)
        return (off, slotText(after, off, rspAfter: after.delta))
    }

    /// `sub $n, %rsp … add $n, %rsp` (or lea, which leaves the flags alone).
    mutating func adjustBlock(_ f: inout AbstractFrame) {
        let n = 8 * rng.int(in: 1...3)
        if rng.chance(0.5) { emit("subq $\(n), %rsp"); f.flags = 0 } else { emit("leaq -\(n)(%rsp), %rsp") }
        f.delta -= n
        nestedBlock(&f)
        if rng.chance(0.5) { emit("addq $\(n), %rsp"); f.flags = 0 } else { emit("leaq \(n)(%rsp), %rsp") }
        f.delta += n
    }

    mutating func diamond(_ f: inout AbstractFrame) {
        let c = condition(&f)
        let other = label()
        lines.append(.jump("j" + c, other))
        var a = f
        nestedBlock(&a)
        if rng.chance(0.5) {
            let end = label()
            lines.append(.jump("jmp", end))
            lines.append(.label(other))
            var b = f
            nestedBlock(&b)
            lines.append(.label(end))
            f = a.joined(b)
        } else {
            lines.append(.label(other))
            f = a.joined(f)
        }
    }

    /// A loop counted down from a small number in the input buffer (words 0–3).
    mutating func loop(_ f: inout AbstractFrame) {
        guard let counter = counterPool.first(where: { !activeCounters.contains($0) && writable.contains($0) }) else { return dataOp(&f) }
        let head = label(), exit = label()
        let word = 8 * rng.int(4)
        let src = word == 0 ? "(%\(pointer.name))" : "\(word)(%\(pointer.name))"
        let form = rng.int(3)
        let outerFloor = loopFloor
        activeCounters.append(counter)
        loopDepth += 1
        deepestLoop = max(deepestLoop, loopDepth)
        depth += 1
        loopFloor = f.delta
        // Slots below rsp: an earlier iteration's calls and pushes may have left addresses.
        f.forgetBelowRSP()
        f.x = nil
        // A loop may run its body no time at all: what holds after it holds either way.
        let before = f
        let C = Self.name(counter, .q), Cl = Self.name(counter, .l)
        switch form {
        case 0:
            emit("movq \(src), \(C)")
            lines.append(.label(head))
            emit("decq \(C)")
            lines.append(.jump("js", exit))
            f.flags = FlagBit.zf | FlagBit.sf | FlagBit.of
            statements(&f, count: rng.int(in: 1...5))
            lines.append(.jump("jmp", head))
            lines.append(.label(exit))
        case 1:
            emit("movq \(src), \(C)")
            lines.append(.label(head))
            f.flags = 0
            statements(&f, count: rng.int(in: 1...5))
            emit("decq \(C)")
            lines.append(.jump("jns", head))
        default:
            emit("movl \(src), \(Cl)")
            emit("testl \(Cl), \(Cl)")
            lines.append(.jump("jz", exit))
            lines.append(.label(head))
            f.flags = 0
            statements(&f, count: rng.int(in: 1...5))
            emit("decl \(Cl)")
            lines.append(.jump("jnz", head))
            lines.append(.label(exit))
        }
        f = before.joined(f)
        f.forgetBelowRSP()
        f.x = nil
        f.flags = FlagBit.zf | FlagBit.sf | FlagBit.of
        depth -= 1
        loopDepth -= 1
        activeCounters.removeLast()
        loopFloor = outerFloor
    }

    mutating func call(_ f: inout AbstractFrame) {
        let first = (inFunction ?? -1) + 1
        guard first < functionCount else { return dataOp(&f) }
        let k = rng.int(in: first...(functionCount - 1))
        lines.append(.call("f\(k)"))
        callCount += 1
        budget -= 1
        f.forgetBelowRSP()
        f.x = nil
        f.flags = functionExitFlags[k] ?? 0
    }

    // MARK: Main and local functions

    var savedFloor = 0
    var local = 0

    /// The path's epilogue from the body's rsp, now and then with a bug: a pop missing,
    /// two swapped, the local area freed by a wrong size, a pop into another register.
    mutating func epilogue(_ f: inout AbstractFrame, bugs: Bool) {
        epilogueLeaksAddress = false
        var pops = Array(saved.reversed())
        var size = local
        if bugs && rng.chance(0.25) {
            switch rng.int(5) {
            case 0 where !pops.isEmpty: pops.remove(at: rng.int(pops.count))
            case 1 where pops.count > 1:
                let i = rng.int(pops.count - 1)
                pops.swapAt(i, i + 1)
            case 2: size += rng.pick([8, -8])
            case 3 where !pops.isEmpty: pops[rng.int(pops.count)] = pickWritable()
            default: emit("pushq \(Self.name(rng.pick(readable), .q))"); f.delta -= 8
            }
        }
        if size > 0 {
            if rng.chance(0.5) { emit("addq $\(size), %rsp"); f.flags = 0 } else { emit("leaq \(size)(%rsp), %rsp") }
            f.delta += size
        } else if size < 0 {
            emit("subq $\(-size), %rsp"); f.flags = 0
            f.delta += size
        }
        for r in pops {
            // A buggy epilogue may pop an address into a data register: harmless at a
            // ret, not before a tail call that goes on computing with it.
            if f.isAddress(f.delta) { epilogueLeaksAddress = true }
            emit("popq %\(r.name)")
            f.delta += 8
        }
        if framePointer {
            if let bp = f.rbp, rng.chance(0.3) {
                // mov %rbp, %rsp; pop %rbp
                emit("leave")
                f.delta = bp + 8
                return
            }
            if let bp = f.rbp, rng.chance(0.5) {
                emit(rng.chance(0.5) ? "movq %rbp, %rsp" : "leaq (%rbp), %rsp")
                f.delta = bp
            }
            emit("popq %rbp")
            f.delta += 8
        }
    }

    /// The path's `ret` — or, now and then, a tail call: `jmp fK`, whose `ret` then
    /// leaves the path (the same `ret` a `call fK` returns through).
    mutating func exit(_ f: AbstractFrame) {
        // Only where the ret will pop data: a code address there would lead back into
        // the program (the model does not follow such a ret; the CPU would).
        if functionCount > 0 && !f.isAddress(f.delta) && !epilogueLeaksAddress && rng.chance(0.1) {
            lines.append(.jump("jmp", "f\(rng.int(functionCount))"))
            tailCalls += 1
            return
        }
        lines.append(.exit(exitFlags.count))
        exitFlags.append(f.flags)
    }

    /// `jCC skip; ud2 (or int3); skip:` — a run that does not take the branch traps there.
    mutating func trap(_ f: inout AbstractFrame) {
        let c = condition(&f)
        let skip = label()
        lines.append(.jump("j" + c, skip))
        lines.append(.trap(rng.pick(["ud2", "int3"]), trapFlags.count))
        trapFlags.append(f.flags)
        budget -= 1
        lines.append(.label(skip))
    }

    /// `jCC skip; epilogue; ret; skip:` — an early return.
    mutating func earlyExit(_ f: inout AbstractFrame) {
        let c = condition(&f)
        let skip = label()
        lines.append(.jump("j" + c, skip))
        var g = f
        if g.delta == savedFloor - local || rng.chance(0.2) { epilogue(&g, bugs: true) }
        exit(g)
        epilogueLeaksAddress = false
        lines.append(.label(skip))
    }

    mutating func function(_ k: Int) -> [GenLine] {
        let outer = lines
        lines = [.label("f\(k)")]
        inFunction = k
        storeCeiling = 0
        var f = AbstractFrame()
        f.allAddress = true
        f.flags = 0
        f.perCPUAddress = f.perCPUAddress.map { _ in true }
        f.known[0] = true
        budget = rng.int(in: 2...10)
        statements(&f, count: budget)
        // Now and then a ret that pops something else than the return address.
        if rng.chance(0.06) {
            emit("pushq \(Self.name(rng.pick(readable), .q))")
        } else if rng.chance(0.04) {
            emit("movq \(Self.name(rng.pick(readable), .q)), \(slotText(f, 0))")
        } else if rng.chance(0.03) {
            // Into the caller's frame: the caller's saved registers, or its return address.
            emit("movq \(immediate(.q)), \(slotText(f, 8 * rng.int(in: 1...3)))")
        }
        lines.append(.ret)
        functionExitFlags[k] = f.flags
        let body = lines
        lines = outer
        inFunction = nil
        return body
    }

    /// A write into a slot that holds data the path needs later (a saved register, the
    /// return address): whole or partial, a store or a read-modify-write.
    mutating func clobberSlot(_ f: inout AbstractFrame, _ off: Int) {
        let w = width()
        let t = slotText(f, off), sx = Self.suffix(w)
        switch rng.int(6) {
        case 0: emit("mov\(sx) \(immediate(w)), \(t)")
        case 1: emit("\(rng.pick(["add", "sub", "and", "or", "xor"]))\(sx) \(rng.chance(0.5) ? immediate(w) : Self.name(rng.pick(readable), w)), \(t)"); f.flags = FlagBit.all
        case 2: emit("\(rng.pick(["inc", "dec", "neg", "not"]))\(sx) \(t)"); f.flags = 0
        case 3: emit("xchg\(sx) \(Self.name(pickWritable(), w)), \(t)")
        case 4: emit("bts\(w == .b ? "l" : sx) $\(rng.int(32)), \(t)"); f.flags = 0
        default: emit("movq \(Self.name(rng.pick(readable), .q)), \(t)")
        }
        f.known[off] = false
    }

    mutating func generate(index: Int, seed: UInt64) -> OracleProgram {
        // Local functions first (each may call only later ones), so a call knows the
        // flags its callee leaves.
        var functions: [[GenLine]] = []
        for k in stride(from: functionCount - 1, through: 0, by: -1) { functions.insert(function(k), at: 0) }
        lines = [.label(OracleProgram.pathName), .pointerLoad(pointer)]
        var f = AbstractFrame()
        if framePointer {
            emit("pushq %rbp")
            f.delta -= 8
            f.known[f.delta] = true
            emit("movq %rsp, %rbp")
            f.rbp = f.delta
        }
        var chosen: [Register] = []
        for r in Register.calleeSaved.sorted() where dataRegisters.contains(r) {
            if rng.chance(0.6) { chosen.append(r) }
        }
        saved = rng.shuffled(chosen)
        for r in saved {
            emit("pushq %\(r.name)")
            f.delta -= 8
            f.known[f.delta] = false
        }
        savedFloor = f.delta
        storeCeiling = savedFloor
        local = rng.chance(0.6) ? 8 * rng.int(in: 1...4) : 0
        if local > 0 {
            if rng.chance(0.5) { emit("subq $\(local), %rsp"); f.flags = 0 } else { emit("leaq -\(local)(%rsp), %rsp") }
            f.delta -= local
        }
        budget = rng.int(in: 8...40)
        // Bugs on purpose: a saved register's slot or the return address overwritten.
        let clobber = rng.chance(0.12) && !saved.isEmpty ? rng.int(budget) : -1
        let clobberReturn = rng.chance(0.05) ? rng.int(budget) : -1
        var n = 0
        while budget > 0 {
            if n == clobber { clobberSlot(&f, savedFloor + 8 * rng.int(saved.count)) }
            if n == clobberReturn { clobberSlot(&f, 0) }
            statement(&f)
            n += 1
        }
        epilogue(&f, bugs: true)
        exit(f)
        for body in functions { lines += body }
        return OracleProgram(index: index, seed: seed, dsl: dslText(), exitFlags: exitFlags, callCount: callCount,
                             functionExitFlags: (0..<functionCount).map { functionExitFlags[$0] ?? 0 }, tailCalls: tailCalls,
                             loopDepth: deepestLoop, localFunctions: functionCount, trapFlags: trapFlags, lines: lines)
    }

    func dslText() -> String {
        var out = ".percpu \(OracleProgram.pointerVariable) pointer\n"
        for k in 0..<OracleProgram.perCPUValues { out += ".percpu \(OracleProgram.perCPUValue(k))\n" }
        out += ".path \(OracleProgram.pathName) entry=function\n"
        for l in lines {
            switch l {
            case .label(let n): out += "\(n):\n"
            case .op(let t): out += "\t\(t)\n"
            case .pointerLoad(let r): out += "\tmovq PER_CPU_VAR(\(OracleProgram.pointerVariable)), %\(r.name)\n"
            case .jump(let m, let t): out += "\t\(m) \(t)\n"
            case .call(let t): out += "\tcall \(t)\n"
            case .exit, .ret: out += "\tret\n"
            case .trap(let m, _): out += "\t\(m)\n"
            }
        }
        return out
    }

    public static func program(index: Int, seed: UInt64) -> OracleProgram {
        var g = ProgramGenerator(seed: seed)
        return g.generate(index: index, seed: seed)
    }
}
