import SpecSyntax

/// The control-flow graph of one path: instructions in their call context. A call to
/// a label of the model is followed into the callee with the call site pushed on the
/// context, so `ret` has a static continuation and every node has one shadow-stack
/// depth.
public struct PathGraph: Sendable {
    public struct Node: Hashable, Sendable {
        public var instruction: Int
        /// Call-site node ids of the internal calls this node runs under, outermost first.
        public var context: [Int]
        /// 0: the instruction runs. k > 0: at an ALTERNATIVE site, the choice whether
        /// the CPU has the feature of the site's k-th arm (the last arm decides first:
        /// a later table entry patches over an earlier one), before the instruction.
        /// -1: at an instruction with an exception-table entry (after any ALTERNATIVE
        /// choice), whether it faults: taken goes to the fixup, next runs it.
        public var choice = 0

        public init(instruction: Int, context: [Int], choice: Int = 0) {
            self.instruction = instruction
            self.context = context
            self.choice = choice
        }
    }

    public var nodes: [Node] = []
    /// The `.unmodelled` names of the memory the path's instructions read or write.
    public var unmodelledRead: [String] = []
    /// Successor when the instruction falls through (or a branch is not taken, or an
    /// external call returns).
    public var next: [Int?] = []
    /// Successor of a taken jump/branch, an internal call, or a `ret` inside a callee.
    public var taken: [Int?] = []
    /// Nodes in reverse post-order from the entry.
    public var order: [Int] = []
    /// Edges (from, to) that close a loop.
    public var backEdges: Set<Edge> = []
    public var loopHeads: Set<Int> = []
    /// For each loop head, the nodes of its natural loops (head included).
    public var loopBodies: [Int: Set<Int>] = [:]
    /// In an unrolled graph: the node of the plain graph each node copies.
    public var original: [Int] = []
    /// Nodes of a real file's code the model cannot follow (by node id): a run that
    /// reaches one is unknown, with why.
    public var beyondModel: [Int: String] = [:]

    public struct Edge: Hashable, Sendable {
        public var from: Int
        public var to: Int
        public init(from: Int, to: Int) {
            self.from = from
            self.to = to
        }
    }

    public static let maximumCallDepth = 16
    public static let maximumNodes = 400_000

