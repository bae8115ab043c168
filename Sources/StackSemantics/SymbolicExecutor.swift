import Foundation
import SpecElaboration
import SpecSyntax

/// The proof run: executes a path's CFG once over terms, merging states at join points
/// (if-then-else terms, so cost grows with the code, not with the number of paths), and
/// treats loops with an inductive check at each loop head.
/// A value domain whose runs can widen loops: values are read as simplified terms for
/// identity, loop-variable classes and choices among constants.
public protocol WideningDomain: ValueDomain where Bit == Value {
    /// The simplifying factory the values' terms come from.
    var factory: TermFactory { get }
    /// The simplified term that stands for a value.
    func term(_ v: Value) -> Term
    /// A condition the simplifier showed without building it as a claim (a choice's part
    /// takes one of its constants): a certifying domain keeps it as a fact to re-check.
    func decided(_ claim: Bit)
}

extension SymbolicDomain: WideningDomain {
    public var factory: TermFactory { f }
    public func term(_ v: Term) -> Term { v }
    public func decided(_ claim: Term) {}
}

extension CertifyingDomain: WideningDomain {
    public var factory: TermFactory { simplifier }
    public func term(_ v: TwinTerm) -> Term { v.simplified }
    public func decided(_ claim: TwinTerm) { facts.note(claim.raw) }
}

public typealias SymbolicRun = LoopRun<SymbolicDomain>

public struct LoopRun<D: WideningDomain> {
    public var obligations: [Obligation<D>]
    /// Claims the run assumed once recorded (a per-CPU stack pointer read on a GS base
    /// the path condition does not settle): the other verdicts hold only if these do.
    public var assumedClaims: [Obligation<D>] = []
    /// The exits the run reaches, each with the condition under which it does (claim
    /// false): when no run reaches any, no exit obligation is about a real run.
    public var exitsReached: [Obligation<D>] = []
    /// Invariants with obligations that held by construction (not kept in `obligations`).
    public var heldByConstruction: Set<Invariant> = []
    /// Set when the path uses a construct the model cannot follow.
    public var unsupported: Unsupported?
    /// Set when a loop head has no inductive state: the verdicts are "unknown: loop".
    public var loopFailure: (node: Int, reason: String)?
    public var factory: TermFactory
    public var setup: EntrySetup
    public var graph: PathGraph
    public var passes: Int
    /// Every register-relative access resolved to stack slots (otherwise a concrete run
    /// may check accesses this run read as unmodelled memory).
    public var everyAddressResolved = true
    /// The conditions that make each loop head's widened state an inductive invariant,
    /// as the final pass checked them (for `--explain` and certificates).
    public var inductionChecks: [InductionCheck<D>] = []
    /// Each loop head's widened state and the states arriving there (entry first), as
    /// the final pass saw them; kept when the run tracks register writers (see
    /// `writerFact`).
    public var headStates: [Int: (widened: MachineState<D>, arriving: [MachineState<D>])] = [:]
    public var domain: D
}

/// Is `reach → claim` valid? The executor asks this of each loop invariant's conditions;
/// the prover answers with the term simplifier, case splitting or the solver.
public typealias InductionProver = (_ f: TermFactory, _ reach: Term, _ claim: Term) -> InductionAnswer

public enum InductionAnswer {
    /// Valid; how it was decided ("by the solver", "by cases").
    case valid(String)
    case invalid
    case unknown(String)
}

/// One condition of a loop invariant: the state arriving at `head` (on entry to the loop
/// or over its back edge) lies in the widened head state.
public struct InductionCheck<D: ValueDomain> {
    public var head: Int
    /// "entry" or "back edge".
    public var side: String
    public var reach: D.Bit
    public var claim: D.Bit
    /// The parts it is about, in the domain's words.
    public var what: String
    /// "simplifier", "by cases", "by the solver".
    public var decidedBy: String
}

public enum SymbolicExecutor {
    /// Passes of the proof run before a loop without an inductive head state is given up
    /// ("unknown: loop"); each refinement of a widened state costs one.
    public static let maximumLoopPasses = 12


    public static let maximumEnumeratedStates = 1 << 16
    static let debugLoops = getenv("PTREGS_PROVE_DEBUG_LOOPS") != nil

    /// `merging: false` enumerates paths instead of merging at joins (exponential: for
    /// checking the merge on small inputs).
    public static func run(program: Program, path: PathSpec, graph: PathGraph, keepDecided: Bool = false, merging: Bool = true,
                           tracksOrigins: Bool = false, induction: InductionProver? = nil) -> SymbolicRun {
        run(PathSemantics(program: program, path: path, graph: graph), keepDecided: keepDecided, merging: merging,
            tracksOrigins: tracksOrigins, induction: induction)
    }

    /// `induction` decides the conditions that make a widened loop head state inductive;
    /// without it only conditions the term simplifier folds to true hold, and a loop
    /// whose invariant needs more is "unknown: loop".
    /// `tracksOrigins`: obligations carry the event that wrote the register they judge
    /// (`Obligation.blame`), as a term — so a search can ask for a violation blamed on
    /// another instruction than those found (see `RegisterOrigin`).
    public static func run(_ semantics: PathSemantics, keepDecided: Bool = false, merging: Bool = true,
                           tracksOrigins: Bool = false, induction: InductionProver? = nil) -> SymbolicRun {
        run(semantics, domain: SymbolicDomain(TermFactory()), keepDecided: keepDecided, merging: merging,
            tracksOrigins: tracksOrigins, induction: induction)
    }

