import SpecElaboration

/// Invariant 4 — the return stack stays balanced (docs/model.md, "4. Return stack balanced").
///
/// Shadow-stack semantics: `call` pushes its return address on a shadow stack (the
/// CPU's return stack buffer; a CET shadow stack); `ret` must pop the address the
/// matching call pushed. Leaving a called routine by `jmp` with its entry still on the
/// shadow stack (`popq %r11` … `jmp ia32_sysret`), returning through a modified
/// address, or exiting (`sysretq`, `iretq`, the path's own `ret`) with calls still
/// unreturned all violate it: the RSB then mispredicts every later return, and a CET
/// shadow stack faults. `popq %r11 … pushq %r11 … ret` with the same value is fine.
extension Interpreter {
    func checkReturn(_ popped: D.Value, _ s: MachineState<D>, node: Int) {
        guard let top = s.shadowStack.last else {
            require(.returnStack, node, Self.retWithoutCallKey, d.bit(false), s, "ret with no call to return from")
            return
        }
        let site = top.callSite.map { "the call at \(callSiteWords($0))" } ?? "the caller's call that entered the path"
        require(.returnStack, node, "ret", d.equal(popped, top.returnAddress), s,
                "ret must return to the address pushed by \(site)",
                values: [("popped", popped), ("pushed", top.returnAddress)])
    }

    static var retWithoutCallKey: String { "ret without call" }

    /// `entry_64.ptsh:14`: a call site with its file, which may not be the unit's.
    func callSiteWords(_ node: Int) -> String {
        let l = program.instructions[graph.nodes[node].instruction].location
        return "\(l.file):\(l.line)"
    }

    func checkReturnStackAtExit(_ kind: ExitKind, _ s: MachineState<D>, node: Int) {
        guard !s.shadowStack.isEmpty else { return }
        let calls = s.shadowStack.map { e in
            e.callSite.map { "the call `\(program.instructions[graph.nodes[$0].instruction].text)` at \(callSiteWords($0))" } ?? "the caller's call that entered the path"
        }
        // One obligation per call never returned through, named after the routine it
        // called: a second leaked call is a violation of its own.
        for e in s.shadowStack {
            require(.returnStack, node, Self.unreturnedKey(e.callSite.map(calleeName) ?? "the path's caller"), d.bit(false), s,
                    "\(kind == .ret ? "the path's ret" : kind.instruction) leaves with \(calls.count) return-stack entr\(calls.count == 1 ? "y" : "ies") never returned through: \(calls.joined(separator: ", "))")
        }
    }

    /// The routine a call instruction enters, in the words an expectation uses.
    func calleeName(_ callNode: Int) -> String {
        Mechanism.point(of: program.instructions[graph.nodes[callNode].instruction])
    }

    static func unreturnedKey(_ callee: String) -> String { "unreturned \(callee)" }
}

extension Mechanism {
    /// A return-stack obligation's subject, and its point when that is not the node's
    /// instruction: a call never returned through is named after the routine it called.
    static func returnStackSubject(key: String) -> (String, point: String?)? {
        switch key {
        case "ret": return ("return-address", nil)
        case Interpreter<ConcreteDomain>.retWithoutCallKey: return ("no-call", nil)
        default:
            guard key.hasPrefix("unreturned ") else { return nil }
            return ("unreturned-call", String(key.dropFirst("unreturned ".count)))
        }
    }
}
