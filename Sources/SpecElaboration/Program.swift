import SpecSyntax

/// The sixteen general-purpose registers, in x86 encoding order.
public enum Register: Int, CaseIterable, Hashable, Sendable, Comparable, CustomStringConvertible {
    case rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15

    public var description: String { name }
    public var name: String { Self.names[rawValue] }
    private static let names = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
    public static func < (a: Register, b: Register) -> Bool { a.rawValue < b.rawValue }

    /// SysV C ABI: preserved across calls (rsp is handled as the frame, not here).
    public static let calleeSaved: Set<Register> = [.rbx, .rbp, .r12, .r13, .r14, .r15]
    /// SysV C ABI: a callee may change these.
    public static let callerClobbered: Set<Register> = [.rax, .rcx, .rdx, .rsi, .rdi, .r8, .r9, .r10, .r11]

    /// `%rax`, `%eax`, `%r8d` → register and width.
    public static func parse(_ name: String) -> (Register, Width)? {
        byName[name]
    }

    /// The name of r at width w (`esi`, `r8d`).
    public static func nameOf(_ r: Register, width w: Width) -> String? {
        byName.first { $0.value.0 == r && $0.value.1 == w }?.key
    }

    private static let byName: [String: (Register, Width)] = {
        let q = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
        let l = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"]
        let w = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"]
        let b = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"]
        var table: [String: (Register, Width)] = [:]
        for (names, width) in [(q, Width.q), (l, .l), (w, .w), (b, .b)] {
            for (i, name) in names.enumerated() { table[name] = (Register.allCases[i], width) }
        }
        return table
    }()
}

public enum Width: Sendable, Hashable {
    case q, l, w, b
    public var bytes: Int64 {
        switch self {
        case .q: return 8
        case .l: return 4
        case .w: return 2
        case .b: return 1
        }
    }
    public var bits: Int { Int(bytes) * 8 }
    /// The value bits of this width.
    public var mask: UInt64 { self == .q ? ~0 : (1 << UInt64(bits)) - 1 }
    /// The AT&T suffix: q, l, w or b.
    public var suffix: String {
        switch self {
        case .q: return "q"
        case .l: return "l"
        case .w: return "w"
        case .b: return "b"
        }
    }
}

/// The invariants ptregs-prove proves; docs/model.md, "The invariants", says what each
/// means. Names, aliases and words come from `InvariantRegistry`; the checks from each
/// invariant's own file under Sources/StackSemantics/Invariants/.
public enum Invariant: String, CaseIterable, Sendable, Hashable, Comparable {
    case restoreMatchesSave = "restore"
    case frameBalance = "frame"
    case ptraceConsistency = "ptrace"
    case returnStack = "return-stack"
    case gsParity = "gs"
    case sysretHazard = "sysret"
    case callArguments = "args"
    case speculationFence = "spec-fence"
    case unwindAnnotations = "cfi"

    public var title: String { InvariantRegistry.descriptor(self).title }
    public static func < (a: Invariant, b: Invariant) -> Bool {
        (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
    }
    public static func named(_ s: String) -> Invariant? { InvariantRegistry.named(s) }
}

/// A memory operand: `disp(%base,%index,scale)`, `PER_CPU_VAR(name)`, `sym(%rip)`.
public struct MemoryOperand: Hashable, Sendable {
    public var base: Register?
    public var index: Register?
    public var scale: Int64 = 1
    public var displacement: Int64 = 0
    /// `PER_CPU_VAR(name)`: a per-CPU variable, valid only with the kernel GS base.
    public var perCPU: String?
    /// A symbol the model does not resolve (thread_info fields, tables): reads are opaque.
    public var symbol: String?
    public var text: String

    /// The name the operand's text starts with (`TI_flags` of `TI_flags+4(%rcx)`): what
    /// `.unmodelled NAME` declares.
    public static func leadingName(_ text: String) -> String {
        String(text.prefix { $0 == "_" || $0.isLetter || $0.isNumber })
    }
}

public enum Operand: Hashable, Sendable {
    case register(Register, Width)
    case immediate(Int64)
    case memory(MemoryOperand)

    public var register: Register? {
        if case .register(let r, _) = self { return r }
        return nil
    }
}

/// `adc` and `sbb` add and subtract the carry flag too.
public enum ALUOp: String, Sendable, Hashable { case add, sub, and, or, xor, adc, sbb }

/// Shifts and rotates (`shl`/`sal`, `shr`, `sar`, `rol`, `ror`).
public enum ShiftOp: String, Sendable, Hashable { case shl, shr, sar, rol, ror }
public enum UnaryOp: String, Sendable, Hashable { case inc, dec, neg, not }

/// A conditional-jump condition over the flags of the last test/cmp/arithmetic.
public enum FlagCondition: String, Sendable, Hashable {
    case zero, notZero, above, aboveOrEqual, below, belowOrEqual, less, lessOrEqual, greater, greaterOrEqual, sign, notSign
    case overflow, notOverflow

