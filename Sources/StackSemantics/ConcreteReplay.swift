import SpecElaboration
import SpecSyntax

/// One stack slot as a trace shows it.
public struct SlotView: Sendable, Hashable {
    public var address: UInt64
    /// `rsp`, `CFA` — where the stack pointer and the canonical frame address (the
    /// caller's rsp before the call or the hardware push) point, in pictures.
    public var markers: [String] = []
    /// `pt_regs.cx (kernel_stack-0x8)`.
    public var label: String
    public var value: UInt64
    /// `saved rdi (line 12)`, `garbage`, `ptrace value of cx …`.
    public var holds: String

    public init(address: UInt64, markers: [String] = [], label: String, value: UInt64, holds: String) {
        self.address = address
        self.markers = markers
        self.label = label
        self.value = value
        self.holds = holds
    }
}

/// One executed instruction of a replayed run.
public struct TraceStep: Sendable {
    public var node: Int
    public var location: SourceLocation
    public var text: String
    public var expansion: [Diagnostic.Note]
    /// Where the spec's author wrote it (the macro invocation, not the macro body).
    public var sourceLocation: SourceLocation
    /// The innermost macro it comes from, if any.
    public var macro: String? {
        guard let n = expansion.first, n.message.hasPrefix("in expansion of macro ") else { return nil }
        return String(n.message.dropFirst("in expansion of macro ".count)).replacingOccurrences(of: "'", with: "")
    }
    /// rsp before the instruction, as `region±offset`.
    public var rsp: String
    public var returnStackDepth: Int
    public var kernelGS: Bool
    /// Slots the instruction read or wrote, after it ran.
    public var touched: [SlotView]
    /// What the step did that its slots do not show (`tracer stop: the tracer wrote cx`).
    public var notes: [String]
    /// The stack before the step, as a picture (top down to rsp); recorded only for a
    /// trace with stacks (`--format html`), else empty.
    public var stack: [SlotView] = []

    public init(node: Int, location: SourceLocation, text: String, expansion: [Diagnostic.Note], sourceLocation: SourceLocation,
                rsp: String, returnStackDepth: Int, kernelGS: Bool, touched: [SlotView], notes: [String] = [], stack: [SlotView] = []) {
        self.stack = stack
        self.node = node
        self.location = location
        self.text = text
        self.expansion = expansion
        self.sourceLocation = sourceLocation
        self.rsp = rsp
        self.returnStackDepth = returnStackDepth
        self.kernelGS = kernelGS
        self.touched = touched
        self.notes = notes
    }
}

public struct ReplayOutcome: Sendable {
    public var confirmed: Bool
    public var steps: [TraceStep]
    /// The failing obligation's own words and values, when confirmed.
    public var requirement: String?
    /// The node of the instruction the violation is blamed on, when it is not the step
    /// where the obligation is judged (the restore whose value an exit observes).
    public var blamedNode: Int?
    /// The index in `steps` of the blamed step (the last step, unless `blamedNode`).
    public var blamedStep: Int?
    /// The run's other broken obligations of the same invariant at the same step (every
    /// wrong register at an exit), each with its words and the node it is blamed on.
    public var related: [(key: String, requirement: String, blamedNode: Int?)] = []
    /// Labelled values of the failing claim, ready to print.
    public var values: [(String, String)]
    /// The stack from the frame top down to rsp at the blamed step (before it ran).
    public var picture: [SlotView]
    public var rspAtBlame: UInt64?
    /// Why it did not confirm.
    public var note: String?
    /// Every invariant some obligation of the run broke (the differential test's oracle).
    public var broken: Set<Invariant> = []
    /// For each broken invariant, the first obligation (node, key) that broke it.
    public var firstBroken: [Invariant: (node: Int, key: String)] = [:]
    /// Every obligation (node, key) the run broke, once each, in run order.
    public var allBroken: [(invariant: Invariant, node: Int, key: String)] = []
    /// The inputs the run read, in the order it first read them.
    public var inputsUsed: [(String, UInt64)] = []
    /// Registers (and the user view) when the run left the path: what its callers and
    /// user space observe (for telling a neutral mutation from a real one).
    public var exitState: [String: UInt64] = [:]
    /// The run left the path at an exit (ret, sysretq, sysexit, iretq), not at a trap,
    /// an `.assume`, an unsupported step or the step limit.
    public var reachedExit = false
}

