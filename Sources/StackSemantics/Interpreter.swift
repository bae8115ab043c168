import SpecElaboration
import SpecSyntax

/// Something that must hold on every run reaching `node`: `reach → claim`.
public struct Obligation<D: ValueDomain> {
    public var invariant: Invariant
    public var node: Int
    /// Tells apart several obligations of one node ("restore rdi", "field cx").
    public var key: String
    public var claim: D.Bit
    public var reach: D.Bit
    /// What must hold, in the domain's words.
    public var requirement: String
    /// The values the claim compares, labelled ("read", "saved value"), for traces.
    public var values: [(String, D.Value)] = []
    /// The event that put the value the claim judges where it is (a register's last
    /// writer), when the run tracks it: the violation is blamed there.
    public var blame: D.Value?
}

/// Where a path starts: stacks, pt_regs placement, hardware frame. Domain-independent,
/// so the proof run and the replay start from the same picture.
public struct EntrySetup: Sendable {
    public var regions: [StackRegion] = []
    /// rsp at entry when it is a modelled stack (function, interrupt, exception).
    public var entryRSP: UInt64?
    public var ptRegsBase: UInt64?
    /// Stack slot → the pt_regs field it is (for homes and for trace labels).
    public var fieldAt: [UInt64: Layout.Field] = [:]
    /// Where `iretq` must find the hardware frame.
    public var iretFrame: UInt64?
    /// Highest address the path's frame may touch (exclusive), when known.
    public var frameTop: UInt64?
    public var symbolAddresses: [String: UInt64] = [:]
    /// thread_info at the base of each task stack whose top the path knows (`thread-size=`):
    /// memory of its own, not frame slots.
    public var threadInfoAreas: [Range<UInt64>] = []
    /// Stacks an exit may copy the IRET frame to and `iretq` from (the per-CPU trampoline
    /// stack of v4.15+): every per-CPU stack that is not the frame's own — it neither
    /// holds the entry's hardware frame nor receives a `moves-frame=` copy.
    public var iretCopyStacks: [StackRegion] = []
    /// How much of a task stack's base is thread_info (and what follows it there, the
    /// end-of-stack marker): far more than the struct, far less than any frame reaches.
    public static let threadInfoSpan: UInt64 = 512

    public static let userCS: UInt64 = 0x33
    /// __USER32_CS: the code segment of a 32-bit task.
    public static let user32CS: UInt64 = 0x23
    public static let userSS: UInt64 = 0x2b
    static let entryStackBase: UInt64 = 0xffff_c900_0040_0000

    public init(program: Program, path: PathSpec) {
        var regions: [StackRegion] = []
        if !path.entry.loadsKernelStack {
            regions.append(StackRegion(name: "entry stack", base: Self.entryStackBase))
            entryRSP = Self.entryStackBase
        }
        for (k, (name, kind)) in program.perCPU.sorted(by: { $0.key < $1.key }).enumerated() where kind == .stack {
            regions.append(StackRegion(name: name, base: Self.entryStackBase &+ UInt64(k + 1) << 32))
        }
        self.regions = regions
        let kstack = regions.first { $0.name == path.kernelStack }?.base
        switch path.entry {
        case .syscall, .sysenter, .compatSyscall:
            if let k = kstack, let off = path.ptRegsOffset { ptRegsBase = k &+ UInt64(bitPattern: off) }
            frameTop = kstack.map { $0 &+ UInt64(bitPattern: path.kernelStackOffset) }
            iretFrame = frameTop.map { $0 &- 40 }
        case .interrupt, .exception, .int80:
            ptRegsBase = path.ptRegsOffset.map { Self.entryStackBase &+ UInt64(bitPattern: $0) }
            iretFrame = Self.entryStackBase
            frameTop = Self.entryStackBase &+ 40
        case .exceptionWithErrorCode:
            ptRegsBase = path.ptRegsOffset.map { Self.entryStackBase &+ UInt64(bitPattern: $0) }
            iretFrame = Self.entryStackBase &+ 8
            frameTop = Self.entryStackBase &+ 48
        case .function, .jump:
            ptRegsBase = path.ptRegsOffset.map { Self.entryStackBase &+ UInt64(bitPattern: $0) }
            if path.entry == .jump || path.returnsPtRegs {
                // The frame a jump entry lands on, or a returns=ptregs function builds:
                // pt_regs and nothing above it.
                iretFrame = ptRegsBase.map { $0 &+ 128 }
                frameTop = ptRegsBase.map { $0 &+ 168 }
            } else if let b = ptRegsBase {
                // A function handed pt_regs in its caller's frame may use it, not beyond.
                frameTop = b &+ 168
            } else {
                // Above the return address is the caller's frame: kernel assembly takes
                // no arguments on the stack, and a store there clobbers the caller.
                frameTop = Self.entryStackBase &+ 8
            }
        }
        if let b = ptRegsBase {
            for f in Layout.ptRegs.fields { fieldAt[b &+ UInt64(f.offset)] = f }
        }
        // The copies `moves-frame=` functions make are pt_regs too (for the words of traces).
        for c in program.externs.values.sorted(by: { $0.name < $1.name }) {
            guard let v = c.movesFrameTo, let top = regions.first(where: { $0.name == v })?.base else { continue }
            for f in Layout.ptRegs.fields where fieldAt[top &- 168 &+ UInt64(f.offset)] == nil { fieldAt[top &- 168 &+ UInt64(f.offset)] = f }
        }
        if let size = path.threadSize.map({ UInt64($0) }) {
            // Task stacks whose top is known: the syscall's kernel stack, and the stack
            // pt_regs tops when the path is entered from user mode (pt_regs is then the
            // top 168 bytes; from kernel mode the frame's place on its stack is unknown).
            var tops: [UInt64] = []
            if let k = kstack { tops.append(k &+ UInt64(bitPattern: path.kernelStackOffset)) }
            if !path.entry.loadsKernelStack, let b = ptRegsBase, path.mode == .user || path.entry == .function || path.entry == .jump {
                tops.append(b &+ 168)
            }
            threadInfoAreas = tops.map { ($0 &- size)..<($0 &- size &+ Self.threadInfoSpan) }
        }
        symbolAddresses = program.externAddresses()
        let moveTargets = Set(program.externs.values.compactMap(\.movesFrameTo))
        let home = iretFrame
        iretCopyStacks = regions.filter { r in
            program.perCPU[r.name] == .stack && !moveTargets.contains(r.name) && !(home.map(r.contains) ?? false)
        }
    }

    public func region(of a: UInt64) -> StackRegion? { regions.first { $0.contains(a) } }

    /// `kernel_stack-0x80`, `entry stack+8`.
    public func describe(address a: UInt64) -> String {
        guard let r = region(of: a) else { return "0x" + String(a, radix: 16) }
        let off = Int64(bitPattern: a &- r.base)
        if off == 0 { return r.name }
        return r.name + (off < 0 ? "-" : "+") + "0x" + String(off.magnitude, radix: 16)
    }

    /// A call returns to the next instruction.
    public static func returnAddress(ofCallAt instruction: Int) -> UInt64 { Program.codeAddress(instruction + 1) }
}

/// A construct the model cannot follow: the path's verdicts become "unknown".
public struct Unsupported: Error, Sendable {
    public var node: Int
    public var reason: String
    /// Only the `cfi` check cannot go on (an annotation the model does not read): the
    /// other invariants are checked without it, and `cfi` alone is unknown.
    public var onlyUnwindAnnotations = false

    public init(node: Int, reason: String, onlyUnwindAnnotations: Bool = false) {
        self.node = node
        self.reason = reason
        self.onlyUnwindAnnotations = onlyUnwindAnnotations
    }
}

/// The instruction semantics, written once over any `ValueDomain` (objtool's
/// decode/check split: this file says what instructions do; the files named after the
/// invariants say what must hold).
public struct Interpreter<D: ValueDomain> {
    public let d: D
    /// The path's fixed facts and the words every run of it shares.
    public let semantics: PathSemantics
    public var program: Program { semantics.program }
    public var path: PathSpec { semantics.path }
    public var graph: PathGraph { semantics.graph }
    public var setup: EntrySetup { semantics.setup }
    /// The obligations so far (held by reference so `require` can build its words
    /// lazily from `self`).
    public var obligations: [Obligation<D>] { log.items }
    public var assumedClaims: [Obligation<D>] { log.assumed }
    public var exitsReached: [Obligation<D>] { log.exits }
    /// Invariants some obligation of which held by construction and was not kept.
    public var heldByConstruction: Set<Invariant> { Set(Invariant.allCases.filter { log.heldByConstruction & $0.bit != 0 }) }
    let log = ObligationLog<D>()
    let untouched = UntouchedSlots<D>()
    let coverage = AddressCoverage()
    let inputCache = InputCache<D>()
    /// Merge selectors made so far (their names must not repeat within a run).
    var selectors = SelectorCount()
    /// `percpu.NAME` for the per-CPU variables that hold pointers (checked on every
    /// register-relative access).
    var pointerInputs: [String] { semantics.pointerInputs }
    /// Keep obligations the simplifier already decided (for `--explain`).
    public var keepDecided = false
    /// Track where each register's value comes from (`MachineState.origins`), for the
    /// words and the blame of a violation. Concrete runs do; symbolic runs do when a
    /// search asks which instruction a violation is blamed on (merges select it, loop
    /// heads widen it: SymbolicExecutor's `widenOrigins`). No claim depends on it.
    public var tracksOrigins = false
    /// Build the words (requirement, labelled values) of kept obligations. A run that
    /// only asks which obligations broke (the probes, mutation testing) skips them: a
    /// violating path's every run breaks many, and their words were most of its cost.
    public var buildsWords = true
    /// What the write with this event id was ("saved rdi", "return address of call at L42").
    public func eventWords(_ event: UInt64) -> String? { semantics.eventWords(event) }
    /// Stack addresses the current step read or wrote (for traces).
    public var touched: [UInt64] { touchedBox.addresses }
    let touchedBox = TouchedAddresses()
    /// What the current step did that its slots do not show (which fields a tracer
    /// wrote at a stop), for traces.
    public var notes: [String] { traceNotes.notes }
    let traceNotes = TraceNotes()

    public init(domain: D, semantics: PathSemantics) {
        self.d = domain
        self.semantics = semantics
    }

    public init(domain: D, program: Program, path: PathSpec, graph: PathGraph, setup: EntrySetup) {
        self.init(domain: domain, semantics: PathSemantics(program: program, path: path, graph: graph, setup: setup))
    }

    // MARK: Entry

    /// An entry by a hardware frame (or a function the entry calls first): the runs
    /// `from=` admits, by the saved cs, and the GS base they arrive with — the user's from
    /// user mode; the kernel's from kernel mode, except at a fault of the iretq back to
    /// user space (`kernelGSOfKernelModeException`).
    func arrival(cs: D.Value?, ip: D.Value?, reach: D.Bit) -> (reach: D.Bit, kernelGS: D.Bit) {
        let fromUser = d.negate(d.equal(d.and(cs ?? d.constant(0), d.constant(3)), d.constant(0)))
        let atKernelIP = kernelGSOfKernelModeException(ip: ip ?? d.constant(0))
        // An entry that cannot arrive at those sites (the iretq back to user space, a %gs
        // load between swapgs) never has their address as its saved rip.
        var reach = reach
        if neverAtUserGSFaultSites, let ip { reach = d.both(reach, d.either(fromUser, d.negate(atUserGSFaultSite(ip: ip)))) }
        switch path.mode {
        case .user: return (d.both(reach, fromUser), d.bit(false))
        case .kernel: return (d.both(reach, d.negate(fromUser)), atKernelIP)
        case .either: return (reach, d.known(atKernelIP) == true ? d.negate(fromUser) : d.both(d.negate(fromUser), atKernelIP))
        }
    }