    public init(program: Program, path: PathSpec) throws {
        // Nodes outside any internal call and ALTERNATIVE choice (most of them) are found
        // by instruction, the others by hashing.
        var index: [Node: Int] = [:]
        var outermost = [Int](repeating: -1, count: program.instructions.count)
        func intern(_ n: Node) -> Int {
            let plain = n.context.isEmpty && n.choice == 0 && outermost.indices.contains(n.instruction)
            if plain {
                if outermost[n.instruction] >= 0 { return outermost[n.instruction] }
            } else if let i = index[n] {
                return i
            }
            nodes.append(n)
            next.append(nil)
            taken.append(nil)
            if plain { outermost[n.instruction] = nodes.count - 1 } else { index[n] = nodes.count - 1 }
            return nodes.count - 1
        }
        // Arriving at an ALTERNATIVE site is arriving at its choices first.
        func enter(_ instruction: Int, _ context: [Int]) -> Int {
            intern(Node(instruction: instruction, context: context, choice: program.alternatives[instruction]?.count ?? faultChoice(instruction)))
        }
        func faultChoice(_ instruction: Int) -> Int { program.faultFixups[instruction] != nil ? -1 : 0 }
        let entry = enter(path.entryIndex, [])
        var assumptionsUsed: Set<Int> = []
        var work = [entry]
        var done: [Bool] = []
        while let id = work.popLast() {
            if id >= done.count { done += repeatElement(false, count: nodes.count - done.count) }
            guard !done[id] else { continue }
            done[id] = true
            if nodes.count > Self.maximumNodes {
                throw Diagnostic.error(path.location, "path '\(path.name)' expands to more than \(Self.maximumNodes) instruction instances")
            }
            let node = nodes[id]
            // The instruction is read in place: copying it (its text, notes and labels)
            // for every node was a quarter of a long straight line's graph building.
            let at = node.instruction
            if node.choice < 0, let f = program.faultFixups[node.instruction] {
                // Faults: the kernel's handler resumes at the fixup with the state as it
                // was before the instruction. Does not: the instruction runs.
                taken[id] = enter(f.fixup, node.context)
                next[id] = intern(Node(instruction: node.instruction, context: node.context))
                if let t = taken[id] { work.append(t) }
                if let n = next[id] { work.append(n) }
                continue
            }
            if node.choice > 0, let arms = program.alternatives[node.instruction] {
                // Patched: the arm's replacement, then the code after the site. Not:
                // the earlier arms' choices, then the original instructions.
                let arm = arms[node.choice - 1]
                if let r = arm.replacement { taken[id] = enter(r, node.context) }
                else if arm.resume != node.instruction { taken[id] = enter(arm.resume, node.context) }
                else { taken[id] = intern(Node(instruction: node.instruction, context: node.context)) }
                next[id] = intern(Node(instruction: node.instruction, context: node.context, choice: node.choice > 1 ? node.choice - 1 : faultChoice(node.instruction)))
                if let t = taken[id] { work.append(t) }
                if let n = next[id] { work.append(n) }
                continue
            }
            func following() throws -> Int {
                // A replacement's last instruction goes on after its site.
                if let resume = program.replacementEnds[node.instruction] { return enter(resume, node.context) }
                guard node.instruction + 1 < program.instructions.count else {
                    throw Diagnostic(at: program.instructions[at].location, "path '\(path.name)' runs off the end of the code after this instruction: it has no exit (ret, sysretq, iretq)",
                                     notes: [.init(location: path.location, message: "path declared here")])
                }
                // What follows in the program's order may be another section's code.
                guard program.instructions[at + 1].section == program.instructions[at].section else {
                    throw Diagnostic(at: program.instructions[at].location, "path '\(path.name)' runs off the end of section \(program.instructions[at].section) after this instruction: what follows it in memory is not in the source",
                                     notes: [.init(location: path.location, message: "path declared here")])
                }
                return enter(node.instruction + 1, node.context)
            }
            switch program.instructions[at].operation {
            case .jump(.code(let t, _)):
                taken[id] = enter(t, node.context)
            case .branch(_, .code(let t, let label)):
                // `.assume`: the branch keeps its condition (the interpreter guards each
                // side with it); only the side the spec rules out loses its edge.
                let assumed = path.assumptions.firstIndex { $0.feature == nil && $0.label == label }
                if let k = assumed { assumptionsUsed.insert(k) }
                if assumed.map({ path.assumptions[$0].taken }) != false {
                    taken[id] = enter(t, node.context)
                }
                if assumed.map({ !path.assumptions[$0].taken }) != false {
                    next[id] = try following()
                }
            case .call(.code(let t, let label)):
                if node.context.count >= Self.maximumCallDepth {
                    let why = "calls nested deeper than \(Self.maximumCallDepth) (recursive call of '\(label)'?)"
                    // A real file's calls that never return (the return stack stuffed on
                    // purpose, 6.x's clear_bhb_loop) end the path there: unknown.
                    guard program.instructions[at].fromSource else { throw Diagnostic(at: program.instructions[at].location, why, notes: []) }
                    beyondModel[id] = why
                    break
                }
                taken[id] = enter(t, node.context + [id])
            case .ret, .jump(.external):
                // A tail call (`jmp sync_regs`) returns where the path's own ret would.
                if let site = node.context.last {
                    let callSite = nodes[site]
                    guard callSite.instruction + 1 < program.instructions.count,
                          program.instructions[callSite.instruction + 1].section == program.instructions[callSite.instruction].section else {
                        throw Diagnostic(at: program.instructions[callSite.instruction].location, "nothing follows this call to return to")
                    }
                    taken[id] = enter(callSite.instruction + 1, Array(node.context.dropLast()))
                }
            case .sysret, .sysexit, .iret, .unsupported, .trap:
                break
            case .jump, .branch:
                break // indirect jumps end the path; conditional ones go only to labels
            default:
                next[id] = try following()
            }
            if let t = taken[id] { work.append(t) }
            if let n = next[id] { work.append(n) }
        }
        // An assumption no branch of the path matches would be read as a restriction
        // that is not there.
        // A path that stops at an instruction the model cannot take may have the branch
        // beyond it: its verdicts are unknown anyway, and the assumption may matter once
        // the model takes that instruction.
        let stopsEarly = nodes.contains { if case .unsupported = program.instructions[$0.instruction].operation { return true } else { return false } }
        for (k, a) in path.assumptions.enumerated() where a.feature != nil {
            if nodes.contains(where: { program.alternatives[$0.instruction]?.contains { $0.feature == a.feature } == true }) { assumptionsUsed.insert(k) }
        }
        if !stopsEarly, let k = path.assumptions.indices.first(where: { !assumptionsUsed.contains($0) }) {
            let a = path.assumptions[k]
            let what = a.feature == nil ? "no conditional branch to \(a.label)" : "no ALTERNATIVE site patched on \(a.label) (feature word \(a.feature ?? ""))"
            throw Diagnostic(at: a.location, "path '\(path.name)' has \(what): the assumption restricts nothing",
                             notes: [.init(location: path.location, message: "path declared here")])
        }
        // `.unmodelled` memory the path reads: its declaration restricts the runs checked.
        var read: Set<String> = []
        for n in Set(nodes.map(\.instruction)) {
            for m in program.instructions[n].operation.memoryOperands where program.unmodelled[MemoryOperand.leadingName(m.text)] != nil {
                read.insert(MemoryOperand.leadingName(m.text))
            }
        }
        unmodelledRead = read.sorted()
        computeOrder(entry: entry)
        original = Array(nodes.indices)
        // Every instruction of the path must be able to reach an exit: a loop with no
        // way out would make every obligation vacuous.
        var canExit = [Bool](repeating: false, count: nodes.count)
        let preds = predecessors()
        var exits: [Int] = []
        for n in nodes.indices where taken[n] == nil && next[n] == nil && (program.instructions[nodes[n].instruction].operation.isExitInstruction || beyondModel[n] != nil) {
            canExit[n] = true
            exits.append(n)
        }
        while let n = exits.popLast() {
            for p in preds[n] where !canExit[p] { canExit[p] = true; exits.append(p) }
        }
        if let stuck = order.first(where: { !canExit[$0] }) {
            let inst = program.instructions[nodes[stuck].instruction]
            throw Diagnostic(at: inst.sourceLocation, "path '\(path.name)' has no exit from here: this loop never reaches ret, sysretq or iretq",
                             notes: [.init(location: path.location, message: "path declared here")])
        }
    }

