import SpecElaboration

/// Invariant 3 — ptrace-visible fields are consistent (docs/model.md, "3. ptrace-visible fields consistent").
///
/// Where C code receives `struct pt_regs *` (an external function whose contract
/// `observes` fields, e.g. a ptrace stop), every observed field holds the user's value
/// for it: ip = the user's rip, cx = the user's rcx (after `syscall`, the user rip),
/// flags and r11 = the user's rflags, sp = the user's rsp, orig_ax = the syscall
/// number — or the value the contract states (ax = -ENOSYS at the syscall-entry stop).
/// A field never written holds garbage and fails. At a stop a tracer may write any
/// field it observes, or none: each field's user value becomes ite(the tracer wrote it,
/// the value it wrote, the value before), so what reaches user space must come from
/// pt_regs: at `sysretq` rcx = ip, r11 = flags, rsp = sp, and pt_regs' cs and ss are
/// the selectors SYSRET loads (likewise at `sysexit`); at `iretq` the popped frame
/// = ip, cs, flags, sp, ss. A stale per-CPU `old_rsp` after a stop fails here. A
/// `maystop` function observes only in the runs where it stops (`happens`).
extension Interpreter {
    func checkObservation(by c: ExternContract, ptRegs cases: [(D.Bit, UInt64)], _ s: MachineState<D>, node: Int, happens: D.Bit) {
        let observed = semantics.contractFields(c).observed
        for (k, f) in Layout.ptRegs.fields.enumerated() where observed[k] {
            let fieldCases = cases.map { ($0.0, $0.1 &+ UInt64(f.offset)) }
            let expected: D.Value
            var known = happens
            let contract = c.expectedFields[f.userName]
            if let value = contract {
                expected = d.constant(UInt64(bitPattern: value))
            } else if let v = s.user.values[k] {
                expected = v
                known = d.both(happens, s.user.known[k] ?? d.bit(true))
            } else {
                continue
            }
            // Words only for a kept obligation.
            func what() -> String { contract.map { "\($0) (the contract of \(c.name))" } ?? "the user's \(userRegisterName(f))" }
            let sl = readSlot(s, fieldCases)
            // A value the contract states is compared whole; the user's, as the task sees it.
            guard let agree = contract != nil ? d.equal(sl.value, expected) : userAgree(sl.value, expected, field: f.userName) else { continue }
            require(.ptraceConsistency, node, "field \(f.userName)", whereKnown(known, agree), s,
                    "pt_regs.\(f.userName) seen by \(c.name) must be \(what())",
                    values: [("pt_regs.\(f.userName)", sl.value), ("expected", expected)])
        }
    }

    /// The ip word of a SYSENTER path's frame (its IRET-frame part, at the top of the
    /// kernel stack) as it is now; nil where the path has no known frame.
    func storedSysenterIP(_ s: MachineState<D>) -> D.Value? {
        guard path.entry == .sysenter, let frame = setup.iretFrame else { return nil }
        return readSlot(s, [(d.bit(true), frame)]).value
    }

    func userRegisterName(_ f: Layout.Field) -> String {
        if let r = f.register { return r.name }
        switch f.userName {
        case "ip": return "rip"
        case "flags": return "rflags"
        case "sp": return "rsp"
        case "orig_ax": return "syscall number / error code"
        default: return f.userName
        }
    }

