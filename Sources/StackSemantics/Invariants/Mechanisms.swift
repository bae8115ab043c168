import SpecElaboration

/// Names an obligation's violation in the domain's words (see `Mechanism`): each
/// invariant says what its obligation keys are about, the node's instruction says where.
extension Mechanism {
    public init(invariant: Invariant, key: String, node: Int, in semantics: PathSemantics) {
        let subject: String?
        var point: String?
        switch invariant {
        case .restoreMatchesSave: subject = Self.restoreSubject(key: key)
        case .ptraceConsistency: subject = Self.ptraceSubject(key: key)
        case .frameBalance: subject = Self.frameSubject(key: key)
        case .returnStack: (subject, point) = Self.returnStackSubject(key: key) ?? (nil, nil)
        case .gsParity: subject = Self.gsSubject(key: key)
        case .sysretHazard: subject = Self.sysretSubject(key: key)
        case .callArguments: subject = Self.argumentSubject(key: key)
        case .speculationFence: subject = Self.speculationFenceSubject(key: key)
        case .unwindAnnotations: subject = Self.unwindSubject(key: key)
        }
        let instruction = semantics.program.instructions[semantics.graph.nodes[node].instruction]
        // A key no subject names is a checker bug; the key itself keeps the mechanism
        // distinct, so it can never be accepted by an expectation written for another.
        self.init(invariant: invariant, subject: subject ?? "?\(key)", point: point ?? Self.point(of: instruction))
    }

    public init<D: ValueDomain>(of o: Obligation<D>, in semantics: PathSemantics) {
        self.init(invariant: o.invariant, key: o.key, node: o.node, in: semantics)
    }
}