    /// The same path with every loop unrolled: a node is copied for each number of
    /// times the run has entered each loop head (at most `visits`), and an edge that
    /// would enter a head once more is dropped. The result has no loops; its runs are
    /// exactly the plain graph's runs that enter each loop head at most `visits` times.
    public init(unrolling plain: PathGraph, visits: Int, maximumNodes: Int = 200_000) throws {
        let heads = plain.loopHeads.sorted()
        let headIndex = Dictionary(uniqueKeysWithValues: heads.enumerated().map { ($1, $0) })
        struct Key: Hashable { var node: Int; var counts: [Int] }
        var index: [Key: Int] = [:]
        var keys: [Key] = []
        // Roughly the size of the result: growing the table step by step cost more than
        // filling it.
        index.reserveCapacity(plain.nodes.count * (visits + 1))
        keys.reserveCapacity(plain.nodes.count * (visits + 1))
        func intern(_ k: Key) -> Int {
            if let i = index[k] { return i }
            keys.append(k)
            nodes.append(plain.nodes[k.node])
            if let why = plain.beyondModel[k.node] { beyondModel[keys.count - 1] = why }
            original.append(k.node)
            next.append(nil)
            taken.append(nil)
            index[k] = keys.count - 1
            return keys.count - 1
        }
        func enter(_ n: Int, from counts: [Int]) -> Key? {
            var c = counts
            if let h = headIndex[n] {
                c[h] += 1
                if c[h] > visits { return nil }
            }
            return Key(node: n, counts: c)
        }
        guard let start = enter(0, from: Array(repeating: 0, count: heads.count)) else { computeOrder(entry: 0); return }
        var work = [intern(start)]
        var done: Set<Int> = []
        while let id = work.popLast() {
            guard done.insert(id).inserted else { continue }
            if keys.count > maximumNodes {
                throw UnrollingTooLarge(limit: maximumNodes)
            }
            let k = keys[id]
            if let t = plain.taken[k.node], let key = enter(t, from: k.counts) {
                let i = intern(key)
                taken[id] = i
                work.append(i)
            }
            if let n = plain.next[k.node], let key = enter(n, from: k.counts) {
                let i = intern(key)
                next[id] = i
                work.append(i)
            }
        }
        computeOrder(entry: 0)
    }