    public func initialState() -> MachineState<D> {
        var regs = Register.allCases.map { d.input("entry.\($0.name)") }
        var slots = StackSlots<D.Value>()
        var user = UserView<D>()
        var reach = d.bit(true)
        var kernelGS = d.bit(true)
        var shadow: [ShadowEntry<D.Value>] = []
        func seed(_ a: UInt64, _ v: D.Value, _ event: UInt64) {
            let e = d.constant(event)
            slots[a] = StackSlot(value: v, origin: e)
        }
        for r in Register.allCases where r != .rsp {
            if let f = Layout.ptRegs.fields.first(where: { $0.register == r }) { user[f.userName] = regs[r.rawValue] }
        }
        switch path.entry {
        case .syscall, .compatSyscall:
            // syscall: rcx = user rip, r11 = user rflags, rsp still the user's.
            kernelGS = d.bit(false)
            user["ip"] = regs[Register.rcx.rawValue]
            user["flags"] = regs[Register.r11.rawValue]
            user["sp"] = regs[Register.rsp.rawValue]
            user["orig_ax"] = path.entry.isCompatSystemCall ? d.low32(regs[Register.rax.rawValue]) : regs[Register.rax.rawValue]
            user["cs"] = d.constant(path.entry == .compatSyscall ? EntrySetup.user32CS : EntrySetup.userCS)
            user["ss"] = d.constant(EntrySetup.userSS)
        case .sysenter:
            // SYSENTER saves nothing. By the vDSO's convention the task's esp is in ebp;
            // it returns to the vDSO's return point with the flags the kernel gives it
            // (SYSENTER cleared IF): both the kernel's to choose, so they are checked
            // from the point a tracer writes them on.
            kernelGS = d.bit(false)
            user["sp"] = regs[Register.rbp.rawValue]
            for field in ["ip", "flags"] {
                guard let k = PtRegsField.index(field) else { continue }
                user.values[k] = d.input("user.\(field)")
                user.known[k] = d.bit(false)
            }
            user["orig_ax"] = d.low32(regs[Register.rax.rawValue])
            user["cs"] = d.constant(EntrySetup.user32CS)
            user["ss"] = d.constant(EntrySetup.userSS)
        case .interrupt, .exception, .exceptionWithErrorCode, .int80:
            let e = setup.entryRSP ?? 0
            regs[Register.rsp.rawValue] = d.constant(e)
            semantics.noteEvent(EventID.hardwareFrame, "pushed by the CPU on entry")
            if !path.hypervisorWords.isEmpty {
                // Xen PV's callback: below the IRET frame the hypervisor pushed the
                // interrupted context's rcx and r11 (and selectors, values outside the
                // model); the registers hold the hypervisor's values, not the user's.
                semantics.noteEvent(EventID.hypervisorFrame, "pushed by Xen on entry")
                let words = UInt64(path.hypervisorWords.count)
                let low = e &- 8 &* words
                regs[Register.rsp.rawValue] = d.constant(low)
                for (k, w) in path.hypervisorWords.enumerated() {
                    let v: D.Value
                    switch w {
                    case "rcx": v = regs[Register.rcx.rawValue]
                    case "r11": v = regs[Register.r11.rawValue]
                    default: v = d.input("xen.\(w)")
                    }
                    seed(low &+ 8 &* UInt64(k), v, EventID.hypervisorFrame)
                }
                for r in [Register.rcx, .r11] where path.hypervisorWords.contains(r.name) {
                    regs[r.rawValue] = d.input("xen.entry.\(r.name)")
                }
            }
            var a = e
            if path.entry == .exceptionWithErrorCode {
                let code = d.input("entry.error_code")
                seed(a, code, EventID.hardwareFrame)
                user["orig_ax"] = code
                a &+= 8
            }
            for name in ["ip", "cs", "flags", "sp", "ss"] {
                let v = d.input("entry.\(name)")
                seed(a, v, EventID.hardwareFrame)
                user[name] = v
                a &+= 8
            }
            // The 32-bit syscall number: eax, zero-extended into orig_ax.
            if path.entry == .int80 { user["orig_ax"] = d.low32(regs[Register.rax.rawValue]) }
            (reach, kernelGS) = arrival(cs: user["cs"], ip: user["ip"], reach: reach)
        case .function, .jump:
            let e = setup.entryRSP ?? 0
            regs[Register.rsp.rawValue] = d.constant(e)
            let ret = d.input("entry.return_address")
            // The caller is outside the modelled code: its return address is none of ours.
            let codeStart = d.constant(Program.codeAddress(0))
            let codeEnd = d.constant(Program.codeAddress(program.instructions.count + 1))
            reach = d.either(d.unsignedLess(ret, codeStart), d.negate(d.unsignedLess(ret, codeEnd)))
            if path.entry == .function {
                semantics.noteEvent(EventID.callerReturnAddress, "return address pushed by the caller's call")
                seed(e, ret, EventID.callerReturnAddress)
                shadow.append(ShadowEntry(returnAddress: ret, callSite: nil, frame: d.constant(e)))
            } else {
                reach = d.bit(true)
            }
            user = UserView<D>()
            if let base = setup.ptRegsBase {
                // The caller's pt_regs of a syscall: valid fields hold the user's values.
                semantics.noteEvent(EventID.callerPtRegs, "saved by the caller")
                for f in Layout.ptRegs.fields {
                    let a = base &+ UInt64(f.offset)
                    if path.validFields.contains(f.userName) {
                        // A system call's pt_regs: SYSCALL put rflags in r11, and the
                        // entry saved one and copied it to the other.
                        let name = f.userName == "flags" && path.validFields.contains("r11") ? "r11" : f.userName
                        let v = d.input("caller.pt_regs.\(name)")
                        seed(a, v, EventID.callerPtRegs)
                        user[f.userName] = v
                    } else {
                        user[f.userName] = d.input("user.\(f.userName)")
                    }
                }
                if path.returnsPtRegs {
                    // Called right after the entry: every register still holds the
                    // interrupted context's value, which pt_regs must receive.
                    for f in Layout.ptRegs.fields where !path.validFields.contains(f.userName) {
                        if let r = f.register { user[f.userName] = regs[r.rawValue] }
                    }
                    // Entered as the exception it is called from.
                    (reach, kernelGS) = arrival(cs: user["cs"], ip: user["ip"], reach: reach)
                } else {
                    // The caller entered from user mode and has not touched the callee-saved
                    // registers: unsaved, they still hold the user's values.
                    for f in Layout.ptRegs.fields where !path.validFields.contains(f.userName) {
                        if let r = f.register, Register.calleeSaved.contains(r) { user[f.userName] = regs[r.rawValue] }
                    }
                    if !path.validFields.contains("cx"), let ip = user["ip"] { user["cx"] = ip }
                    if !path.validFields.contains("r11"), let fl = user["flags"] { user["r11"] = fl }
                    if !path.validFields.contains("cs") { user["cs"] = d.constant(EntrySetup.userCS) }
                    if !path.validFields.contains("ss") { user["ss"] = d.constant(EntrySetup.userSS) }
                }
            }
        }
        var perCPU = PerCPUValues<D.Value>()
        for (name, kind) in program.perCPU.sorted(by: { $0.key < $1.key }) {
            switch kind {
            case .value, .pointer: perCPU[name] = d.input("percpu.\(name)")
            case .stack: perCPU[name] = d.constant(setup.regions.first { $0.name == name }?.base ?? 0)
            }
        }
        if let v = path.userSP {
            // `usersp=`: this per-CPU variable holds the user's rsp (old_rsp in 3.16).
            if let sp = user["sp"] { perCPU[v] = sp }
        }
        // A system call's rax for the user is its result: undefined until the kernel
        // stores it in pt_regs.ax.
        if path.entry.isSystemCall, let ax = PtRegsField.index("ax") { user.known[ax] = d.bit(false) }
        return MachineState(registers: regs, zeroFlag: d.inputBit("entry.zf"), carryFlag: d.inputBit("entry.cf"),
                            signFlag: d.inputBit("entry.sf"), overflowFlag: d.inputBit("entry.of"),
                            slots: slots, perCPU: perCPU, kernelGS: kernelGS, user: user,
                            shadowStack: shadow, reach: reach, origins: tracksOrigins ? Array(repeating: unwritten, count: 16) : [])
    }

    /// A register's origin before the path writes it: its value at entry.
    var unwritten: RegisterOrigin<D.Value> {
        let zero = d.constant(0)
        return RegisterOrigin(writer: zero, load: zero, slot: zero, slotOrigin: zero)
    }

    /// A slot as it is before any write: garbage. Memoised per address: merges and
    /// loop checks ask for the untouched slots of every address either side wrote.
    public func untouchedSlot(_ a: UInt64) -> StackSlot<D.Value> {
        if let cached = untouched.slots[a] { return cached }
        let g = d.input(garbageName(a))
        let slot = StackSlot(value: g, origin: d.constant(0))
        untouched.slots[a] = slot
        return slot
    }

    public func garbageName(_ a: UInt64) -> String { semantics.garbageName(a) }

    /// The value of pointer input `k`, asked of the domain once per run (every
    /// register-relative access compares its base with each).
    func pointerInput(_ k: Int) -> D.Value {
        if inputCache.pointers.isEmpty { inputCache.pointers = Array(repeating: nil, count: pointerInputs.count) }
        if let v = inputCache.pointers[k] { return v }
        let v = d.input(pointerInputs[k])
        inputCache.pointers[k] = v
        return v
    }

    public func slot(_ s: MachineState<D>, _ a: UInt64) -> StackSlot<D.Value> { s.slots[a] ?? untouchedSlot(a) }

    // MARK: Memory

    /// The stack addresses an address value may take, or nil when it is not a modelled
    /// stack address.
    func stackCases(_ addr: D.Value) -> [(D.Bit, UInt64)]? {
        guard let cs = d.cases(addr), !cs.isEmpty else { return nil }
        for (_, a) in cs where setup.region(of: a) == nil { return nil }
        return cs
    }

    func mergeSlot(_ c: D.Bit, _ a: StackSlot<D.Value>, _ b: StackSlot<D.Value>) -> StackSlot<D.Value> {
        StackSlot(value: d.select(c, a.value, b.value), origin: d.select(c, a.origin, b.origin))
    }

    func sameSlot(_ a: StackSlot<D.Value>, _ b: StackSlot<D.Value>) -> Bool {
        d.same(a.value, b.value) && d.same(a.origin, b.origin)
    }

    func readSlot(_ s: MachineState<D>, _ cases: [(D.Bit, UInt64)]) -> StackSlot<D.Value> {
        noteTouched(cases)
        var acc = slot(s, cases[cases.count - 1].1)
        for (g, a) in cases.dropLast().reversed() { acc = mergeSlot(g, slot(s, a), acc) }
        return acc
    }

    func writeSlot(_ s: inout MachineState<D>, _ cases: [(D.Bit, UInt64)], _ make: (StackSlot<D.Value>) -> StackSlot<D.Value>) {
        noteTouched(cases)
        for (g, a) in cases {
            let old = slot(s, a)
            let new = make(old)
            s.slots[a] = d.known(g) == true ? new : mergeSlot(g, new, old)
        }
    }

    func effectiveAddress(_ m: MemoryOperand, _ s: MachineState<D>) -> D.Value {
        var a = d.constant(UInt64(bitPattern: m.displacement))
        if let b = m.base { a = d.add(s[b], a) }
        if let i = m.index { a = d.add(a, d.mul(s[i], d.constant(UInt64(m.scale)))) }
        return a
    }

