import SpecElaboration

/// Invariant 2 — the frame is balanced (DESIGN.md §4.2).
///
/// At each exit rsp has the contract's value: after a path's final `ret`/`ret $n` the
/// caller's rsp (the entry rsp + 8: `ret $n` must have dropped what the path added);
/// at `iretq` the hardware frame (where the CPU pushed it, or the top of the kernel
/// stack on the syscall path); at `sysretq` a user rsp (the one the path entered with,
/// or one a ptrace stop wrote). No stack access lies below rsp (the kernel has no red
/// zone: an NMI may clobber it), and on entries whose frame top is known none lies
/// above it.
extension Interpreter {
    mutating func checkAccess(_ addr: D.Value, width: Width, _ s: MachineState<D>, node: Int) {
        guard let cases = d.cases(addr) else { return }
        for (g, a) in cases {
            guard let region = setup.region(of: a) else { continue }
            // Compare within the region rsp is in: offsets from the region base.
            let inRegion = d.all([g, rspIn(region, s)])
            let below = d.unsignedLess(d.constant(a), s.rsp)
            require(.frameBalance, node, "below rsp \(a)", d.any([d.negate(inRegion), d.negate(below)]), s,
                    "the access to \(describeSlot(a)) must not lie below rsp", values: [("address", d.constant(a)), ("rsp", s.rsp)])
            if let top = setup.frameTop, region.contains(top), a &+ UInt64(width.bytes) > top {
                require(.frameBalance, node, "above frame \(a)", d.negate(g), s,
                        "the access to \(describeSlot(a)) must not lie above the entry frame (top \(setup.describe(address: top)))")
            }
        }
    }

    /// `v` is the rsp the path was entered with — which is a user rsp only when the
    /// entry was SYSCALL (every other entry starts on a kernel stack).
    func enteredUserRSP(_ v: D.Value) -> [D.Bit] {
        path.entry == .syscall ? [d.equal(v, d.input("entry.rsp"))] : []
    }

    func rspIn(_ region: StackRegion, _ s: MachineState<D>) -> D.Bit {
        guard let cs = d.cases(s.rsp) else { return d.bit(false) }
        return d.any(cs.filter { region.contains($0.1) }.map(\.0))
    }

    mutating func checkFrameAtExit(_ kind: ExitKind, _ s: MachineState<D>, node: Int) {
        switch kind {
        case .ret:
            guard path.entry == .function else {
                require(.frameBalance, node, "ret exit", d.bit(false), s,
                        "a \(path.entry.rawValue) entry has no caller to return to: it must leave by sysretq or iretq, not ret")
                return
            }
            guard let e = setup.entryRSP else { return }
            require(.frameBalance, node, "rsp at ret", d.equal(s.rsp, d.constant(e &+ 8)), s,
                    "after the path's ret, rsp must be the caller's (\(setup.describe(address: e &+ 8)))",
                    values: [("rsp", s.rsp), ("expected", d.constant(e &+ 8))])
        case .iret:
            guard let f = setup.iretFrame else { return }
            require(.frameBalance, node, "rsp at iret", d.equal(s.rsp, d.constant(f)), s,
                    "iretq must find the hardware frame at \(setup.describe(address: f))",
                    values: [("rsp", s.rsp), ("expected", d.constant(f))])
        case .sysexit:
            // SYSEXIT loads rsp from rcx.
            let sp = userField(s, "sp")
            let ok = d.any(enteredUserRSP(s[.rcx]) + (sp.map { [d.all([$0.known, d.equal(s[.rcx], $0.value)])] } ?? []))
            require(.frameBalance, node, "rsp at sysexit", ok, s,
                    "sysexit must leave with the user's rsp (in rcx)", values: [("rcx", s[.rcx])] + (sp.map { [("user rsp", $0.value)] } ?? []))
        case .sysret:
            let sp = userField(s, "sp")
            let ok = d.any(enteredUserRSP(s.rsp) + (sp.map { [d.all([$0.known, d.equal(s.rsp, $0.value)])] } ?? []))
            require(.frameBalance, node, "rsp at sysret", ok, s,
                    "sysretq must leave with the user's rsp", values: [("rsp", s.rsp)] + (sp.map { [("user rsp", $0.value)] } ?? []))
        }
    }
}