/// Runs a path concretely: the same interpreter over plain numbers, following the one
/// branch the values select. A prover counterexample is reported only if this run,
/// fed the model's inputs, breaks the same obligation at the same step.
public enum ConcreteReplay {
    public static let maximumSteps = 100_000

    public struct Target: Sendable {
        public var invariant: Invariant
        public var node: Int
        public var key: String
        public init(invariant: Invariant, node: Int, key: String) {
            self.invariant = invariant
            self.node = node
            self.key = key
        }
        /// Whether `o` is this obligation, broken.
        func isBroken(by o: Obligation<ConcreteDomain>) -> Bool {
            !o.claim && o.invariant == invariant && o.node == node && o.key == key
        }
    }

    /// How much of a run the outcome reports.
    public enum Detail: Sendable {
        /// What broke and where, nothing else (the probes).
        case brokenOnly
        /// Also the state the run ended in (mutation testing compares it).
        case endState
        /// Everything, with a step per instruction (counterexamples).
        case trace
        /// A trace whose every step also carries the stack before it (`--format html`).
        case traceWithStacks
        /// A trace in which every step that loads a register from the stack also says
        /// what the slot held and who relies on the value (`--explain`).
        case explanation
    }

    /// `target` nil: run to the end (`--explain`, probes, mutation testing).
    public static func run(program: Program, path: PathSpec, graph: PathGraph, oracle: @escaping (String) -> UInt64, target: Target?,
                           detail: Detail = .trace) -> ReplayOutcome {
        run(PathSemantics(program: program, path: path, graph: graph), oracle: oracle, target: target, detail: detail)
    }

    /// Runs of one graph that share `semantics` build its event and input names once.
    public static func run(_ semantics: PathSemantics, oracle: @escaping (String) -> UInt64, target: Target?,
                           detail: Detail = .trace) -> ReplayOutcome {
        let (general, confirmed) = run(semantics, oracle: oracle, targets: target.map { [$0] } ?? [], detail: detail)
        return confirmed.first.flatMap { $0 } ?? general
    }