    public static func fromSuffix(_ s: String) -> FlagCondition? {
        switch s {
        case "z", "e": return .zero
        case "nz", "ne": return .notZero
        case "a", "nbe": return .above
        case "ae", "nb", "nc": return .aboveOrEqual
        case "b", "nae", "c": return .below
        case "be", "na": return .belowOrEqual
        case "l", "nge": return .less
        case "le", "ng": return .lessOrEqual
        case "g", "nle": return .greater
        case "ge", "nl": return .greaterOrEqual
        case "s": return .sign
        case "ns": return .notSign
        case "o": return .overflow
        case "no": return .notOverflow
        default: return nil
        }
    }
}

/// Where a jump or call goes.
public enum Target: Hashable, Sendable {
    /// An instruction of the program (a label).
    case code(Int, label: String)
    /// An external function or code outside the model, with its contract.
    case external(String)
    /// `call *%rax`: resolved at run time from a symbol address in the register.
    case indirect(Register)
}

/// One operation of the model. Instruction semantics live in StackSemantics; this is
/// only what the instruction says.
public enum Operation: Hashable, Sendable {
    case push(Operand)
    case pop(Operand)
    case move(Operand, Operand, Width)
    case lea(MemoryOperand, Register)
    /// `leaq sym(%rip), %reg` / `movq $sym, %reg`: the address of an external symbol.
    case loadAddress(String, Register)
    case alu(ALUOp, Operand, Operand, Width)
    case unary(UnaryOp, Operand, Width)
    case test(Operand, Operand, Width)
    case compare(Operand, Operand, Width)
    case exchange(Operand, Operand, Width)
    case conditionalMove(FlagCondition, Operand, Register)
    case jump(Target)
    case branch(FlagCondition, Target)
    case call(Target)
    case ret(Int64)
    /// `sysretq` (.q): rip = rcx, to 64-bit mode. `sysretl` / `sysret` (.l, gas's
    /// `0f 07` without REX.W): eip = ecx, to compatibility mode.
    case sysret(Width)
    /// `sysexitq` (.q): back to user mode with rip = rdx, rsp = rcx (the SYSENTER
    /// return). `sysexitl` / `sysexit` (.l, `0f 35`): eip = edx, esp = ecx, to
    /// compatibility mode.
    case sysexit(Width)
    /// `iretq` only: the 32- and 16-bit forms pop narrower fields and are rejected.
    case iret
    /// `pushfq` / `popfq`.
    case pushFlags
    case popFlags
    /// `rdmsr`: edx:eax from a model-specific register the model does not track.
    case readMSR
    /// `rdgsbase %reg`: the live GS base. `wrgsbase %reg`: sets it (kernel or user by
    /// the value, as the GS model tells them apart).
    case readGSBase(Register)
    case writeGSBase(Register)
    /// `movq %cr2, %reg` (cr0, cr3, cr4, cr8 too): a value the model does not know.
    case readControlRegister(String, Register)
    /// `mov %ds, dst` (es, ds, ss, cs, fs, gs): the selector, a 16-bit value the model
    /// does not know. A 32- or 64-bit register gets it zero-extended (what P6 and later
    /// CPUs do with the upper bits of the 32-bit form, and 64-bit mode then clears the
    /// upper half); a 16-bit register or memory gets the 16 bits alone.
    case readSegmentRegister(String, Operand, Width)
    /// `mov src, %ds`: loads a selector. Only `%gs` changes what the model tracks: the
    /// live GS base is replaced (from the descriptor, or zeroed by a null selector on
    /// Intel, kept on AMD), so it is no longer known to be the kernel's.
    case writeSegmentRegister(String, Operand)
    /// `lsl src, %reg`: ZF = whether the selector is valid; then the register gets its
    /// segment limit (unknown), else it keeps its value.
    case loadSegmentLimit(Operand, Register, Width)
    /// `verw src` (the MDS buffer clearing): ZF = whether the segment is writable, nothing
    /// else the model tracks.
    case verifySegmentWrite(Operand)
    /// `bt`, `bts`, `btr`, `btc`: CF = the bit; the last three also set, clear or flip it.
    case bitTest(String, Operand, Operand, Width)
    case swapgs
    /// `shl`/`sal`, `shr`, `sar`, `rol`, `ror` of the destination by a count (an
    /// immediate or `%cl`).
    case shift(ShiftOp, count: Operand, Operand, Width)
    /// `movzbl`, `movsbq`, `movslq`…: the source at `from` bits, zero- or sign-extended
    /// into the register at `to` bits.
    case extend(signed: Bool, Operand, from: Width, Register, to: Width)
    /// `setCC`: the byte operand becomes 1 where the condition holds, else 0.
    case setCondition(FlagCondition, Operand)
    /// `cmpxchg src, dst` (with or without `lock`): compares the accumulator with dst;
    /// equal: dst = src; else: the accumulator = dst.
    case compareExchange(Operand, Operand, Width)
    /// `xadd src, dst`: src = dst, dst = the sum.
    case exchangeAdd(Operand, Operand, Width)
    /// `leave`: rsp = rbp, then pop rbp.
    case leave
    /// `ud2`, `int3`: the CPU raises an exception; the run ends here (a trap is not an
    /// exit: nothing is returned to, so no exit obligation is checked on it).
    case trap(String)
    /// Instructions with no effect on the modelled state (cld, std, sti, cli, nop, endbr64…).
    case noEffect(String)
    /// An instruction of a real source file (`.source`) that the model cannot take, with
    /// why: a path that reaches it has the verdict unknown, never proved; paths that do
    /// not reach it are checked as usual.
    case unsupported(String)

