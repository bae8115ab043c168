import SpecElaboration

/// Invariant `spec-fence` — a fence after a conditional swapgs (docs/model.md,
/// "7. Speculation fence after a conditional swapgs"; CVE-2019-1125).
///
/// Entry code decides whether to swapgs by a branch (`testb $3, CS(%rsp); jz 1f;
/// swapgs; 1:`). The CPU may mispredict it and run the other arm before the branch
/// resolves: from kernel mode the swapgs, from user mode the skip. A per-CPU load or a
/// call into C on that speculative run uses the other GS base and can leak kernel
/// memory through the cache. A serialising instruction ends the speculative run:
/// `lfence`, `serialize`, or a move to a control register other than cr8 (the CR3
/// write of PTI). `mfence` orders memory only and is no barrier here.
///
/// How: an analysis of the path graph for the routes, and the symbolic state for the
/// GS base. Speculation ignores whether a route is architecturally feasible — a
/// mispredicted run takes an arm the state rules out, and may mispredict inner branches
/// too — so the routes are the graph's, every way at every branch, not the runs the
/// interpreter follows (a state bit carried along feasible runs would miss the swapgs arm
/// of a path entered from kernel mode only). Which GS base the speculative run starts with
/// is the run's, which the state knows at the branch. So at each conditional branch:
/// - each arm's *routes* lead to their first per-CPU access or call into C (through
///   local calls and their `ret`s, ALTERNATIVE sites either way, loops once per
///   (node, parity)), counting swapgs modulo 2 on the way (`wrgsbase` may give either
///   base); exits and traps end a route with no access;
/// - the branch *decides whether to swapgs* when both arms reach some access and the
///   sets of parities they reach them with differ. A branch whose arms reach their
///   accesses with the same parities does not — so an earlier branch whose two arms both
///   pass through the deciding one, and the many branches of entry code unrelated to GS,
///   have no obligation; the deciding branch has its own;
/// - on a deciding branch, every route of an arm that reaches its access with no fence
///   on the way is an obligation judged at the branch, on every run reaching it (either
///   direction may be the mispredicted one): the GS base there, toggled by the route's
///   parity, must be the kernel's. So from kernel mode only the swapgs arm needs a
///   fence, from user mode only the skip arm, and an entry from either mode needs both.
///
/// ALTERNATIVE sites: the kernel's fences are `ALTERNATIVE "", "lfence",
/// X86_FEATURE_FENCE_SWAPGS_*`, by the feature word the unit's own headers define (cpp,
/// `Program.featureNames`). The kernel sets X86_FEATURE_FENCE_SWAPGS_KERNEL on every CPU
/// that speculates swapgs (unless the mitigation was turned off at boot, which is no
/// defect of the code), so a site whose every replacement has a fence and is patched in
/// on it (or on X86_FEATURE_ALWAYS) is a fence on every route. It sets
/// X86_FEATURE_FENCE_SWAPGS_USER only on such CPUs without PTI: with PTI, the entry's
/// CR3 write is the barrier. So a route past a site fenced only on that feature goes on
/// as on a CPU with PTI — ALTERNATIVEs patched on X86_FEATURE_PTI patched in (the CR3
/// switch of SWITCH_TO_KERNEL_CR3) — and is fenced only where a CR3 write follows before
/// its access: the user-entry arm of error_entry, not a kernel-mode arm (no CR3 write) or
/// paranoid_entry's join (its CR3 write is conditional, hence its
/// FENCE_SWAPGS_KERNEL_ENTRY). A fence patched in on any other feature (or a feature word
/// no header names) leaves the original code's route unfenced; the message names the
/// site either way.
///
/// Subjects: `taken` / `not-taken`, the arm of the branch (at: the branch), which is
/// where a reviewer puts the fence; the words name the access and the route's swapgs.
extension Interpreter {
    func checkSpeculationFence(_ s: MachineState<D>, node: Int) {
        let gaps = semantics.speculationGaps(at: node)
        guard !gaps.isEmpty else { return }
        let semantics = self.semantics
        for g in gaps {
            let claim = g.toggles ? d.negate(s.kernelGS) : s.kernelGS
            // Keyed by the access's instruction, which an unrolled copy of the graph shares.
            require(.speculationFence, node, "\(g.arm) \(graph.nodes[g.access].instruction) \(g.toggles ? 1 : 0)", claim, s,
                    "a mispredicted \(Self.branchWords(semantics, node)) runs its \(g.arm) arm speculatively to \(semantics.instructionWords(node: g.access)) \(g.toggles ? "through an odd number of swapgs" : "with no swapgs (or an even number)") and no lfence on the way: the access then runs with the user's GS base and can leak kernel memory (CVE-2019-1125); an lfence must follow the decision on both arms\(Self.untrustedSiteWords(semantics, g))")
        }
    }

