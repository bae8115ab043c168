import SpecElaboration
import SpecSyntax

/// The proof run: executes a path's CFG once over terms, merging states at join points
/// (if-then-else terms, so cost grows with the code, not with the number of paths), and
/// treats loops with an inductive check at each loop head.
public struct SymbolicRun {
    public var obligations: [Obligation<SymbolicDomain>]
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
}

public enum SymbolicExecutor {
    public static let maximumLoopPasses = 8

    typealias State = MachineState<SymbolicDomain>

    public static let maximumEnumeratedStates = 1 << 16

    /// `merging: false` enumerates paths instead of merging at joins (exponential: for
    /// checking the merge on small inputs).
    public static func run(program: Program, path: PathSpec, graph: PathGraph, keepDecided: Bool = false, merging: Bool = true) -> SymbolicRun {
        run(PathSemantics(program: program, path: path, graph: graph), keepDecided: keepDecided, merging: merging)
    }

    public static func run(_ semantics: PathSemantics, keepDecided: Bool = false, merging: Bool = true) -> SymbolicRun {
        let (graph, setup) = (semantics.graph, semantics.setup)
        var enumerated = 0
        let f = TermFactory()
        let d = SymbolicDomain(f)
        var widened: [Int: State] = [:]
        // Reach of runs that enter a loop's body other than through its head (an
        // irreducible loop): the head state must cover them too.
        var sideEntries: [Int: Term] = [:]
        // A loop head the run reaches only through its back edge (the body is entered
        // from the side): its first arrival, from the back edge of the pass before.
        var firstArrival: [Int: State] = [:]
        var result = SymbolicRun(obligations: [], unsupported: nil, loopFailure: nil,
                                 factory: f, setup: setup, graph: graph, passes: 0)
        var passCount = 0
        let selectors = SelectorCount()   // shared by every pass: widened states carry selectors
        // No loop head reaches these nodes, so the widened head states cannot change
        // what they compute: passes after the first reuse the first pass's steps
        // (successor states and obligations) instead of executing them again.
        // (A loop-free path has one pass: nothing to keep.)
        let beforeLoops = graph.loopHeads.isEmpty ? [] : graph.nodesNoLoopHeadReaches()
        var firstPassSteps: [(successors: [(Int, State)], obligations: [Obligation<SymbolicDomain>])?] = Array(repeating: nil, count: graph.nodes.count)
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
            interp.selectors = selectors
            var incoming: [[State]] = Array(repeating: [], count: graph.nodes.count)
            incoming[0] = [interp.initialState()]
            var inStates: [Int: State] = [:]
            var backStates: [Int: [State]] = [:]
            var sideEntryReach: [Int: [Term]] = [:]
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
                        w.reach = f.allOf([f.anyOf([states[0].reach, sideEntries[n] ?? f.falseTerm]), f.boolVariable("loop@\(n).live")])
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
                let side = f.anyOf(sideEntryReach[h] ?? [])
                if side !== (sideEntries[h] ?? f.falseTerm) { stable = false; sideEntries[h] = side }
            }
            var failure: (Int, String)?
            for h in graph.loopHeads.sorted() where inStates[h] == nil && firstArrival[h] == nil {
                if let backs = backStates[h], !backs.isEmpty {
                    firstArrival[h] = merge(backs, interp)
                    stable = false
                }
            }
            for h in graph.loopHeads.sorted() {
                guard let inState = inStates[h], let backs = backStates[h], !backs.isEmpty else { continue }
                let back = merge(backs, interp)
                if let w = widened[h], isInstance(back, of: w, inState: inState, head: h, interp) { continue }
                stable = false
                switch widen(head: h, inState: inState, back: back, previous: widened[h], interp) {
                case .success(let w): widened[h] = w
                case .failure(let reason): failure = (h, reason.text)
                }
            }
            if let (h, reason) = failure {
                result.loopFailure = (h, reason)
                return result
            }
            if stable {
                result.everyAddressResolved = interp.coverage.everyAddressResolved
                result.obligations = interp.obligations
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

    static func merge(_ states: [State], _ interp: Interpreter<SymbolicDomain>) -> State {
        var acc = states[0]
        for s in states.dropFirst() { acc = merge2(acc, s, interp) }
        return acc
    }

    /// Joins two states: every part becomes `ite(c, a, b)`. In a DAG the two reach
    /// conditions exclude each other and c is `a.reach`. Runs through a widened loop
    /// head do not tell iterations apart, so a state from there may overlap one from
    /// outside the loop: then a fresh selector keeps both possibilities where both are
    /// reachable (`c = a.reach ∧ (¬b.reach ∨ sel)`), which is what soundness needs.
    static func merge2(_ a: State, _ b: State, _ interp: Interpreter<SymbolicDomain>) -> State {
        let d = interp.d
        let f = d.f
        var c = a.reach
        if f.mentionsLoopVariable(a.reach) || f.mentionsLoopVariable(b.reach) {
            interp.selectors.count += 1
            c = f.allOf([a.reach, f.anyOf([f.negation(b.reach), f.boolVariable("loop@merge.\(interp.selectors.count)")])])
        }
        var out = a
        out.reach = d.either(a.reach, b.reach)
        for i in 0..<16 { out.registers[i] = d.select(c, a.registers[i], b.registers[i]) }
        out.zeroFlag = d.selectBit(c, a.zeroFlag, b.zeroFlag)
        out.carryFlag = d.selectBit(c, a.carryFlag, b.carryFlag)
        out.signFlag = d.selectBit(c, a.signFlag, b.signFlag)
        out.overflowFlag = d.selectBit(c, a.overflowFlag, b.overflowFlag)
        out.kernelGS = d.selectBit(c, a.kernelGS, b.kernelGS)
        // `out` starts as `a`: only slots that differ are written (most agree at a join).
        for (addr, sa) in a.slots {
            let sb = interp.slot(b, addr)
            if !interp.sameSlot(sa, sb) { out.slots[addr] = interp.mergeSlot(c, sa, sb) }
        }
        for (addr, sb) in b.slots where a.slots[addr] == nil {
            out.slots[addr] = interp.mergeSlot(c, interp.untouchedSlot(addr), sb)
        }
        for (k, x) in a.perCPU {
            if let y = b.perCPU[k], x !== y { out.perCPU[k] = d.select(c, x, y) }
        }
        // A field one side does not define stays, defined only where the other side is.
        for k in 0..<PtRegsField.count {
            let va = a.user.values[k], vb = b.user.values[k]
            if va == nil && vb == nil { continue }
            let zero = d.constant(0)
            out.user.values[k] = d.select(c, va ?? zero, vb ?? zero)
            let ka = va == nil ? d.bit(false) : (a.user.known[k] ?? d.bit(true))
            let kb = vb == nil ? d.bit(false) : (b.user.known[k] ?? d.bit(true))
            let merged = d.selectBit(c, ka, kb)
            out.user.known[k] = merged.boolConstant == true ? nil : merged
        }
        for i in 0..<min(a.shadowStack.count, b.shadowStack.count) {
            out.shadowStack[i].returnAddress = d.select(c, a.shadowStack[i].returnAddress, b.shadowStack[i].returnAddress)
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
        init(_ states: [State]) {
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

    static func parts(_ s: State, _ shape: Shape, _ interp: Interpreter<SymbolicDomain>) -> [Term] {
        var out = s.registers
        out += [s.zeroFlag, s.carryFlag, s.signFlag, s.overflowFlag, s.kernelGS]
        for a in shape.slots {
            let x = interp.slot(s, a)
            out += [x.value, x.origin]
        }
        for k in shape.perCPU { out.append(s.perCPU[k]!) }
        let f = interp.d.f
        for k in shape.user {
            out.append(s.user.values[k] ?? f.const(0))
            out.append(s.user.values[k] == nil ? f.falseTerm : (s.user.known[k] ?? f.trueTerm))
        }
        for i in 0..<shape.shadow { out.append(s.shadowStack[i].returnAddress) }
        return out
    }

    static func rebuild(_ template: State, _ shape: Shape, _ p: [Term]) -> State {
        var s = template
        var k = 0
        func next() -> Term { defer { k += 1 }; return p[k] }
        for i in 0..<16 { s.registers[i] = next() }
        s.zeroFlag = next(); s.carryFlag = next(); s.signFlag = next(); s.overflowFlag = next(); s.kernelGS = next()
        for a in shape.slots {
            s.slots[a] = StackSlot(value: next(), origin: next())
        }
        for key in shape.perCPU { s.perCPU[key] = next() }
        s.user = UserView()
        for key in shape.user {
            s.user.values[key] = next()
            let known = next()
            if known.boolConstant != true { s.user.known[key] = known }
        }
        for i in 0..<shape.shadow { s.shadowStack[i].returnAddress = next() }
        return s
    }


    static func isLoopVariable(_ t: Term, prefix: String) -> Bool {
        (t.op == .variable || t.op == .boolVariable) && t.name.hasPrefix(prefix)
    }

    /// The back-edge state is an instance of the widened head state: parts that were
    /// kept are unchanged (on entry and after the body), and parts sharing one loop
    /// variable agree after the body.
    static func isInstance(_ back: State, of w: State, inState: State, head: Int, _ interp: Interpreter<SymbolicDomain>) -> Bool {
        guard back.shadowStack.count == w.shadowStack.count else { return false }
        let f = interp.d.f
        let shape = Shape([w, back, inState])
        let wp = parts(w, shape, interp), bp = parts(back, shape, interp), ip = parts(inState, shape, interp)
        var classes: [Int: Term] = [:]
        let prefix = "loop@\(head)."
        for k in 0..<wp.count {
            if isLoopVariable(wp[k], prefix: prefix) {
                if let prev = classes[wp[k].id], prev !== bp[k] { return false }
                classes[wp[k].id] = bp[k]
            } else if isChoice(wp[k], head: head, f) {
                // A choice among constants covers every constant the part takes.
                guard let allowed = f.leafValues(wp[k]), f.leafValues(of: bp[k], within: allowed) == true,
                      f.leafValues(of: ip[k], within: allowed) == true else { return false }
            } else if wp[k] !== bp[k] || wp[k] !== ip[k] {
                return false
            }
        }
        return true
    }

    static func isChoice(_ t: Term, head: Int, _ f: TermFactory) -> Bool {
        t.op == .ite && f.leafValues(t) != nil && f.loopHeadsMentioned(t).contains(head)
    }

    struct LoopFailure: Error { var text: String }

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
    /// iteration".
    static func widen(head: Int, inState: State, back: State, previous: State?, _ interp: Interpreter<SymbolicDomain>) -> Result<State, LoopFailure> {
        if inState.rsp !== back.rsp {
            return .failure(LoopFailure(text: "rsp at the loop head differs between iterations (\(interp.describeValue(inState.rsp)) on entry, \(interp.describeValue(back.rsp)) after the body): the frame shape changes"))
        }
        if inState.shadowStack.count != back.shadowStack.count {
            return .failure(LoopFailure(text: "the return-stack depth at the loop head changes between iterations"))
        }
        let prev = previous ?? inState
        let shape = Shape([inState, back, prev])
        let ip = parts(inState, shape, interp), bp = parts(back, shape, interp), pp = parts(prev, shape, interp)
        let f = interp.d.f
        // Parts with the same (entry, back edge, previous) terms share one variable.
        struct PartKey: Hashable { var entry, back, previous: Int }
        var classes: [PartKey: Term] = [:]
        classes.reserveCapacity(ip.count)
        var out: [Term] = []
        out.reserveCapacity(ip.count)
        // The user-view parts come in (value, known) pairs after the slots and per-CPU
        // variables. A value not known on entry is a don't-care there: it joins the
        // class of whatever part ends the body with the same term (the slot a stop
        // wrote), so "field == user value" survives the widening.
        let userStart = 16 + 5 + 2 * shape.slots.count + shape.perCPU.count
        let userEnd = userStart + 2 * shape.user.count
        var byBack: [Int: Term] = [:]
        byBack.reserveCapacity(ip.count)
        func dontCare(_ k: Int) -> Bool {
            k >= userStart && k < userEnd && (k - userStart) % 2 == 0 && ip[k + 1].boolConstant == false
        }
        for k in 0..<ip.count {
            let (i, b, p) = (ip[k], bp[k], pp[k])
            if i === b && i === p { out.append(i); continue }
            if dontCare(k), let v = byBack[b.id] { out.append(v); continue }
            let key = PartKey(entry: i.id, back: b.id, previous: p.id)
            if let v = classes[key] { out.append(v); continue }
            let name = "loop@\(head).\(classes.count)"
            let v: Term
            // (Most parts are not choices: no array is built for them.)
            func constantOrChoice(_ t: Term) -> Bool { t.op == .const || t.op == .ite }
            let mayBeChoice = constantOrChoice(i) && constantOrChoice(b) && constantOrChoice(p)
            if !i.isBool, mayBeChoice, let values = constantsTaken(by: [i, b, p], f) {
                // Ghost parts (event ids, homes) and constant registers take finitely many
                // constants: choose among them rather than forgetting them.
                var t = f.const(values[values.count - 1])
                for (j, c) in values.dropLast().enumerated().reversed() {
                    t = f.ite(f.boolVariable("\(name).\(j)"), f.const(c), t)
                }
                v = t
            } else {
                v = i.isBool ? f.boolVariable(name) : f.variable(name)
            }
            classes[key] = v
            if byBack[b.id] == nil, !v.isBool { byBack[b.id] = v }
            out.append(v)
        }
        return .success(rebuild(inState, shape, out))
    }
}

