import SpecElaboration

/// Invariant 1 — every restore matches a save (docs/model.md, "1. Restore matches save"), judged where the value
/// is *observed*.
///
/// A register's value is wrong only where someone relies on it: at an exit that gives
/// it back — the callee-saved registers (or the path's `preserves=`) at the path's
/// `ret`, the user's registers at `sysretq` (except rcx/r11, which sysret overwrites),
/// `sysexit` (except rcx/rdx) and `iretq`; on system-call paths the user's rax is the
/// result the kernel stored in pt_regs.ax (unchecked if it stored none), and after a
/// ptrace stop a field's user value is what the tracer wrote, if it wrote. What C code
/// and tracers read in pt_regs is invariant 3's (PtraceConsistency.swift). Loads and
/// pops in between are not obligations: a callee-saved register used as scratch after
/// its value was spilled, and popped back before `ret`, is correct; so is a value that
/// reaches its slot through a scratch register.
///
/// A violation is blamed by provenance (`MachineState.origins`): on the instruction that put the wrong value in the register —
/// the restore that read a never-written slot, another register's save, a slot
/// overwritten in between, an off-by-8 offset — with the slot it read and what that
/// slot held; the exit stays in the words. The blamed instruction is part of the site,
/// so a second wrong value from another instruction is not hidden by a known one.
extension Interpreter {
    func checkRestoreAtExit(_ kind: ExitKind, _ s: MachineState<D>, node: Int) {
        // The IST stack pointer (`ist=`): shifted around the handler call at most, and
        // given back as the entry found it — or the next exception of the vector runs
        // on a stack a little lower each time, and finally off its end.
        if let v = path.istVariable, let now = s.perCPU[v] {
            let atEntry = d.input("percpu.\(v)")
            require(.restoreMatchesSave, node, "preserve ist", d.equal(now, atEntry), s,
                    "the IST stack pointer \(v) must be as the entry found it \(exitWords(kind, node: node))",
                    values: [(v, now), ("at entry", atEntry)])
        }
        for (r, value, known, field) in observedAtExit(kind, s) {
            guard var agree = field.map({ userAgree(s[r], value, field: $0) }) ?? d.equal(s[r], value) else {
                checkCompatHighRegister(r, user: value, known: known, kind, s, node: node)
                continue
            }
            let compatHigh = field != nil && path.userIs32Bit && kind != .ret && r.rawValue < Register.r8.rawValue
            if compatHigh {
                // A 32-bit task sees the low halves, and the high ones too after a far
                // jump to a 64-bit segment (as r8–r15): they must be its own or zero, never
                // a kernel value.
                agree = d.both(agree, d.either(d.equal(s[r], value), d.equal(s[r], d.low32(s[r]))))
            }
            // Words only for a kept obligation (most exits give every register back right).
            func whose() -> String {
                field.map { "the user's value (pt_regs.\($0))" + (compatHigh ? ", its high half the user's or zero" : "") } ?? "its value from the path's entry"
            }
            require(.restoreMatchesSave, node, "preserve \(r.name)", whereKnown(known, agree), s,
                    "\(r.name) must hold \(whose()) \(exitWords(kind, node: node))" + (originWords(of: r, s).map { ": " + $0 } ?? ""),
                    values: [(r.name, s[r]), (kind == .ret ? "at entry" : "user's", value)],
                    blame: tracksOrigins ? s.origins[r.rawValue].writer : nil)
        }
    }

    /// r8–r15 of a 32-bit task: out of reach in compat mode, in reach of a far jump to a
    /// 64-bit segment — so a kernel value left there leaks, whatever the ABI. r8–r11 are
    /// owed what `r8-r11=` says (by default nothing); r12–r15 (callee-saved in C, so
    /// never C's scratch) their value or zero.
    func checkCompatHighRegister(_ r: Register, user: D.Value, known: D.Bit, _ kind: ExitKind, _ s: MachineState<D>, node: Int) {
        guard kind != .ret, path.userIs32Bit, r.rawValue >= Register.r8.rawValue else { return }
        let preserved = d.equal(s[r], user)
        let zeroed = d.equal(s[r], d.constant(0))
        let claim: D.Bit
        let owed: String
        let owes = r.rawValue <= Register.r11.rawValue ? path.compatHighRegisters : .preserveOrZero
        switch owes {
        case .preserve: (claim, owed) = (whereKnown(known, preserved), "the user's value")
        case .zero: (claim, owed) = (zeroed, "zero")
        case .preserveOrZero: (claim, owed) = (d.either(zeroed, whereKnown(known, preserved)), "the user's value or zero")
        case .any: return
        }
        require(.restoreMatchesSave, node, "preserve \(r.name)", claim, s,
                "\(r.name) must hold \(owed) \(exitWords(kind, node: node)) to a 32-bit task, which can read it from a 64-bit code segment"
                    + (originWords(of: r, s).map { ": " + $0 } ?? ""),
                values: [(r.name, s[r]), ("user's", user)],
                blame: tracksOrigins ? s.origins[r.rawValue].writer : nil)
    }