    /// The run in any widening domain (the certifying run uses the product of simplified
    /// and raw terms, and makes exactly the proof run's decisions).
    public static func run<D: WideningDomain>(_ semantics: PathSemantics, domain d: D, keepDecided: Bool = false, merging: Bool = true,
                                              tracksOrigins: Bool = false, induction: InductionProver? = nil) -> LoopRun<D> {
        typealias State = MachineState<D>
        let (graph, setup) = (semantics.graph, semantics.setup)
        var enumerated = 0
        let f = d.factory
        var widened: [Int: State] = [:]
        // Facts assumed of a widened head's variables (`LoopFact`), proved with the head
        // state; those that failed at a head are not tried there again.
        var headFacts: [Int: [LoopFactKey]] = [:]
        var factAssumption: [Int: D.Bit] = [:]
        var rejectedFacts: [Int: Set<LoopFactKey>] = [:]
        // Reach of runs that enter a loop's body other than through its head (an
        // irreducible loop): the head state must cover them too.
        var sideEntries: [Int: D.Bit] = [:]
        // A loop head the run reaches only through its back edge (the body is entered
        // from the side): its first arrival, from the back edge of the pass before.
        var firstArrival: [Int: State] = [:]
        var result = LoopRun<D>(obligations: [], unsupported: nil, loopFailure: nil,
                                factory: f, setup: setup, graph: graph, passes: 0, domain: d)
        var passCount = 0
        let selectors = SelectorCount()   // shared by every pass: widened states carry selectors
        // No loop head reaches these nodes, so the widened head states cannot change
        // what they compute: passes after the first reuse the first pass's steps
        // (successor states and obligations) instead of executing them again.
        // (A loop-free path has one pass: nothing to keep.)
        let beforeLoops = graph.loopHeads.isEmpty ? [] : graph.nodesNoLoopHeadReaches()
        var firstPassSteps: [(successors: [(Int, State)], obligations: [Obligation<D>])?] = Array(repeating: nil, count: graph.nodes.count)
        // The graph's loop structure by node, read on every step and edge.
        let isLoopHead = (0..<graph.nodes.count).map { graph.loopHeads.contains($0) }
        var backEdgeTargets: [[Int]] = Array(repeating: [], count: graph.nodes.count)
        for e in graph.backEdges { backEdgeTargets[e.from].append(e.to) }
        var bodiesContaining: [[Int]] = Array(repeating: [], count: graph.nodes.count)
        for (h, body) in graph.loopBodies.sorted(by: { $0.key < $1.key }) { for n in body { bodiesContaining[n].append(h) } }
        while true {
            passCount += 1
            result.passes = passCount
            var interp = Interpreter(domain: d, semantics: semantics)
            interp.keepDecided = keepDecided
            interp.tracksOrigins = tracksOrigins
            interp.selectors = selectors
            var incoming: [[State]] = Array(repeating: [], count: graph.nodes.count)
            incoming[0] = [interp.initialState()]
            var inStates: [Int: State] = [:]
            var backStates: [Int: [State]] = [:]
            var sideEntryReach: [Int: [D.Bit]] = [:]
            /// Merges the states arriving at `n` (or, enumerating, keeps them apart)
            /// and steps them.
            func step(_ n: Int, _ arriving: consuming [State]) throws -> [(Int, State)] {
                // Merging at joins keeps one state per node; enumeration (a check of
                // the merging, for loop-free paths) steps every incoming state alone.
                var ins = arriving
                var states: [State]
                if merging || isLoopHead[n] {
                    // A lone arrival is moved, not copied: the step then owns the only
                    // reference and changes the state in place.
                    states = [ins.count == 1 ? ins.removeLast() : merge(ins, interp)]
                } else {
                    states = ins
                    enumerated += ins.count
                    if enumerated > maximumEnumeratedStates {
                        throw Unsupported(node: n, reason: "more than \(maximumEnumeratedStates) states when enumerating paths")
                    }
                }
                if isLoopHead[n] {
                    inStates[n] = states[0]
                    if var w = widened[n] {
                        // The marker says "this run went through the widened head".
                        w.reach = d.all([d.any([states[0].reach, sideEntries[n] ?? d.bit(false)]), d.inputBit("loop@\(n).live"),
                                         factAssumption[n] ?? d.bit(true)])
                        states = [w]
                    }
                }
                let obligationsBefore = interp.log.items.count
                var successors: [(Int, State)] = []
                if states.count == 1 {
                    successors += try interp.step(n, states.removeLast())
                } else {
                    for st in states { successors += try interp.step(n, st) }
                }
                if !beforeLoops.isEmpty && beforeLoops[n] { firstPassSteps[n] = (successors, Array(interp.log.items[obligationsBefore...])) }
                return successors
            }
            do {
                for n in graph.order {
                    var ins: [State] = []
                    swap(&ins, &incoming[n])
                    if !firstArrival.isEmpty, let first = firstArrival[n] { ins.append(first) }
                    guard !ins.isEmpty else { continue }
                    var successors: [(Int, State)] = []
                    if let reused = firstPassSteps[n] {
                        interp.log.items += reused.obligations
                        successors = reused.successors
                    } else {
                        successors = try step(n, consume ins)
                    }
                    for (m, s2) in successors {
                        if backEdgeTargets[n].contains(m) {
                            backStates[m, default: []].append(s2)
                        } else {
                            incoming[m].append(s2)
                            for h in bodiesContaining[m] where h != m && !bodiesContaining[n].contains(h) {
                                sideEntryReach[h, default: []].append(s2.reach)
                            }
                        }
                    }
                }
            } catch let u as Unsupported {
                result.unsupported = u
                return result
            } catch {
                result.unsupported = Unsupported(node: 0, reason: "\(error)")
                return result
            }
            // Loop heads: is the state at each head inductive?
            var stable = true
            for h in graph.loopHeads {
                let side = d.any(sideEntryReach[h] ?? [])
                if d.term(side) !== d.term(sideEntries[h] ?? d.bit(false)) { stable = false; sideEntries[h] = side }
            }
            var failure: (Int, String)?
            for h in graph.loopHeads.sorted() where inStates[h] == nil && firstArrival[h] == nil {
                if let backs = backStates[h], !backs.isEmpty {
                    firstArrival[h] = merge(backs, interp)
                    stable = false
                }
            }
            var checks: [InductionCheck<D>] = []
            for h in graph.loopHeads.sorted() {
                guard let inState = inStates[h] else { continue }
                let backs = backStates[h] ?? []
                let back = backs.isEmpty ? nil : merge(backs, interp)
                if let w = widened[h] {
                    // The widened state is a candidate invariant: every state arriving at the
                    // head — on entry, and after one trip round the body from the widened
                    // state itself — must lie in it. The solver decides; nothing is assumed.
                    // Each back edge's state alone: lying in `w` one by one is lying in it
                    // merged, and unmerged states mostly match `w` term for term.
                    switch inductive(head: h, w, facts: headFacts[h] ?? [], arriving: [("entry", inState)] + backs.map { ("back edge", $0) }, interp, induction) {
                    case .inductive(let cs):
                        checks += cs
                        continue
                    case .refine(let parts, let rejected):
                        rejectedFacts[h, default: []].formUnion(rejected)
                        // Widen again from this pass's states: a part that left its class
                        // differs from the others syntactically here, so it gets a class
                        // (or a variable) of its own.
                        if debugLoops { print("DEBUG loop@\(h) pass \(passCount): not inductive: \(parts.map { describe($0, interp) })") }
                    case .unknown(let reason):
                        failure = (h, reason)
                        continue
                    }
                } else if back == nil {
                    continue
                }
                stable = false
                switch widen(head: h, pass: passCount, inState: inState, back: back ?? inState, previous: widened[h], rejected: rejectedFacts[h] ?? [], interp) {
                case .success(let (w, facts)):
                    widened[h] = w
                    headFacts[h] = facts
                    factAssumption[h] = facts.isEmpty ? nil : factCondition(facts, of: w, interp)
                case .failure(let reason): failure = (h, reason.text)
                }
            }
            if let (h, reason) = failure {
                result.loopFailure = (h, reason)
                return result
            }
            if stable {
                // The loop invariant holds; the register writers (ghost state, outside
                // it) must cover every arriving run too, or they widen and the run goes on.
                for h in graph.loopHeads.sorted() {
                    guard var w = widened[h], let inState = inStates[h] else { continue }
                    let arriving = [inState] + (backStates[h] ?? [])
                    if originsClosed(w, arriving: arriving, interp) { continue }
                    widenOrigins(head: h, pass: passCount, &w, [w] + arriving, interp)
                    widened[h] = w
                    stable = false
                }
            }
            if stable {
                if tracksOrigins {
                    for h in graph.loopHeads.sorted() {
                        guard let w = widened[h], let inState = inStates[h] else { continue }
                        result.headStates[h] = (w, [inState] + (backStates[h] ?? []))
                    }
                }
                result.inductionChecks = checks
                result.everyAddressResolved = interp.coverage.everyAddressResolved
                result.obligations = interp.obligations
                result.assumedClaims = interp.assumedClaims
                result.exitsReached = interp.exitsReached
                result.heldByConstruction = interp.heldByConstruction
                return result
            }
            if passCount >= maximumLoopPasses {
                let h = graph.loopHeads.sorted().first ?? 0
                result.loopFailure = (h, "the loop state did not become inductive in \(maximumLoopPasses) passes")
                return result
            }
        }
    }

