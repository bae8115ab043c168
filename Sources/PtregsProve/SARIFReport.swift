import Foundation
import SpecElaboration
import SpecSyntax
import StackSemantics

/// `--format sarif`: SARIF 2.1.0 for code-scanning UIs. One result per violation (and
/// per unknown verdict, stale expectation or input error), located at the blamed
/// line, with the replayed trace as a codeFlow; rule metadata per invariant.
public enum SARIFReport {
    public static let schema = "https://json.schemastore.org/sarif-2.1.0.json"

    static func location(_ l: SourceLocation, message: String? = nil) -> [String: Any] {
        var loc: [String: Any] = [
            "physicalLocation": [
                "artifactLocation": ["uri": l.file],
                "region": ["startLine": max(1, l.line), "startColumn": max(1, l.column)],
            ] as [String: Any],
        ]
        if let m = message { loc["message"] = ["text": m] }
        return loc
    }

    /// A rule's help for a kernel reviewer reading an alert: what it checks, why it
    /// matters, a two-line example, and how to fix or declare it.
    static func help(_ id: String) -> (text: String, markdown: String) {
        let parts: [String]
        switch id {
        case Invariant.restoreMatchesSave.rawValue:
            parts = ["Every register the path must give back holds its value from the path's entry at each exit: the callee-saved registers (rbx, rbp, r12-r15) at a function's `ret`, every user register at `sysretq` or `iretq`.",
                     "A register that comes back different corrupts the interrupted code or the user's state.",
                     "pushq %rbx / pushq %rbp ... popq %rbx / popq %rbp   # swapped: rbx and rbp come back exchanged",
                     "Restore each register from the slot it was saved in (pops in reverse order of the pushes). If the path may change a register on purpose, say which it preserves with `preserves=` on its `.path`; a known bug of the modelled code is declared with `.expect restore REG at EXIT` after the `.path`."]
        case Invariant.frameBalance.rawValue:
            parts = ["rsp at every exit is where the path's entry expects it (a function returns with its caller's rsp; a user-mode exit leaves the IRET or sysret frame in place), and no instruction reads or writes below rsp or outside the frame.",
                     "A wrong rsp at exit returns into garbage; memory below rsp can be overwritten by an NMI at any moment.",
                     "subq $16, %rsp ... addq $8, %rsp; ret   # returns through a saved register instead of the return address",
                     "Make every path to the exit undo exactly what it reserved (count the pushes, pops and rsp arithmetic on each branch), and move any access below rsp into reserved space. A known bug is declared with `.expect frame rsp at EXIT`."]
        case Invariant.ptraceConsistency.rawValue:
            parts = ["Every pt_regs field that a reader sees holds the user's value: at the functions that read pt_regs (syscall_trace_enter, the signal and fork paths) and at the exits that load registers back from it.",
                     "Debuggers, seccomp, signal frames and fork's copy read pt_regs: a wrong or stale field is wrong data for them and can leak kernel stack contents.",
                     "movq %rcx, RIP(%rsp) ... call syscall_trace_enter   # pt_regs.cx was never written: the tracer reads stack garbage",
                     "Fill the field (from the register or frame that holds the user's value) before any reader can see it, and do not overwrite it with a scratch value. Which fields a C function reads is part of its contract: `.extern NAME observes=FIELDS`. A known bug is declared with `.expect ptrace FIELD at READER`."]
        case Invariant.returnStack.rawValue:
            parts = ["Every `ret` returns through the address its matching `call` pushed, and every call the path makes is returned through: calls and returns stay paired as the CPU's return stack buffer and CET shadow stacks assume.",
                     "An unbalanced call/ret leaves the return stack buffer out of step (every later ret mispredicts) and faults under CET shadow stacks.",
                     "call 1f; 1: popq %rax ... jmp *%rax   # the pushed address is taken off the stack and never returned through",
                     "Pair each call with a ret through the address it pushed; code that deliberately unbalances the stack (RSB stuffing) is declared with `.expect return-stack MECHANISM at POINT` and the reason."]
        case "gs":
            parts = ["Per-CPU variables are read and written, and C functions called, only while the kernel's GS base is live (after the entry's swapgs), and every exit leaves with the GS base of the mode it returns to.",
                     "A per-CPU access with the user's GS base reads or writes memory the user chose; leaving with the kernel's GS base hands user space the kernel's per-CPU area, and the next entry's swapgs gives the kernel the user's.",
                     "testl $3, CS(%rsp); jz 1f; swapgs; 1: ... swapgs; iretq   # an entry from kernel mode skips the first swapgs, not the second",
                     "Make each swapgs on the way out depend on the same test as the one on the way in (the saved CS's privilege level, or a paranoid entry's saved GS state), so a path swaps exactly when it came from user mode. A known bug is declared with `.expect gs percpu|call|exit at POINT`."]
        case "sysret":
            parts = ["At sysretq and sysexit the return address (rcx at sysretq, rdx at sysexit) and sysexit's rsp (rcx) are canonical, and the flags sysretq loads from r11 have no TF, RF or VM set.",
                     "A non-canonical return address makes the CPU fault in ring 0 with the user's rsp and GS base, so the user controls the kernel's stack (CVE-2014-4699); SYSRET drops RF and VM and traps on TF.",
                     "movq RIP(%rsp), %rcx ... sysretq   # pt_regs.ip may have been set by ptrace to a non-canonical address",
                     "Check that the return address (and sysexit's rsp) is canonical and that r11 has no TF, RF or VM before taking the fast exit, and return through iretq otherwise. A known bug is declared with `.expect sysret rip|rsp|flags at EXIT`."]
        case "args":
            parts = ["Every call to a C function whose `.extern` says what an argument register must hold (`rdi=ptregs`, `rdi=return-address`, `esi=syscall-nr`, `rsi=0`) gets that value; a 32-bit name compares the low 32 bits.",
                     "A C function given the wrong pt_regs pointer, return address or syscall number acts on the wrong data: it reads or writes another frame, records a wrong caller, or runs another system call.",
                     "pushq %rbx ... movq 9*8(%rsp), %rdi; call trace_hardirqs_on_caller   # one more push: 9*8 is now a saved register, not the return address",
                     "Compute the argument from what the code pushed since the value was placed (or load it before pushing). A known bug is declared with `.expect args REG at FUNCTION`."]
        case "spec-fence":
            parts = ["A branch that decides whether to swapgs (the saved CS test, a paranoid entry's MSR_GS_BASE test) has a speculation barrier (`lfence`) on each arm before the first per-CPU access or call into C that a mispredicted run of the arm would reach with the user's GS base.",
                     "A mispredicted branch runs the other arm speculatively — the swapgs from kernel mode, the skip from user mode — and its per-CPU loads then use the user's GS base and can leak kernel memory through the cache (CVE-2019-1125).",
                     "testl $3, CS(%rsp); jz 1f; swapgs; 1: incl PER_CPU_VAR(irq_count)   # no lfence on either arm",
                     "Put an `lfence` right after the swapgs and at the start of the skip arm (Linux 5.3's FENCE_SWAPGS_USER_ENTRY and FENCE_SWAPGS_KERNEL_ENTRY). A known bug is declared with `.expect spec-fence taken|not-taken at \"BRANCH\"`."]
        case Invariant.unwindAnnotations.rawValue:
            parts = ["At every instruction, the CFA and register rules the `.cfi_*` directives (CFI_* in 3.x) describe are the frame's real ones, and each objtool unwind hint (UNWIND_HINT_REGS, UNWIND_HINT_IRET_REGS, UNWIND_HINT_FUNC) says what the stack really holds where it stands.",
                     "Unwinders trust the annotations and never read the code: a wrong CFA or rule makes backtraces, perf samples and live patching's reliable-stacktrace check read garbage as return addresses and registers.",
                     "pushq %rbx; CFI_ADJUST_CFA_OFFSET 16   # rsp moved by 8: the unwinder looks for the return address 8 bytes too high",
                     "Make each annotation follow the instruction that moves rsp or saves a register (pushq_cfi/popq_cfi, CFI_REL_OFFSET on the slot the register went to), and place a hint only where what it names is complete. A known bug is declared with `.expect cfi cfa|hint|REG at POINT`."]
        case "bad-input":
            parts = ["The spec (or the assembly it reads with `.source`) could not be parsed or elaborated: a syntax error, an unknown name, a macro that cannot be expanded, a declaration that contradicts another.",
                     "Nothing in a file with an input error is proved: every path of that file is left unchecked until the error is fixed.",
                     "movq %gs:0x10, %rax   # an absolute per-CPU offset: the model needs the variable's name",
                     "Each alert is at the line and column of one error and says what was expected there; every error of the file is reported in the same run. Fix them and run ptregs-prove again."]
        case "spec-out-of-date":
            parts = ["The assembly a spec models (`.models FILE lines=A-B` or `symbol=NAME`) has changed since the spec recorded its fingerprint, but the spec was not changed in the same commit.",
                     "A spec that no longer matches the code proves something about code that is not there: the real change is unchecked.",
                     ".models arch/x86/entry/entry_64.S symbol=entry_SYSCALL_64 fingerprint=...   # the symbol's code changed",
                     "Re-read the changed code, bring the spec's transcription up to date, then record the new fingerprint (`ptregs-prove --fingerprint FILE@SYMBOL` prints the `.models` line)."]
        default:
            let inv = Invariant(rawValue: id)
            parts = ["The invariant '\(inv?.title ?? id)'.", inv.map { TextReport.why($0).prefix(1).uppercased() + TextReport.why($0).dropFirst() + "." } ?? "", "",
                     "Fix the code the alert names, or declare a known violation with `.expect \(id) MECHANISM at POINT` after the `.path`."]
        }
        let text = parts[0] + " " + parts[1] + (parts[2].isEmpty ? "" : "\nExample: " + parts[2]) + "\nFix: " + parts[3]
        let markdown = parts[0] + " " + parts[1] + (parts[2].isEmpty ? "" : "\n\nExample:\n\n```\n" + parts[2] + "\n```") + "\n\n**Fix:** " + parts[3]
        return (text, markdown)
    }