    /// Iterative DFS: reverse post-order, back edges and loop heads.
    mutating func computeOrder(entry: Int) {
        var state = [UInt8](repeating: 0, count: nodes.count) // 0 new, 1 on stack, 2 done
        var post: [Int] = []
        var stack: [(Int, Int)] = [(entry, 0)]
        state[entry] = 1
        while let (n, k) = stack.last {
            if let s = successor(n, k) {
                stack[stack.count - 1].1 += 1
                if state[s] == 0 {
                    state[s] = 1
                    stack.append((s, 0))
                } else if state[s] == 1 {
                    backEdges.insert(Edge(from: n, to: s))
                    loopHeads.insert(s)
                }
            } else {
                state[n] = 2
                post.append(n)
                stack.removeLast()
            }
        }
        order = post.reversed()
        // Natural loops: walk back from each back edge's source to its head.
        guard !backEdges.isEmpty else { return }
        let preds = predecessors()
        for e in backEdges {
            var body: Set<Int> = [e.to]
            var work = [e.from]
            while let n = work.popLast() {
                guard body.insert(n).inserted else { continue }
                work += preds[n]
            }
            loopBodies[e.to, default: []].formUnion(body)
        }
    }

    public func successors(_ n: Int) -> [Int] { [taken[n], next[n]].compactMap { $0 } }

    /// For each node, whether no loop head reaches it (it runs before every loop).
    public func nodesNoLoopHeadReaches() -> [Bool] {
        var before = [Bool](repeating: true, count: nodes.count)
        var work = Array(loopHeads)
        while let n = work.popLast() {
            guard before[n] else { continue }
            before[n] = false
            work += successors(n)
        }
        return before
    }

    /// `successors(n)[k]`, without building the array.
    func successor(_ n: Int, _ k: Int) -> Int? {
        if let t = taken[n] { return k == 0 ? t : k == 1 ? next[n] : nil }
        return k == 0 ? next[n] : nil
    }

    /// Each node's predecessors, in node order.
    func predecessors() -> [[Int]] {
        var preds: [[Int]] = Array(repeating: [], count: nodes.count)
        for n in nodes.indices {
            if let t = taken[n] { preds[t].append(n) }
            if let x = next[n] { preds[x].append(n) }
        }
        return preds
    }
}

public struct UnrollingTooLarge: Error, Sendable, CustomStringConvertible {
    public var limit: Int
    public var description: String { "unrolling the path's loops gives more than \(limit) instruction instances" }
}

extension PathGraph {
    /// The `ud2`/`int3` a path ends at when every way out of it is a trap: then it
    /// never exits, and nothing about its exits can be proved (docs/model.md, "Traps").
    public func onlyTrap(in program: Program) -> Instruction? {
        var trap: Instruction?
        for n in nodes.indices where taken[n] == nil && next[n] == nil {
            let inst = program.instructions[nodes[n].instruction]
            guard inst.operation.isExitInstruction else { continue }
            if !inst.operation.isTrap { return nil }
            if trap == nil { trap = inst }
        }
        return trap
    }
}