    /// One run that confirms several obligations it breaks: each confirmed target's
    /// outcome is the one a run with that target alone gives (its trace ends at the step
    /// that breaks it). The first result is the run's own outcome (the end state, what
    /// it broke, and why a target did not confirm).
    public static func run(_ semantics: PathSemantics, oracle: @escaping (String) -> UInt64, targets: [Target],
                           detail: Detail = .trace) -> (ReplayOutcome, [ReplayOutcome?]) {
        let target = targets.first
        var confirmedOutcomes = [ReplayOutcome?](repeating: nil, count: targets.count)
        var afterViews: [Int: [SlotView]] = [:]
        let (program, graph, setup) = (semantics.program, semantics.graph, semantics.setup)
        let recordTrace = detail == .trace || detail == .traceWithStacks || detail == .explanation
        let uses = detail == .explanation ? RestoreUses() : nil
        // Only a confirmed target reports the inputs it read.
        let used = InputLog()
        let d = target == nil ? ConcreteDomain(oracle: oracle) : ConcreteDomain(oracle: { name in
            let v = oracle(name)
            used.note(name, v)
            return v
        })
        defer { _ = used }
        var interp = Interpreter(domain: d, semantics: semantics)
        // Provenance and words only where the outcome shows them: a counterexample's
        // run, and a traced one (`--explain` says who relies on each restore).
        interp.tracksOrigins = target != nil || recordTrace
        interp.buildsWords = target != nil
        if recordTrace { interp.recordTouchedSlots() }
        var state = interp.initialState()
        var out = ReplayOutcome(confirmed: false, steps: [], requirement: nil, values: [], picture: [], rspAtBlame: nil, note: nil)
        if !state.reach {
            out.note = "the model's inputs do not satisfy the path's entry condition"
            return (out, confirmedOutcomes)
        }
        // The state before a step is kept only where the outcome may show it (a trace,
        // the blamed step, the end state); otherwise the step takes over the only
        // reference to it and changes it in place instead of copying it.
        let keepBefore = recordTrace || target != nil || detail == .endState
        // A violation blamed on an earlier step (by provenance) shows the stack before
        // that step: a traced run with a target keeps every step's state.
        var befores: [MachineState<ConcreteDomain>] = []
        var node = 0
        for _ in 0..<maximumSteps {
            let firstNew = interp.log.items.count
            let before: MachineState<ConcreteDomain>? = keepBefore ? state : nil
            let successors: Successors<ConcreteDomain>
            do {
                successors = try interp.step(node, consume state)
            } catch let u as Unsupported {
                out.note = "replay stopped: \(u.reason)"
                return (out, confirmedOutcomes)
            } catch {
                out.note = "replay stopped: \(error)"
                return (out, confirmedOutcomes)
            }
            // The run follows the one successor its values reach.
            let taken = successors.firstIndex(where: { $0.1.reach })
            if recordTrace, let before {
                let inst = program.instructions[graph.nodes[node].instruction]
                let after = taken.map { successors[$0].1 } ?? successors.first?.1 ?? before
                let touchedState = successors.isEmpty ? before : after
                // The blamed step shows its slots as it found them (a stop rewrites them).
                let blamedHere = targets.contains { t in interp.obligations[firstNew...].contains(where: t.isBroken) }
                var text = inst.text
                let choice = graph.nodes[node].choice
                if choice > 0, let arm = program.alternatives[graph.nodes[node].instruction]?[choice - 1] {
                    // An ALTERNATIVE site's choice, not the instruction.
                    let patched = taken.map { successors[$0].0 } == graph.taken[node]
                    text = "ALTERNATIVE (\(arm.location)): feature \(arm.feature) \(patched ? "set: the replacement runs" : "not set")"
                }
                if choice < 0, let f = program.faultFixups[graph.nodes[node].instruction] {
                    // An exception-table entry's choice: the fault and where it resumes.
                    let faulted = taken.map { successors[$0].0 } == graph.taken[node]
                    let fixup = program.instructions[f.fixup]
                    text = faulted ? "faulted at `\(inst.text)` → fixup `\(fixup.text)` (\(fixup.sourceLocation); __ex_table entry at \(f.location))"
                                   : "`\(inst.text)` does not fault (__ex_table entry at \(f.location))"
                }
                out.steps.append(TraceStep(node: node, location: inst.location, text: text, expansion: inst.expansion,
                                           sourceLocation: inst.sourceLocation,
                                           rsp: setup.describe(address: before.rsp), returnStackDepth: before.shadowStack.count,
                                           kernelGS: before.kernelGS,
                                           touched: interp.touched.map { view($0, blamedHere ? before : touchedState, interp) },
                                           notes: interp.notes,
                                           stack: detail == .traceWithStacks ? picture(before, interp) : []))
                // A step that ends one target's trace shows the slots as found; in the
                // traces of later targets it is an ordinary step, showing what it left.
                if blamedHere && targets.count > 1 {
                    afterViews[out.steps.count - 1] = interp.touched.map { view($0, touchedState, interp) }
                }
                if target != nil { befores.append(before) }
                uses?.step(out.steps.count - 1, node: node, after, &out.steps, interp)
            }
            // The step's new obligations, read in place (no copy of the log per step).
            let log = interp.log
            for i in firstNew..<log.items.count where !log.items[i].claim {
                let o = log.items[i]
                out.broken.insert(o.invariant)
                if out.firstBroken[o.invariant] == nil { out.firstBroken[o.invariant] = (o.node, o.key) }
                if !out.allBroken.contains(where: { $0.invariant == o.invariant && $0.node == o.node && $0.key == o.key }) {
                    out.allBroken.append((o.invariant, o.node, o.key))
                }
            }
            if target != nil, let before {
                for (ti, t) in targets.enumerated() where confirmedOutcomes[ti] == nil {
                    for i in firstNew..<log.items.count {
                        let o = log.items[i]
                        guard t.isBroken(by: o) else { continue }
                        var hit = out
                        for (k, views) in afterViews where k < hit.steps.count - 1 { hit.steps[k].touched = views }
                        hit.confirmed = true
                        hit.requirement = o.requirement
                        hit.values = describeValues(o.values, interp)
                        hit.inputsUsed = used.entries
                        func blamed(_ o: Obligation<ConcreteDomain>) -> Int? {
                            o.blame.flatMap { EventID.node(of: $0) }.flatMap { $0 < graph.nodes.count && $0 != o.node ? $0 : nil }
                        }
                        // The stack before the blamed step: this one, or the last run of the
                        // node provenance blames (the restore whose value this exit observes).
                        var shown = before
                        if let b = blamed(o) {
                            hit.blamedNode = b
                            if let k = hit.steps.dropLast().lastIndex(where: { $0.node == b }) {
                                hit.blamedStep = k
                                shown = befores[k]
                            }
                        }
                        hit.rspAtBlame = shown.rsp
                        hit.picture = picture(shown, interp)
                        // Failures judged where values are observed (they carry a blame): every
                        // one at this point, each blamed on its own instruction.
                        for j in firstNew..<log.items.count where j != i && o.blame != nil {
                            let other = log.items[j]
                            guard !other.claim, other.invariant == t.invariant, other.node == t.node else { continue }
                            hit.related.append((other.key, other.requirement, blamed(other)))
                        }
                        confirmedOutcomes[ti] = hit
                        break
                    }
                }
                if !confirmedOutcomes.contains(where: { $0 == nil }) { return (out, confirmedOutcomes) }
            }
            guard let taken else {
                out.reachedExit = interp.exitsReached.contains { $0.reach }
                if let uses, let before { uses.exit(node: node, before, &out.steps, interp) }
                if target != nil { out.note = "the replayed run reached the end of the path without breaking the obligation" }
                // A branch whose side the run's values take was ruled out by `.assume`.
                if successors.isEmpty, case .branch(_, .code(_, let label)) = program.instructions[graph.nodes[node].instruction].operation {
                    out.note = "the run's values take the branch to \(label), which an .assume of the path rules out: it leaves the runs the path's verdicts cover here"
                }
                if let after = successors.first?.1 ?? before {
                    for r in Register.allCases { out.exitState[r.name] = after[r] }
                    for (k, v) in after.user.fields { out.exitState["user." + k] = v }
                    out.picture = picture(after, interp)
                    out.rspAtBlame = after.rsp
                }
                return (out, confirmedOutcomes)
            }
            node = successors[taken].0
            state = successors[taken].1
        }
        out.note = "the replayed run did not finish in \(maximumSteps) steps (a loop the model's inputs never leave)"
        return (out, confirmedOutcomes)
    }

