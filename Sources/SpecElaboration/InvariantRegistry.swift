/// One table of what each invariant is called and what it is for: `--invariant`,
/// `.expect`/`.limit` validation, the CLI help, SARIF rules, JUnit and JSON all read it,
/// so an invariant's name, aliases, words and mechanism subjects are written once.
/// What an invariant *checks* lives in its own file under
/// `Sources/StackSemantics/Invariants/`; this is the part every stage must see, so it
/// sits in the lowest stage that needs it (elaboration validates `.expect`).
public struct InvariantDescriptor: Sendable {
    public var invariant: Invariant
    /// Other spellings accepted by `--invariant`, `.expect` and `.limit` (lower case).
    public var aliases: [String]
    /// `restore matches save`: report lines and SARIF rule names.
    public var title: String
    /// One line for `--help`.
    public var help: String
    /// What breaks when it is violated, for a violation's "why it matters".
    public var whyItMatters: String
    /// The subjects its mechanisms have (`.expect INV SUBJECT… at POINT`), with what each means.
    public var subjects: [(word: String, meaning: String)]
}

public enum InvariantRegistry {
    /// Every invariant, in report order (the order of `Invariant.allCases`).
    public static let all: [InvariantDescriptor] = [
        InvariantDescriptor(
            invariant: .restoreMatchesSave, aliases: ["restore-matches-save"], title: "restore matches save",
            help: "every register an exit gives back holds its saved (or ptrace-written) value",
            whyItMatters: "a register that comes back different from how it went in corrupts the interrupted code or the user's state",
            subjects: Register.allCases.filter { $0 != .rsp }.map { ($0.name, "\($0.name) given back wrong") }),
        InvariantDescriptor(
            invariant: .frameBalance, aliases: ["frame-balance", "frame-balanced"], title: "frame balanced",
            help: "rsp has the exit's value; no stack access below rsp or outside the frame",
            whyItMatters: "a wrong rsp at exit returns into garbage; an access below rsp can be clobbered by an NMI at any moment",
            subjects: [("rsp", "rsp wrong at an exit"),
                       ("below-rsp", "a stack access below rsp"),
                       ("outside-frame", "a stack access outside the path's frame"),
                       ("no-caller", "a ret on an entry that has no caller")]),
        InvariantDescriptor(
            invariant: .ptraceConsistency, aliases: ["ptrace-consistency", "ptrace-visible"], title: "ptrace-visible fields consistent",
            help: "pt_regs seen by C code and tracers holds the user's registers; what ptrace writes reaches user space",
            whyItMatters: "debuggers, seccomp, signal frames and fork's copy read pt_regs: a wrong or stale field is wrong data for them and can leak kernel stack contents",
            subjects: Layout.ptRegs.fields.map { ($0.userName, "pt_regs.\($0.userName) seen or returned wrong") }),
        InvariantDescriptor(
            invariant: .returnStack, aliases: ["returnstack", "rsb", "shadow-stack"], title: "return stack balanced",
            help: "every ret returns to the address its call pushed; no call is left unreturned",
            whyItMatters: "an unbalanced call/ret leaves the return stack buffer misaligned (every later ret mispredicts) and faults under CET shadow stacks",
            subjects: [("return-address", "a ret through an address its call did not push"),
                       ("no-call", "a ret with no call to return from"),
                       ("unreturned-call", "a call never returned through (at: the routine it called)")]),
        InvariantDescriptor(
            invariant: .gsParity, aliases: ["gs-parity", "gs-base", "swapgs"], title: "GS base parity",
            help: "per-CPU accesses and C calls run with the kernel's GS base; exits leave with the GS base of the mode they return to",
            whyItMatters: "a per-CPU access with the user's GS base reads or writes memory the user chose; leaving with the kernel's GS base hands user space the kernel's per-CPU area, and the next entry's swapgs gives the kernel the user's",
            subjects: [("percpu", "a per-CPU access with the user's GS base (at: the instruction)"),
                       ("call", "a call into C with the user's GS base (at: the function)"),
                       ("exit", "an exit that leaves with the other mode's GS base"),
                       ("load", "a load of %gs with the kernel's GS base live, which loses it")]),
        InvariantDescriptor(
            invariant: .sysretHazard, aliases: ["sysret-hazard", "sysexit"], title: "SYSRET/SYSEXIT hazards",
            help: "sysret/sysexit return to canonical addresses, and sysretq loads no TF, RF or VM from r11",
            whyItMatters: "a non-canonical rip (or sysexit rsp) makes the CPU fault in ring 0 with the user's rsp and GS base, so the user controls the kernel's stack (CVE-2014-4699); SYSRET drops RF and VM and traps on TF",
            subjects: [("rip", "a non-canonical return address (rcx at sysretq, rdx at sysexit)"),
                       ("rsp", "a non-canonical rsp at sysexit (rcx)"),
                       ("flags", "TF, RF or VM set in r11 at sysretq")]),
    ]

    private static let byInvariant: [Invariant: InvariantDescriptor] = Dictionary(uniqueKeysWithValues: all.map { ($0.invariant, $0) })

    public static func descriptor(_ i: Invariant) -> InvariantDescriptor {
        // The table lists every case (RegistryTests checks it): the fallback is unreachable.
        byInvariant[i] ?? InvariantDescriptor(invariant: i, aliases: [], title: i.rawValue, help: "", whyItMatters: "", subjects: [])
    }

    /// The invariant a name or alias means (case-insensitive).
    public static func named(_ s: String) -> Invariant? {
        let n = s.lowercased()
        return all.first { $0.invariant.rawValue == n || $0.aliases.contains(n) }?.invariant
    }

    /// `restore, frame, ptrace, return-stack` (separator ", ").
    public static var names: String { all.map(\.invariant.rawValue).joined(separator: ", ") }

    /// `restore, frame, ptrace or return-stack`: for "expected …" in errors.
    public static var namesChoice: String {
        let n = all.map(\.invariant.rawValue)
        guard n.count > 1 else { return n.joined() }
        return n.dropLast().joined(separator: ", ") + " or " + (n.last ?? "")
    }
}