    enum Location {
        /// Stack slots (8-byte aligned, one per case), the address, and where in the slot
        /// the access starts (a narrow access inside a slot: `testb $4, 145(%rsp)`).
        case stack([(D.Bit, UInt64)], D.Value, byte: UInt64)
        case perCPU(String)
        case opaque(String)
        /// Memory outside the model reached through a `.percpu … pointer` value.
        case outside(String)
        /// A stack address plus an offset with no fixed value (`-8(%rsp,%rdi,8)`): no
        /// single slot, but still an access to the stack.
        case indexedStack(D.Value)
        /// A stack address so far from every stack base that it lies on no modelled stack
        /// (`-0x400010(%rsp)`): still an access through the stack pointer, checked by
        /// `frame`, never unmodelled memory.
        case farStack([(D.Bit, UInt64)])
    }

    func locate(_ m: MemoryOperand, _ s: MachineState<D>, node: Int, width: Width) throws -> Location {
        if let v = m.perCPU { return .perCPU(v) }
        if m.symbol != nil { return .opaque(m.text) }
        let addr = effectiveAddress(m, s)
        if let b = m.base, m.index == nil {
            for k in pointerInputs.indices where d.same(s[b], pointerInput(k)) {
                return .outside(String(pointerInputs[k].dropFirst("percpu.".count)))
            }
        }
        if !setup.threadInfoAreas.isEmpty, let cs = stackCases(addr) {
            let inArea = cs.filter { c in setup.threadInfoAreas.contains { $0.contains(c.1) } }.count
            if inArea == cs.count { return .outside("thread_info") }
            if inArea > 0 { throw Unsupported(node: node, reason: "`\(m.text)` is thread_info on some runs and a stack slot on others") }
        }
        guard let cases = stackCases(addr) else {
            if let b = m.base, stackCases(s[b]) != nil, let cs = d.cases(addr), !cs.isEmpty,
               cs.allSatisfy({ setup.region(of: $0.1) == nil }) {
                return .farStack(cs)
            }
            // A register-relative address that is not a known stack slot: a concrete
            // run whose values land it on the stack checks it as a stack access, so
            // the run's obligations may not cover every concrete check (the probes
            // then take every invariant).
            coverage.everyAddressResolved = false
            // Only where the offset has no value yet (the proof run): a concrete address
            // off every stack is memory outside the model, as any other.
            if d.knownValue(addr) == nil, let b = m.base, stackCases(s[b]) != nil { return .indexedStack(addr) }
            return .opaque(m.text)
        }
        // A narrow access that stays inside one slot reads or writes its bytes there
        // (the same offset in every case); one that straddles two slots is not modelled.
        let byte = (cases.first?.1 ?? 0) % 8
        for (_, a) in cases where a % 8 != byte || byte + UInt64(width.bytes) > 8 {
            throw Unsupported(node: node, reason: "access to \(setup.describe(address: a)) straddles two 8-byte stack slots")
        }
        return .stack(byte == 0 ? cases : cases.map { ($0.0, $0.1 &- byte) }, addr, byte: byte)
    }

    // MARK: Operands

    func mask(_ v: D.Value, _ w: Width) -> D.Value { w == .q ? v : d.and(v, d.constant(w.mask)) }

    /// A narrow write `byte` bytes into a value keeps the rest of the old value (a 32-bit
    /// register write is different: it zero-extends, and callers pass the masked value).
    func merge(_ old: D.Value, _ v: D.Value, _ w: Width, at byte: UInt64 = 0) -> D.Value {
        if w == .q { return v }
        let field = d.and(v, d.constant(w.mask))
        return d.or(d.and(old, d.constant(~(w.mask << (8 * byte)))), byte == 0 ? field : d.shiftLeft(field, d.constant(8 * byte)))
    }

    func read(_ op: Operand, _ w: Width, _ s: inout MachineState<D>, node: Int) throws -> D.Value {
        try readTracing(op, w, &s, node: node).value
    }

    /// A read and, when the run tracks origins, where the value comes from: a register's
    /// own origin, or this node's load of a stack slot (nil: computed here).
    func readTracing(_ op: Operand, _ w: Width, _ s: inout MachineState<D>, node: Int) throws -> (value: D.Value, origin: RegisterOrigin<D.Value>?) {
        switch op {
        case .register(let r, _): return (mask(s[r], w), tracksOrigins ? s.origins[r.rawValue] : nil)
        case .immediate(let v): return (mask(d.constant(UInt64(bitPattern: v)), w), nil)
        case .memory(let m):
            switch try locate(m, s, node: node, width: w) {
            case .stack(let cases, let addr, let byte):
                checkAccess(addr, width: w, s, node: node, indexed: m.index != nil ? m : nil)
                let sl = readSlot(s, cases)
                if w != .q { try checkNarrowRead(sl.value, width: w, node: node) }
                let v = byte == 0 ? sl.value : d.shiftRightLogical(sl.value, d.constant(8 * byte))
                return (mask(v, w), tracksOrigins ? loadOrigin(node: node, address: addr, sl) : nil)
            case .perCPU(let name):
                checkPerCPUAccess(name, s, node: node)
                if program.perCPU[name] == .stack { cutAtUserGSBase(name, &s, node: node) }
                if w != .q, let stored = s.perCPU[name] { try checkNarrowRead(stored, width: w, node: node) }
                let v = d.select(s.kernelGS, s.perCPU[name] ?? d.constant(0), d.input("user-gs[\(name)]@\(node)"))
                return (mask(v, w), nil)
            case .indexedStack(let addr):
                checkIndexedAccess(addr, m, width: w, s, node: node)
                return (mask(d.input("unmodelled[\(m.text)]@\(node)"), w), nil)
            case .farStack(let cases):
                checkFarAccess(cases, m, s, node: node)
                return (mask(d.input("unmodelled[\(m.text)]@\(node)"), w), nil)
            case .opaque, .outside:
                let v = d.input("unmodelled[\(m.text)]@\(node)")
                // `.unmodelled NAME bits=`: a word the spec says has only these bits set.
                let name = MemoryOperand.leadingName(m.text)
                if let declared = program.unmodelled[name], let bits = declared.memoryBits {
                    s.reach = d.both(s.reach, d.equal(d.and(v, d.constant(~bits)), d.constant(0)))
                    let set = declared.memorySetBits
                    if set != 0 { s.reach = d.both(s.reach, d.equal(d.and(v, d.constant(set)), d.constant(set))) }
                }
                return (mask(v, w), nil)
            }
        }
    }

    /// The origin of a value this node loads from the stack slot at `address`.
    func loadOrigin(node: Int, address: D.Value, _ sl: StackSlot<D.Value>) -> RegisterOrigin<D.Value> {
        let ev = d.constant(EventID.at(node: node))
        return RegisterOrigin(writer: ev, load: ev, slot: address, slotOrigin: sl.origin)
    }

    /// Records that this node wrote register r, with a value that comes from `source`
    /// (a load, or another register's value) or that it computed (nil).
    func noteRegisterWrite(_ r: Register, _ s: inout MachineState<D>, node: Int, from source: RegisterOrigin<D.Value>? = nil) {
        guard tracksOrigins, r != .rsp else { return }
        var o = source ?? unwritten
        o.writer = d.constant(EventID.at(node: node))
        s.origins[r.rawValue] = o
    }

    /// Writes a value. `source`: where a value written to a register comes from (see
    /// `readTracing`). `saving` names the register whose value a store is; nothing
    /// depends on it since restores are judged where their values are observed rather
    /// than against a slot's save (the words in `what` say it) — it stays so that call
    /// sites under other work need no edit, and can go with them.
    func write(_ op: Operand, _ v: D.Value, _ w: Width, _ s: inout MachineState<D>, node: Int, saving: Register? = nil,
                        what: @autoclosure () -> String, source: RegisterOrigin<D.Value>? = nil) throws {
        switch op {
        case .register(let r, _):
            // 32-bit writes zero-extend (`v` is already masked); 8- and 16-bit writes keep the rest.
            s[r] = w == .b || w == .w ? merge(s[r], v, w) : v
            noteRegisterWrite(r, &s, node: node, from: source)
        case .immediate:
            throw Unsupported(node: node, reason: "write to an immediate")
        case .memory(let m):
            let event = EventID.at(node: node)
            switch try locate(m, s, node: node, width: w) {
            case .stack(let cases, let addr, let byte):
                checkAccess(addr, width: w, s, node: node)
                noteEvent(event, what())
                let ev = d.constant(event)
                let result = byte == 0 && cases.count == 1 && isResultSlot(cases[0].1)
                writeSlot(&s, cases) { old in StackSlot(value: merge(old.value, v, w, at: byte), origin: ev) }
                // The syscall's result is what the user gets in rax.
                if result { setUser(&s, "ax", slot(s, cases[0].1).value) }
            case .perCPU(let name):
                checkPerCPUAccess(name, s, node: node)
                let old = s.perCPU[name] ?? d.constant(0)
                let nv = merge(old, v, w)
                s.perCPU[name] = d.select(s.kernelGS, nv, old)
            case .opaque(let text):
                throw Unsupported(node: node, reason: "store to '\(text)', which is not a modelled stack slot or per-CPU variable")
            case .indexedStack:
                throw Unsupported(node: node, reason: "store to '\(m.text)', a stack address whose offset has no fixed value")
            case .farStack(let cases):
                // Memory the model does not hold: the check is the whole meaning.
                checkFarAccess(cases, m, s, node: node)
            case .outside:
                break
            }
        }
    }

    /// Pushes a value. `register` (the register pushed) is unused, as `write`'s `saving`.
    func push(_ v: D.Value, _ s: inout MachineState<D>, node: Int, register: Register?, what: @autoclosure () -> String, k: Int = 0) throws {
        s.rsp = d.sub(s.rsp, d.constant(8))
        guard let cases = stackCases(s.rsp) else {
            throw Unsupported(node: node, reason: "push while rsp is not a modelled stack (\(path.entry.loadsKernelStack ? "still the user stack?" : "unknown rsp"))")
        }
        checkAccess(s.rsp, width: .q, s, node: node)
        let event = EventID.at(node: node, k)
        noteEvent(event, what())
        let ev = d.constant(event)
        writeSlot(&s, cases) { _ in StackSlot(value: v, origin: ev) }
    }

    // MARK: Flags

    func setFlags(result r: D.Value, _ w: Width, carry: D.Bit, overflow: D.Bit, _ s: inout MachineState<D>) {
        let m = mask(r, w)
        s.zeroFlag = d.equal(m, d.constant(0))
        let sign: UInt64 = 1 << UInt64(w.bits - 1)
        s.signFlag = d.negate(d.equal(d.and(m, d.constant(sign)), d.constant(0)))
        s.carryFlag = carry
        s.overflowFlag = overflow
    }

    func condition(_ c: FlagCondition, _ s: MachineState<D>) -> D.Bit {
        let sfNeOf = d.negate(d.equalBits(s.signFlag, s.overflowFlag))
        switch c {
        case .zero: return s.zeroFlag
        case .notZero: return d.negate(s.zeroFlag)
        case .above: return d.both(d.negate(s.carryFlag), d.negate(s.zeroFlag))
        case .aboveOrEqual: return d.negate(s.carryFlag)
        case .below: return s.carryFlag
        case .belowOrEqual: return d.either(s.carryFlag, s.zeroFlag)
        case .less: return sfNeOf
        case .lessOrEqual: return d.either(s.zeroFlag, sfNeOf)
        case .greater: return d.both(d.negate(s.zeroFlag), d.negate(sfNeOf))
        case .greaterOrEqual: return d.negate(sfNeOf)
        case .sign: return s.signFlag
        case .notSign: return d.negate(s.signFlag)
        case .overflow: return s.overflowFlag
        case .notOverflow: return d.negate(s.overflowFlag)
        }
    }