    static func rule(id: String, name: String, short: String, full: String) -> [String: Any] {
        let h = help(id)
        return [
            "id": id,
            "name": name,
            "shortDescription": ["text": short],
            "fullDescription": ["text": full],
            "help": ["text": h.text, "markdown": h.markdown],
            "defaultConfiguration": ["level": "error"],
        ]
    }

    static func rules() -> [[String: Any]] {
        var rules: [[String: Any]] = Invariant.allCases.map { inv in
            rule(id: inv.rawValue,
                 name: inv.title.split(separator: " ").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined().replacingOccurrences(of: "-", with: ""),
                 short: inv.title, full: TextReport.why(inv))
        }
        rules.append(rule(id: "bad-input", name: "BadInput", short: "the spec could not be parsed or elaborated",
                          full: "A syntax or elaboration error: nothing in this file was proved."))
        rules.append(rule(id: "spec-out-of-date", name: "SpecOutOfDate", short: "the assembly a spec models changed, but its spec did not",
                          full: "The fingerprint of the modelled code differs from the one the spec records: re-read the code, update the spec, then its fingerprint."))
        return rules
    }

    /// A result's identity across runs for code-scanning UIs, stable when lines move:
    /// a hash of the file, the rule and what the result is about (a violation's
    /// mechanism, a path's name), never of a line number.
    static func fingerprint(_ parts: [String]) -> [String: String] {
        // FNV-1a, 64 bits: deterministic across runs and platforms (Hasher is seeded).
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in parts.joined(separator: "\u{1F}").utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        let hex = String(h, radix: 16)
        return ["ptregsProve/v1": String(repeating: "0", count: 16 - hex.count) + hex]
    }