    /// Why an ALTERNATIVE fence on the route does not count (see the invariant).
    static func untrustedSiteWords(_ semantics: PathSemantics, _ g: SpeculationGap) -> String {
        func features(_ site: Int) -> String {
            let arms = semantics.program.alternatives[site] ?? []
            return arms.map { a in semantics.program.featureNames[a.feature].map { $0.sorted().joined(separator: "/") } ?? "word \(a.feature)" }.joined(separator: ", ")
        }
        if let site = g.userFenceSite {
            return " (the ALTERNATIVE at \(semantics.program.instructions[site].location) patches its fence in on \(features(site)), which the kernel leaves off on CPUs with PTI, where the entry's CR3 write is the barrier: no CR3 write follows on this route, so such a CPU runs it unfenced; X86_FEATURE_FENCE_SWAPGS_KERNEL is set on every affected CPU)"
        }
        guard let site = g.untrustedSite else { return "" }
        return " (the ALTERNATIVE at \(semantics.program.instructions[site].location) patches its fence in on \(features(site)), not X86_FEATURE_FENCE_SWAPGS_USER/_KERNEL: a CPU without that feature runs the route unfenced)"
    }

    static func branchWords(_ semantics: PathSemantics, _ node: Int) -> String {
        "branch \(semantics.instructionWords(node: node))"
    }
}

/// An arm of a GS-deciding branch that reaches a per-CPU access or a call into C with no
/// fence on the way.
struct SpeculationGap {
    /// `taken` or `not-taken`.
    var arm: String
    /// The node of the access (a per-CPU load or store, or a call into C).
    var access: Int
    /// Whether the route runs an odd number of swapgs.
    var toggles: Bool
    /// An ALTERNATIVE site on the route whose fence is patched in on a feature the
    /// invariant does not trust (its first instruction).
    var untrustedSite: Int?
    /// An ALTERNATIVE site on the route fenced only on X86_FEATURE_FENCE_SWAPGS_USER, with
    /// no CR3 write after it (its first instruction).
    var userFenceSite: Int?
}

extension PathSemantics {
    /// The unfenced routes of a GS-deciding branch (none for any other node), found once
    /// per node.
    func speculationGaps(at node: Int) -> [SpeculationGap] {
        if let g = speculationGapCache[node] { return g }
        let g = findSpeculationGaps(at: node)
        speculationGapCache[node] = g
        return g
    }

    private func findSpeculationGaps(at node: Int) -> [SpeculationGap] {
        guard case .branch = program.instructions[graph.nodes[node].instruction].operation, graph.nodes[node].choice == 0,
              let t = graph.taken[node], let n = graph.next[node] else { return [] }
        // Whether the branch decides: the parities each arm reaches its accesses with,
        // fences or not (a fence does not change the GS base).
        let decidedTaken = Set(firstAccesses(from: t, stopAtFences: false).map(\.toggles))
        let decidedNext = Set(firstAccesses(from: n, stopAtFences: false).map(\.toggles))
        guard !decidedTaken.isEmpty, !decidedNext.isEmpty, decidedTaken != decidedNext else { return [] }
        // One obligation per (arm, instruction, parity): an access reached in several
        // call contexts is one claim at the branch.
        var seen: Set<String> = []
        var gaps: [SpeculationGap] = []
        for (arm, start) in [("taken", t), ("not-taken", n)] {
            for a in firstAccesses(from: start, stopAtFences: true)
            where seen.insert("\(arm) \(graph.nodes[a.node].instruction) \(a.toggles)").inserted {
                gaps.append(SpeculationGap(arm: arm, access: a.node, toggles: a.toggles, untrustedSite: a.untrustedSite, userFenceSite: a.userFenceSite))
            }
        }
        return gaps
    }