    func signOf(_ v: D.Value, _ w: Width) -> D.Bit {
        d.negate(d.equal(d.and(v, d.constant(1 << UInt64(w.bits - 1))), d.constant(0)))
    }

    /// dst - src with flags, as `cmp src, dst` / `sub src, dst` compute it.
    func subtract(_ a: D.Value, _ b: D.Value, _ w: Width, _ s: inout MachineState<D>) -> D.Value {
        let r = mask(d.sub(a, b), w)
        let of = d.all([d.negate(d.equalBits(signOf(a, w), signOf(b, w))), d.negate(d.equalBits(signOf(a, w), signOf(r, w)))])
        setFlags(result: r, w, carry: d.unsignedLess(a, b), overflow: of, &s)
        return r
    }

    func addition(_ a: D.Value, _ b: D.Value, _ w: Width, _ s: inout MachineState<D>) -> D.Value {
        let r = mask(d.add(a, b), w)
        let of = d.all([d.equalBits(signOf(a, w), signOf(b, w)), d.negate(d.equalBits(signOf(a, w), signOf(r, w)))])
        setFlags(result: r, w, carry: d.unsignedLess(r, a), overflow: of, &s)
        return r
    }

    /// `a + b + CF` (adc) with flags.
    func additionWithCarry(_ a: D.Value, _ b: D.Value, _ w: Width, _ s: inout MachineState<D>) -> D.Value {
        let cin = s.carryFlag
        let r = mask(d.add(d.add(a, b), d.select(cin, d.constant(1), d.constant(0))), w)
        let of = d.all([d.equalBits(signOf(a, w), signOf(b, w)), d.negate(d.equalBits(signOf(a, w), signOf(r, w)))])
        // A carry out of a + b + 1 leaves r <= a; of a + b, r < a.
        setFlags(result: r, w, carry: d.either(d.unsignedLess(r, a), d.both(cin, d.equal(r, a))), overflow: of, &s)
        return r
    }

    /// `a - b - CF` (sbb) with flags.
    func subtractionWithBorrow(_ a: D.Value, _ b: D.Value, _ w: Width, _ s: inout MachineState<D>) -> D.Value {
        let cin = s.carryFlag
        let r = mask(d.sub(d.sub(a, b), d.select(cin, d.constant(1), d.constant(0))), w)
        let of = d.all([d.negate(d.equalBits(signOf(a, w), signOf(b, w))), d.negate(d.equalBits(signOf(a, w), signOf(r, w)))])
        setFlags(result: r, w, carry: d.either(d.unsignedLess(a, b), d.both(cin, d.equal(a, b))), overflow: of, &s)
        return r
    }

    /// A value of `w` bits (masked) sign-extended to 64: (v ^ m) - m with m its sign bit.
    func signExtend(_ v: D.Value, _ w: Width) -> D.Value {
        if w == .q { return v }
        let m = d.constant(1 << UInt64(w.bits - 1))
        return d.sub(d.xor(v, m), m)
    }

    /// A flag the CPU leaves undefined: any value (an input of its own per node).
    func undefinedFlag(_ k: Int, node: Int) -> D.Bit { d.inputBit(semantics.inputName(.undefinedFlag(k), at: node)) }

    /// `bit` of `v` as a flag.
    func bitOf(_ v: D.Value, _ bit: D.Value) -> D.Bit {
        d.negate(d.equal(d.and(d.shiftRightLogical(v, bit), d.constant(1)), d.constant(0)))
    }

    /// Shifts and rotates (Intel SDM, SAL/SAR/SHL/SHR and RCL/RCR/ROL/ROR): the count is
    /// masked to 5 bits (6 for 64-bit operands); a masked count of 0 changes no flag.
    /// Shifts set CF to the last bit shifted out (undefined when the count is at least
    /// the width, possible for 8- and 16-bit operands), OF only for a count of 1
    /// (undefined otherwise), SF and ZF from the result; rotates (by the count modulo the
    /// width) set only CF and OF. Undefined flags are inputs: any value.
    func shift(_ op: ShiftOp, _ v: D.Value, count raw: D.Value, _ w: Width, _ s: inout MachineState<D>, node: Int) -> D.Value {
        let width = d.constant(UInt64(w.bits))
        let count = d.and(raw, d.constant(w == .q ? 63 : 31))
        let isZero = d.equal(count, d.constant(0))
        let isOne = d.equal(count, d.constant(1))
        // Undefined flags are asked for only where a run may need them.
        func choose(_ c: D.Bit, _ a: () -> D.Bit, _ b: () -> D.Bit) -> D.Bit {
            switch d.known(c) {
            case true?: return a()
            case false?: return b()
            case nil: return d.selectBit(c, a(), b())
            }
        }
        let undefinedCF = { self.undefinedFlag(1, node: node) }, undefinedOF = { self.undefinedFlag(3, node: node) }
        let one = d.constant(1)
        let r: D.Value, cf: D.Bit, of: D.Bit
        switch op {
        case .shl, .shr, .sar:
            let atLeastWidth = d.negate(d.unsignedLess(count, width))
            let lastOut: D.Bit
            switch op {
            case .shl:
                r = mask(d.shiftLeft(v, count), w)
                lastOut = bitOf(v, d.sub(width, count))
                of = choose(isOne, { d.negate(d.equalBits(signOf(r, w), choose(atLeastWidth, undefinedCF, { lastOut }))) }, undefinedOF)
            case .shr:
                r = d.shiftRightLogical(v, count)
                lastOut = bitOf(v, d.sub(count, one))
                of = choose(isOne, { signOf(v, w) }, undefinedOF)
            default:
                let wide = signExtend(v, w)
                r = mask(d.shiftRightArithmetic(wide, count), w)
                lastOut = bitOf(wide, d.sub(count, one))
                of = choose(isOne, { d.bit(false) }, undefinedOF)
            }
            cf = choose(atLeastWidth, undefinedCF, { lastOut })
            let m = mask(r, w)
            let zf = d.equal(m, d.constant(0)), sf = signOf(m, w)
            s.zeroFlag = d.selectBit(isZero, s.zeroFlag, zf)
            s.signFlag = d.selectBit(isZero, s.signFlag, sf)
        case .rol, .ror:
            // 8 and 16 bits rotate by the count modulo the width.
            let c = w == .b || w == .w ? d.and(count, d.constant(UInt64(w.bits - 1))) : count
            let back = d.sub(width, c)
            if op == .rol {
                r = mask(d.or(d.shiftLeft(v, c), d.shiftRightLogical(v, back)), w)
                cf = d.negate(d.equal(d.and(r, one), d.constant(0)))
                of = choose(isOne, { d.negate(d.equalBits(signOf(r, w), cf)) }, undefinedOF)
            } else {
                r = mask(d.or(d.shiftRightLogical(v, c), d.shiftLeft(v, back)), w)
                cf = signOf(r, w)
                let nextBit = d.negate(d.equal(d.and(r, d.constant(1 << UInt64(w.bits - 2))), d.constant(0)))
                of = choose(isOne, { d.negate(d.equalBits(cf, nextBit)) }, undefinedOF)
            }
        }
        s.carryFlag = d.selectBit(isZero, s.carryFlag, cf)
        s.overflowFlag = d.selectBit(isZero, s.overflowFlag, of)
        return r
    }

    // MARK: Step

