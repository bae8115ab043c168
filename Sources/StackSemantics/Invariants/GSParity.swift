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
///
/// Faults: `iretq` back to user space runs after the exit swapgs and can fault (bad
/// ss/cs, a non-canonical rip); the fault arrives with a *kernel* cs and the user's GS
/// base. So a kernel-mode exception entry whose saved rip is one of the program's
/// iretqs starts with the user's base (`kernelGSOfKernelModeException`): a handler that
/// decides GS by the saved cs alone then runs per-CPU code and C on the user's base,
/// and its `percpu`/`call` obligations fail (CVE-2014-9322/-9090 shape); one that
/// recognises the site (error_entry's compare with native_irq_return_iret) proves.
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
                    "\(exitMnemonic(node: node)) returns to user space: it must leave with the user's GS base (the exit swapgs is missing or doubled)")
        case .iret:
            // With the kernel's base live, iretq must go back to kernel mode: a user cs
            // here is a missing or doubled exit swapgs. (The other direction — the
            // user's base must go to user mode — needs cs's RPL, which the loop
            // abstraction forgets across a tracer stop in the exit work loop: not checked.)
            guard let cs = iretFrame?["cs"] else { return }
            let toKernel = d.equal(d.and(cs, d.constant(3)), d.constant(0))
            require(.gsParity, node, "exit", d.either(d.negate(s.kernelGS), toKernel), s,
                    "iretq with the kernel's GS base live must return to kernel mode, not to user cs \(describeValue(cs)) (the exit swapgs is missing or doubled)",
                    values: [("popped cs", cs)])
        }
    }

    /// The GS base a kernel-mode exception (or the `returns=ptregs` function it calls
    /// first) arrives with: the kernel's, except where its
    /// saved rip is one of the program's `iretq`s (or, K8 erratum, that address
    /// truncated to 32 bits) — the iretq back to user space, which runs after the exit
    /// swapgs and faults with the user's base live while the saved cs is the kernel's —
    /// or one of its loads of %gs, which run between swapgs as well.
    func kernelGSOfKernelModeException(ip: D.Value) -> D.Bit {
        guard path.entry == .exception || path.entry == .exceptionWithErrorCode || path.returnsPtRegs else { return d.bit(true) }
        var atIret: [D.Bit] = []
        for (k, i) in program.instructions.enumerated() {
            // A load of %gs runs with the user's base too (its `gs load` obligation
            // checks that), and one with an exception-table entry faults on a bad
            // selector: 3.x's gs_change, 6.x's .Lgs_change, which error_entry recognises.
            // The K8 erratum (a saved rip truncated to 32 bits) is IRET's alone.
            let a = Program.codeAddress(k)
            switch i.operation {
            case .iret:
                atIret.append(d.equal(ip, d.constant(a)))
                atIret.append(d.equal(ip, d.constant(a & 0xffff_ffff)))
            case .writeSegmentRegister("gs", _) where program.faultFixups[k] != nil:
                // Only a load with an exception-table entry may fault and come back
                // (a null selector, bad_gs's, never faults).
                atIret.append(d.equal(ip, d.constant(a)))
            default:
                continue
            }
        }
        return d.negate(d.any(atIret))
    }

    /// `rdmsr`'s high half when ecx may name MSR_GS_BASE: its sign bit says which base
    /// is live (kernel addresses are negative), the rest is the input it was.
    /// `rdgsbase`: the live base, whose sign bit says whose it is (the same convention
    /// as MSR_GS_BASE's high half above).
    func gsBaseValue(_ raw: D.Value, _ s: MachineState<D>) -> D.Value {
        d.select(s.kernelGS, d.or(raw, d.constant(1 << 63)), d.and(raw, d.constant(~(1 << 63))))
    }

    /// `wrgsbase`: a kernel address (sign bit set) makes the kernel's base live.
    func isKernelGSBase(_ v: D.Value) -> D.Bit {
        d.negate(d.equal(d.and(v, d.constant(1 << 63)), d.constant(0)))
    }

    func gsBaseHigh(_ high: D.Value, ecx: D.Value, _ s: MachineState<D>) -> D.Value {
        let isGSBase = d.equal(d.low32(ecx), d.constant(Self.gsBaseMSR))
        let signed = d.select(s.kernelGS, d.or(high, d.constant(0x8000_0000)), d.and(high, d.constant(0x7fff_ffff)))
        return d.select(isGSBase, signed, high)
    }
}

extension Mechanism {
    /// A GS obligation's subject: a per-CPU access, a call into C, an exit.
    static func gsSubject(key: String) -> String? {
        if key.hasPrefix("percpu ") { return "percpu" }
        if key.hasPrefix("call ") { return "call" }
        if key == "exit" { return key }
        if key == "gs load" { return "load" }
        return nil
    }
}

extension Interpreter {
    /// What a tracer's write of a pt_regs field can put there. putreg refuses a cs
    /// without RPL 3, so a tracer cannot send the return to kernel mode: cs is one of the
    /// kernel's two user code selectors (picked by the written value's low bit; LDT
    /// selectors are not modelled). Constants, so a loop that stops for a tracer keeps
    /// "cs is a user cs" across its widening. (ss stays any value: the ptrace invariant's
    /// stale-ss expectations rely on a tracer's ss differing from the kernel's constant.)
    func tracerValue(_ written: D.Value, field: String) -> D.Value {
        switch field {
        case "cs": return d.select(d.equal(d.and(written, d.constant(1)), d.constant(0)), d.constant(EntrySetup.userCS), d.constant(EntrySetup.userCS32))
        default: return written
        }
    }
}

extension EntrySetup {
    /// __USER32_CS: the compat-mode user code selector.
    static var userCS32: UInt64 { 0x23 }
}
