import SpecElaboration

/// A fact a widened loop variable keeps on every iteration, beyond "some value".
///
/// Widening forgets what a part held: a saved cs that a tracer stop may rewrite (always
/// with a user selector) becomes a fresh variable, and "the return goes to user mode"
/// is lost. A fact is a candidate invariant on such a variable, assumed at the head and
/// proved with the rest of the head state: every state arriving there (on entry and over
/// the back edge from the widened state) must satisfy it, decided by the solver under
/// that state's reach. A fact that fails is dropped and the head is widened again, so a
/// loop entered from both modes keeps a plain variable and its verdicts stay honest.
enum LoopFact: Hashable, CaseIterable {
    /// cs & 3 ≠ 0: the selector of a user-mode context.
    case userSelector
    /// cs & 3 = 0: the selector of a kernel-mode context.
    case kernelSelector

    func holds<D: ValueDomain>(of v: D.Value, _ d: D) -> D.Bit {
        let rplZero = d.equal(d.and(v, d.constant(3)), d.constant(0))
        switch self {
        case .userSelector: return d.negate(rplZero)
        case .kernelSelector: return rplZero
        }
    }

    var text: String {
        switch self {
        case .userSelector: return "a user-mode selector (RPL 3)"
        case .kernelSelector: return "a kernel-mode selector (RPL 0)"
        }
    }
}

extension SymbolicExecutor {
    /// A fact about one part of a head state.
    struct LoopFactKey: Hashable {
        var part: PartID
        var fact: LoopFact
    }

    /// The facts worth trying on a part: the saved cs (a pt_regs slot or the user's view
    /// of it) decides where `iretq` returns and which GS base it must leave with.
    static func candidateFacts<D: ValueDomain>(for part: PartID, _ interp: Interpreter<D>) -> [LoopFact] {
        switch part.kind {
        case .slot where interp.setup.fieldAt[part.index]?.userName == "cs":
            return LoopFact.allCases
        case .userValue where Layout.ptRegs.fields.indices.contains(Int(part.index)) && Layout.ptRegs.fields[Int(part.index)].userName == "cs":
            return LoopFact.allCases
        default:
            return []
        }
    }

    /// What the facts of a widened head state say, as one condition on its parts
    /// (a user value's fact counts only where the value is defined).
    static func factCondition<D: WideningDomain>(_ facts: [LoopFactKey], of s: MachineState<D>, _ interp: Interpreter<D>) -> D.Bit {
        let d = interp.d
        guard !facts.isEmpty else { return d.bit(true) }
        let shape = Shape([s])
        let ps = parts(s, shape, interp), ids = partIDs(shape)
        var index: [PartID: Int] = [:]
        for (k, id) in ids.enumerated() { index[id] = k }
        var conditions: [D.Bit] = []
        for key in facts {
            // A part this state does not have (a slot not yet written) holds no fact.
            guard let k = index[key.part] else { conditions.append(d.bit(false)); continue }
            var c = key.fact.holds(of: ps[k], d)
            if key.part.kind == .userValue, k + 1 < ps.count { c = d.either(d.negate(ps[k + 1]), c) }
            conditions.append(c)
        }
        return d.all(conditions)
    }
}

extension LoopRun where D == SymbolicDomain {
    /// Facts about register `r` at loop head `head` while it still has a writer the
    /// loop's entry gave it, of state `x` (the widened head state, or one arriving there):
    /// 0 — it holds the entry's value, and the user's value of its pt_regs field is the
    /// entry's too; 1… — with writer c, the run came the way the entry gives c (the
    /// guard of that leaf of the entry's writer). Widening forgets how a register's
    /// writer and its value go together; a search for a wrong value blamed on an
    /// instruction other than known ones needs it back, and holds a fact only where it is
    /// shown inductive (PathProver's `provedWriterFacts`). Empty when the writer did not
    /// widen or the entry's writers are no choice of events.
    public func writerFacts(head: Int, register r: Int, of x: MachineState<D>) -> [Term] {
        guard let (w, arriving) = headStates[head], let entry = arriving.first,
              w.origins.count == 16, entry.origins.count == 16, x.origins.count == 16 else { return [] }
        let f = factory
        let entryWriter = entry.origins[r].writer
        if w.origins[r].writer === entryWriter { return [] }
        guard let leaves = f.leaves(entryWriter) else { return [] }
        var routes: [(UInt64, [Term])] = []
        for (g, c) in leaves {
            if let k = routes.firstIndex(where: { $0.0 == c }) { routes[k].1.append(g) } else { routes.append((c, [g])) }
        }
        let writer = x.origins[r].writer
        let fromEntry = f.anyOf(routes.map { f.eq(writer, f.const($0.0)) })
        var same = [f.eq(x.registers[r], entry.registers[r])]
        if let k = Layout.ptRegs.fields.firstIndex(where: { $0.register?.rawValue == r }),
           let ev = entry.user.values[k], entry.user.known[k] == nil, let xv = x.user.values[k], x.user.known[k] == nil {
            same.append(f.eq(xv, ev))
        }
        return [f.either(f.negation(fromEntry), f.allOf(same))]
            + routes.map { c, guards in f.either(f.negation(f.eq(writer, f.const(c))), f.anyOf(guards)) }
    }
}