    /// Executes one node: successor nodes with their states. Exits have none. The state
    /// is consumed: a caller that no longer needs it hands over the only reference, and
    /// the step changes it in place instead of copying it.
    public func step(_ node: Int, _ state: consuming MachineState<D>) throws -> Successors<D> {
        var s = state
        if touchedBox.recording { touchedBox.addresses.removeAll(keepingCapacity: true) }
        if traceNotes.recording { traceNotes.notes.removeAll() }
        // The instruction itself is read only where its words are needed (copying it
        // on every step cost more than most steps' work).
        let index = graph.nodes[node].instruction
        let semantics = self.semantics   // the words' closures must not capture self
        var inst: Instruction { semantics.program.instructions[index] }
        let next = graph.next[node]
        let taken = graph.taken[node]
        func go(_ n: Int?, _ st: consuming MachineState<D>) -> Successors<D> {
            guard let n else { return Successors() }
            return Successors((n, st))
        }

        if graph.nodes[node].choice > 0 {
            return alternativeChoice(node: node, s)
        }
        if graph.nodes[node].choice < 0 {
            return try faultChoice(node: node, s)
        }
        if let why = graph.beyondModel[node] { throw Unsupported(node: node, reason: why) }
        if semantics.hasUnwindAnnotations { try checkUnwindAnnotations(node: node, instruction: index, s) }
        switch program.instructions[index].operation {
        case .noEffect:
            return go(next, s)
        case .trap:
            // The CPU raises an exception: this run ends, and nothing is exited (no exit
            // obligation; a path whose every run traps is unknown, see PathProver).
            return Successors()
        case .shift(let op, let countOperand, let dst, let w):
            let v = try read(dst, w, &s, node: node)
            let count = try read(countOperand, .b, &s, node: node)
            try checkPlacement(inst.operation, [placementValue(dst, read: v, s)], node: node)
            let r = shift(op, v, count: count, w, &s, node: node)
            try write(dst, r, w, &s, node: node, what: "computed by `\(inst.text)`")
            return go(next, s)
        case .extend(let signed, let src, let from, let r, let to):
            let (v, origin) = try readTracing(src, from, &s, node: node)
            try checkPlacement(inst.operation, [placementValue(src, read: v, s)], node: node)
            let wide = signed ? mask(signExtend(v, from), to) : v
            try write(.register(r, to), wide, to, &s, node: node, what: "extended by `\(inst.text)`",
                      source: signed || from != to ? nil : origin)
            return go(next, s)
        case .setCondition(let c, let dst):
            let v = d.select(condition(c, s), d.constant(1), d.constant(0))
            try write(dst, v, .b, &s, node: node, what: "computed by `\(inst.text)`")
            return go(next, s)
        case .compareExchange(let src, let dst, let w):
            let old = try read(dst, w, &s, node: node)
            let accumulator = mask(s[.rax], w)
            let new = try read(src, w, &s, node: node)
            try checkPlacement(inst.operation, [s[.rax], placementValue(dst, read: old, s)], node: node)
            _ = subtract(accumulator, old, w, &s)
            let equal = d.equal(accumulator, old)
            // A memory destination is always written (with itself when they differ); the
            // accumulator only when they differ. A memory operand's address uses the
            // registers' old values, so it is written first.
            let rax = s[.rax]
            func writeAccumulator(_ s: inout MachineState<D>) {
                let loaded = w == .q ? old : w == .l ? old : merge(rax, old, w)
                s[.rax] = d.select(equal, rax, loaded)
                noteRegisterWrite(.rax, &s, node: node)
            }
            if case .memory = dst {
                try write(dst, d.select(equal, new, old), w, &s, node: node, what: "written by `\(inst.text)`")
                writeAccumulator(&s)
            } else if case .register(let r, _) = dst {
                // A register destination is written only when they are equal (the CPU
                // does not write a 32-bit one back, so its upper half stays: the oracle
                // checks this).
                writeAccumulator(&s)
                let before = s[r]
                try write(dst, new, w, &s, node: node, what: "written by `\(inst.text)`")
                s[r] = d.select(equal, s[r], before)
            }
            return go(next, s)
        case .exchangeAdd(let src, let dst, let w):
            let a = try read(src, w, &s, node: node), b = try read(dst, w, &s, node: node)
            try checkPlacement(inst.operation, [placementValue(src, read: a, s), placementValue(dst, read: b, s)], node: node)
            let sum = addition(b, a, w, &s)
            // src = old dst, dst = the sum; a memory destination's address uses the old
            // registers, so it is written first; with one register for both, the sum wins.
            if case .memory = dst {
                try write(dst, sum, w, &s, node: node, what: "computed by `\(inst.text)`")
                try write(src, b, w, &s, node: node, what: "exchanged by `\(inst.text)`")
            } else {
                try write(src, b, w, &s, node: node, what: "exchanged by `\(inst.text)`")
                try write(dst, sum, w, &s, node: node, what: "computed by `\(inst.text)`")
            }
            return go(next, s)
        case .leave:
            // mov %rbp, %rsp; pop %rbp
            s.rsp = s[.rbp]
            guard let cases = stackCases(s.rsp) else { throw Unsupported(node: node, reason: "leave while rbp is not a modelled stack address") }
            checkAccess(s.rsp, width: .q, s, node: node)
            let sl = readSlot(s, cases)
            let origin = tracksOrigins ? loadOrigin(node: node, address: s.rsp, sl) : nil
            s.rsp = d.add(s.rsp, d.constant(8))
            try write(.register(.rbp, .q), sl.value, .q, &s, node: node, what: "popped by `\(inst.text)`", source: origin)
            return go(next, s)
        case .unsupported(let why):
            throw Unsupported(node: node, reason: why)
        case .swapgs:
            s.kernelGS = d.negate(s.kernelGS)
            return go(next, s)
        case .push(let op):
            let v = try read(op, .q, &s, node: node)
            try push(v, &s, node: node, register: op.register, what: op.register.map { "saved \($0.name) (pushed)" } ?? "pushed by `\(inst.text)`")
            return go(next, s)
        case .pop(let op):
            guard let cases = stackCases(s.rsp) else { throw Unsupported(node: node, reason: "pop while rsp is not a modelled stack") }
            checkAccess(s.rsp, width: .q, s, node: node)
            let sl = readSlot(s, cases)
            let origin = tracksOrigins ? loadOrigin(node: node, address: s.rsp, sl) : nil
            s.rsp = d.add(s.rsp, d.constant(8))
            try write(op, sl.value, .q, &s, node: node, what: "popped by `\(inst.text)`", source: origin)
            return go(next, s)
        case .move(let src, let dst, let w):
            let (v, origin) = try readTracing(src, w, &s, node: node)
            try checkPlacement(inst.operation, [placementValue(src, read: v, s)], node: node)
            let saving: Register? = { if case .register(let r, .q) = src { return r }; return nil }()
            func what() -> String {
                switch src {
                case .register(let r, .q): return "saved \(r.name)"
                case .register(let r, .l): return "low half of \(r.name)"
                case .immediate(let k): return "the constant \(k)"
                default: return "stored by `\(inst.text)`"
                }
            }
            try write(dst, v, w, &s, node: node, saving: saving, what: what(), source: origin)
            return go(next, s)
        case .lea(let m, let r):
            s[r] = effectiveAddress(m, s)
            noteRegisterWrite(r, &s, node: node)
            return go(next, s)
        case .loadAddress(let sym, let r):
            s[r] = d.constant(program.symbolAddress(sym) ?? 0)
            noteRegisterWrite(r, &s, node: node)
            return go(next, s)
        case .alu(let op, let src, let dst, let w):
            let b = try read(src, w, &s, node: node)
            let a = try read(dst, w, &s, node: node)
            let r: D.Value
            switch op {
            case .add: r = addition(a, b, w, &s)
            case .sub: r = subtract(a, b, w, &s)
            case .adc: r = additionWithCarry(a, b, w, &s)
            case .sbb: r = subtractionWithBorrow(a, b, w, &s)
            case .and, .or, .xor:
                let raw = op == .and ? d.and(a, b) : op == .or ? d.or(a, b) : d.xor(a, b)
                r = mask(raw, w)
                setFlags(result: r, w, carry: d.bit(false), overflow: d.bit(false), &s)
            }
            try checkPlacement(inst.operation, [placementValue(src, read: b, s), placementValue(dst, read: a, s)], node: node)
            try write(dst, r, w, &s, node: node, what: "computed by `\(inst.text)`")
            return go(next, s)
        case .unary(let op, let dst, let w):
            let a = try read(dst, w, &s, node: node)
            let carry = s.carryFlag
            let r: D.Value
            switch op {
            case .inc: r = addition(a, d.constant(1), w, &s); s.carryFlag = carry
            case .dec: r = subtract(a, d.constant(1), w, &s); s.carryFlag = carry
            case .neg: r = subtract(d.constant(0), a, w, &s)
            case .not: r = mask(d.not(a), w)
            }
            try checkPlacement(inst.operation, [placementValue(dst, read: a, s)], node: node)
            try write(dst, r, w, &s, node: node, what: "computed by `\(inst.text)`")
            return go(next, s)
        case .test(let a, let b, let w):
            let x = try read(a, w, &s, node: node), y = try read(b, w, &s, node: node)
            try checkPlacement(inst.operation, [placementValue(a, read: x, s), placementValue(b, read: y, s)], node: node)
            setFlags(result: d.and(x, y), w, carry: d.bit(false), overflow: d.bit(false), &s)
            return go(next, s)
        case .compare(let a, let b, let w):
            let x = try read(a, w, &s, node: node), y = try read(b, w, &s, node: node)
            try checkPlacement(inst.operation, [placementValue(a, read: x, s), placementValue(b, read: y, s)], node: node)
            _ = subtract(y, x, w, &s)
            return go(next, s)
        case .exchange(let a, let b, let w):
            let x = try read(a, w, &s, node: node), y = try read(b, w, &s, node: node)
            try checkPlacement(inst.operation, [placementValue(a, read: x, s), placementValue(b, read: y, s)], node: node)
            // Both operands are located before either is written: the memory operand's
            // address uses the registers' old values (`xchgq %rax, (%rax)`), so it is
            // written first.
            var writes = [(a, y, b.register), (b, x, a.register)]
            if case .memory = b { writes.reverse() }
            for (op, v, saving) in writes {
                try write(op, v, w, &s, node: node, saving: saving, what: "exchanged by `\(inst.text)`")
            }
            return go(next, s)
        case .conditionalMove(let c, let src, let r):
            let (v, origin) = try readTracing(src, .q, &s, node: node)
            let moved = condition(c, s)
            s[r] = d.select(moved, v, s[r])
            if tracksOrigins {
                let old = s.origins[r.rawValue]
                noteRegisterWrite(r, &s, node: node, from: origin)
                let new = s.origins[r.rawValue]
                s.origins[r.rawValue] = RegisterOrigin(writer: d.select(moved, new.writer, old.writer), load: d.select(moved, new.load, old.load),
                                                       slot: d.select(moved, new.slot, old.slot), slotOrigin: d.select(moved, new.slotOrigin, old.slotOrigin))
            }
            return go(next, s)
        case .jump(.indirect(let r)):
            // The model has no targets for computed jumps: say so rather than guess.
            throw Unsupported(node: node, reason: "indirect jmp through %\(r.name): its target is not modelled")
        case .jump(.external(let name)):
            // A tail call: the function runs on our frame, its return address is the one
            // at rsp, and its ret returns where ours would.
            try callExternal(program.externs[name] ?? .cABI(name), &s, node: node, instruction: index, tail: true)
            return try returnFrom(node: node, &s, byteCount: 0)
        case .jump:
            return go(taken, s)
        case .branch(let c, _):
            checkSpeculationFence(s, node: node)
            let cond = condition(c, s)
            var t = s, f = s
            t.reach = d.both(s.reach, cond)
            f.reach = d.both(s.reach, d.negate(cond))
            // Which GS base is live is often the branch condition itself (the saved
            // `cs & 3` test around swapgs): on each side it is then known.
            func known(_ x: D.Bit, _ value: Bool) -> D.Bit {
                if d.sameBit(x, cond) { return d.bit(value) }
                if d.sameBit(x, d.negate(cond)) { return d.bit(!value) }
                return x
            }
            t.kernelGS = known(s.kernelGS, true)
            f.kernelGS = known(s.kernelGS, false)
            var out = Successors<D>()
            if d.known(t.reach) != false, let n = taken { out.append((n, t)) }
            if d.known(f.reach) != false, let n = next { out.append((n, f)) }
            return out
        case .call(let target):
            switch target {
            case .code(_, let label):
                let ret = d.constant(EntrySetup.returnAddress(ofCallAt: graph.nodes[node].instruction))
                try push(ret, &s, node: node, register: nil, what: "return address of the call to \(label) at line \(inst.location.line)")
                s.shadowStack.append(ShadowEntry(returnAddress: ret, callSite: node, frame: s[.rsp]))
                return go(taken, s)
            case .external(let name):
                try callExternal(program.externs[name] ?? .cABI(name), &s, node: node, instruction: index)
                return go(next, s)
            case .indirect(let r):
                return try callIndirect(through: r, s, node: node, instruction: index, next: next)
            }
        case .ret(let n):
            return try returnFrom(node: node, &s, byteCount: n)
        case .sysret(let w):
            // sysretl: eip = ecx, zero-extended; the user gets rcx's low half.
            if w == .l { s[.rcx] = mask(s[.rcx], .l) }
            checkExit(.sysret, s, node: node, iretFrame: nil)
            return Successors()
        case .sysexit(let w):
            // sysexitl: eip = edx and esp = ecx, zero-extended.
            if w == .l {
                s[.rcx] = mask(s[.rcx], .l)
                s[.rdx] = mask(s[.rdx], .l)
            }
            checkExit(.sysexit, s, node: node, iretFrame: nil)
            return Successors()
        case .pushFlags:
            // rflags is not modelled beyond ZF/CF/SF/OF: push those in their bits.
            let d = self.d
            let bit = { (b: D.Bit, k: UInt64) in d.select(b, d.constant(1 << k), d.constant(0)) }
            let v = d.or(d.or(bit(s.carryFlag, 0), bit(s.zeroFlag, 6)),
                         d.or(bit(s.signFlag, 7), d.or(bit(s.overflowFlag, 11), d.input(semantics.inputName(.otherFlags, at: node)))))
            try push(v, &s, node: node, register: nil, what: "rflags (pushfq)")
            return go(next, s)
        case .popFlags:
            guard let cases = stackCases(s.rsp) else { throw Unsupported(node: node, reason: "popfq while rsp is not a modelled stack") }
            checkAccess(s.rsp, width: .q, s, node: node)
            let v = readSlot(s, cases).value
            let d = self.d
            let bit = { (k: UInt64) in d.negate(d.equal(d.and(v, d.constant(1 << k)), d.constant(0))) }
            s.carryFlag = bit(0); s.zeroFlag = bit(6); s.signFlag = bit(7); s.overflowFlag = bit(11)
            s.rsp = d.add(s.rsp, d.constant(8))
            return go(next, s)
        case .readGSBase(let r):
            s[r] = gsBaseValue(d.input(semantics.inputName(.msrLow, at: node)), s)
            noteRegisterWrite(r, &s, node: node)
            return go(next, s)
        case .writeGSBase(let r):
            s.kernelGS = isKernelGSBase(s[r])
            return go(next, s)
        case .readControlRegister(_, let r):
            s[r] = d.input(semantics.inputName(.msrLow, at: node))
            noteRegisterWrite(r, &s, node: node)
            return go(next, s)
        case .readSegmentRegister(let seg, let dst, let w):
            // A 16-bit selector, zero-extended into a 32- or 64-bit register.
            let selector = mask(d.input(semantics.inputName(.segmentSelector, at: node)), .w)
            try write(dst, selector, w, &s, node: node, what: "the %\(seg) selector (`\(inst.text)`)")
            return go(next, s)
        case .writeSegmentRegister(let seg, let src):
            _ = try read(src, .w, &s, node: node)
            if seg == "gs" {
                // The kernel loads %gs only inside a swapgs pair (load_gs_index): with the
                // kernel's base live the load would lose it.
                require(.gsParity, node, "gs load", d.negate(s.kernelGS), s,
                        "loading %gs replaces the live GS base: it must run with the user's base live (inside a swapgs pair), or the kernel's per-CPU base is lost")
                // The live GS base is replaced: zero (a null selector on Intel) or a 32-bit
                // descriptor base, never the kernel's per-CPU base; on AMD a null selector
                // keeps the old base. Either may happen.
                s.kernelGS = d.selectBit(d.inputBit(semantics.inputName(.segmentBaseKept, at: node)), s.kernelGS, d.bit(false))
            }
            return go(next, s)
        case .loadSegmentLimit(let src, let r, let w):
            _ = try read(src, .w, &s, node: node)
            let valid = d.inputBit(semantics.inputName(.segmentLimitValid, at: node))
            s.zeroFlag = valid
            // A valid selector: the register gets the limit (32 bits, zero-extended; the
            // 16-bit form its low half); else it keeps its value.
            let limit = mask(d.input(semantics.inputName(.segmentSelector, at: node)), .l)
            let loaded = w == .w ? merge(s[r], limit, .w) : limit
            s[r] = d.select(valid, loaded, s[r])
            noteRegisterWrite(r, &s, node: node)
            return go(next, s)
        case .verifySegmentWrite(let src):
            _ = try read(src, .w, &s, node: node)
            s.zeroFlag = d.inputBit(semantics.inputName(.segmentLimitValid, at: node))
            return go(next, s)
        case .readMSR:
            s[.rax] = d.low32(d.input(semantics.inputName(.msrLow, at: node)))
            s[.rdx] = gsBaseHigh(d.low32(d.input(semantics.inputName(.msrHigh, at: node))), ecx: s[.rcx], s)
            noteRegisterWrite(.rax, &s, node: node)
            noteRegisterWrite(.rdx, &s, node: node)
            return go(next, s)
        case .bitTest(let kind, .immediate(let n), let dst, let w):
            let v = try read(dst, w, &s, node: node)
            try checkPlacement(inst.operation, [placementValue(dst, read: v, s)], node: node)
            let bitMask = d.constant(1 << UInt64(n & Int64(w.bits - 1)))
            let carry = d.negate(d.equal(d.and(v, bitMask), d.constant(0)))
            s.carryFlag = carry
            // SF and OF are undefined after bt*: any value (ZF is left as it was).
            s.signFlag = undefinedFlag(2, node: node)
            s.overflowFlag = undefinedFlag(3, node: node)
            switch kind {
            case "bts": try write(dst, d.or(v, bitMask), w, &s, node: node, what: "computed by `\(inst.text)`")
            case "btr": try write(dst, d.and(v, d.not(bitMask)), w, &s, node: node, what: "computed by `\(inst.text)`")
            case "btc": try write(dst, d.xor(v, bitMask), w, &s, node: node, what: "computed by `\(inst.text)`")
            default: break
            }
            return go(next, s)
        case .bitTest:
            throw Unsupported(node: node, reason: "bit test with a register bit number")
        case .iret:
            guard let cases = stackCases(s.rsp) else { throw Unsupported(node: node, reason: "iretq while rsp is not a modelled stack") }
            var frame: [String: D.Value] = [:]
            for (k, name) in ["ip", "cs", "flags", "sp", "ss"].enumerated() {
                let off = d.constant(UInt64(k * 8))
                checkAccess(d.add(s.rsp, off), width: .q, s, node: node)
                frame[name] = readSlot(s, cases.map { ($0.0, $0.1 &+ UInt64(k * 8)) }).value
            }
            checkExit(.iret, s, node: node, iretFrame: frame)
            return Successors()
        }
    }