    /// The memory operands it names (not the stack a push, pop or call uses implicitly).
    public var memoryOperands: [MemoryOperand] {
        let operands: [Operand]
        switch self {
        case .push(let a), .pop(let a), .unary(_, let a, _), .conditionalMove(_, let a, _), .readSegmentRegister(_, let a, _),
             .writeSegmentRegister(_, let a), .loadSegmentLimit(let a, _, _), .verifySegmentWrite(let a), .extend(_, let a, _, _, _),
             .setCondition(_, let a):
            operands = [a]
        case .move(let a, let b, _), .alu(_, let a, let b, _), .test(let a, let b, _), .compare(let a, let b, _),
             .exchange(let a, let b, _), .bitTest(_, let a, let b, _), .shift(_, let a, let b, _), .compareExchange(let a, let b, _),
             .exchangeAdd(let a, let b, _):
            operands = [a, b]
        case .lea(let m, _): return [m]
        case .loadAddress, .jump, .branch, .call, .ret, .sysret, .sysexit, .iret, .pushFlags, .popFlags, .readMSR, .readGSBase,
             .writeGSBase, .readControlRegister, .swapgs, .leave, .trap, .noEffect, .unsupported:
            operands = []
        }
        return operands.compactMap { if case .memory(let m) = $0 { return m } else { return nil } }
    }

    /// Control never continues with the next instruction.
    public var endsFallThrough: Bool {
        switch self {
        case .jump, .ret, .sysret, .sysexit, .iret, .trap: return true
        default: return false
        }
    }

    /// An instruction that can leave a path (a `ret` leaves when no call is pending).
    public var isExitInstruction: Bool {
        switch self {
        case .ret, .sysret, .sysexit, .iret, .jump(.indirect), .jump(.external): return true
        // No run goes on past it: a path that reaches it is unknown.
        case .unsupported: return true
        // The run ends at a trap (no exit obligation there; see `isTrap`).
        case .trap: return true
        default: return false
        }
    }

    /// `ud2` / `int3`: the run ends, but nothing is exited.
    public var isTrap: Bool {
        if case .trap = self { return true }
        return false
    }
}

public struct Instruction: Hashable, Sendable {
    public var operation: Operation
    public var location: SourceLocation
    /// The statement as written after macro expansion, for traces.
    public var text: String
    /// Macro expansions this instruction came from, innermost first.
    public var expansion: [Diagnostic.Note]
    /// Labels that name this instruction.
    public var labels: [String]
    /// The section it is assembled into: the next instruction of the program falls
    /// through from this one only when it is in the same section.
    public var section: String = ".text"
    /// From a real source file (`.source`): what the model cannot follow there makes the
    /// paths through it unknown instead of an error of the spec.
    public var fromSource = false

    /// Where the spec's author wrote this: the outermost macro invocation (or
    /// repetition) in the file that holds it (an include site is not it).
    public var sourceLocation: SourceLocation {
        var loc = location
        for note in expansion {
            guard note.message.hasPrefix("in expansion of macro") || note.message.hasPrefix("in repetition of") else { break }
            loc = note.location
        }
        return loc
    }
}

public enum EntryKind: String, Sendable, Hashable {
    /// Entries that are system calls: rax carries the result, pt_regs.ax is the result.
    public var isSystemCall: Bool { self == .syscall || self == .int80 || self == .sysenter || self == .compatSyscall }
    /// Entries whose CPU instruction pushes nothing: the code loads its kernel stack
    /// from a per-CPU variable (`kstack=`).
    public var loadsKernelStack: Bool { self == .syscall || self == .sysenter || self == .compatSyscall }
    /// The 32-bit system-call entries: the syscall number is eax (orig_ax is eax
    /// zero-extended).
    public var isCompatSystemCall: Bool { self == .int80 || self == .sysenter || self == .compatSyscall }