    func checkPtraceAtExit(_ kind: ExitKind, _ s: MachineState<D>, node: Int, iretFrame: [String: D.Value]?) {
        switch kind {
        case .ret:
            // A returns=ptregs function hands its caller (and the C handler after it)
            // pt_regs holding the interrupted context.
            guard path.returnsPtRegs, let base = setup.ptRegsBase else { return }
            for f in Layout.ptRegs.fields {
                guard let u = userField(s, f.userName) else { continue }
                let v = readSlot(s, [(d.bit(true), base &+ UInt64(f.offset))]).value
                guard let agree = userAgree(v, u.value, field: f.userName) else { continue }
                require(.ptraceConsistency, node, "ret \(f.userName)", whereKnown(u.known, agree), s,
                        "pt_regs.\(f.userName) handed back at \(instructionWords(node: node)) must be the interrupted \(userRegisterName(f))",
                        values: [("pt_regs.\(f.userName)", v), ("expected", u.value)])
            }
        case .sysret, .sysexit:
            let pairs: [(Register, String, String)] = kind == .sysret
                ? [(.rcx, "ip", "rip"), (.r11, "flags", "rflags"), (.rsp, "sp", "rsp")]
                : [(.rdx, "ip", "rip"), (.rcx, "sp", "rsp")]
            for (r, field, name) in pairs {
                guard let u = userField(s, field), let agree = userAgree(s[r], u.value, field: field) else { continue }
                var claim = whereKnown(u.known, agree)
                var values = [(r.name, s[r]), ("pt_regs.\(field)", u.value)]
                var words = "\(kind.instruction) must return the user's \(name) from pt_regs.\(field) (in \(r.name))"
                if kind == .sysexit, field == "ip", let stored = storedSysenterIP(s) {
                    // SYSENTER's return point is the kernel's choice (the vDSO's), known to
                    // the model only once a tracer writes it: until then what binds edx is
                    // the ip the kernel stored in pt_regs, which C code and ptrace saw.
                    claim = d.both(claim, d.equal(d.low32(s[r]), d.low32(stored)))
                    values.append(("stored pt_regs.ip", stored))
                    words = "sysexit must return the user's rip from pt_regs.ip: the return point the kernel stored there, or a tracer's write (in \(r.name))"
                }
                require(.ptraceConsistency, node, "sysret \(field)", claim, s, words, values: values)
            }
            // SYSRET and SYSEXIT load fixed selectors, whatever pt_regs says: a cs or ss a
            // tracer (or C) wrote there that differs is dropped, and the task runs in
            // another mode than the one ptrace shows (the kernel's "CS and SS must match
            // SYSRET" test sends such returns through iretq).
            let wide: Bool
            switch program.instructions[graph.nodes[node].instruction].operation {
            case .sysret(let w), .sysexit(let w): wide = w == .q
            default: wide = true
            }
            let loaded: [(String, UInt64)] = [("cs", wide ? EntrySetup.userCS : EntrySetup.user32CS), ("ss", EntrySetup.userSS)]
            for (field, selector) in loaded {
                guard let u = userField(s, field) else { continue }
                let instruction = instructionWords(node: node)
                require(.ptraceConsistency, node, "sysret \(field)", whereKnown(u.known, d.equal(u.value, d.constant(selector))), s,
                        "\(instruction) loads \(field)=0x\(String(selector, radix: 16)) whatever pt_regs.\(field) holds: pt_regs.\(field) must be that selector (a tracer's other value must send the return through iretq)",
                        values: [("pt_regs.\(field)", u.value), ("loaded \(field)", d.constant(selector))])
            }
        case .iret:
            guard let frame = iretFrame else { return }
            for name in ["ip", "cs", "flags", "sp", "ss"] {
                guard let u = userField(s, name), let v = frame[name], var agree = userAgree(v, u.value, field: name) else { continue }
                if path.userIs32Bit, name != "cs", name != "ss" {
                    // IRETQ loads all 64 bits: a 32-bit task reads rsp's high half after a
                    // far jump to a 64-bit segment. Its own or zero, never kernel bits.
                    agree = d.both(agree, d.either(d.equal(v, u.value), d.equal(v, d.low32(v))))
                }
                require(.ptraceConsistency, node, "iret \(name)", whereKnown(u.known, agree), s,
                        "iretq must return the user's \(name) from pt_regs.\(name)" + (path.userIs32Bit && name != "cs" && name != "ss" ? " (its high half the user's or zero: a 32-bit task reads it after a far jump to 64-bit code)" : ""),
                        values: [("popped \(name)", v), ("pt_regs.\(name)", u.value)])
            }
        }
    }
}

extension Mechanism {
    /// A ptrace obligation's subject: the field a stop sees (`field cx`) or an exit
    /// returns (`sysret ip`, `iret cs`).
    static func ptraceSubject(key: String) -> String? {
        for prefix in ["field ", "sysret ", "iret ", "ret "] where key.hasPrefix(prefix) { return String(key.dropFirst(prefix.count)) }
        return nil
    }
}