    /// What a `moves-frame=` function copies: the pt_regs its pointer argument names,
    /// read whole before any of it is written, and the top of the stack it goes to.
    func copyFrame(_ c: ExternContract, to variable: String, _ s: MachineState<D>, node: Int) throws -> (UInt64, [StackSlot<D.Value>]) {
        guard let top = setup.regions.first(where: { $0.name == variable })?.base else {
            throw Unsupported(node: node, reason: "\(c.name) copies the frame to \(variable), which is not a modelled stack")
        }
        let base: D.Value
        switch c.ptRegs ?? .register(.rdi) {
        case .register(let r): base = s[r]
        case .stackOffset(let off): base = d.add(s.rsp, d.constant(UInt64(bitPattern: off)))
        }
        guard let cases = stackCases(base) else {
            throw Unsupported(node: node, reason: "\(c.name) gets a pt_regs pointer that is not a modelled stack address")
        }
        let words = UInt64(Layout.ptRegs.size) / 8
        let slots = (0..<words).map { k in readSlot(s, cases.map { ($0.0, $0.1 &+ 8 * k) }) }
        return (top, slots)
    }

    /// `call *%reg`. A target the run knows — one value, or a choice among values (a
    /// `cmov` between two functions' addresses) — is called with its own contract, each
    /// under its own condition; only a target with no known value takes the catch-all
    /// `indirect` contract. A target that is (or may be) a label of the path's own code
    /// would need the call followed into that code, which the model does not do: the
    /// path is then unknown, never checked as a call to C.
    func callIndirect(through r: Register, _ state: consuming MachineState<D>, node: Int, instruction: Int, next: Int?) throws -> Successors<D> {
        let s = state
        let externs = setup.symbolAddresses
        func local(_ a: UInt64) -> String? {
            program.labels.first { Program.codeAddress($0.value) == a }?.key
        }
        guard let cases = d.cases(s[r]), !cases.isEmpty else {
            if let (label, line) = semantics.addressTakenLabel {
                throw Unsupported(node: node, reason: "indirect call through %\(r.name) to a target with no known value, which may be the local label '\(label)' (its address is taken at line \(line)): calls into the path's own code through a register are not modelled")
            }
            guard let c = program.externs.values.first(where: \.isIndirectTarget) else {
                throw Unsupported(node: node, reason: "indirect call through %\(r.name): its target is not a known external function (declare the contract of such calls with '.extern NAME indirect')")
            }
            var t = s
            try callExternal(c, &t, node: node, instruction: instruction)
            return next.map { Successors(($0, t)) } ?? Successors()
        }
        var out = Successors<D>()
        for (g, a) in cases where d.known(g) != false {
            let contract: ExternContract
            if let name = externs.first(where: { $0.value == a })?.key, local(a) == nil || program.externs[name] != nil {
                contract = program.externs[name] ?? .cABI(name)
            } else if let label = local(a) {
                throw Unsupported(node: node, reason: "indirect call through %\(r.name) to the local label '\(label)': calls into the path's own code through a register are not modelled (call the label directly)")
            } else if let c = program.externs.values.first(where: \.isIndirectTarget) {
                // An address no function of the model has is a function outside it: the
                // contract of unresolved calls (as for a value with no known cases — and
                // in a concrete replay every value is known).
                contract = c
            } else {
                throw Unsupported(node: node, reason: "indirect call through %\(r.name) to 0x\(String(a, radix: 16)), which is no known function (declare the contract of such calls with '.extern NAME indirect')")
            }
            var t = s
            t.reach = d.both(s.reach, g)
            try callExternal(contract, &t, node: node, instruction: instruction)
            if let n = next { out.append((n, t)) }
        }
        return out
    }

    /// At an ALTERNATIVE site: whether the CPU has the feature of one arm. One input per
    /// feature, so every site patched on the same feature is patched in the same runs.
    func alternativeChoice(node: Int, _ s: MachineState<D>) -> Successors<D> {
        let n = graph.nodes[node]
        guard let arms = program.alternatives[n.instruction], arms.indices.contains(n.choice - 1) else {
            return graph.next[node].map { Successors(($0, s)) } ?? Successors()
        }
        let feature = arms[n.choice - 1].feature
        // `.assume feature`: the CPU's answer is fixed for the whole path.
        let has = path.assumptions.first { $0.feature == feature }.map { d.bit($0.taken) } ?? d.inputBit(Self.featureInput(feature))
        var patched = s, original = s
        patched.reach = d.both(s.reach, has)
        original.reach = d.both(s.reach, d.negate(has))
        var out = Successors<D>()
        if d.known(patched.reach) != false, let t = graph.taken[node] { out.append((t, patched)) }
        if d.known(original.reach) != false, let f = graph.next[node] { out.append((f, original)) }
        return out
    }

    /// At an instruction with an exception-table entry: whether it faults. A run that
    /// faults goes to the fixup with its state as before the instruction (the handler
    /// returns there by iret, which restores rsp and the flags; the GS base as said
    /// below); one input per node.
    func faultChoice(node: Int, _ s: MachineState<D>) throws -> Successors<D> {
        let n = graph.nodes[node]
        guard let f = program.faultFixups[n.instruction] else {
            return graph.next[node].map { Successors(($0, s)) } ?? Successors()
        }
        let faults = d.inputBit(Self.faultInput(node: node))
        var faulted = s, ran = s
        faulted.reach = d.both(s.reach, faults)
        // Exception recovery runs the fixup with the kernel's GS base: a fault with it
        // live returns with it, and one with the user's (an iretq or a %gs load between
        // swapgs) arrives at a handler that must recognise the site and swap — the
        // handler's own path checks that — as the kernel's fixups (bad_gs) expect.
        checkGSAtFault(program.instructions[n.instruction].operation, faults, s, node: node)
        faulted.kernelGS = d.bit(true)
        ran.reach = d.both(s.reach, d.negate(faults))
        var out = Successors<D>()
        if d.known(faulted.reach) != false, let t = graph.taken[node] {
            if let why = f.unmodelledHandler {
                throw Unsupported(node: node, reason: "a fault here goes to the handler of its \(why), which the model does not follow")
            }
            out.append((t, faulted))
        }
        if d.known(ran.reach) != false, let r = graph.next[node] { out.append((r, ran)) }
        return out
    }

    /// The input that says whether the instruction at a node faults.
    public static func faultInput(node: Int) -> String { "fault@\(node)" }

    /// The input that says whether the CPU has a feature (an ALTERNATIVE's choice).
    public static func featureInput(_ feature: String) -> String { "cpu.feature[\(feature)]" }

    /// `ret $n` (or the ret of a tail-called function): pops the return address and
    /// goes to the call it returns to, or leaves the path.
    func returnFrom(node: Int, _ s: inout MachineState<D>, byteCount n: Int64) throws -> Successors<D> {
        let taken = graph.taken[node]
        guard let cases = stackCases(s.rsp) else { throw Unsupported(node: node, reason: "ret while rsp is not a modelled stack") }
        checkAccess(s.rsp, width: .q, s, node: node)
        let popped = readSlot(s, cases).value
        checkReturn(popped, s, node: node)
        s.rsp = d.add(s.rsp, d.constant(8 &+ UInt64(n)))
        if let top = s.shadowStack.popLast(), taken != nil {
            // The model follows a ret only to the call it returns to; a run whose
            // ret goes elsewhere has broken the return stack (reported) and is not
            // followed further, rather than continued where the CPU would not go.
            let matches = d.equal(popped, top.returnAddress)
            // Except one that pops the path's own return address (a callee that dropped
            // its own): it leaves the path there, and is checked as the exit it is.
            if let caller = s.shadowStack.first, caller.callSite == nil {
                var leaving = s
                leaving.reach = d.both(s.reach, d.both(d.negate(matches), d.equal(popped, caller.returnAddress)))
                leaving.shadowStack.removeFirst()
                if d.known(leaving.reach) != false { checkExit(.ret, leaving, node: node, iretFrame: nil) }
            }
            s.reach = d.both(s.reach, matches)
        }
        if taken == nil { checkExit(.ret, s, node: node, iretFrame: nil) }
        guard let taken else { return Successors() }
        return Successors((taken, s))
    }