    public static func render(_ report: CheckReport) -> String {
        var results: [[String: Any]] = []
        let ruleIndex = Dictionary(uniqueKeysWithValues: (Invariant.allCases.map(\.rawValue) + ["bad-input", "spec-out-of-date"]).enumerated().map { ($1, $0) })
        for d in report.diagnostics {
            results.append([
                "ruleId": "bad-input", "ruleIndex": ruleIndex["bad-input"] ?? 0, "level": "error",
                "message": ["text": d.message],
                "partialFingerprints": fingerprint([d.location.file, "bad-input", d.message]),
                "locations": [location(d.location)],
                "relatedLocations": d.notes.enumerated().map { k, n in location(n.location, message: n.message).merging(["id": k]) { a, _ in a } },
            ])
        }
        for g in report.gate {
            results.append([
                "ruleId": "spec-out-of-date", "ruleIndex": ruleIndex["spec-out-of-date"] ?? 0, "level": "error",
                "message": ["text": g.message], "locations": [location(g.location)],
                "partialFingerprints": fingerprint([g.location.file, "spec-out-of-date", g.message]),
            ])
        }
        for p in report.paths {
            for r in p.results {
                let base: [String: Any] = ["ruleId": r.invariant.rawValue, "ruleIndex": ruleIndex[r.invariant.rawValue] ?? 0]
                for e in r.staleExpectations {
                    let what = e.kind == .limit ? "the model no longer reports it — remove the limit" : "now proves — update the expectation"
                    results.append(base.merging([
                        "level": "error",
                        "message": ["text": "\(p.name): \(r.invariant.title): `.\(e.kind.rawValue) \(e.mechanism)` matches no violation: \(what)"],
                        "locations": [location(e.location)],
                        "partialFingerprints": fingerprint([e.location.file, r.invariant.rawValue, p.name, "stale", e.kind.rawValue, "\(e.mechanism)"]),
                    ]) { a, _ in a })
                }
                if let why = r.undecided {
                    results.append(base.merging([
                        "level": "warning",
                        "message": ["text": "\(p.name): \(r.invariant.title): unknown: \(why)"],
                        "locations": [location(p.location)],
                        "partialFingerprints": fingerprint([p.location.file, r.invariant.rawValue, p.name, "unknown"]),
                    ]) { a, _ in a })
                }
                // Every violation, each with its mechanism; an accepted one is suppressed
                // in source (an expectation or a model limit), so the code-scanning UI
                // keeps it out of the alerts but not out of the record.
                for v in r.violations {
                    let cx = v.counterexample
                    var res = base.merging([
                        "level": v.acceptedBy == nil ? "error" : "note",
                        "message": ["text": "\(p.name): \(r.invariant.title) violated: \(cx.requirement) [\(v.mechanism)]"],
                        "locations": [location(cx.location)],
                        "partialFingerprints": fingerprint([cx.location.file, r.invariant.rawValue, p.name, v.mechanism.description]),
                        "properties": ["mechanism": v.mechanism.description, "disposition": v.disposition,
                                       "decidedBy": r.decidedBy.map(\.rawValue)] as [String: Any],
                        "codeFlows": [[
                            "message": ["text": "counterexample replayed on a concrete run"],
                            "threadFlows": [[
                                "locations": cx.steps.map { s -> [String: Any] in
                                    let slots = s.touched.map { "\($0.label) = \(TextReport.hex($0.value)) \($0.holds)" }.joined(separator: "; ")
                                    let text = "\(s.text)   rsp=\(s.rsp) rs=\(s.returnStackDepth) gs=\(s.kernelGS ? "kernel" : "user")" + (slots.isEmpty ? "" : "   [\(slots)]")
                                    return ["location": location(s.sourceLocation, message: text)]
                                },
                            ]],
                        ]],
                    ]) { a, _ in a }
                    if !p.assumptions.isEmpty {
                        res["properties"] = (res["properties"] as? [String: Any] ?? [:]).merging(["assumptions": p.assumptions.map(\.description)]) { a, _ in a }
                    }
                    // Where the wrong value is observed, and every other one wrong there.
                    let related = (cx.observation.map { [$0] } ?? []) + cx.related
                    if !related.isEmpty {
                        res["relatedLocations"] = related.enumerated().map { k, b -> [String: Any] in
                            var l = location(b.location, message: b.message)
                            l["id"] = k + 1
                            return l
                        }
                    }
                    if let e = v.acceptedBy {
                        let why = e.kind == .limit ? "a known false report of the model (\(e)): \(e.reason ?? "")" : "the spec expects this violation (\(e), \(e.location))"
                        res["suppressions"] = [["kind": "inSource", "justification": why]]
                    }
                    results.append(res)
                }
            }
        }
        let doc: [String: Any] = [
            "$schema": schema,
            "version": "2.1.0",
            "runs": [[
                "tool": ["driver": [
                    "name": "ptregs-prove",
                    "version": JSONReport.toolVersion,
                    "rules": rules(),
                ] as [String: Any]],
                "columnKind": "unicodeCodePoints",
                "results": results,
            ] as [String: Any]],
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]),
              let text = String(data: data, encoding: .utf8) else { return "{}\n" }
        return text + "\n"
    }
}
