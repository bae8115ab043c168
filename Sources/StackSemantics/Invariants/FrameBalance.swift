import SpecElaboration

/// Invariant 2 — the frame is balanced (docs/model.md, "2. Frame balanced").
///
/// At each exit rsp has the contract's value: after a path's final `ret`/`ret $n` the
/// caller's rsp (the entry rsp + 8: `ret $n` must have dropped what the path added);
/// at `iretq` the hardware frame (where the CPU pushed it, or the top of the kernel
/// stack on the syscall path); at `sysretq` a user rsp (the one the path entered with,
/// or one a ptrace stop wrote). No stack access lies below rsp (the kernel has no red
/// zone: an NMI may clobber it), and on entries whose frame top is known none lies
/// above it.
extension Interpreter {
    /// `indexed`: the operand when it has an index register. Its checks are keyed by
    /// the operand, not the slot, so the proof run's check of a symbolic index
    /// (`checkIndexedAccess`) and a concrete run's check of the slot its values pick are
    /// one obligation, and a counterexample of the one replays as the other.
    func checkAccess(_ addr: D.Value, width: Width, _ s: MachineState<D>, node: Int, indexed: MemoryOperand? = nil) {
        guard let cases = d.cases(addr) else { return }
        for (g, a) in cases {
            guard let region = setup.region(of: a) else { continue }
            // Compare within the region rsp is in: offsets from the region base.
            let inRegion = d.both(g, rspIn(region, s))
            let below = d.unsignedLess(d.constant(a), s.rsp)
            // Words only for an obligation that is kept (most hold by construction).
            require(.frameBalance, node, indexed == nil ? "below rsp \(a)" : Self.indexedBelowKey, d.either(d.negate(inRegion), d.negate(below)), s,
                    "\(accessWords(a, indexed)) must not lie below rsp", values: [("address", d.constant(a)), ("rsp", s.rsp)])
            if let top = setup.frameTop, region.contains(top), a &+ UInt64(width.bytes) > top {
                require(.frameBalance, node, indexed == nil ? "above frame \(a)" : Self.indexedAboveKey, d.negate(g), s,
                        "\(accessWords(a, indexed)) must not lie above the entry frame (top \(setup.describe(address: top)))")
            }
            // A stack an exit copies the IRET frame to ends at its top.
            if setup.iretCopyStacks.contains(region), a &+ UInt64(width.bytes) > region.base {
                require(.frameBalance, node, indexed == nil ? "above frame \(a) (copy)" : Self.indexedAboveKey, d.negate(g), s,
                        "\(accessWords(a, indexed)) must not lie above the top of \(region.name)'s stack")
            }
            // A frame copied to another stack (moves-frame=) tops that stack from then on.
            if let moved = s.movedFrameTop, let tops = d.cases(moved) {
                for (gm, top) in tops where top != 0 && region.contains(top) && a &+ UInt64(width.bytes) > top {
                    require(.frameBalance, node, indexed == nil ? "above frame \(a) (moved)" : Self.indexedAboveKey, d.negate(d.both(g, gm)), s,
                            "\(accessWords(a, indexed)) must not lie above the frame copied to \(setup.describe(address: top &- 168))")
                }
            }
        }
    }

    /// `the access to pt_regs.cx (kernel_stack-0x28)`.
    func accessWords(_ a: UInt64, _ indexed: MemoryOperand?) -> String {
        indexed.map { "the indexed access `\($0.text)` (here \(describeSlot(a)))" } ?? "the access to \(describeSlot(a))"
    }

    static var indexedBelowKey: String { "below rsp (indexed)" }
    static var indexedAboveKey: String { "above frame (indexed)" }

