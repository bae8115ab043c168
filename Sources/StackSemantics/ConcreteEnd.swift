import SpecElaboration

/// Where a concrete run of a path stopped and the machine state it stopped in: what the
/// CPU oracle compares with a native run of the same program. Kept apart from
/// `ConcreteReplay.run`, whose outcome is shaped for traces and counterexamples.
public struct ConcreteEnd: Sendable {
    public enum Kind: Sendable, Equatable {
        /// At an exit instruction (the path's own `ret`, `sysretq`, `iretq`), before it ran.
        case exit(node: Int)
        /// At a step no run continues from: an internal `ret` to an address other than
        /// its call's, which the model does not follow. The state is the one before it.
        case stopped(node: Int)
        /// The model cannot run the path (the reason is the interpreter's).
        case unsupported(String)
        /// The inputs do not satisfy the path's entry condition.
        case unreachable
        /// More than `ConcreteReplay.maximumSteps` steps.
        case tooLong
    }

    public var kind: Kind
    /// The 16 registers in encoding order (`Register.allCases`).
    public var registers: [UInt64]
    public var zeroFlag: Bool
    public var carryFlag: Bool
    public var signFlag: Bool
    public var overflowFlag: Bool
    /// Every stack slot the run wrote (and the slots the entry seeded), by address.
    public var slots: [UInt64: UInt64]
    /// Per-CPU variables by name.
    public var perCPU: [String: UInt64]
    /// Invariants some obligation of the run broke.
    public var broken: Set<Invariant>
    public var steps: Int

    /// The instruction index the run stopped at, for `exit` and `stopped`.
    public func instruction(in graph: PathGraph) -> Int? {
        switch kind {
        case .exit(let n), .stopped(let n): return graph.nodes[n].instruction
        default: return nil
        }
    }
}

extension ConcreteReplay {
    /// Runs `semantics` on the oracle's inputs to its end and returns the final state.
    public static func end(_ semantics: PathSemantics, oracle: @escaping (String) -> UInt64) -> ConcreteEnd {
        let interp = Interpreter(domain: ConcreteDomain(oracle: oracle), semantics: semantics)
        var state = interp.initialState()
        var broken: Set<Invariant> = []
        func result(_ kind: ConcreteEnd.Kind, _ s: MachineState<ConcreteDomain>, steps: Int) -> ConcreteEnd {
            var slots: [UInt64: UInt64] = [:]
            for (a, slot) in s.slots { slots[a] = slot.value }
            var perCPU: [String: UInt64] = [:]
            for (name, v) in s.perCPU { perCPU[name] = v }
            return ConcreteEnd(kind: kind, registers: s.registers, zeroFlag: s.zeroFlag, carryFlag: s.carryFlag,
                               signFlag: s.signFlag, overflowFlag: s.overflowFlag, slots: slots, perCPU: perCPU,
                               broken: broken, steps: steps)
        }
        if !state.reach { return result(.unreachable, state, steps: 0) }
        var node = 0
        for step in 0..<maximumSteps {
            let before = state
            let firstNew = interp.log.items.count
            let successors: Successors<ConcreteDomain>
            do {
                successors = try interp.step(node, state)
            } catch let u as Unsupported {
                return result(.unsupported(u.reason), before, steps: step)
            } catch {
                return result(.unsupported("\(error)"), before, steps: step)
            }
            let log = interp.log
            for i in firstNew..<log.items.count where !log.items[i].claim { broken.insert(log.items[i].invariant) }
            guard let taken = successors.firstIndex(where: { $0.1.reach }) else {
                return result(successors.isEmpty ? .exit(node: node) : .stopped(node: node), before, steps: step + 1)
            }
            node = successors[taken].0
            state = successors[taken].1
        }
        return result(.tooLong, state, steps: maximumSteps)
    }
}