    /// `tail`: a `jmp` to the function, whose return address is already at rsp.
    func callExternal(_ c: ExternContract, _ s: inout MachineState<D>, node: Int, instruction: Int, tail: Bool = false) throws {
        let semantics = self.semantics
        checkGSAtCall(c, s, node: node)
        try checkCallArguments(c, s, node: node)
        // `result=arg:REG` returns what REG held at the call.
        let returnedArgument: D.Value? = if case .argument(let r)? = c.result { s[r] } else { nil }
        // The callee runs on our stack: the return address goes below rsp.
        let rsp = s.rsp
        if !tail {
            try push(d.constant(EntrySetup.returnAddress(ofCallAt: graph.nodes[node].instruction)), &s, node: node, register: nil,
                     what: "return address of the call to \(c.name) at line \(semantics.program.instructions[instruction].location.line)")
        }
        s.rsp = rsp
        if let p = c.ptRegs {
            let base: D.Value
            switch p {
            case .register(let r): base = s[r]
            case .stackOffset(let off): base = d.add(s.rsp, d.constant(UInt64(bitPattern: off)))
            }
            guard let cases = stackCases(base) else {
                throw Unsupported(node: node, reason: "\(c.name) gets a pt_regs pointer that is not a modelled stack address")
            }
            // C reads and writes the whole struct it is given: its top word must lie in
            // the path's frame (a function path's pt_regs above its return address is the
            // caller's frame).
            checkAccess(d.add(base, d.constant(UInt64(bitPattern: Layout.ptRegs.size - 8))), width: .q, s, node: node)
            // A stop happens on every call, or — `maystop` — only in the runs an input picks
            // (syscall_trace_enter runs only when TIF work flags are set).
            let stops: D.Bit = c.isPtraceStop && c.mayStop ? d.inputBit(semantics.inputName(.ptraceStop, at: node)) : d.bit(true)
            checkObservation(by: c, ptRegs: cases, s, node: node, happens: stops)
            if c.isPtraceStop || !c.writes.isEmpty {
                let (observed, written) = semantics.contractFields(c)
                var tracerWrote: [String] = []
                for (k, f) in Layout.ptRegs.fields.enumerated() where (c.isPtraceStop && observed[k]) || written[k] {
                    let fieldCases = cases.map { ($0.0, $0.1 &+ UInt64(f.offset)) }
                    if written[k] {
                        // The function itself sets the field (execve, sigreturn): a new user value.
                        let v = writtenFieldValue(d.input(semantics.inputName(.contractWrite(field: k), at: node)), field: f.userName,
                                                  old: nil)
                        let ev = d.constant(EventID.at(node: node, k + 1))
                        noteEvent(EventID.at(node: node, k + 1), "new \(f.userName) set by \(c.name)")
                        writeSlot(&s, fieldCases) { _ in StackSlot(value: v, origin: ev) }
                        s.user.values[k] = v
                        s.user.known[k] = nil
                    }
                    guard c.isPtraceStop && observed[k] else { continue }
                    // A tracer may be attached, and may write the field or leave it: the
                    // slot and the user's value are ite(wrote, ptrace value, as before),
                    // so runs where it writes nothing, some fields or all are all checked.
                    let wrote = d.both(stops, d.inputBit(semantics.inputName(.ptraceWrote(field: k), at: node)))
                    let v = writtenFieldValue(d.input(semantics.inputName(.ptraceWrite(field: k), at: node)), field: f.userName,
                                              old: readSlot(s, fieldCases).value)
                    let event = EventID.at(node: node, k + 1 + 32)
                    noteEvent(event, "ptrace value of \(f.userName) written at the \(c.name) stop")
                    let ev = d.constant(event)
                    writeSlot(&s, fieldCases) { old in
                        StackSlot(value: d.select(wrote, v, old.value), origin: d.select(wrote, ev, old.origin))
                    }
                    // A value defined in no run (SYSENTER's ip and flags, the kernel's to
                    // choose) is no obligation's: it is taken as undefined, below.
                    if let old = s.user.values[k], d.known(s.user.known[k] ?? d.bit(true)) != false {
                        s.user.values[k] = d.select(wrote, v, old)
                        if let known = s.user.known[k] {
                            let k2 = d.either(wrote, known)
                            s.user.known[k] = d.known(k2) == true ? nil : k2
                        }
                    } else {
                        // No run reaching here defines the field: defined where the tracer
                        // wrote it. Where it is defined this is v; as the slot's own term
                        // (which is v there too), a loop head keeps "field = user value".
                        s.user.values[k] = readSlot(s, fieldCases).value
                        s.user.known[k] = d.known(wrote) == true ? nil : wrote
                    }
                    if traceNotes.recording, d.known(wrote) == true { tracerWrote.append(f.userName) }
                }
                if traceNotes.recording && c.isPtraceStop {
                    if d.known(stops) == false {
                        traceNotes.notes.append("no stop: \(c.name) did not stop for a tracer in this run")
                    } else if tracerWrote.isEmpty {
                        traceNotes.notes.append("tracer stop: the tracer wrote no field")
                    } else {
                        traceNotes.notes.append("tracer stop: the tracer wrote \(tracerWrote.joined(separator: ", ")); every other field is as it was")
                    }
                }
            }
        }
        let frameCopy = try c.movesFrameTo.map { try copyFrame(c, to: $0, s, node: node) }
        for r in c.clobbers.sorted() {
            s[r] = d.input(semantics.inputName(.clobbered(r), at: node))
            noteRegisterWrite(r, &s, node: node)
        }
        // After a stop: `result=syscall-nr` is the number as the tracer left it.
        if let r = c.result { s[.rax] = try callResultValue(r, c, argument: returnedArgument, after: s, node: node) }
        if let (top, slots) = frameCopy {
            let base = top &- UInt64(Layout.ptRegs.size)
            for (k, sl) in slots.enumerated() { writeSlot(&s, [(d.bit(true), base &+ UInt64(8 * k))]) { _ in sl } }
            s[.rax] = d.constant(base)
            s.movedFrameTop = d.constant(top)
        }
        s.zeroFlag = d.inputBit(semantics.inputName(.clobberedFlag(0), at: node))
        s.carryFlag = d.inputBit(semantics.inputName(.clobberedFlag(1), at: node))
        s.signFlag = d.inputBit(semantics.inputName(.clobberedFlag(2), at: node))
        s.overflowFlag = d.inputBit(semantics.inputName(.clobberedFlag(3), at: node))
    }

    /// Names an event the first time any run of the path makes it: a node's events
    /// always have the same words, and building them on every pass and run was a tenth
    /// of a step.
    func noteEvent(_ event: UInt64, _ what: @autoclosure () -> String) {
        semantics.noteEvent(event, what())
    }

    // MARK: Obligations

    /// Records an obligation. Its words are built only when it is kept: most claims are
    /// decided by construction, and formatting them is most of the cost of a step.
    func require(_ inv: Invariant, _ node: Int, _ key: @autoclosure () -> String, _ claim: D.Bit, _ s: MachineState<D>,
                 _ requirement: @autoclosure () -> String, values: @autoclosure () -> [(String, D.Value)] = [], blame: D.Value? = nil) {
        if d.known(s.reach) == false { return }
        if d.known(claim) == true && !keepDecided {
            log.heldByConstruction |= inv.bit
            return
        }
        log.items.append(Obligation(invariant: inv, node: node, key: key(), claim: claim, reach: s.reach,
                                    requirement: buildsWords ? requirement() : "", values: buildsWords ? values() : [], blame: blame))
    }

    public enum ExitKind: String {
        case ret, sysret, sysexit, iret
        var instruction: String { self == .ret ? "ret" : self == .iret ? "iretq" : self == .sysret ? "sysretq" : "sysexit" }
    }

    func describeSlot(_ a: UInt64) -> String {
        if let f = setup.fieldAt[a] { return "pt_regs.\(f.userName) (\(setup.describe(address: a)))" }
        return setup.describe(address: a)
    }

    func checkExit(_ kind: ExitKind, _ s: MachineState<D>, node: Int, iretFrame: [String: D.Value]?) {
        if d.known(s.reach) != false {
            log.exits.append(Obligation(invariant: .frameBalance, node: node, key: "exit", claim: d.bit(false), reach: s.reach,
                                        requirement: "some run reaches an exit"))
        }
        checkRestoreAtExit(kind, s, node: node)
        checkFrameAtExit(kind, s, node: node)
        checkPtraceAtExit(kind, s, node: node, iretFrame: iretFrame)
        checkReturnStackAtExit(kind, s, node: node)
        checkGSAtExit(kind, s, node: node, iretFrame: iretFrame)
        checkSysretAtExit(kind, s, node: node)
    }
}

/// Where a step goes: nowhere (an exit), one node, or both sides of a branch — held
/// inline (an array per step was the most frequent allocation of a run).
public struct Successors<D: ValueDomain>: RandomAccessCollection {
    private var first: (Int, MachineState<D>)?
    private var second: (Int, MachineState<D>)?
    /// More than two: an indirect call to one of several known functions.
    private var rest: [(Int, MachineState<D>)] = []
    public init() {}
    init(_ only: (Int, MachineState<D>)) { first = only }

    mutating func append(_ s: (Int, MachineState<D>)) {
        if first == nil { first = s } else if second == nil { second = s } else { rest.append(s) }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { first == nil ? 0 : second == nil ? 1 : 2 + rest.count }
    public subscript(i: Int) -> (Int, MachineState<D>) {
        if i >= 2 { return rest[i - 2] }
        guard let s = i == 0 ? first : second else { preconditionFailure("successor \(i) of \(endIndex)") }
        return s
    }
}

extension Interpreter {
    /// A value for messages: stack addresses by region, constants in hex.
    public func describeValue(_ v: D.Value) -> String {
        guard let k = d.knownValue(v) else {
            // A merged value can print as thousands of characters: a message shows its
            // start and says that it is not one known value.
            if let cases = d.cases(v), cases.count <= 4, cases.allSatisfy({ setup.region(of: $0.1) != nil }) {
                return "one of " + cases.map { setup.describe(address: $0.1) }.joined(separator: ", ")
            }
            let text = "\(v)"
            return text.count <= 120 ? text : "a value with no fixed address (" + text.prefix(100) + "…)"
        }
        if setup.region(of: k) != nil { return setup.describe(address: k) }
        return "0x" + String(k, radix: 16)
    }
}

/// The stack addresses of the current step, kept only for runs that record a trace.
final class TouchedAddresses {
    @exclusivity(unchecked) var recording = false
    @exclusivity(unchecked) var addresses: [UInt64] = []
}

/// The current step's notes, kept only for runs that record a trace.
final class TraceNotes {
    @exclusivity(unchecked) var recording = false
    @exclusivity(unchecked) var notes: [String] = []
}

extension Interpreter {
    /// Keep the step's touched slots and notes (a replay that records its trace shows them).
    public func recordTouchedSlots() {
        touchedBox.recording = true
        traceNotes.recording = true
    }