    // MARK: Merging

    static func merge<D: WideningDomain>(_ states: [MachineState<D>], _ interp: Interpreter<D>) -> MachineState<D> {
        var acc = states[0]
        for s in states.dropFirst() { acc = merge2(acc, s, interp) }
        return acc
    }

    /// Joins two states: every part becomes `ite(c, a, b)`. In a DAG the two reach
    /// conditions exclude each other and c is `a.reach`. Runs through a widened loop
    /// head do not tell iterations apart, so a state from there may overlap one from
    /// outside the loop: then a fresh selector keeps both possibilities where both are
    /// reachable (`c = a.reach ∧ (¬b.reach ∨ sel)`), which is what soundness needs.
    static func merge2<D: WideningDomain>(_ a: MachineState<D>, _ b: MachineState<D>, _ interp: Interpreter<D>) -> MachineState<D> {
        let d = interp.d, f = d.factory
        var c = a.reach
        if f.mentionsLoopVariable(d.term(a.reach)) || f.mentionsLoopVariable(d.term(b.reach)) {
            interp.selectors.count += 1
            c = d.all([a.reach, d.any([d.negate(b.reach), d.inputBit("loop@merge.\(interp.selectors.count)")])])
        }
        return join(a, b, where: c, interp)
    }

    /// The state that is `a` where `c` holds and `b` elsewhere, reachable where either
    /// is: the merge itself, in any value domain (the certifying run merges too).
    static func join<D: ValueDomain>(_ a: MachineState<D>, _ b: MachineState<D>, where c: D.Bit, _ interp: Interpreter<D>) -> MachineState<D> {
        let d = interp.d
        var out = a
        out.reach = d.either(a.reach, b.reach)
        for i in 0..<16 { out.registers[i] = d.select(c, a.registers[i], b.registers[i]) }
        out.zeroFlag = d.selectBit(c, a.zeroFlag, b.zeroFlag)
        out.carryFlag = d.selectBit(c, a.carryFlag, b.carryFlag)
        out.signFlag = d.selectBit(c, a.signFlag, b.signFlag)
        out.overflowFlag = d.selectBit(c, a.overflowFlag, b.overflowFlag)
        out.kernelGS = d.selectBit(c, a.kernelGS, b.kernelGS)
        if a.movedFrameTop != nil || b.movedFrameTop != nil {
            out.movedFrameTop = d.select(c, a.movedFrameTop ?? d.constant(0), b.movedFrameTop ?? d.constant(0))
        }
        // `out` starts as `a`: only slots that differ are written (most agree at a join).
        for (addr, sa) in a.slots {
            let sb = interp.slot(b, addr)
            if !interp.sameSlot(sa, sb) { out.slots[addr] = interp.mergeSlot(c, sa, sb) }
        }
        for (addr, sb) in b.slots where a.slots[addr] == nil {
            out.slots[addr] = interp.mergeSlot(c, interp.untouchedSlot(addr), sb)
        }
        for (k, x) in a.perCPU {
            if let y = b.perCPU[k], !d.same(x, y) { out.perCPU[k] = d.select(c, x, y) }
        }
        // A field one side does not define stays, defined only where the other side is.
        // Where a side leaves it undefined its value is no obligation's: it is taken to
        // be that side's pt_regs slot for the field, so that a loop head that joins a
        // run defining the field (a tracer wrote it) with one that does not keeps
        // "field = user value" as one term (SYSENTER's ip and flags).
        for k in 0..<PtRegsField.count {
            let va = a.user.values[k], vb = b.user.values[k]
            if va == nil && vb == nil { continue }
            let ka = va == nil ? d.bit(false) : (a.user.known[k] ?? d.bit(true))
            let kb = vb == nil ? d.bit(false) : (b.user.known[k] ?? d.bit(true))
            func dontCare(_ s: MachineState<D>) -> D.Value {
                guard let base = interp.setup.ptRegsBase else { return d.constant(0) }
                return interp.slot(s, base &+ UInt64(Layout.ptRegs.fields[k].offset)).value
            }
            let ua = d.known(ka) == false ? dontCare(a) : va ?? d.constant(0)
            let ub = d.known(kb) == false ? dontCare(b) : vb ?? d.constant(0)
            out.user.values[k] = d.select(c, ua, ub)
            let merged = d.selectBit(c, ka, kb)
            out.user.known[k] = d.known(merged) == true ? nil : merged
        }
        if !a.origins.isEmpty && !b.origins.isEmpty {
            for i in 0..<16 {
                let x = a.origins[i], y = b.origins[i]
                if d.same(x.writer, y.writer) && d.same(x.load, y.load) && d.same(x.slot, y.slot) && d.same(x.slotOrigin, y.slotOrigin) { continue }
                out.origins[i] = RegisterOrigin(writer: d.select(c, x.writer, y.writer), load: d.select(c, x.load, y.load),
                                                slot: d.select(c, x.slot, y.slot), slotOrigin: d.select(c, x.slotOrigin, y.slotOrigin))
            }
        }
        for i in 0..<min(a.shadowStack.count, b.shadowStack.count) {
            out.shadowStack[i].returnAddress = d.select(c, a.shadowStack[i].returnAddress, b.shadowStack[i].returnAddress)
            if let fa = a.shadowStack[i].frame, let fb = b.shadowStack[i].frame { out.shadowStack[i].frame = d.select(c, fa, fb) }
        }
        return out
    }