    case function, syscall, interrupt, exception
    case exceptionWithErrorCode = "exception-errcode"
    /// A system call through a software interrupt (`int $0x80`): the CPU pushes the
    /// hardware frame as for an interrupt from user mode; rax carries the result.
    case int80
    /// SYSENTER from a 32-bit task through the vDSO: the CPU saves nothing; the user's
    /// esp is in ebp (the vDSO's convention), the return point is the vDSO's, chosen by
    /// the kernel, and so are the flags it returns with (SYSENTER cleared IF).
    case sysenter
    /// SYSCALL from a 32-bit task (`cstar`): rcx = eip, r11 = eflags, rsp = esp, as for
    /// SYSCALL, but the task's cs is __USER32_CS and its registers are 32 bits wide.
    case compatSyscall = "compat-syscall"
    /// Code entered by a jump, not a call: no return address, nothing to return to
    /// (ret_from_fork, where switch_to lands a new task on its complete pt_regs).
    case jump
}

public enum EntryMode: String, Sendable, Hashable { case user, kernel, either }

/// A struct laid out in memory (pt_regs, or one a spec defines).
public struct Layout: Hashable, Sendable {
    public struct Field: Hashable, Sendable {
        public var name: String
        public var offset: Int64
        /// The register this field is the home of (pt_regs.di → rdi), if any.
        public var register: Register?
        /// The user-visible register-set name used by ptrace (`di`, `ip`, `orig_ax`).
        public var userName: String
    }
    public var name: String
    public var size: Int64
    public var fields: [Field]

    public func field(at offset: Int64) -> Field? { fields.first { $0.offset == offset } }
    public func field(named n: String) -> Field? { fields.first { $0.userName == n || $0.name == n } }

    /// x86-64 `struct pt_regs` with the kernel's offset names (calling.h, ptrace-abi.h).
    public static let ptRegs: Layout = {
        let names: [(String, String, Register?)] = [
            ("R15", "r15", .r15), ("R14", "r14", .r14), ("R13", "r13", .r13), ("R12", "r12", .r12),
            ("RBP", "bp", .rbp), ("RBX", "bx", .rbx), ("R11", "r11", .r11), ("R10", "r10", .r10),
            ("R9", "r9", .r9), ("R8", "r8", .r8), ("RAX", "ax", .rax), ("RCX", "cx", .rcx),
            ("RDX", "dx", .rdx), ("RSI", "si", .rsi), ("RDI", "di", .rdi), ("ORIG_RAX", "orig_ax", nil),
            ("RIP", "ip", nil), ("CS", "cs", nil), ("EFLAGS", "flags", nil), ("RSP", "sp", nil), ("SS", "ss", nil),
        ]
        return Layout(name: "pt_regs", size: 168, fields: names.enumerated().map {
            Field(name: $1.0, offset: Int64($0 * 8), register: $1.2, userName: $1.1)
        })
    }()
}

/// What an external function does to the state (docs/model.md, "The state of a path": contracts).
public struct ExternContract: Hashable, Sendable {
    public var name: String
    public var location: SourceLocation?
    public var clobbers: Set<Register> = Register.callerClobbered
    /// Where the function finds `struct pt_regs *`: in a register, or at rsp+N at the call.
    public enum PtRegsPointer: Hashable, Sendable { case register(Register), stackOffset(Int64) }
    public var ptRegs: PtRegsPointer?
    /// pt_regs fields (user names) the function reads and relies on.
    public var observes: [String] = []
    /// A ptrace stop: a tracer may be attached; it reads every observed field and may
    /// rewrite any of them (or none).
    public var isPtraceStop = false
    /// `maystop`: a stop that happens only in some runs (syscall_trace_enter runs only
    /// when TIF work flags are set); each run either stops (observation and writes) or
    /// does not. Implies `isPtraceStop`.
    public var mayStop = false
    /// The contract of calls through a function pointer the model cannot resolve
    /// (`call *%rbx` to a kernel thread's function).
    public var isIndirectTarget = false
    /// pt_regs fields the function itself sets (execve and sigreturn replace the whole
    /// register set; sys_iopl changes flags): they get new user values.
    public var writes: [String] = []
    /// Expected values that differ from the user's register (at the syscall-entry stop
    /// ax is -ENOSYS, not the user's rax).
    public var expectedFields: [String: Int64] = [:]
    public var reason: String?
    /// `moves-frame=VAR`: the function copies the pt_regs it is given to the top of the
    /// task stack whose top the per-CPU stack variable VAR holds, and returns a pointer
    /// to the copy (sync_regs, fixup_bad_iret, vc_switch_off_ist); the path's frame —
    /// its IRET frame and the top no access may pass — is the copy's from then on.
    public var movesFrameTo: String?
    /// `rdi=ptregs`, `esi=syscall-nr`…: what argument registers must hold at each call
    /// (checked by invariant `args`), in register order.
    public var arguments: [ArgumentRequirement] = []
    /// `result=…`: what the function returns in rax, which the code after the call may
    /// rely on.
    public var result: CallResult?