    /// The claim's labelled values, in hex.
    static func describeValues(_ values: [(String, UInt64)], _ interp: Interpreter<ConcreteDomain>) -> [(String, String)] {
        values.map { ($0.0, "0x" + String($0.1, radix: 16)) }
    }

    static func view(_ a: UInt64, _ s: MachineState<ConcreteDomain>, _ interp: Interpreter<ConcreteDomain>) -> SlotView {
        let sl = interp.slot(s, a)
        return SlotView(address: a, label: interp.describeSlot(a), value: sl.value, holds: holds(sl.origin, interp))
    }

    static func holds(_ origin: UInt64, _ interp: Interpreter<ConcreteDomain>) -> String {
        origin == 0 ? "garbage" : interp.holdsWords(origin)
    }

    /// The stack of rsp's region, from the highest slot the path knows down to rsp.
    static func picture(_ s: MachineState<ConcreteDomain>, _ interp: Interpreter<ConcreteDomain>) -> [SlotView] {
        guard let region = interp.setup.region(of: s.rsp) else { return [] }
        var top = s.rsp
        for a in s.slots.keys where region.contains(a) && a > top { top = a }
        if let f = interp.setup.frameTop, region.contains(f), f &- 8 > top { top = f &- 8 }
        if let e = interp.setup.entryRSP, region.contains(e), e > top { top = e }
        // The CFA: the rsp of the code the path was entered from.
        let cfa: UInt64? = {
            guard let e = interp.setup.entryRSP else { return interp.setup.frameTop }
            switch interp.path.entry {
            case .function: return e &+ 8
            case .exceptionWithErrorCode: return e &+ 48
            default: return e &+ 40
            }
        }()
        var out: [SlotView] = []
        var a = top
        while a >= s.rsp && out.count < 64 {
            var v = view(a, s, interp)
            if a == s.rsp { v.markers.append("rsp") }
            if let c = cfa, a == c &- 8 { v.markers.append("CFA-8") }
            out.append(v)
            a &-= 8
        }
        return out
    }
}