    // MARK: Loops

    /// Which parts a set of states has, in one canonical order.
    struct Shape {
        var slots: [UInt64]
        var perCPU: [String]
        /// pt_regs field positions some state defines.
        var user: [Int]
        var shadow: Int
        init<D: ValueDomain>(_ states: [MachineState<D>]) {
            // Each state's slots are in address order: merge them, no set needed.
            slots = states.dropFirst().reduce(states[0].slots.keys) { SymbolicExecutor.sortedUnion($0, $1.slots.keys) }
            // The names every state has (each state lists its own in name order).
            perCPU = states[0].perCPU.keys.filter { name in states.dropFirst().allSatisfy { $0.perCPU[name] != nil } }
            user = (0..<PtRegsField.count).filter { k in states.contains { $0.user.values[k] != nil } }
            shadow = states.map(\.shadowStack.count).min() ?? 0
        }
    }

    /// The union of two ascending lists of addresses, ascending.
    static func sortedUnion(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        var out: [UInt64] = []
        out.reserveCapacity(max(a.count, b.count))
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i] < b[j]) {
                out.append(a[i]); i += 1
            } else if i == a.count || b[j] < a[i] {
                out.append(b[j]); j += 1
            } else {
                out.append(a[i]); i += 1; j += 1
            }
        }
        return out
    }

    static func parts<D: WideningDomain>(_ s: MachineState<D>, _ shape: Shape, _ interp: Interpreter<D>) -> [D.Value] {
        var out = s.registers
        out += [s.zeroFlag, s.carryFlag, s.signFlag, s.overflowFlag, s.kernelGS, s.movedFrameTop ?? interp.d.constant(0)]
        // A slot's origin is ghost state for traces, which no claim reads: it is not part
        // of a loop invariant (widening it only made choices among event ids to prove).
        for a in shape.slots { out.append(interp.slot(s, a).value) }
        let d = interp.d
        for k in shape.perCPU { out.append(s.perCPU[k] ?? d.constant(0)) }
        for k in shape.user {
            out.append(s.user.values[k] ?? d.constant(0))
            out.append(s.user.values[k] == nil ? d.bit(false) : (s.user.known[k] ?? d.bit(true)))
        }
        for i in 0..<shape.shadow { out.append(s.shadowStack[i].returnAddress) }
        for i in 0..<shape.shadow { out.append(s.shadowStack[i].frame ?? d.constant(0)) }
        return out
    }

    static func rebuild<D: WideningDomain>(_ template: MachineState<D>, _ shape: Shape, _ p: [D.Value], _ d: D) -> MachineState<D> {
        var s = template
        var k = 0
        func next() -> D.Value { defer { k += 1 }; return p[k] }
        for i in 0..<16 { s.registers[i] = next() }
        s.zeroFlag = next(); s.carryFlag = next(); s.signFlag = next(); s.overflowFlag = next(); s.kernelGS = next()
        let moved = next()
        s.movedFrameTop = d.knownValue(moved) == 0 ? nil : moved
        for a in shape.slots {
            s.slots[a] = StackSlot(value: next(), origin: template.slots[a]?.origin ?? d.constant(0))
        }
        for key in shape.perCPU { s.perCPU[key] = next() }
        s.user = UserView()
        for key in shape.user {
            s.user.values[key] = next()
            let known = next()
            if d.known(known) != true { s.user.known[key] = known }
        }
        for i in 0..<shape.shadow { s.shadowStack[i].returnAddress = next() }
        for i in 0..<shape.shadow {
            let f = next()
            if template.shadowStack[i].frame != nil { s.shadowStack[i].frame = f }
        }
        return s
    }


    static func isLoopVariable(_ t: Term, prefix: String) -> Bool {
        (t.op == .variable || t.op == .boolVariable) && t.name.hasPrefix(prefix)
    }

    /// A part of a head state, named independently of the shape it sits in (shapes grow
    /// as a loop writes new slots), so a refinement survives to the next widening.
    struct PartID: Hashable {
        enum Kind: UInt8 { case register, flag, movedFrame, slot, perCPU, userValue, userKnown, shadow, shadowFrame }
        var kind: Kind
        var index: UInt64
        var name: String = ""
    }

    /// The ids of `parts(_, shape, _)`, in the same order.
    static func partIDs(_ shape: Shape) -> [PartID] {
        var out: [PartID] = (0..<16).map { PartID(kind: .register, index: UInt64($0)) }
        out += (0..<5).map { PartID(kind: .flag, index: UInt64($0)) }
        out.append(PartID(kind: .movedFrame, index: 0))
        out += shape.slots.map { PartID(kind: .slot, index: $0) }
        out += shape.perCPU.map { PartID(kind: .perCPU, index: 0, name: $0) }
        for k in shape.user { out += [PartID(kind: .userValue, index: UInt64(k)), PartID(kind: .userKnown, index: UInt64(k))] }
        out += (0..<shape.shadow).map { PartID(kind: .shadow, index: UInt64($0)) }
        out += (0..<shape.shadow).map { PartID(kind: .shadowFrame, index: UInt64($0)) }
        return out
    }

    static func describe<D: ValueDomain>(_ p: PartID, _ interp: Interpreter<D>) -> String {
        switch p.kind {
        case .register: return Register(rawValue: Int(p.index)).map { $0.name } ?? "r?"
        case .flag: return ["zf", "cf", "sf", "of", "the GS base"][Int(p.index)]
        case .movedFrame: return "where a moves-frame call put the frame"
        case .slot:
            return "the slot \(interp.describeSlot(p.index))"
        case .perCPU: return "per-CPU \(p.name)"
        case .userValue: return "the user's \(Layout.ptRegs.fields[Int(p.index)].userName)"
        case .userKnown: return "whether the user's \(Layout.ptRegs.fields[Int(p.index)].userName) is defined"
        case .shadow: return "return-stack entry \(p.index)"
        case .shadowFrame: return "the frame of return-stack entry \(p.index)"
        }
    }

    enum Induction<D: ValueDomain> {
        case inductive([InductionCheck<D>])
        /// Conditions that do not hold: the parts to widen apart, and the facts that
        /// failed (not assumed again at this head).
        case refine(Set<PartID>, rejected: Set<LoopFactKey>)
        case unknown(String)
    }

    /// Whether every arriving state lies in the widened head state `w`: parts `w` keeps
    /// are equal to its terms, parts sharing one loop variable (or one choice) are equal
    /// to each other, and a choice's parts take one of its constants. A user's field
    /// value counts only where the field is defined (no obligation reads it otherwise).
    /// Each condition `reach → claim` is decided by `prove`; a condition that fails names
    /// the parts to widen apart.
    static func inductive<D: WideningDomain>(head: Int, _ w: MachineState<D>, facts: [LoopFactKey] = [], arriving: [(String, MachineState<D>)], _ interp: Interpreter<D>,
                                             _ prove: InductionProver?) -> Induction<D> {
        let d = interp.d, f = d.factory
        var checks: [InductionCheck<D>] = []
        var failed: Set<PartID> = []
        let prefix = "loop@\(head)."
        for (side, s) in arriving {
            if s.shadowStack.count != w.shadowStack.count {
                return .unknown("the return-stack depth at the loop head changes between iterations")
            }
            let shape = Shape([w, s])
            let wp = parts(w, shape, interp), sp = parts(s, shape, interp), ids = partIDs(shape)
            guard ids.count == wp.count, sp.count == wp.count else {
                return .unknown("internal: the loop state's parts and their names disagree (\(ids.count) names, \(wp.count) parts)")
            }
            var representative: [Term: Int] = [:]
            var open: [(Int, D.Bit)] = []
            for k in 0..<wp.count {
                let wk = d.term(wp[k])
                // A 32-bit task's field seen only by its low half is compared so (see `widen`).
                let lowHalf = ids[k].kind == .userValue && interp.userSeesLowHalfOnly(field: Layout.ptRegs.fields[Int(ids[k].index)].userName)
                let eq: (D.Value, D.Value) -> D.Bit = { a, b in
                    d.term(a).isBool ? d.equalBits(a, b) : lowHalf ? d.equal(d.low32(a), d.low32(b)) : d.equal(a, b)
                }
                var claim: D.Bit
                if isLoopVariable(wk, prefix: prefix) || isChoice(wk, head: head, f) {
                    if let rep = representative[wk] {
                        claim = eq(sp[k], sp[rep])
                    } else {
                        representative[wk] = k
                        claim = d.bit(true)
                    }
                    // A choice's part takes one of its constants: at once when every leaf
                    // of the part's term is one of them, otherwise a condition.
                    if wk.op == .ite, let allowed = f.leafValues(wk) {
                        let member = d.any(allowed.values.map { d.equal(sp[k], d.constant($0)) })
                        if f.leafValues(of: d.term(sp[k]), within: allowed) == true {
                            d.decided(member)
                        } else {
                            claim = d.both(claim, member)
                        }
                    }
                } else {
                    claim = eq(sp[k], wp[k])
                }
                if ids[k].kind == .userValue { claim = d.either(d.negate(sp[k + 1]), claim) }
                if d.known(claim) != true { open.append((k, claim)) }
            }
            // Each fact the widened state assumes holds of the arriving state too.
            var factClaims: [(LoopFactKey, D.Bit)] = []
            for key in facts {
                let c = factCondition([key], of: s, interp)
                if d.known(c) != true { factClaims.append((key, c)) }
            }
            if open.isEmpty && factClaims.isEmpty {
                checks.append(InductionCheck(head: head, side: side, reach: s.reach, claim: d.bit(true),
                                             what: "every part, term for term", decidedBy: "simplifier"))
                continue
            }
            if debugLoops { for (k, c) in open { print("DEBUG open \(side) \(describe(ids[k], interp)): \(d.term(c))".prefix(600)) } }
            func decide(_ claim: D.Bit) -> InductionAnswer {
                if d.known(d.both(s.reach, d.negate(claim))) == false { return .valid("simplifier") }
                guard let prove else { return .invalid }
                return prove(f, d.term(s.reach), d.term(claim))
            }
            let what = { (ks: [Int]) -> String in
                let named = ks.prefix(4).map { describe(ids[$0], interp) }
                    + factClaims.map { "\(describe($0.0.part, interp)) is \($0.0.fact.text)" }
                let shown = named.prefix(4).joined(separator: ", ")
                return named.count > 4 ? "\(shown) and \(named.count - 4) more parts" : shown
            }
            // One question for the whole state.
            let all = d.all(open.map(\.1) + factClaims.map(\.1))
            switch decide(all) {
            case .valid(let how):
                checks.append(InductionCheck(head: head, side: side, reach: s.reach, claim: all,
                                             what: what(open.map(\.0)), decidedBy: how))
                continue
            case .unknown(let reason):
                return .unknown("whether the widened state at the loop head holds on its \(side) could not be decided (\(reason))")
            case .invalid:
                break
            }
            // Which parts broke matters only to a reader: any failure widens the head again
            // from this pass's states. Named one by one only when debugging.
            if debugLoops {
                for (k, claim) in open { if case .invalid = decide(claim) { failed.insert(ids[k]) } }
            }
            // A fact that does not hold is dropped; with every fact holding, the parts
            // themselves need widening apart.
            var rejected: Set<LoopFactKey> = []
            for (key, claim) in factClaims {
                if case .valid = decide(claim) { continue }
                rejected.insert(key)
            }
            if debugLoops { print("DEBUG loop@\(head) \(side): facts rejected: \(rejected.map { "\(describe($0.part, interp)) \($0.fact)" })") }
            return .refine(failed, rejected: rejected)
        }
        return .inductive(checks)
    }

    static func isChoice(_ t: Term, head: Int, _ f: TermFactory) -> Bool {
        t.op == .ite && f.leafValues(t) != nil && f.loopHeadsMentioned(t).contains(head)
    }

    struct LoopFailure: Error { var text: String }

    /// A widening class: the terms a part has on entry, after the body and in the
    /// previous widened state.
    struct PartKey: Hashable { var entry, back, previous: Int }

    /// Every constant the terms may take, sorted; nil if one is not a choice among
    /// constants.
    static func constantsTaken(by terms: [Term], _ f: TermFactory) -> [UInt64]? {
        var values: [UInt64] = []
        for t in terms {
            if let c = t.constant {
                if !values.contains(c) { values.append(c) }
            } else if let leaves = f.leafValues(t) {
                for c in leaves.values where !values.contains(c) { values.append(c) }
            } else {
                return nil
            }
        }
        return values.sorted()
    }

    /// A head state that covers every iteration: parts that differ between the entry and
    /// the back edge become loop variables (parts that agree on every side share one).
    /// rsp and the return stack must not change: "the frame shape is the same on every
    /// iteration". Only a candidate: `inductive` decides whether it holds.
    static func widen<D: WideningDomain>(head: Int, pass: Int = 1, inState: MachineState<D>, back: MachineState<D>, previous: MachineState<D>?,
                                         rejected: Set<LoopFactKey> = [], _ interp: Interpreter<D>) -> Result<(MachineState<D>, [LoopFactKey]), LoopFailure> {
        let d = interp.d, f = d.factory
        if d.term(inState.rsp) !== d.term(back.rsp) {
            return .failure(LoopFailure(text: "rsp at the loop head differs between iterations (\(interp.describeValue(inState.rsp)) on entry, \(interp.describeValue(back.rsp)) after the body): the frame shape changes"))
        }
        if inState.shadowStack.count != back.shadowStack.count {
            return .failure(LoopFailure(text: "the return-stack depth at the loop head changes between iterations"))
        }
        let prev = previous ?? inState
        let shape = Shape([inState, back, prev])
        let ip = parts(inState, shape, interp), bp = parts(back, shape, interp), pp = parts(prev, shape, interp)
        // Parts with the same (entry, back edge, previous) terms share one variable.
        var classes: [PartKey: D.Value] = [:]
        classes.reserveCapacity(ip.count)
        var out: [D.Value] = []
        out.reserveCapacity(ip.count)
        var facts: [LoopFactKey] = []
        // The user-view parts come in (value, known) pairs after the slots and per-CPU
        // variables. A value not known on entry is a don't-care there: it joins the
        // class of whatever part ends the body with the same term (the slot a stop
        // wrote), so "field == user value" survives the widening.
        let userStart = partIDs(shape).firstIndex { $0.kind == .userValue } ?? ip.count
        let userEnd = userStart + 2 * shape.user.count
        var byBack: [Int: D.Value] = [:]
        byBack.reserveCapacity(ip.count)
        func dontCare(_ k: Int) -> Bool {
            k >= userStart && k < userEnd && (k - userStart) % 2 == 0 && d.term(ip[k + 1]).boolConstant == false
        }
        // A 32-bit task's user value seen only by its low half (`userSeesLowHalfOnly`)
        // shares the part — a saved slot, zero-extended by `movl %ebp, %ebp` — whose low
        // half is the same term on every side: the high halves differ, and the only
        // obligation that reads them accepts zero. `inductive` then compares such a part
        // by its low half.
        let ids = partIDs(shape)
        func lowHalfUser(_ k: Int) -> Bool {
            k >= userStart && k < userEnd && (k - userStart) % 2 == 0
                && interp.userSeesLowHalfOnly(field: Layout.ptRegs.fields[Int(ids[k].index)].userName)
        }
        var byLowHalf: [PartKey: D.Value] = [:]
        func lowHalfKey(_ k: Int, _ i: Term, _ b: Term, _ p: Term) -> PartKey? {
            guard let li = lowHalf(i, f), let lb = lowHalf(b, f), let lp = lowHalf(p, f) else { return nil }
            return PartKey(entry: li.id, back: lb.id, previous: lp.id)
        }
        for k in 0..<ip.count {
            let (i, b, p) = (d.term(ip[k]), d.term(bp[k]), d.term(pp[k]))
            // Only a slot whose high half is zero (zero-extended): the task is owed its
            // registers' high halves or zero (RestoreMatchesSave), so a slot with other
            // high bits must not stand for its value.
            if interp.path.userIs32Bit, k < userStart, !i.isBool, ids[k].kind == .slot, let key = lowHalfKey(k, i, b, p), byLowHalf[key] == nil {
                byLowHalf[key] = i === b && i === p && d.term(d.low32(ip[k])) === i ? ip[k] : nil
            }
            if i === b && i === p { out.append(ip[k]); continue }
            if dontCare(k), let v = byBack[b.id] { out.append(v); continue }
            if lowHalfUser(k), let key = lowHalfKey(k, i, b, p), let v = byLowHalf[key] { out.append(v); continue }
            let key = PartKey(entry: i.id, back: b.id, previous: p.id)
            if let v = classes[key] { out.append(v); continue }
            // Named by pass too: a term of an earlier pass (a side entry's reach) may
            // still mention that pass's variables, and one name must keep one sort.
            let name = "loop@\(head).p\(pass).\(classes.count)"
            let v: D.Value
            // (Most parts are not choices: no array is built for them.)
            func constantOrChoice(_ t: Term) -> Bool { t.op == .const || t.op == .ite }
            let mayBeChoice = constantOrChoice(i) && constantOrChoice(b) && constantOrChoice(p)
            if !i.isBool, mayBeChoice, let values = constantsTaken(by: [i, b, p], f) {
                // Ghost parts (event ids, homes) and constant registers take finitely many
                // constants: choose among them rather than forgetting them.
                var t = d.constant(values[values.count - 1])
                for (j, c) in values.dropLast().enumerated().reversed() {
                    t = d.select(d.inputBit("\(name).\(j)"), d.constant(c), t)
                }
                v = t
            } else {
                v = i.isBool ? d.inputBit(name) : d.input(name)
                if !i.isBool {
                    // Only a fact the entry does not break, and one of them: the selector
                    // facts exclude each other, and assumed together they leave the head
                    // no run at all (no back edge to widen from).
                    let possible = candidateFacts(for: ids[k], interp).filter {
                        !rejected.contains(LoopFactKey(part: ids[k], fact: $0)) && d.known($0.holds(of: ip[k], d)) != false
                    }
                    for fact in possible.prefix(1) { facts.append(LoopFactKey(part: ids[k], fact: fact)) }
                }
            }
            classes[key] = v
            if byBack[b.id] == nil, !i.isBool { byBack[b.id] = v }
            if interp.path.userIs32Bit, k < userStart, !i.isBool, ids[k].kind == .slot, let lk = lowHalfKey(k, i, b, p), byLowHalf[lk] == nil {
                byLowHalf[lk] = v
            }
            out.append(v)
        }
        var w = rebuild(inState, shape, out, d)
        widenOrigins(head: head, pass: pass, &w, [inState, back, prev], interp)
        return .success((w, facts))
    }

    /// The writers of the head's registers, when the run tracks them: a choice among the
    /// events every side's writer may be (a fresh unknown when one is not a choice among
    /// constants). Ghost state, outside the loop invariant: `originsClosed` checks that
    /// every state arriving at the head keeps to these choices.
    static func widenOrigins<D: WideningDomain>(head: Int, pass: Int, _ w: inout MachineState<D>, _ sides: [MachineState<D>], _ interp: Interpreter<D>) {
        let d = interp.d, f = d.factory
        guard !w.origins.isEmpty, sides.allSatisfy({ $0.origins.count == 16 }) else { return }
        for i in 0..<16 {
            let writers = sides.map { d.term($0.origins[i].writer) }
            if writers.allSatisfy({ $0 === writers[0] }) { continue }
            let name = "loop@\(head).p\(pass).writer.\(i)"
            let writer: D.Value
            if let values = constantsTaken(by: writers, f) {
                var t = d.constant(values[values.count - 1])
                for (j, c) in values.dropLast().enumerated().reversed() { t = d.select(d.inputBit("\(name).\(j)"), d.constant(c), t) }
                writer = t
            } else {
                writer = d.input(name)
            }
            // Where the value was loaded from is for words only; a widened writer has none.
            w.origins[i] = RegisterOrigin(writer: writer, load: d.constant(0), slot: d.constant(0), slotOrigin: d.constant(0))
        }
    }

    /// Whether each arriving state's register writers are among the head's choices.
    static func originsClosed<D: WideningDomain>(_ w: MachineState<D>, arriving: [MachineState<D>], _ interp: Interpreter<D>) -> Bool {
        let d = interp.d, f = d.factory
        guard !w.origins.isEmpty else { return true }
        for i in 0..<16 {
            let head = d.term(w.origins[i].writer)
            // An unknown writer covers every event.
            if head.op == .variable { continue }
            guard let allowed = constantsTaken(by: [head], f) else { return false }
            for s in arriving where s.origins.count == 16 {
                let t = d.term(s.origins[i].writer)
                if t === head { continue }
                guard let taken = constantsTaken(by: [t], f), taken.allSatisfy(allowed.contains) else { return false }
            }
        }
        return true
    }

    /// The low 32 bits of `t` as one term, with masks and ites pushed through, so that
    /// `ite(w, v, rbp)` and `ite(w, v, rbp & 0xffffffff)` get the same one; nil for a
    /// term nested too deep to look through.
    static func lowHalf(_ t: Term, _ f: TermFactory, depth: Int = 0) -> Term? {
        let mask: UInt64 = 0xffff_ffff
        guard depth < 64 else { return nil }
        if let c = t.constant { return f.const(c & mask) }
        if t.op == .ite {
            guard let a = lowHalf(t.args[1], f, depth: depth + 1), let b = lowHalf(t.args[2], f, depth: depth + 1) else { return nil }
            return f.ite(t.args[0], a, b)
        }
        if t.op == .and, t.args.count == 2 {
            for (x, y) in [(t.args[0], t.args[1]), (t.args[1], t.args[0])] {
                if let c = y.constant, c & mask == mask { return lowHalf(x, f, depth: depth + 1) }
            }
        }
        return f.and(t, f.const(mask))
    }
}