    /// A read at a stack address plus an offset with no fixed value (`-8(%rsp,%rdi,8)`):
    /// the model cannot say which slot it reads, but every value of the offset must
    /// keep it at or above rsp. A concrete run checks the one slot its values pick
    /// under the same key; a model whose address lands off every stack does not
    /// replay, and the verdict is then "unknown" — never a silent "proved".
    func checkIndexedAccess(_ addr: D.Value, _ m: MemoryOperand, width: Width, _ s: MachineState<D>, node: Int) {
        // A violation lands on the stack of the base, which rsp is in (as for slots).
        guard let base = m.base, let bases = d.cases(s[base]) else { return }
        let onRspStack = d.any(bases.compactMap { g, b in
            setup.region(of: b).map { r in
                let inRegion = d.unsignedLess(d.sub(addr, d.constant(r.base &- StackRegion.span)), d.constant(2 * StackRegion.span))
                return d.all([g, rspIn(r, s), inRegion])
            }
        })
        let below = d.unsignedLess(addr, s.rsp)
        require(.frameBalance, node, Self.indexedBelowKey, d.either(d.negate(onRspStack), d.negate(below)), s,
                "the indexed access `\(m.text)` must not lie below rsp", values: [("address", addr), ("rsp", s.rsp)])
        if let top = setup.frameTop, bases.contains(where: { setup.region(of: $0.1)?.contains(top) == true }) {
            let beyond = d.unsignedLess(d.constant(top), d.add(addr, d.constant(UInt64(width.bytes))))
            require(.frameBalance, node, Self.indexedAboveKey, d.negate(beyond), s,
                    "the indexed access `\(m.text)` must not lie above the entry frame (top \(setup.describe(address: top)))")
        }
    }

    /// An access through a stack pointer that lands on no modelled stack (more than
    /// `StackRegion.span` from every stack base): below rsp or beyond the frame, at any
    /// distance, it breaks the frame like any other out-of-frame access.
    /// An indexed operand's checks keep the indexed keys and words (see `checkAccess`): a
    /// model of the symbolic index replays as whichever address its values pick.
    func checkFarAccess(_ cases: [(D.Bit, UInt64)], _ m: MemoryOperand, _ s: MachineState<D>, node: Int) {
        let indexed = m.index != nil
        for (g, a) in cases {
            let below = d.unsignedLess(d.constant(a), s.rsp)
            let words = "the \(indexed ? "indexed " : "")access `\(m.text)` (here \(describeFar(a)))"
            require(.frameBalance, node, indexed ? Self.indexedBelowKey : "far below rsp \(a)", d.negate(d.both(g, below)), s,
                    "\(words) must not lie below rsp", values: [("address", d.constant(a)), ("rsp", s.rsp)])
            require(.frameBalance, node, indexed ? Self.indexedAboveKey : "far above frame \(a)", d.negate(d.both(g, d.negate(below))), s,
                    "\(words) must not lie outside the path's frame")
        }
    }

    /// `entry stack-0x400010`: an address off every stack, named from the nearest base.
    func describeFar(_ a: UInt64) -> String {
        guard let r = setup.regions.min(by: { Int64(bitPattern: a &- $0.base).magnitude < Int64(bitPattern: a &- $1.base).magnitude }) else {
            return "0x" + String(a, radix: 16)
        }
        let off = Int64(bitPattern: a &- r.base)
        return r.name + (off < 0 ? "-" : "+") + "0x" + String(off.magnitude, radix: 16)
    }

    /// `v` is the rsp the path was entered with — which is a user rsp only when the
    /// entry was SYSCALL (every other entry starts on a kernel stack).
    func enteredUserRSP(_ v: D.Value) -> [D.Bit] {
        path.entry == .syscall || path.entry == .compatSyscall ? [userAgree(v, d.input("entry.rsp"), field: "sp") ?? d.bit(true)] : []
    }

    func rspIn(_ region: StackRegion, _ s: MachineState<D>) -> D.Bit {
        guard let cs = d.cases(s.rsp) else { return d.bit(false) }
        // Mostly rsp is one known address (its one case holds unconditionally): no arrays.
        if cs.count == 1 { return region.contains(cs[0].1) ? cs[0].0 : d.bit(false) }
        return d.any(cs.filter { region.contains($0.1) }.map(\.0))
    }