    /// The first per-CPU accesses and calls into C on the graph's routes from `start`,
    /// with the parity of the swapgs on the way; with `stopAtFences`, only those no fence
    /// precedes. In node order, each (node, parity) once.
    private func firstAccesses(from start: Int, stopAtFences: Bool) -> [(node: Int, toggles: Bool, untrustedSite: Int?, userFenceSite: Int?)] {
        // `userFenceSite`: the route went past a site fenced only on
        // X86_FEATURE_FENCE_SWAPGS_USER, so it goes on as on a CPU with PTI.
        struct Visit: Hashable { var node: Int; var toggles: Bool; var untrustedSite: Int?; var userFenceSite: Int? }
        var seen: Set<Visit> = []
        var found: Set<Visit> = []
        var work = [Visit(node: start, toggles: false, untrustedSite: nil, userFenceSite: nil)]
        while let v = work.popLast() {
            guard seen.insert(v).inserted else { continue }
            let n = v.node
            let graphNode = graph.nodes[n]
            var successors = graph.successors(n)
            if graphNode.choice > 0 {
                let site = alternativeSite(graphNode.instruction)
                var next = v
                if stopAtFences {
                    if site.fences { continue }
                    if site.fencesWithoutPTI && v.userFenceSite == nil { next.userFenceSite = graphNode.instruction }
                }
                if next.untrustedSite == nil && site.fenceOnSomeArm && next.userFenceSite == nil { next.untrustedSite = graphNode.instruction }
                // On a CPU with PTI, its ALTERNATIVEs are patched in.
                if next.userFenceSite != nil, let arms = program.alternatives[graphNode.instruction],
                   program.featureNames[arms[graphNode.choice - 1].feature]?.contains("X86_FEATURE_PTI") == true,
                   let patched = graph.taken[n] {
                    successors = [patched]
                }
                work += successors.map { Visit(node: $0, toggles: next.toggles, untrustedSite: next.untrustedSite, userFenceSite: next.userFenceSite) }
                continue
            }
            if graph.beyondModel[n] != nil { continue }
            let op = program.instructions[graphNode.instruction].operation
            if op.isSpeculationBarrier {
                if stopAtFences { continue }
            } else if op.reachesPerCPUData {
                found.insert(v)
                continue
            }
            var parities = [v.toggles]
            switch op {
            case .swapgs: parities = [!v.toggles]
            case .writeGSBase: parities = [false, true]
            default: break
            }
            for p in parities { work += successors.map { Visit(node: $0, toggles: p, untrustedSite: v.untrustedSite, userFenceSite: v.userFenceSite) } }
        }
        // One route per (node, parity) is enough to show: the first found by node order.
        var shown: [Visit] = []
        for v in found.sorted(by: { ($0.node, $0.toggles ? 1 : 0, $0.untrustedSite ?? -1, $0.userFenceSite ?? -1) < ($1.node, $1.toggles ? 1 : 0, $1.untrustedSite ?? -1, $1.userFenceSite ?? -1) })
        where !shown.contains(where: { $0.node == v.node && $0.toggles == v.toggles }) {
            shown.append(v)
        }
        return shown.map { ($0.node, $0.toggles, $0.untrustedSite, $0.userFenceSite) }
    }

    /// The feature names an ALTERNATIVE may patch a swapgs fence in on for every CPU that
    /// needs it, and the one the kernel leaves off where PTI's CR3 write is the barrier.
    static let fenceFeatureNames: Set<String> = ["X86_FEATURE_FENCE_SWAPGS_KERNEL", "X86_FEATURE_ALWAYS"]
    static let fenceWithoutPTIFeatureName = "X86_FEATURE_FENCE_SWAPGS_USER"