/// `--explain`: the values a run loads into registers from the stack (pops and loads —
/// the restores), and who relies on each: an exit that gives the register back (it must
/// hold what the exit's contract says), or nobody (the register is written again, or
/// the exit does not give it back); and where the value was stored on the way (a
/// scratch register carrying it to a slot). Under the observational `restore` rule such
/// a load is no obligation of its own: this says why it is right or wrong.
final class RestoreUses {
    struct Load {
        var step: Int
        var register: Register
        var event: UInt64
        var words: String
        /// Stores of the value on the way (`stored to pt_regs.cx by line 31`).
        var stores: [String] = []
        /// The first later step after which no register holds the value.
        var gone: Int?
    }
    var loads: [Load] = []

    func step(_ k: Int, node: Int, _ after: MachineState<ConcreteDomain>, _ steps: inout [TraceStep], _ interp: Interpreter<ConcreteDomain>) {
        let ev = EventID.at(node: node)
        // A register stored to the stack: the value it carries is kept there.
        let stored: Register?
        switch interp.program.instructions[interp.graph.nodes[node].instruction].operation {
        case .push(.register(let r, _)): stored = r
        case .move(.register(let r, .q), .memory, _): stored = r
        default: stored = nil
        }
        if let r = stored, let slot = steps[k].touched.last?.label {
            let carried = after.origins[r.rawValue].load
            for i in loads.indices where loads[i].gone == nil && loads[i].event == carried {
                loads[i].stores.append("stored to \(slot) by line \(steps[k].sourceLocation.line)")
            }
        }
        let live = Set(after.origins.map(\.load))
        for i in loads.indices where loads[i].gone == nil && !live.contains(loads[i].event) { loads[i].gone = k }
        for r in Register.allCases where r != .rsp {
            let o = after.origins[r.rawValue]
            guard o.writer == ev, o.load == ev else { continue }
            loads.append(Load(step: k, register: r, event: ev,
                              words: "\(r.name) ← \(interp.describeSlot(o.slot)), which held \(interp.holdsWords(o.slotOrigin))"))
        }
    }

    /// At the exit (`before`: the state the exit sees), a note on every load's step.
    func exit(node: Int, _ before: MachineState<ConcreteDomain>, _ steps: inout [TraceStep], _ interp: Interpreter<ConcreteDomain>) {
        let kind: Interpreter<ConcreteDomain>.ExitKind?
        switch interp.program.instructions[interp.graph.nodes[node].instruction].operation {
        case .ret: kind = .ret
        case .sysret: kind = .sysret
        case .sysexit: kind = .sysexit
        case .iret: kind = .iret
        default: kind = nil
        }
        let observed = kind.map { interp.observedAtExit($0, before) } ?? []
        let exit = interp.instructionWords(node: node)
        for l in loads {
            var note = "restore: \(l.words); "
            if !l.stores.isEmpty { note += l.stores.joined(separator: ", ") + "; " }
            if let (r, value, known, field) = observed.first(where: { before.origins[$0.0.rawValue].load == l.event }) {
                let whose = field.map { "the user's value (pt_regs.\($0))" } ?? "its value from the path's entry"
                note += "relied on by \(exit), which gives \(r.name) back and needs \(whose) there — "
                note += !known ? "unchecked in this run (no user value is defined there)"
                    : before[r] == value ? "it is" : "it is not (the restore verdict blames this step)"
            } else if let g = l.gone {
                note += "nobody observes it in \(l.register.name): `\(steps[g].text)` (line \(steps[g].sourceLocation.line)) replaces it before any exit"
            } else if kind != nil {
                note += "nobody observes it in \(l.register.name): \(exit) does not give \(l.register.name) back"
            } else {
                note += "the run ends before an exit observes it"
            }
            steps[l.step].notes.append(note)
        }
    }
}

/// The inputs a concrete run read, first read first.
final class InputLog {
    var entries: [(String, UInt64)] = []
    var seen: Set<String> = []
    func note(_ name: String, _ v: UInt64) {
        if seen.insert(name).inserted { entries.append((name, v)) }
    }
}