    func checkFrameAtExit(_ kind: ExitKind, _ s: MachineState<D>, node: Int) {
        switch kind {
        case .ret:
            guard path.entry == .function else {
                require(.frameBalance, node, "ret exit", d.bit(false), s,
                        "a \(path.entry.rawValue) entry has no caller to return to: it must leave by sysretq or iretq, not ret")
                return
            }
            if path.returnsPtRegs, let base = setup.ptRegsBase {
                require(.frameBalance, node, "rsp at ret", d.equal(s.rsp, d.constant(base)), s,
                        "after the path's ret, rsp must point at the pt_regs it built (\(setup.describe(address: base)))",
                        values: [("rsp", s.rsp), ("expected", d.constant(base))])
                return
            }
            guard let e = setup.entryRSP else { return }
            require(.frameBalance, node, "rsp at ret", d.equal(s.rsp, d.constant(e &+ 8)), s,
                    "after the path's ret, rsp must be the caller's (\(setup.describe(address: e &+ 8)))",
                    values: [("rsp", s.rsp), ("expected", d.constant(e &+ 8))])
        case .iret:
            // rsp on a stack other than the frame's: the exit copied the IRET frame there
            // (the trampoline stack), and the copy must fill that stack's top five words
            // exactly — a word short or left over and the frame iretq pops is shifted.
            // What the copy holds is checked as any IRET frame's (restore, ptrace).
            if let cases = d.cases(s.rsp), !cases.isEmpty {
                let copies = cases.map { c in setup.iretCopyStacks.first { $0.contains(c.1) } }
                if let first = copies.first ?? nil, copies.allSatisfy({ $0 != nil }) {
                    let onTop = zip(cases, copies).compactMap { c, r in r.flatMap { c.1 == $0.base &- 40 ? c.0 : nil } }
                    require(.frameBalance, node, "rsp at iret", d.any(onTop), s,
                            "iretq from \(first.name)'s stack (a copy of the IRET frame) must find the frame in its top five words, at \(setup.describe(address: first.base &- 40))",
                            values: [("rsp", s.rsp), ("expected", d.constant(first.base &- 40))])
                    return
                }
            }
            // Where the frame was copied (moves-frame=), its IRET frame is the copy's.
            if let moved = s.movedFrameTop {
                let stayed = d.equal(moved, d.constant(0))
                let copied = d.sub(moved, d.constant(40))
                let expected = setup.iretFrame.map { d.select(stayed, d.constant($0), copied) } ?? copied
                let claim = setup.iretFrame == nil ? d.either(stayed, d.equal(s.rsp, copied)) : d.equal(s.rsp, expected)
                let place = d.knownValue(moved).map { $0 == 0 ? setup.iretFrame.map { setup.describe(address: $0) } ?? "?" : setup.describe(address: $0 &- 40) + " (in the copy of the frame)" }
                    ?? "the top of the stack the frame was copied to, or the entry's"
                require(.frameBalance, node, "rsp at iret", claim, s,
                        "iretq must find the hardware frame at \(place)", values: [("rsp", s.rsp), ("expected", expected)])
                return
            }
            guard let f = setup.iretFrame else { return }
            require(.frameBalance, node, "rsp at iret", d.equal(s.rsp, d.constant(f)), s,
                    "iretq must find the hardware frame at \(setup.describe(address: f))",
                    values: [("rsp", s.rsp), ("expected", d.constant(f))])
        case .sysexit:
            // SYSEXIT loads rsp from rcx.
            let sp = userField(s, "sp")
            let ok = d.any(enteredUserRSP(s[.rcx]) + (sp.map { [d.all([$0.known, userAgree(s[.rcx], $0.value, field: "sp") ?? d.bit(true)])] } ?? []))
            require(.frameBalance, node, "rsp at sysexit", ok, s,
                    "sysexit must leave with the user's rsp (in rcx)", values: [("rcx", s[.rcx])] + (sp.map { [("user rsp", $0.value)] } ?? []))
        case .sysret:
            let sp = userField(s, "sp")
            let ok = d.any(enteredUserRSP(s.rsp) + (sp.map { [d.all([$0.known, userAgree(s.rsp, $0.value, field: "sp") ?? d.bit(true)])] } ?? []))
            require(.frameBalance, node, "rsp at sysret", ok, s,
                    "sysretq must leave with the user's rsp", values: [("rsp", s.rsp)] + (sp.map { [("user rsp", $0.value)] } ?? []))
        }
    }
}

extension Mechanism {
    /// A frame obligation's subject: rsp at an exit, an access below rsp or outside the
    /// frame, a `ret` with no caller.
    static func frameSubject(key: String) -> String? {
        if key.hasPrefix("rsp at ") { return "rsp" }
        if key == "ret exit" { return "no-caller" }
        if key.hasPrefix("below rsp") || key.hasPrefix("far below rsp") { return "below-rsp" }
        if key.hasPrefix("above frame") || key.hasPrefix("far above frame") { return "outside-frame" }
        return nil
    }
}