    /// The ALTERNATIVE site at `instruction` (see the invariant): whether it fences every
    /// run that passes it on a CPU that needs the fence, whether it does so on CPUs
    /// without PTI, and whether some arm (or its original code) has a fence at all.
    func alternativeSite(_ instruction: Int) -> (fences: Bool, fencesWithoutPTI: Bool, fenceOnSomeArm: Bool) {
        guard let arms = program.alternatives[instruction] else { return (false, false, false) }
        func fences(_ range: Range<Int>) -> Bool {
            range.contains { program.instructions.indices.contains($0) && program.instructions[$0].operation.isSpeculationBarrier }
        }
        var originalFenced = false
        var everyReplacementFenced = true, someFence = false
        var everyFeatureTrusted = true, everyFeatureTrustedWithoutPTI = true
        for arm in arms {
            if instruction < arm.resume && fences(instruction..<arm.resume) { originalFenced = true }
            let names = program.featureNames[arm.feature] ?? []
            if names.isDisjoint(with: Self.fenceFeatureNames) {
                everyFeatureTrusted = false
                if !names.contains(Self.fenceWithoutPTIFeatureName) { everyFeatureTrustedWithoutPTI = false }
            }
            guard let r = arm.replacement else { everyReplacementFenced = false; continue }
            var k = r, fenced = false
            // A replacement runs to the instruction that resumes after its site.
            while program.instructions.indices.contains(k) {
                if program.instructions[k].operation.isSpeculationBarrier { fenced = true; break }
                if program.replacementEnds[k] != nil { break }
                k += 1
            }
            if fenced { someFence = true } else { everyReplacementFenced = false }
        }
        let fencesAll = everyReplacementFenced && (originalFenced || everyFeatureTrusted)
        return (fencesAll, !fencesAll && everyReplacementFenced && everyFeatureTrustedWithoutPTI, someFence || originalFenced)
    }
}

extension Operation {
    /// An instruction no speculative run gets past before the branches before it
    /// resolve: `lfence`, `serialize`, a move to a control register other than cr8
    /// (architecturally serialising: PTI's CR3 write). Not `mfence`, which orders memory
    /// and lets later loads run speculatively.
    var isSpeculationBarrier: Bool {
        guard case .noEffect(let m) = self else { return false }
        return m == "lfence" || m == "serialize" || (m.hasPrefix("mov to %cr") && m != "mov to %cr8")
    }

    /// A per-CPU load or store (its operand is `PER_CPU_VAR(…)`), or a call into C
    /// (which uses per-CPU data): what a speculative run with the user's GS base leaks
    /// through.
    var reachesPerCPUData: Bool {
        func perCPU(_ ops: Operand...) -> Bool {
            ops.contains { if case .memory(let m) = $0 { return m.perCPU != nil } else { return false } }
        }
        switch self {
        case .call(.external), .call(.indirect), .jump(.external): return true
        case .push(let a), .pop(let a), .unary(_, let a, _), .setCondition(_, let a): return perCPU(a)
        case .move(let a, let b, _), .alu(_, let a, let b, _), .test(let a, let b, _), .compare(let a, let b, _),
             .exchange(let a, let b, _), .bitTest(_, let a, let b, _), .shift(_, let a, let b, _),
             .compareExchange(let a, let b, _), .exchangeAdd(let a, let b, _):
            return perCPU(a, b)
        case .conditionalMove(_, let a, _), .extend(_, let a, _, _, _): return perCPU(a)
        default: return false
        }
    }
}

extension Mechanism {
    /// A spec-fence obligation's subject: the arm of the branch (`taken`, `not-taken`).
    static func speculationFenceSubject(key: String) -> String? {
        if key.hasPrefix("taken ") { return "taken" }
        if key.hasPrefix("not-taken ") { return "not-taken" }
        return nil
    }
}