    public static func cABI(_ name: String) -> ExternContract { ExternContract(name: name) }
}

/// A value an argument register must hold at a call (`.extern NAME REG=VALUE`).
public enum ArgumentValue: Hashable, Sendable {
    /// The path's pt_regs base — the copy's, once a `moves-frame=` function moved it.
    case ptRegs
    /// The return address of the function being checked: the word at its entry rsp.
    case returnAddress
    /// The user's system-call number: pt_regs.orig_ax's user value, its low 32 bits for
    /// a 32-bit task.
    case syscallNumber
    /// pt_regs.orig_ax's user value, all 64 bits.
    case origAX
    /// The error code the CPU pushed (entry=exception-errcode).
    case errorCode
    case constant(Int64)

    /// The words `.extern` accepts, for errors and `--help`.
    public static let words = ["ptregs", "return-address", "syscall-nr", "orig_ax", "error-code"]

    public static func parse(_ word: String) -> ArgumentValue? {
        switch word {
        case "ptregs": return .ptRegs
        case "return-address": return .returnAddress
        case "syscall-nr": return .syscallNumber
        case "orig_ax": return .origAX
        case "error-code": return .errorCode
        default: return nil
        }
    }

    /// As written in the contract.
    public var word: String {
        switch self {
        case .ptRegs: return "ptregs"
        case .returnAddress: return "return-address"
        case .syscallNumber: return "syscall-nr"
        case .origAX: return "orig_ax"
        case .errorCode: return "error-code"
        case .constant(let v): return String(v)
        }
    }
}

/// `REG=VALUE` of an `.extern`: `esi=` compares the low 32 bits of rsi.
public struct ArgumentRequirement: Hashable, Sendable {
    public var register: Register
    public var width: Width
    public var value: ArgumentValue
    public var location: SourceLocation?

    public init(register: Register, width: Width, value: ArgumentValue, location: SourceLocation? = nil) {
        self.register = register
        self.width = width
        self.value = value
        self.location = location
    }

    /// `rdi`, `esi`: the register as the contract names it.
    public var registerName: String {
        width == .q ? register.name : (Register.nameOf(register, width: width) ?? register.name)
    }
}

/// `result=…` of an `.extern`: what the function returns in rax.
public enum CallResult: Hashable, Sendable {
    /// `result=ptregs`: the pointer to the path's pt_regs (as `ptregs` arguments).
    case ptRegs
    /// `result=arg:REG`: the value REG held at the call (a function returning its argument).
    case argument(Register)
    /// `result=syscall-nr` / `result=orig_ax`: the user's pt_regs.orig_ax after the call
    /// (syscall_trace_enter returns the number to run, which a tracer may have changed).
    case syscallNumber
    case origAX
    case constant(Int64)

