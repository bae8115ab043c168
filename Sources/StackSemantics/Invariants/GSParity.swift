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
/// - `exit`: `sysretq`/`sysretl`/`sysexit` leave with the user's base; `iretq` with the
///   kernel's base only to a kernel cs, and with the user's base only to a user cs or
///   back to the kernel context the entry interrupted on that base (a missing or doubled
///   exit swapgs; CVE-2018-14678's exit that decides on an unset register; CVE-2014-9322's
///   paranoid exit to a fixup);
/// - `fault`: an exception-table site other than `iretq` or a `%gs` load runs with the
///   kernel's base (its fault reaches a handler that does not recognise it);
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

    /// After reading a per-CPU stack pointer on a GS base the state does not know to be
    /// the kernel's (often a merged bit the path condition implies — a handler's checks
    /// of the saved cs and rip decided it): runs on the user's base have read a
    /// user-chosen stack pointer and are a `percpu` violation already, so the run goes on
    /// with the others only (the stack stays modelled). The claim is kept
    /// (`assumedClaims`) and decided once the path is run: unless it is proved, the other
    /// invariants' verdicts are unknown, since the runs cut here were not followed.
    func cutAtUserGSBase(_ name: String, _ s: inout MachineState<D>, node: Int) {
        guard d.known(s.kernelGS) != true, d.known(s.reach) != false else { return }
        log.assumed.append(Obligation(invariant: .gsParity, node: node, key: "percpu \(name)", claim: s.kernelGS, reach: s.reach,
                                      requirement: "the per-CPU stack pointer \(name) is read with the kernel's GS base", values: [], blame: nil))
        s.reach = d.both(s.reach, s.kernelGS)
        s.kernelGS = d.bit(true)
    }

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
            // With the kernel's base live iretq must go back to kernel mode (a user cs is a
            // missing or doubled exit swapgs). With the user's base live it must go to user
            // mode — or back to the very kernel context this entry interrupted, when that
            // context ran on the user's base (a paranoid entry at the iretq or a %gs load
            // between swapgs puts it back as it was). Returning on the user's base to any
            // other kernel ip (a fixup the handler chose) runs kernel code on the user's
            // base: CVE-2014-9322's #SS on the iretq, whose paranoid exit swapped back
            // before returning to bad_iret. A tracer or a C function (sigreturn, execve)
            // writes only user selectors (`writtenFieldValue`), so a frame from user mode
            // keeps a user cs.
            guard let cs = iretFrame?["cs"] else { return }
            let toKernel = d.equal(d.and(cs, d.constant(3)), d.constant(0))
            // Declared never to return to user space (so never a user-GS fault site): shown here.
            if let declared = program.kernelOnlyIrets[graph.nodes[node].instruction] {
                require(.gsParity, node, "exit", toKernel, s,
                        "this iretq is declared to return only to kernel mode (.iret_to_kernel at \(declared)), so no fault of it is taken with the user's GS base: it must not return to user cs \(describeValue(cs))",
                        values: [("popped cs", cs)])
            }
            require(.gsParity, node, "exit", d.either(d.negate(s.kernelGS), toKernel), s,
                    "iretq with the kernel's GS base live must return to kernel mode, not to user cs \(describeValue(cs)) (the exit swapgs is missing or doubled)",
                    values: [("popped cs", cs)])
            var allowed = d.either(s.kernelGS, d.negate(toKernel))
            if let ip = iretFrame?["ip"], let interrupted = interruptedContext() {
                allowed = d.either(allowed, d.all([d.negate(interrupted.kernelGS), d.equal(ip, interrupted.ip), d.equal(cs, interrupted.cs)]))
            }
            require(.gsParity, node, "exit", allowed, s,
                    "iretq with the user's GS base live must return to user mode or to the kernel context it interrupted (which ran on the user's base), not to kernel cs \(describeValue(cs)) at ip \(describeValue(iretFrame?["ip"] ?? d.constant(0))): the code there runs on the user's GS base",
                    values: [("popped cs", cs), ("popped ip", iretFrame?["ip"] ?? d.constant(0))])
        }
    }

    /// The kernel context a hardware-frame entry interrupted: its ip and cs as the CPU
    /// saved them, and the GS base it ran on (`arrival`); nil for entries without a frame
    /// of their own.
    func interruptedContext() -> (ip: D.Value, cs: D.Value, kernelGS: D.Bit)? {
        switch path.entry {
        case .interrupt, .exception, .exceptionWithErrorCode:
            let ip = d.input("entry.ip"), cs = d.input("entry.cs")
            return (ip, cs, arrival(cs: cs, ip: ip, reach: d.bit(true)).kernelGS)
        default:
            return nil
        }
    }

    /// A fault at an exception-table site arrives at a kernel-mode handler (the saved cs
    /// is the kernel's), which swaps GS only where it recognises the site: an `iretq` or a
    /// `%gs` load (`kernelGSOfKernelModeException`). Any other instruction that can fault
    /// with the user's base live sends the handler into per-CPU code and C on that base.
    func checkGSAtFault(_ op: Operation, _ faults: D.Bit, _ s: MachineState<D>, node: Int) {
        switch op {
        case .iret, .writeSegmentRegister("gs", _): return
        default:
            require(.gsParity, node, "fault", d.either(d.negate(faults), s.kernelGS), s,
                    "\(exitMnemonic(node: node)) can fault (it has an exception-table entry) with the user's GS base live: the exception handler sees a kernel cs, does not swapgs, and runs per-CPU code on the user's base (only an iretq or a %gs load is a site the handler recognises)")
        }
    }

    /// The GS base a kernel-mode exception (or the `returns=ptregs` function it calls
    /// first) arrives with: the kernel's, except where its
    /// saved rip is one of the program's `iretq`s (or, K8 erratum, that address
    /// truncated to 32 bits) — the iretq back to user space, which runs after the exit
    /// swapgs and faults with the user's base live while the saved cs is the kernel's —
    /// or one of its loads of %gs, which run between swapgs as well.
    ///
    /// `vector=` says more: #DB, NMI and #MC (1, 2, 18) may arrive at any instruction,
    /// the ones between swapgs and the return to user space too, so their GS base in kernel
    /// mode is either (their paranoid handlers ask the MSR); any other vector but #NP, #SS,
    /// #GP and #PF never arrives at the sites at all (`neverAtUserGSFaultSites`).
    func kernelGSOfKernelModeException(ip: D.Value) -> D.Bit {
        guard path.entry == .exception || path.entry == .exceptionWithErrorCode || path.returnsPtRegs else { return d.bit(true) }
        if let v = path.vector {
            if PathSpec.anywhereVectors.contains(v) { return d.inputBit("entry.kernel-gs") }
            if !PathSpec.faultSiteVectors.contains(v) { return d.bit(true) }
        }
        return d.negate(atUserGSFaultSite(ip: ip))
    }

    /// An external interrupt is never taken at the user-GS fault sites (both run with
    /// interrupts off), nor does an exception of a vector they cannot raise arrive there.
    var neverAtUserGSFaultSites: Bool {
        if path.entry == .interrupt { return true }
        guard let v = path.vector else { return false }
        return !PathSpec.faultSiteVectors.contains(v) && !PathSpec.anywhereVectors.contains(v)
    }

    /// Whether `ip` is one of the sites above: an `iretq` (or its address truncated to 32
    /// bits) or a `%gs` load with an exception-table entry.
    func atUserGSFaultSite(ip: D.Value) -> D.Bit {
        var atIret: [D.Bit] = []
        for (k, i) in program.instructions.enumerated() {
            // A load of %gs runs with the user's base too (its `gs load` obligation
            // checks that), and one with an exception-table entry faults on a bad
            // selector: 3.x's gs_change, 6.x's .Lgs_change, which error_entry recognises.
            // The K8 erratum (a saved rip truncated to 32 bits) is IRET's alone.
            let a = Program.codeAddress(k)
            switch i.operation {
            case .iret where program.kernelOnlyIrets[k] == nil:
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
        return d.any(atIret)
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
        if key == "fault" { return key }
        return nil
    }
}

extension Interpreter {
    /// What a tracer's or a C function's write of a pt_regs field can put there. putreg
    /// (set_segment_reg, which takes a u16) refuses a cs or ss that is zero or lacks RPL
    /// 3, sigreturn ORs 3 into the cs it restores, and execve's start_thread writes
    /// __USER_CS: no write sends the return to kernel mode, but any selector with RPL 3 —
    /// an LDT code segment too — may come back, not only __USER_CS or __USER32_CS. (3.16
    /// ignores a 64-bit task's cs write; later kernels take it: the model takes the wider
    /// set.) A loop that stops for a tracer keeps "cs is a user selector" across its
    /// widening as a loop fact (LoopFacts.swift). A tracer (`old`: the field before its
    /// write) never reaches a frame of kernel mode (RPL 0): ptrace stops only a task
    /// returning to user space, so such a frame keeps its cs. A C function may turn one
    /// into a user frame: a kernel thread's execve.
    func writtenFieldValue(_ written: D.Value, field: String, old: D.Value?) -> D.Value {
        switch field {
        case "cs":
            let user = userSelector(written)
            guard let old else { return user }
            return d.select(d.equal(d.and(old, d.constant(3)), d.constant(0)), old, user)
        case "ss":
            return userSelector(written)
        default: return written
        }
    }

    /// A 16-bit selector with the user's RPL: what putreg lets a tracer write.
    func userSelector(_ written: D.Value) -> D.Value { d.or(d.and(written, d.constant(0xfffc)), d.constant(3)) }
}
