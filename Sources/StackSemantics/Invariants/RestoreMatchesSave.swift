import SpecElaboration

/// Invariant 1 — every restore matches a save (DESIGN.md §4.1).
///
/// A *restore of R* is a pop into R, or a load into R from a slot that is R's *home*
/// (the pt_regs field named for R, or the slot where R was first saved) or that was
/// never written at all. It must read,
/// on every feasible run, the value the matching save of R put there — or, after a
/// ptrace stop, the value ptrace left in the field. A never-written slot, a slot
/// holding another register, a slot overwritten in between, an off-by-8 offset all
/// fail. A load of one register's save into another register (Frederic's `pushq %rdi`
/// … `popq %rsi`) is a move: the popped value is the pushed one, which is all a pop
/// promises. At each exit, every register the exit gives back holds its saved value:
/// callee-saved (or the path's `preserves=`) at `ret`; the user's registers at
/// `sysretq` (except rcx/r11, which sysret overwrites) and `iretq` — on system-call
/// paths the user's rax is the result the kernel stored in pt_regs.ax (unchecked if
/// it stored none).
///
/// On paths that carry the user's pt_regs (syscall and int80 entries, and function paths given
/// `ptregs=`), pt_regs.ax is the syscall's result: every store into it is a save.
extension Interpreter {
    func checkRestore(of r: Register, from sl: StackSlot<D.Value>, width w: Width, at cases: [(D.Bit, UInt64)], _ s: MachineState<D>, node: Int) {
        let isHome = d.either(d.equal(sl.home, d.constant(UInt64(r.rawValue + 1))),
                              d.both(d.equal(sl.home, d.constant(0)), d.equal(sl.origin, d.constant(0))))
        let saved = d.negate(d.equal(sl.saveEvent, d.constant(0)))
        let same = d.equal(mask(sl.value, w), mask(sl.expect, w))
        let claim = d.either(d.negate(isHome), d.both(saved, same))
        require(.restoreMatchesSave, node, "restore \(r.name)", claim, s,
                "the restore of \(r.name) from \(cases.map { describeSlot($0.1) }.joined(separator: " or ")) must read the value saved there",
                values: [("read", mask(sl.value, w)), ("saved", mask(sl.expect, w)), ("#save", sl.saveEvent), ("#origin", sl.origin)])
    }

    func checkPop(into op: Operand, from sl: StackSlot<D.Value>, at cases: [(D.Bit, UInt64)], _ s: MachineState<D>, node: Int) {
        let saved = d.negate(d.equal(sl.saveEvent, d.constant(0)))
        let claim = d.both(saved, d.equal(sl.value, sl.expect))
        let into: String
        switch op {
        case .register(let r, _): into = r.name
        default: into = "memory"
        }
        require(.restoreMatchesSave, node, "pop", claim, s,
                "the pop into \(into) from \(cases.map { describeSlot($0.1) }.joined(separator: " or ")) must read the value pushed (saved) there",
                values: [("read", sl.value), ("pushed", sl.expect), ("#save", sl.saveEvent)])
    }

    func checkRestoreAtExit(_ kind: ExitKind, _ s: MachineState<D>, node: Int) {
        switch kind {
        case .ret:
            for r in path.preserves.sorted() where r != .rsp {
                require(.restoreMatchesSave, node, "preserve \(r.name)", d.equal(s[r], d.input("entry.\(r.name)")), s,
                        "\(r.name) must hold its value from the path's entry when the path returns",
                        values: [(r.name, s[r]), ("at entry", d.input("entry.\(r.name)"))])
            }
        case .sysret, .sysexit, .iret:
            var excluded: Set<Register> = [.rsp]
            if path.entry == .function { excluded.insert(.rax) }
            if kind == .sysret { excluded.formUnion([.rcx, .r11]) }
            // SYSEXIT takes rip from rdx and rsp from rcx: the user gets neither back.
            if kind == .sysexit { excluded.formUnion([.rcx, .rdx]) }
            for f in Layout.ptRegs.fields {
                guard let r = f.register, !excluded.contains(r), let u = userField(s, f.userName) else { continue }
                require(.restoreMatchesSave, node, "preserve \(r.name)", whereKnown(u.known, d.equal(s[r], u.value)), s,
                        "\(r.name) must hold the user's value (pt_regs.\(f.userName)) when \(kind.instruction) returns",
                        values: [(r.name, s[r]), ("user's", u.value)])
            }
        }
    }
}

extension Interpreter {
    /// pt_regs.ax holds the syscall's return value: a store there is the result's save.
    func isResultSlot(_ a: UInt64) -> Bool {
        guard path.entry.isSystemCall || ((path.entry == .function || path.entry == .jump) && setup.ptRegsBase != nil) else { return false }
        return setup.fieldAt[a]?.userName == "ax"
    }
}