    public var word: String {
        switch self {
        case .ptRegs: return "ptregs"
        case .argument(let r): return "arg:\(r.name)"
        case .syscallNumber: return "syscall-nr"
        case .origAX: return "orig_ax"
        case .constant(let v): return String(v)
        }
    }
}

public struct PathSpec: Hashable, Sendable {
    public var name: String
    public var location: SourceLocation
    public var entryIndex: Int
    public var models: String
    public var entry: EntryKind
    public var mode: EntryMode
    /// Registers a function path's `ret` must give back unchanged.
    public var preserves: Set<Register>
    /// Where pt_regs lies relative to the entry rsp (function/interrupt/exception) or to
    /// the kernel stack pointer (syscall); nil when the path has no pt_regs.
    public var ptRegsOffset: Int64?
    /// For function paths that receive their caller's pt_regs: the fields that hold the
    /// user's values at entry.
    public var validFields: Set<String>
    /// The per-CPU variable a syscall entry loads its kernel stack from.
    public var kernelStack: String
    /// How far below its stack's top `kernelStack` points (syscall paths): the IRET frame
    /// is the five words below the top.
    public var kernelStackOffset: Int64 = 40
    /// Function paths called from a syscall: the per-CPU variable that holds the
    /// user's rsp at entry (old_rsp in 3.16).
    public var userSP: String?
    /// The violations the spec declares known (`.expect`) or false (`.limit`).
    public var expectations: [Expectation]
    /// Conditional branches the spec fixes one way (`.assume`): the path's verdicts
    /// hold only for the runs that go that way, and every report says so.
    public var assumptions: [RunAssumption] = []
    /// THREAD_SIZE, when the spec gives it: thread_info lies at the base of every task
    /// stack whose top the path knows.
    public var threadSize: Int64?
    /// The user task is 32-bit (`abi=32`, the default of sysenter and compat-syscall):
    /// it sees the low halves of eax…edi, eip, esp and eflags, and not r8–r15.
    public var userIs32Bit = false
    /// What a 32-bit task's r8–r11 must hold when it gets back to user space
    /// (`r8-r11=`; r12–r15 are always owed their value or zero): it cannot address them
    /// in compat mode, but it can far-jump to a 64-bit code segment and read them, so
    /// whatever the kernel left there is visible.
    public var compatHighRegisters: CompatHighRegisters = .any
    /// Whether runs check `.cfi_*` rows and unwind hints (the prover turns it off to check
    /// the other invariants of a path whose annotations the model cannot read).
    public var checksUnwindAnnotations = true
    /// `returns=ptregs`: a function the entry code calls with the hardware frame and
    /// orig_ax above its return address, which builds pt_regs below them and returns
    /// with rsp at pt_regs (paranoid_entry, error_entry from v4.15).
    public var returnsPtRegs = false
    /// `xen-frame=rcx,r11,…`: the words a Xen PV hypervisor pushes below the IRET frame
    /// of the callback it enters (xen_failsafe_callback), lowest first — the interrupted
    /// context's rcx and r11 and its data-segment selectors. rsp enters on the lowest.
    public var hypervisorWords: [String] = []
    /// `ist=VAR`: the per-CPU variable that holds this entry's IST stack pointer (3.16's
    /// `INIT_TSS_IST(ist)`). The path may shift it while it runs (so that a nested
    /// exception of its vector gets a stack of its own) but leaves it as it found it.
    public var istVariable: String?
    /// `vector=N`: the exception vector the entry serves. Only #NP, #SS, #GP and #PF (11–14)
    /// can be raised by `iretq` or a load of %gs, so an entry of any other vector never
    /// arrives at those fault sites with the user's GS base — except #DB, NMI and #MC,
    /// which arrive anywhere, on either base. Nil: as 11–14.
    public var vector: Int?
    /// The vectors an `iretq` or a `%gs` load can raise.
    public static let faultSiteVectors: ClosedRange<Int> = 11...14
    /// The vectors that may arrive at any instruction: #DB, NMI, #MC.
    public static let anywhereVectors: Set<Int> = [1, 2, 18]
    /// What `xen-frame=` may name.
    public static let hypervisorWordNames = ["rcx", "r11", "ds", "es", "fs", "gs"]
}

/// What a 32-bit task's r8–r11 are owed at the return to user space. Linux zeroed
/// r8–r11 on compat returns (a 64-bit caller of `int $0x80` lost them) until 4.17 made
/// them preserved; either way no kernel value may be left there.
public enum CompatHighRegisters: String, Sendable, Hashable, CaseIterable {
    /// The user's values, as they were at entry (or as a tracer wrote them).
    case preserve
    /// Zero.
    case zero
    /// The user's value or zero, register by register — never kernel data.
    case preserveOrZero = "preserve-or-zero"
    /// Nothing (the default): 3.x compat paths leave user-derived scratch there — the
    /// user's esp, the sixth argument read from the user's stack, rflags — which the
    /// model, reading user memory as unknown values, cannot tell from kernel data.
    case any
}

/// `.assume taken|not-taken LABEL reason="…"`: every conditional branch of the path to
/// LABEL is taken (or never taken). Runs that would go the other way are not checked:
/// the branch keeps its condition, so the checked runs are exactly those where the
/// condition agrees, and counterexamples satisfy it.
///
/// `.assume feature NAME present|absent reason="…"`: the CPU has (or lacks) the feature
/// NAME (an `X86_FEATURE_*` the unit's headers define, or a feature word): every
/// ALTERNATIVE site patched on it runs that arm only (`taken`: present; `label`: NAME).
/// What a path's verdicts are conditional on: a branch one way (`.assume taken|not-taken
/// LABEL`), a CPU feature (`.assume feature NAME present|absent`), or the bits of memory
/// the model does not hold (`.unmodelled NAME bits=… set=…`).
public struct RunAssumption: Hashable, Sendable, CustomStringConvertible {
    public var taken: Bool
    public var label: String
    public var reason: String
    public var location: SourceLocation
    /// A feature assumption: the feature word (`0x…`) NAME stands for, once resolved.
    public var feature: String?
    /// A memory assumption: the bits memory written NAME(…) may have set…
    public var memoryBits: UInt64?
    /// … and those it always has.
    public var memorySetBits: UInt64 = 0

    public init(taken: Bool, label: String, reason: String, location: SourceLocation, feature: String? = nil) {
        self.taken = taken
        self.label = label
        self.reason = reason
        self.location = location
        self.feature = feature
    }

    public init(memory name: String, bits: UInt64, setBits: UInt64, reason: String, location: SourceLocation) {
        self.init(taken: true, label: name, reason: reason, location: location)
        memoryBits = bits
        memorySetBits = setBits
    }

    /// The directive that states it.
    public var directive: String { memoryBits == nil ? ".assume" : ".unmodelled" }

