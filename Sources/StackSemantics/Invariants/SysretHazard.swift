import SpecElaboration

/// Invariant `sysret` — SYSRET/SYSEXIT hazards (docs/model.md, "6. SYSRET/SYSEXIT hazards").
///
/// SYSRET and SYSEXIT trust the kernel's registers more than IRET does:
/// - `rip`: `sysretq` takes rip from rcx, `sysexitq` from rdx. A non-canonical address
///   makes Intel CPUs raise #GP *in ring 0*, after the exit swapgs and with the user's
///   rsp loaded — the user controls the stack the kernel's fault handler runs on
///   (CVE-2014-4699: a ptrace stop wrote a non-canonical ip that `sysretq` returned).
///   The 32-bit forms zero-extend, so they cannot fail.
/// - `rsp`: `sysexitq` takes rsp from rcx: the same #GP in ring 0 if it is non-canonical.
/// - `flags`: `sysretq` loads rflags from r11 but drops RF and VM, and restores TF as a
///   trap right after the instruction (not like IRET, which re-executes cleanly): r11
///   must have TF (bit 8), RF (bit 16) and VM (bit 17) clear — Linux's opportunistic
///   SYSRET falls back to IRET otherwise.
///
/// Each is checked against what the run's registers may hold, ptrace writes included;
/// the values the CPU itself gave at entry are trusted — the rip SYSCALL saved in rcx or
/// the interrupt pushed (the CPU ran there; the guard page at the top of user space rules
/// out the one non-canonical SYSCALL return address), the rsp it came with, and the
/// rflags SYSCALL saved in r11 (SYSRET is its designed inverse).
extension Interpreter {
    /// TF | RF | VM.
    static var sysretUnsafeFlags: UInt64 { 1 << 8 | 1 << 16 | 1 << 17 }

    /// Whether v is canonical (48-bit virtual addresses: bits 63..47 all equal).
    func isCanonical(_ v: D.Value) -> D.Bit {
        d.unsignedLess(d.add(v, d.constant(1 << 47)), d.constant(1 << 48))
    }

    /// Entry inputs that hold a value the CPU produced for this user context.
    func cpuGiven(_ field: String) -> [D.Value] {
        var names: [String] = []
        switch (path.entry, field) {
        case (.syscall, "ip"): names = ["entry.rcx"]
        case (.syscall, "sp"): names = ["entry.rsp"]
        case (.syscall, "flags"): names = ["entry.r11"]
        case (.interrupt, "ip"), (.exception, "ip"), (.exceptionWithErrorCode, "ip"), (.int80, "ip"): names = ["entry.ip"]
        case (.interrupt, "sp"), (.exception, "sp"), (.exceptionWithErrorCode, "sp"), (.int80, "sp"): names = ["entry.sp"]
        case (.function, _), (.jump, _):
            // The caller's pt_regs of a system call, saved from what the CPU gave it.
            guard setup.ptRegsBase != nil else { return [] }
            if field == "flags" {
                names = path.validFields.contains("r11") ? ["caller.pt_regs.r11"] : path.validFields.contains("flags") ? ["caller.pt_regs.flags"] : []
            } else if path.validFields.contains(field) {
                names = ["caller.pt_regs.\(field)"]
            }
        default: break
        }
        return names.map { d.input($0) }
    }

    func checkSysretAtExit(_ kind: ExitKind, _ s: MachineState<D>, node: Int) {
        // The mnemonic as written (sysretl, sysexitq…), for the words of a kept obligation.
        func mnemonic() -> String { exitMnemonic(node: node) }
        func canonical(_ r: Register, _ field: String, _ subject: String, _ what: String) {
            let v = s[r]
            let ok = d.any([isCanonical(v)] + cpuGiven(field).map { d.equal(v, $0) })
            require(.sysretHazard, node, subject, ok, s,
                    "\(mnemonic()) must not \(what) a non-canonical address in \(r.name): the CPU faults in ring 0 with the user's rsp and GS base",
                    values: [(r.name, v)])
        }
        switch kind {
        case .ret, .iret:
            return
        case .sysret:
            canonical(.rcx, "ip", "rip", "return to")
            let r11 = s[.r11]
            let clear = d.equal(d.and(r11, d.constant(Self.sysretUnsafeFlags)), d.constant(0))
            let ok = d.any([clear] + cpuGiven("flags").map { d.equal(r11, $0) })
            require(.sysretHazard, node, "flags", ok, s,
                    "\(mnemonic()) must not load TF, RF or VM from r11: it drops RF and VM and traps on TF right after the return",
                    values: [("r11", r11)])
        case .sysexit:
            canonical(.rdx, "ip", "rip", "return to")
            canonical(.rcx, "sp", "rsp", "load rsp with")
        }
    }
}

extension Interpreter {
    /// `sysretl`, `sysexitq`: the exit instruction of `node` as an expectation names it.
    func exitMnemonic(node: Int) -> String { Mechanism.point(of: program.instructions[graph.nodes[node].instruction]) }
}

extension Mechanism {
    /// A SYSRET obligation's subject: its key (`rip`, `rsp`, `flags`).
    static func sysretSubject(key: String) -> String? {
        ["rip", "rsp", "flags"].contains(key) ? key : nil
    }
}
