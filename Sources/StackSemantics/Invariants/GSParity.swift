import SpecElaboration

/// Invariant `gs` — GS-base parity (docs/model.md, "5. GS-base parity").
///
/// `swapgs` exchanges the user's and the kernel's GS base; per-CPU variables
/// (`PER_CPU_VAR(x)`, `%gs:`) mean anything only with the kernel's. The state is one bit
/// (`MachineState.kernelGS`): set at entry by the entry kind and its `cs` (SYSCALL and a
/// user-mode interrupt arrive with the user's base), toggled by `swapgs`, merged at
/// joins like any other bit, and read back by `rdmsr` of MSR_GS_BASE (a kernel base is
/// a negative address) — so a paranoid entry that asks the MSR sees the real state.
///
/// Obligations:
/// - `percpu`: every per-CPU load or store runs with the kernel's GS base (a user base
///   reads or writes user-controlled memory);
/// - `call`: every call into C runs with the kernel's GS base (C code uses per-CPU data);
/// - `exit`: `sysretq`/`sysretl`/`sysexit` leave with the user's base, and `iretq` with
///   the user's base when the popped cs is a user cs, the kernel's otherwise (a missing
///   or doubled exit swapgs; CVE-2018-14678's exit that decides on an unset register);
/// - `fault`: `iretq` to user space runs after the exit swapgs and can fault (bad ss/cs,
///   non-canonical rip); the fault arrives with a *kernel* cs and the user's GS base, so
///   a handler that decides GS by the saved cs assumes the kernel's and runs per-CPU
///   code on the user's (CVE-2014-9322/-9090 shape). It holds only where the handler
///   recognises this iretq: the program takes the address of a label on it (error_entry's
///   `cmpq …native_irq_return_iret…, RIP(%rsp)`), the one fixup the model can see.
///
/// `ret` is not an exit of this kind: a function may change the GS base for its caller
/// on purpose (save_paranoid's swapgs, with ebx saying so).
extension Interpreter {
    /// MSR_GS_BASE, as `rdmsr` reads it with ecx.
    static var gsBaseMSR: UInt64 { 0xc000_0101 }

    func checkPerCPUAccess(_ name: String, _ s: MachineState<D>, node: Int) {
        require(.gsParity, node, "percpu \(name)", s.kernelGS, s,
                "the per-CPU access to \(name) must run with the kernel's GS base (swapgs first)")
    }

    func checkGSAtCall(_ c: ExternContract, _ s: MachineState<D>, node: Int) {
        require(.gsParity, node, "call \(c.name)", s.kernelGS, s,
                "the call to \(c.name) must run with the kernel's GS base: C code uses per-CPU data")
    }

    func checkGSAtExit(_ kind: ExitKind, _ s: MachineState<D>, node: Int, iretFrame: [String: D.Value]?) {
        switch kind {
        case .ret:
            return
        case .sysret, .sysexit:
            require(.gsParity, node, "exit", d.negate(s.kernelGS), s,
                    "\(kind.instruction) returns to user space: it must leave with the user's GS base (the exit swapgs is missing or doubled)")
        case .iret:
            guard let cs = iretFrame?["cs"] else { return }
            let toUser = d.negate(d.equal(d.and(cs, d.constant(3)), d.constant(0)))
            require(.gsParity, node, "exit", d.equalBits(toUser, d.negate(s.kernelGS)), s,
                    "iretq must leave with the GS base of the mode it returns to (the user's for a user cs, the kernel's for a kernel cs)",
                    values: [("popped cs", cs)])
            // A fault on the iretq itself: only with the user's base live does a handler
            // that trusts the saved (kernel) cs go wrong.
            require(.gsParity, node, "fault", iretFaultIsRecognised(node: node) ? d.bit(true) : s.kernelGS, s,
                    "a fault on this iretq (after the exit swapgs) reaches its handler with a kernel cs and the user's GS base: the handler must recognise this iretq (no label on it has its address taken)",
                    values: [("popped cs", cs)])
        }
    }

    /// Whether some instruction takes the address of a label on this iretq — how an
    /// exception handler tells a fault there from any other kernel-mode fault.
    func iretFaultIsRecognised(node: Int) -> Bool {
        let index = graph.nodes[node].instruction
        let names = Set(program.labels.filter { $0.value == index }.map(\.key))
        guard !names.isEmpty else { return false }
        return program.instructions.contains { i in
            switch i.operation {
            case .loadAddress(let sym, _): return names.contains(sym)
            case .jump, .branch, .call: return false
            default:
                // `cmpq $native_irq_return_iret, RIP(%rsp)`: the label as an operand.
                return names.contains { n in i.text.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") }).contains { $0 == n } }
            }
        }
    }

    /// `rdmsr`'s high half when ecx may name MSR_GS_BASE: its sign bit says which base
    /// is live (kernel addresses are negative), the rest is the input it was.
    func gsBaseHigh(_ high: D.Value, ecx: D.Value, _ s: MachineState<D>) -> D.Value {
        let isGSBase = d.equal(d.low32(ecx), d.constant(Self.gsBaseMSR))
        let signed = d.select(s.kernelGS, d.or(high, d.constant(0x8000_0000)), d.and(high, d.constant(0x7fff_ffff)))
        return d.select(isGSBase, signed, high)
    }
}

extension Mechanism {
    /// A GS obligation's subject: a per-CPU access, a call into C, an exit, a fault site.
    static func gsSubject(key: String) -> String? {
        if key.hasPrefix("percpu ") { return "percpu" }
        if key.hasPrefix("call ") { return "call" }
        if key == "exit" || key == "fault" { return key }
        return nil
    }
}