    /// The directive as written.
    public var description: String {
        if let bits = memoryBits {
            return ".unmodelled \(label) bits=\(Self.hex(bits))\(memorySetBits == 0 ? "" : " set=\(Self.hex(memorySetBits))") reason=\"\(reason)\""
        }
        return feature == nil ? ".assume \(taken ? "taken" : "not-taken") \(label) reason=\"\(reason)\""
            : ".assume feature \(label) \(taken ? "present" : "absent") reason=\"\(reason)\""
    }

    /// What the verdicts are conditional on, in words.
    public var words: String {
        if let bits = memoryBits {
            let always = memorySetBits == 0 ? "" : ", with \(Self.hex(memorySetBits)) always set"
            return "every read of \(label)(…), memory the model does not hold, has no bit outside \(Self.hex(bits)) set\(always) (\(reason))"
        }
        return feature == nil ? "every conditional branch to \(label) is \(taken ? "taken" : "not taken") (\(reason))"
            : "the CPU \(taken ? "has" : "lacks") \(label), so every ALTERNATIVE on it \(taken ? "runs its replacement" : "keeps its original code") (\(reason))"
    }

    public static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// The directives a set of assumptions comes from, for a report: `.assume`,
    /// `.unmodelled` or `.assume, .unmodelled`.
    public static func directives(_ assumptions: [RunAssumption]) -> String {
        Set(assumptions.map(\.directive)).sorted().joined(separator: ", ")
    }
}

/// What a per-CPU variable holds at entry.
public enum PerCPUKind: Hashable, Sendable {
    /// An unknown value (old_rsp).
    case value
    /// The top of a kernel stack of its own (kernel_stack, irq_stack_ptr).
    case stack
    /// A pointer to memory outside the model (thread_info): reads through it give
    /// unknown values, writes through it cannot touch the stack and are not modelled.
    case pointer
}

/// The assembly a spec unit models (`.models FILE lines=A-B|symbol=NAME fingerprint=HEX`,
/// in the unit or in a file it includes), so a CI gate can tell when the code changed
/// under an unchanged spec.
public struct ModelledSource: Hashable, Sendable {
    public var file: String
    public var lines: ClosedRange<Int>?
    public var symbol: String?
    public var fingerprint: String?
    public var location: SourceLocation
}

/// A `.cfi_*` directive, kept in the order of the code for a check of the unwind
/// annotations against the real stack: accepted, never dropped.
public struct FrameAnnotation: Hashable, Sendable {
    /// `.cfi_adjust_cfa_offset`, …
    public var directive: String
    public var operands: [String]
    public var location: SourceLocation
    /// Macro expansions it came from, innermost first.
    public var expansion: [Diagnostic.Note]
    public var section: String
    /// The instruction it stands before (its address); nil at the end of its section.
    public var instruction: Int?
    /// The registers it names, as the model calls them (`rbx`, `rip`; DWARF numbers
    /// read as their register), in operand order.
    public var registers: [String] = []
    /// Its offset operand, evaluated where it stands (as gas does).
    public var offset: Int64?
    /// `.cfi_startproc simple`: no initial rules.
    public var simple = false
}

/// What the `.cfi_*` directives say at one instruction: the row of the unwind table
/// an unwinder reads at that address (docs/model.md, "7. Unwind annotations").
public struct UnwindRow: Hashable, Sendable {
    /// CFA = register + offset; nil while it is undefined (`.cfi_startproc simple`).
    public var cfa: CFA?
    public struct CFA: Hashable, Sendable {
        public var register: Register
        public var offset: Int64
    }
    /// Where the rule making each claim was written.
    public var cfaLocation: SourceLocation
    public var rules: [String: UnwindRule] = [:]
    /// A directive the model cannot judge (`.cfi_escape`, a rule for rflags…): paths
    /// reaching this row are unknown.
    public var unsupported: String?
}

/// How a register of the caller (the interrupted context) is found, and where it was said.
public struct UnwindRule: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// Saved in the slot at CFA + n.
        case savedAt(Int64)
        /// Its value is CFA + n.
        case valueAt(Int64)
        /// Held in this register.
        case inRegister(Register)
        /// Not changed.
        case sameValue
        /// Not recoverable: no claim.
        case undefined
    }
    public var kind: Kind
    public var location: SourceLocation
}

/// An objtool unwind hint (a `struct unwind_hint` record in `.discard.unwind_hints`),
/// at the instruction it labels (docs/model.md, "7. Unwind annotations").
public struct UnwindHint: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case undefined, endOfStack = "end-of-stack", call, regs, regsPartial = "regs-partial", function = "func", save, restore
    }
    public var kind: Kind
    /// The base register; nil for ORC_REG_UNDEFINED.
    public var base: Register?
    /// ORC's register code when the model has no register for it (indirect bases).
    public var baseCode: Int64
    public var offset: Int64
    public var location: SourceLocation
    public var expansion: [Diagnostic.Note]
}