    func noteTouched(_ cases: [(D.Bit, UInt64)]) {
        guard touchedBox.recording else { return }
        for (_, a) in cases where !touchedBox.addresses.contains(a) { touchedBox.addresses.append(a) }
    }
}

/// Whether every register-relative memory access of a run resolved to known stack slots
/// (then its obligations cover every check a concrete run of the path makes).
final class AddressCoverage {
    var everyAddressResolved = true
}

// The helper objects below belong to one run (or one path's runs) on one thread:
// their fields skip the runtime's exclusivity checks, which cost as much as the work.
final class ObligationLog<D: ValueDomain> {
    @exclusivity(unchecked) var items: [Obligation<D>] = []
    /// The invariants with an obligation that held by construction and was not kept
    /// (a bit each, in `Invariant.allCases` order): the term simplifier decided them.
    @exclusivity(unchecked) var heldByConstruction: UInt8 = 0
    /// Claims the run assumed after recording them as obligations (`cutAtUserGSBase`):
    /// the verdicts of the other invariants hold only if these do.
    @exclusivity(unchecked) var assumed: [Obligation<D>] = []
    /// Every exit the run reaches, as an obligation whose claim is false: the path
    /// condition under which it is reached (no run reaching any of them leaves every
    /// exit obligation true of no run at all).
    @exclusivity(unchecked) var exits: [Obligation<D>] = []
}

final class InputCache<D: ValueDomain> {
    @exclusivity(unchecked) var pointers: [D.Value?] = []
    /// The interrupted context's registers as the path finds them (the unwind
    /// annotations' "value at entry"), built once per run.
    @exclusivity(unchecked) var entryContext: UserView<D>?
}

final class UntouchedSlots<D: ValueDomain> {
    @exclusivity(unchecked) var slots: [UInt64: StackSlot<D.Value>] = [:]
}

extension Interpreter {
    /// The user's value of a pt_regs field and the condition under which it is
    /// defined; nil when no run reaching here defines it.
    func userField(_ s: MachineState<D>, _ field: String) -> (value: D.Value, known: D.Bit)? {
        guard let i = PtRegsField.index(field), let v = s.user.values[i] else { return nil }
        return (v, s.user.known[i] ?? d.bit(true))
    }

    /// Whether `a` is the user's value `b` of `field` as the user task sees it: all 64
    /// bits, or for a 32-bit task (`abi=32`) the low 32 of eax…edi, eip, esp, eflags
    /// and orig_ax. nil: the task cannot see the field (r8–r15 of a 32-bit task).
    func userAgree(_ a: D.Value, _ b: D.Value, field: String) -> D.Bit? {
        guard path.userIs32Bit else { return d.equal(a, b) }
        switch field {
        case "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15": return nil
        case "cs", "ss": return d.equal(a, b)
        default: return d.equal(d.low32(a), d.low32(b))
        }
    }

    /// Whether the user's value of `field` is compared by its low 32 bits (`userAgree`):
    /// a loop head may let a zero-extended slot stand for it (the high half is checked
    /// only as "its own or zero").
    func userSeesLowHalfOnly(field: String) -> Bool {
        guard path.userIs32Bit else { return false }
        switch field {
        case "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "cs", "ss": return false
        default: return true
        }
    }

    /// `claim` where the user's field is defined: `known → claim`.
    func whereKnown(_ known: D.Bit, _ claim: D.Bit) -> D.Bit { d.either(d.negate(known), claim) }

    func setUser(_ s: inout MachineState<D>, _ field: String, _ v: D.Value) {
        guard let i = PtRegsField.index(field) else { return }
        s.user.values[i] = v
        s.user.known[i] = nil
    }
}

final class SelectorCount {
    var count = 0
}

/// What every run of one path graph reads and never changes — the program, the path,
/// its graph and entry picture — and the words runs share: event names and input names
/// depend only on the node, so the proof run's passes, the probes and the replays of a
/// path build each once. One object per graph, used by one thread.
public final class PathSemantics {
    public let program: Program
    public let path: PathSpec
    public let graph: PathGraph
    public let setup: EntrySetup
    let pointerInputs: [String]
    /// Whether the code has `.cfi_*` rows or unwind hints to check.
    let hasUnwindAnnotations: Bool
    /// Event id → what the write was.
    @exclusivity(unchecked) private var events: [UInt64: String] = [:]
    /// For an unrolled graph, the plain graph's semantics: a copy of a node writes what
    /// the node writes, so its words are the node's (built once, not once per graph).
    let nodeWords: PathSemantics?

    /// Names an event the first time any run of the path makes it.
    func noteEvent(_ event: UInt64, _ what: @autoclosure () -> String) {
        if let plain = nodeWords, let n = EventID.node(of: event) {
            plain.noteEvent(EventID.at(node: graph.original[n], Int(event % 64)), what())
        } else if events[event] == nil {
            events[event] = what()
        }
    }

    func eventWords(_ event: UInt64) -> String? {
        if let plain = nodeWords, let n = EventID.node(of: event) {
            return plain.eventWords(EventID.at(node: graph.original[n], Int(event % 64)))
        }
        return events[event]
    }
    @exclusivity(unchecked) private var inputNames: [Int: String] = [:]
    @exclusivity(unchecked) private var lineNames: [Int: String] = [:]
    @exclusivity(unchecked) private var instructionNames: [Int: String] = [:]

    /// Where a node's instruction is, for words: `line 5`, or `retint.after.ptsh:35` when
    /// it is not in the path's file. Built once per node.
    func lineWords(node: Int) -> String {
        if let w = lineNames[node] { return w }
        let l = program.instructions[graph.nodes[node].instruction].location
        let w: String
        if l.file == path.location.file {
            w = "line \(l.line)"
        } else {
            let name = l.file.lastIndex(of: "/").map { l.file[l.file.index(after: $0)...] } ?? l.file[...]
            w = "\(name):\(l.line)"
        }
        lineNames[node] = w
        return w
    }

    /// `` `popq %rbx` (line 5) ``, built once per node.
    func instructionWords(node: Int) -> String {
        if let w = instructionNames[node] { return w }
        let w = "`\(program.instructions[graph.nodes[node].instruction].text)` (\(lineWords(node: node)))"
        instructionNames[node] = w
        return w
    }
    @exclusivity(unchecked) private var garbageNames: [UInt64: String] = [:]
    /// The unfenced routes of each GS-deciding branch (`SpeculationFence.swift`).
    @exclusivity(unchecked) var speculationGapCache: [Int: [SpeculationGap]] = [:]

    @exclusivity(unchecked) private var contractFieldMasks: [String: (observed: [Bool], written: [Bool])] = [:]

    /// Which pt_regs fields a contract observes and writes, by position (looked up by
    /// name once per contract, not on every call of every run; an indirect call's
    /// contract depends on the run, so they are kept by contract, not by node).
    func contractFields(_ c: ExternContract) -> (observed: [Bool], written: [Bool]) {
        if let m = contractFieldMasks[c.name] { return m }
        let m = (PtRegsField.named(c.observes), PtRegsField.named(c.writes))
        contractFieldMasks[c.name] = m
        return m
    }

    /// The input a never-written slot reads: `garbage[kernel_stack-0x28]`.
    func garbageName(_ a: UInt64) -> String {
        if let n = garbageNames[a] { return n }
        let n = "garbage[\(setup.describe(address: a))]"
        garbageNames[a] = n
        return n
    }

    /// `unrolling`: the plain graph's semantics when `graph` unrolls it.
    public init(program: Program, path: PathSpec, graph: PathGraph, setup: EntrySetup? = nil, unrolling plain: PathSemantics? = nil) {
        self.program = program
        self.path = path
        self.graph = graph
        nodeWords = plain
        self.setup = setup ?? EntrySetup(program: program, path: path)
        pointerInputs = program.perCPU.filter { $0.value == .pointer }.keys.sorted().map { "percpu.\($0)" }
        hasUnwindAnnotations = path.checksUnwindAnnotations && (!program.unwindRows.isEmpty || !program.unwindHints.isEmpty)
        addressTakenLabel = program.instructions.lazy.compactMap { i -> (String, Int)? in
            if case .loadAddress(let sym, _) = i.operation, program.labels[sym] != nil, program.externs[sym] == nil { return (sym, i.location.line) }
            return nil
        }.first
    }

    /// A label of the path's own code whose address an instruction loads (`leaq
    /// label(%rip), %rax`), with that instruction's line: a computed call may go there.
    let addressTakenLabel: (String, Int)?

    /// Kinds of input a node reads, each at most once per node; an input's name is its
    /// kind and node (`clobbered.rax@12`, `ptrace.cx@40`).
    enum InputKind {
        case clobbered(Register), clobberedFlag(Int), ptraceWrite(field: Int), contractWrite(field: Int)
        /// Whether a tracer wrote a field at a stop; whether a `maystop` call stopped.
        case ptraceWrote(field: Int), ptraceStop
        case otherFlags, msrLow, msrHigh
        /// A segment selector or limit read; whether a selector is valid (lsl, verw);
        /// whether loading %gs kept the old base (AMD, null selector).
        case segmentSelector, segmentLimitValid, segmentBaseKept
        /// A flag (0 zf, 1 cf, 2 sf, 3 of) an instruction leaves undefined.
        case undefinedFlag(Int)
        /// A small number per kind, so (node, kind) is one integer key.
        var tag: Int {
            switch self {
            case .undefinedFlag(let k): return 24 + k
            case .clobbered(let r): return r.rawValue
            case .clobberedFlag(let k): return 16 + k
            case .otherFlags: return 20
            case .msrLow: return 21
            case .msrHigh: return 22
            case .ptraceStop: return 23
            case .segmentSelector: return 28
            case .segmentLimitValid: return 29
            case .segmentBaseKept: return 30
            case .ptraceWrote(let f): return 192 + f
            case .ptraceWrite(let f): return 64 + f
            case .contractWrite(let f): return 128 + f
            }
        }

        func name(at node: Int) -> String {
            switch self {
            case .clobbered(let r): return "clobbered.\(r.name)@\(node)"
            case .clobberedFlag(let k): return "clobbered.\(["zf", "cf", "sf", "of"][k])@\(node)"
            case .undefinedFlag(let k): return "undefined.\(["zf", "cf", "sf", "of"][k])@\(node)"
            case .otherFlags: return "rflags.other@\(node)"
            case .msrLow: return "msr.low@\(node)"
            case .msrHigh: return "msr.high@\(node)"
            case .ptraceWrite(let f): return "ptrace.\(Layout.ptRegs.fields[f].userName)@\(node)"
            case .ptraceWrote(let f): return "ptrace.wrote.\(Layout.ptRegs.fields[f].userName)@\(node)"
            case .ptraceStop: return "ptrace.stop@\(node)"
            case .segmentSelector: return "segment@\(node)"
            case .segmentLimitValid: return "segment.valid@\(node)"
            case .segmentBaseKept: return "gs.base-kept@\(node)"
            case .contractWrite(let f): return "set.\(Layout.ptRegs.fields[f].userName)@\(node)"
            }
        }
    }

    /// The name of an input a node reads, built the first time.
    func inputName(_ kind: InputKind, at node: Int) -> String {
        let key = node << 8 | kind.tag
        if let n = inputNames[key] { return n }
        let n = kind.name(at: node)
        inputNames[key] = n
        return n
    }
}

extension Invariant {
    /// The invariant's bit in `ObligationLog.heldByConstruction`: its place in `allCases`.
    var bit: UInt8 { UInt8(1) << UInt8(truncatingIfNeeded: Invariant.order.firstIndex(of: self) ?? 0) }
    /// `allCases` once: the synthesized property builds a new array on every use, and
    /// `bit` is read on every obligation decided by construction.
    static let order = Invariant.allCases
}