    /// The registers an exit gives back, each with the value it must hold, where that
    /// value is defined, and the pt_regs field it comes from (nil: the entry's value).
    func observedAtExit(_ kind: ExitKind, _ s: MachineState<D>) -> [(Register, D.Value, D.Bit, String?)] {
        switch kind {
        case .ret:
            return path.preserves.sorted().filter { $0 != .rsp }.map { r in (r, d.input("entry.\(r.name)"), d.bit(true), nil) }
        case .sysret, .sysexit, .iret:
            var excluded: Set<Register> = [.rsp]
            if path.entry == .function { excluded.insert(.rax) }
            if kind == .sysret { excluded.formUnion([.rcx, .r11]) }
            // SYSEXIT takes rip from rdx and rsp from rcx: the user gets neither back.
            if kind == .sysexit { excluded.formUnion([.rcx, .rdx]) }
            // A SYSENTER task returns through the vDSO, which restores ebp itself.
            if path.entry == .sysenter { excluded.insert(.rbp) }
            return Layout.ptRegs.fields.compactMap { f in
                guard let r = f.register, !excluded.contains(r), let u = userField(s, f.userName) else { return nil }
                return (r, u.value, u.known, f.userName)
            }
        }
    }

    /// `when the path returns at `ret` (line 7)`.
    func exitWords(_ kind: ExitKind, node: Int) -> String {
        let at = instructionWords(node: node)
        switch kind {
        case .ret: return "when the path returns at \(at)"
        default: return "when \(at) returns to user space"
        }
    }

    /// Where register r's value comes from, in words; nil when the run does not track it.
    func originWords(of r: Register, _ s: MachineState<D>) -> String? {
        guard tracksOrigins else { return nil }
        let o = s.origins[r.rawValue]
        guard let writer = d.knownValue(o.writer) else { return nil }
        guard writer != 0, let w = EventID.node(of: writer) else { return "\(r.name) still holds its value from the path's entry" }
        let written = instructionWords(node: w)
        guard let load = d.knownValue(o.load), load != 0, let l = EventID.node(of: load) else {
            if case .call = program.instructions[graph.nodes[w].instruction].operation {
                return "it was last written by \(written), which clobbers it, and nothing restored it"
            }
            return "it was last written by \(written)"
        }
        let slot = d.knownValue(o.slot).map(describeSlot) ?? "a stack slot"
        let held = holdsWords(d.knownValue(o.slotOrigin) ?? 0)
        if l == w { return "\(written) read \(slot), which held \(held)" }
        return "\(written) copied it from the value \(instructionWords(node: l)) read from \(slot), which held \(held)"
    }

    /// `` `popq %rbx` (line 5) ``; the file too when it is not the path's.
    public func instructionWords(node: Int) -> String { semantics.instructionWords(node: node) }

    /// What a slot whose last write was `origin` holds: `saved rbx (pushed) (line 3)`,
    /// `the constant -1 (top_of_stack.ptsh:18)`, `garbage (never written)`.
    public func holdsWords(_ origin: UInt64) -> String {
        if origin == 0 { return "garbage (never written)" }
        let what = eventWords(origin) ?? "written"
        if let n = EventID.node(of: origin), n < graph.nodes.count {
            return "\(what) (\(semantics.lineWords(node: n)))"
        }
        return what
    }
}

extension Interpreter {
    /// pt_regs.ax holds the syscall's return value: a store there is the result's save.
    func isResultSlot(_ a: UInt64) -> Bool {
        guard path.entry.isSystemCall || ((path.entry == .function || path.entry == .jump) && setup.ptRegsBase != nil) else { return false }
        return setup.fieldAt[a]?.userName == "ax"
    }
}

extension Mechanism {
    /// A restore obligation's subject: the register the exit gives back (`preserve r15`).
    static func restoreSubject(key: String) -> String? {
        key.hasPrefix("preserve ") ? String(key.dropFirst("preserve ".count)) : nil
    }
}