/// An elaborated spec unit: the code, its labels, and the declarations about it.
/// One replacement of an ALTERNATIVE site: run when the CPU has the feature, in place of
/// the site's original instructions.
public struct AlternativeArm: Hashable, Sendable {
    /// Its first instruction; nil when the replacement is empty (the site is skipped).
    public var replacement: Int?
    /// The instruction after the site.
    public var resume: Int
    /// The feature word (`0x…`), the same for every site patched on that feature.
    public var feature: String
    /// The table entry.
    public var location: SourceLocation
}

/// One `__ex_table` entry: `.long FROM - .`, `.long TO - .` and, from 4.x on, a
/// handler (`.long ex_handler_default - .`) or, in 5.16 and later, a type word.
public struct FaultFixup: Hashable, Sendable {
    /// The instruction the run resumes at.
    public var fixup: Int
    /// Why the handler does more than resume at the fixup (a type or handler other than
    /// the default one, which changes registers): a run that faults there is unknown.
    public var unmodelledHandler: String?
    /// The table entry.
    public var location: SourceLocation
    public init(fixup: Int, unmodelledHandler: String?, location: SourceLocation) {
        self.fixup = fixup
        self.unmodelledHandler = unmodelledHandler
        self.location = location
    }
}

public struct Program: Sendable {
    public var instructions: [Instruction] = []
    public var labels: [String: Int] = [:]
    public var paths: [PathSpec] = []
    public var externs: [String: ExternContract] = [:]
    public var perCPU: [String: PerCPUKind] = [:]
    public var layouts: [String: Layout] = ["pt_regs": .ptRegs]
    public var file: String = ""
    public var modelledSources: [ModelledSource] = []
    /// Every file the unit read (itself and its includes), as absolute paths.
    public var files: [String] = []
    /// The `.cfi_*` directives of the code, in source order.
    public var frameAnnotations: [FrameAnnotation] = []
    /// The unwind-table row at each instruction inside a `.cfi_startproc` … `.cfi_endproc`.
    public var unwindRows: [Int: UnwindRow] = [:]
    /// The unwind hints at each instruction, in source order.
    public var unwindHints: [Int: [UnwindHint]] = [:]
    /// ALTERNATIVE sites by their first instruction: the arms the kernel may patch in
    /// at boot, in table order (a later entry patches over an earlier one).
    public var alternatives: [Int: [AlternativeArm]] = [:]
    /// The last instruction of each replacement, and where the run resumes after it.
    public var replacementEnds: [Int: Int] = [:]
    /// Exception-table (`__ex_table`) entries by the instruction that may fault: where
    /// the kernel's fault handler resumes a run that faults there, before its effect.
    public var faultFixups: [Int: FaultFixup] = [:]
    /// The names the units' headers give CPU feature words (`X86_FEATURE_*`): what an
    /// ALTERNATIVE's feature means, where the checker needs to know.
    public var featureNames: [String: Set<String>] = [:]
    /// How a feature word is written in `featureNames`, `AlternativeArm.feature` and the
    /// `cpu.feature[…]` inputs.
    public static func featureWord(_ value: Int64) -> String { "0x" + String(UInt64(bitPattern: value), radix: 16) }
    /// `.unmodelled NAME bits=MASK [set=MASK]`: the bits unmodelled memory written NAME(…)
    /// may have set, and those it always has; a read of it is an unknown value with
    /// those bits. By NAME.
    public var unmodelled: [String: RunAssumption] = [:]
    /// `.iret_to_kernel LABEL`: iretq instructions (the first at or after LABEL) that only
    /// ever return to kernel mode — so they never fault with the user's GS base — which
    /// every path through them must show (invariant gs).
    public var kernelOnlyIrets: [Int: SourceLocation] = [:]

    public init() {}

    /// The address the model gives a code label or an external symbol: labels at
    /// 16-byte steps from 0xffffffff81000000 (the return address of a call is the next
    /// instruction's), externals at 0xffffffff82000000 upwards in name order.
    public func symbolAddress(_ name: String) -> UInt64? {
        if let i = labels[name] { return Self.codeAddress(i) }
        guard externs[name] != nil else { return nil }
        // The extern's rank in name order (counted, not sorted: this runs per access).
        return Self.externAddress(rank: externs.keys.reduce(0) { $0 + ($1 < name ? 1 : 0) })
    }

    /// Where the extern of rank `rank` in name order lives.
    static func externAddress(rank: Int) -> UInt64 { 0xffff_ffff_8200_0000 &+ UInt64(rank) * 0x100 }

    /// `symbolAddress` of every extern at once (one sort instead of one rank per name).
    public func externAddresses() -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for (k, name) in externs.keys.sorted().enumerated() {
            out[name] = labels[name].map(Self.codeAddress) ?? Self.externAddress(rank: k)
        }
        return out
    }

    public static func codeAddress(_ instruction: Int) -> UInt64 { 0xffff_ffff_8100_0000 &+ UInt64(instruction) * 16 }
}
