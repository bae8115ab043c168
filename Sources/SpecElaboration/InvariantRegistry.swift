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
    /// For a reviewer reading an alert (SARIF rule help): what it checks, why it
    /// matters, a two-line example of the bug, and how to fix or declare it.
    public var reviewerHelp: ReviewerHelp
}

public struct ReviewerHelp: Sendable {
    public var checks: String
    public var why: String
    public var example: String
    public var fix: String
}

public enum InvariantRegistry {
    /// Every invariant, in report order (the order of `Invariant.allCases`).
    public static let all: [InvariantDescriptor] = [
        InvariantDescriptor(
            invariant: .restoreMatchesSave, aliases: ["restore-matches-save"], title: "restore matches save",
            help: "every register an exit gives back holds its saved (or ptrace-written) value",
            whyItMatters: "a register that comes back different from how it went in corrupts the interrupted code or the user's state",
            subjects: Register.allCases.filter { $0 != .rsp }.map { ($0.name, "\($0.name) given back wrong") }
                + [("ist", "the IST stack pointer (`ist=`) left shifted at an exit")],
            reviewerHelp: ReviewerHelp(
                checks: "Every register the path must give back holds its value from the path's entry at each exit: the callee-saved registers (rbx, rbp, r12-r15) at a function's `ret`, every user register at `sysretq` or `iretq`.",
                why: "A register that comes back different corrupts the interrupted code or the user's state.",
                example: "pushq %rbx / pushq %rbp ... popq %rbx / popq %rbp   # swapped: rbx and rbp come back exchanged",
                fix: "Restore each register from the slot it was saved in (pops in reverse order of the pushes). If the path may change a register on purpose, say which it preserves with `preserves=` on its `.path`; a known bug of the modelled code is declared with `.expect restore REG at EXIT` after the `.path`.")),
        InvariantDescriptor(
            invariant: .frameBalance, aliases: ["frame-balance", "frame-balanced"], title: "frame balanced",
            help: "rsp has the exit's value; no stack access below rsp or outside the frame",
            whyItMatters: "a wrong rsp at exit returns into garbage; an access below rsp can be clobbered by an NMI at any moment",
            subjects: [("rsp", "rsp wrong at an exit"),
                       ("below-rsp", "a stack access below rsp"),
                       ("outside-frame", "a stack access outside the path's frame"),
                       ("no-caller", "a ret on an entry that has no caller")],
            reviewerHelp: ReviewerHelp(
                checks: "rsp at every exit is where the path's entry expects it (a function returns with its caller's rsp; a user-mode exit leaves the IRET or sysret frame in place), and no instruction reads or writes below rsp or outside the frame.",
                why: "A wrong rsp at exit returns into garbage; memory below rsp can be overwritten by an NMI at any moment.",
                example: "subq $16, %rsp ... addq $8, %rsp; ret   # returns through a saved register instead of the return address",
                fix: "Make every path to the exit undo exactly what it reserved (count the pushes, pops and rsp arithmetic on each branch), and move any access below rsp into reserved space. A known bug is declared with `.expect frame rsp at EXIT`.")),
        InvariantDescriptor(
            invariant: .ptraceConsistency, aliases: ["ptrace-consistency", "ptrace-visible"], title: "ptrace-visible fields consistent",
            help: "pt_regs seen by C code and tracers holds the user's registers; what ptrace writes reaches user space",
            whyItMatters: "debuggers, seccomp, signal frames and fork's copy read pt_regs: a wrong or stale field is wrong data for them and can leak kernel stack contents",
            subjects: Layout.ptRegs.fields.map { ($0.userName, "pt_regs.\($0.userName) seen or returned wrong") },
            reviewerHelp: ReviewerHelp(
                checks: "Every pt_regs field that a reader sees holds the user's value: at the functions that read pt_regs (syscall_trace_enter, the signal and fork paths) and at the exits that load registers back from it.",
                why: "Debuggers, seccomp, signal frames and fork's copy read pt_regs: a wrong or stale field is wrong data for them and can leak kernel stack contents.",
                example: "movq %rcx, RIP(%rsp) ... call syscall_trace_enter   # pt_regs.cx was never written: the tracer reads stack garbage",
                fix: "Fill the field (from the register or frame that holds the user's value) before any reader can see it, and do not overwrite it with a scratch value. Which fields a C function reads is part of its contract: `.extern NAME observes=FIELDS`. A known bug is declared with `.expect ptrace FIELD at READER`.")),
        InvariantDescriptor(
            invariant: .returnStack, aliases: ["returnstack", "rsb", "shadow-stack"], title: "return stack balanced",
            help: "every ret returns to the address its call pushed; no call is left unreturned",
            whyItMatters: "an unbalanced call/ret leaves the return stack buffer misaligned (every later ret mispredicts) and faults under CET shadow stacks",
            subjects: [("return-address", "a ret through an address its call did not push"),
                       ("no-call", "a ret with no call to return from"),
                       ("unreturned-call", "a call never returned through (at: the routine it called)")],
            reviewerHelp: ReviewerHelp(
                checks: "Every `ret` returns through the address its matching `call` pushed, and every call the path makes is returned through: calls and returns stay paired as the CPU's return stack buffer and CET shadow stacks assume.",
                why: "An unbalanced call/ret leaves the return stack buffer out of step (every later ret mispredicts) and faults under CET shadow stacks.",
                example: "call 1f; 1: popq %rax ... jmp *%rax   # the pushed address is taken off the stack and never returned through",
                fix: "Pair each call with a ret through the address it pushed; code that deliberately unbalances the stack (RSB stuffing) is declared with `.expect return-stack MECHANISM at POINT` and the reason.")),
        InvariantDescriptor(
            invariant: .gsParity, aliases: ["gs-parity", "gs-base", "swapgs"], title: "GS base parity",
            help: "per-CPU accesses and C calls run with the kernel's GS base; exits leave with the GS base of the mode they return to",
            whyItMatters: "a per-CPU access with the user's GS base reads or writes memory the user chose; leaving with the kernel's GS base hands user space the kernel's per-CPU area, and the next entry's swapgs gives the kernel the user's",
            subjects: [("percpu", "a per-CPU access with the user's GS base (at: the instruction)"),
                       ("call", "a call into C with the user's GS base (at: the function)"),
                       ("exit", "an exit that leaves with the other mode's GS base"),
                       ("load", "a load of %gs with the kernel's GS base live, which loses it")],
            reviewerHelp: ReviewerHelp(
                checks: "Per-CPU variables are read and written, and C functions called, only while the kernel's GS base is live (after the entry's swapgs), and every exit leaves with the GS base of the mode it returns to.",
                why: "A per-CPU access with the user's GS base reads or writes memory the user chose; leaving with the kernel's GS base hands user space the kernel's per-CPU area, and the next entry's swapgs gives the kernel the user's.",
                example: "testl $3, CS(%rsp); jz 1f; swapgs; 1: ... swapgs; iretq   # an entry from kernel mode skips the first swapgs, not the second",
                fix: "Make each swapgs on the way out depend on the same test as the one on the way in (the saved CS's privilege level, or a paranoid entry's saved GS state), so a path swaps exactly when it came from user mode. A known bug is declared with `.expect gs percpu|call|exit at POINT`.")),
        InvariantDescriptor(
            invariant: .sysretHazard, aliases: ["sysret-hazard", "sysexit"], title: "SYSRET/SYSEXIT hazards",
            help: "sysret/sysexit return to canonical addresses, and sysretq loads no TF, RF or VM from r11",
            whyItMatters: "a non-canonical rip (or sysexit rsp) makes the CPU fault in ring 0 with the user's rsp and GS base, so the user controls the kernel's stack (CVE-2014-4699); SYSRET drops RF and VM and traps on TF",
            subjects: [("rip", "a non-canonical return address (rcx at sysretq, rdx at sysexit)"),
                       ("rsp", "a non-canonical rsp at sysexit (rcx)"),
                       ("flags", "TF, RF or VM set in r11 at sysretq")],
            reviewerHelp: ReviewerHelp(
                checks: "At sysretq and sysexit the return address (rcx at sysretq, rdx at sysexit) and sysexit's rsp (rcx) are canonical, and the flags sysretq loads from r11 have no TF, RF or VM set.",
                why: "A non-canonical return address makes the CPU fault in ring 0 with the user's rsp and GS base, so the user controls the kernel's stack (CVE-2014-4699); SYSRET drops RF and VM and traps on TF.",
                example: "movq RIP(%rsp), %rcx ... sysretq   # pt_regs.ip may have been set by ptrace to a non-canonical address",
                fix: "Check that the return address (and sysexit's rsp) is canonical and that r11 has no TF, RF or VM before taking the fast exit, and return through iretq otherwise. A known bug is declared with `.expect sysret rip|rsp|flags at EXIT`.")),
        InvariantDescriptor(
            invariant: .callArguments, aliases: ["call-args", "call-arguments", "arguments"], title: "call arguments",
            help: "every call gets the arguments its .extern contract needs (rdi=ptregs, rdi=return-address, esi=syscall-nr…)",
            whyItMatters: "a C function given the wrong pt_regs pointer, return address or syscall number acts on the wrong data: it reads or writes another frame, records a wrong caller, or runs another system call",
            subjects: Register.allCases.filter { $0 != .rsp }.map { ($0.name, "\($0.name) holds the wrong argument at the call (at: the function)") },
            reviewerHelp: ReviewerHelp(
                checks: "Every call to a C function whose `.extern` says what an argument register must hold (`rdi=ptregs`, `rdi=return-address`, `esi=syscall-nr`, `rsi=0`) gets that value; a 32-bit name compares the low 32 bits.",
                why: "A C function given the wrong pt_regs pointer, return address or syscall number acts on the wrong data: it reads or writes another frame, records a wrong caller, or runs another system call.",
                example: "pushq %rbx ... movq 9*8(%rsp), %rdi; call trace_hardirqs_on_caller   # one more push: 9*8 is now a saved register, not the return address",
                fix: "Compute the argument from what the code pushed since the value was placed (or load it before pushing). A known bug is declared with `.expect args REG at FUNCTION`.")),
        InvariantDescriptor(
            invariant: .speculationFence, aliases: ["speculation-fence", "fence-swapgs", "lfence"], title: "speculation fence after a conditional swapgs",
            help: "a branch that decides whether to swapgs has an lfence on both arms before the first per-CPU access or C call",
            whyItMatters: "a mispredicted branch runs the other arm speculatively — the swapgs from kernel mode, the skip from user mode — and its per-CPU loads then use the user's GS base and can leak kernel memory through the cache (CVE-2019-1125)",
            subjects: [("taken", "the arm the branch jumps to reaches a per-CPU access or C call unfenced (at: the branch)"),
                       ("not-taken", "the arm the branch falls through to reaches one unfenced (at: the branch)")],
            reviewerHelp: ReviewerHelp(
                checks: "A branch that decides whether to swapgs (the saved CS test, a paranoid entry's MSR_GS_BASE test) has a speculation barrier (`lfence`) on each arm before the first per-CPU access or call into C that a mispredicted run of the arm would reach with the user's GS base.",
                why: "A mispredicted branch runs the other arm speculatively — the swapgs from kernel mode, the skip from user mode — and its per-CPU loads then use the user's GS base and can leak kernel memory through the cache (CVE-2019-1125).",
                example: "testl $3, CS(%rsp); jz 1f; swapgs; 1: incl PER_CPU_VAR(irq_count)   # no lfence on either arm",
                fix: "Put an `lfence` right after the swapgs and at the start of the skip arm (Linux 5.3's FENCE_SWAPGS_USER_ENTRY and FENCE_SWAPGS_KERNEL_ENTRY). A known bug is declared with `.expect spec-fence taken|not-taken at \"BRANCH\"`.")),
        InvariantDescriptor(
            invariant: .unwindAnnotations, aliases: ["unwind", "unwind-hints", "cfi-annotations"], title: "unwind annotations true",
            help: "the CFA and register rules of .cfi_* directives and objtool's unwind hints say what the stack really holds",
            whyItMatters: "unwinders trust the annotations and never read the code: a wrong CFA or rule makes backtraces, perf samples and live patching's reliable-stacktrace check read garbage as return addresses and registers",
            subjects: [("cfa", "the CFA a .cfi_* row describes is not the frame's"),
                       ("hint", "an unwind hint's claim about the stack is false")]
                + (["rip"] + Register.allCases.map(\.name)).map { ($0, "a rule for \($0) names the wrong slot or register") },
            reviewerHelp: ReviewerHelp(
                checks: "At every instruction, the CFA and register rules the `.cfi_*` directives (CFI_* in 3.x) describe are the frame's real ones, and each objtool unwind hint (UNWIND_HINT_REGS, UNWIND_HINT_IRET_REGS, UNWIND_HINT_FUNC) says what the stack really holds where it stands.",
                why: "Unwinders trust the annotations and never read the code: a wrong CFA or rule makes backtraces, perf samples and live patching's reliable-stacktrace check read garbage as return addresses and registers.",
                example: "pushq %rbx; CFI_ADJUST_CFA_OFFSET 16   # rsp moved by 8: the unwinder looks for the return address 8 bytes too high",
                fix: "Make each annotation follow the instruction that moves rsp or saves a register (pushq_cfi/popq_cfi, CFI_REL_OFFSET on the slot the register went to), and place a hint only where what it names is complete. A known bug is declared with `.expect cfi cfa|hint|REG at POINT`.")),
    ]

    private static let byInvariant: [Invariant: InvariantDescriptor] = Dictionary(uniqueKeysWithValues: all.map { ($0.invariant, $0) })

    public static func descriptor(_ i: Invariant) -> InvariantDescriptor {
        // The table lists every case (RegistryTests checks it): the fallback is unreachable.
        byInvariant[i] ?? InvariantDescriptor(invariant: i, aliases: [], title: i.rawValue, help: "", whyItMatters: "", subjects: [],
                                              reviewerHelp: ReviewerHelp(checks: "", why: "", example: "", fix: ""))
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
