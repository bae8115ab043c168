import SpecElaboration
import SpecSyntax

/// Invariant `cfi` — unwind annotations are true (docs/model.md, "7. Unwind annotations").
///
/// Unwinders trust the annotations and never look at the code: a wrong CFA or a rule
/// naming the wrong slot makes every backtrace, perf sample and live-patch consistency
/// check through that instruction read garbage as return addresses and registers.
/// Checked before every instruction the path runs:
/// - the CFA the `.cfi_*` row describes (register + offset) is the frame's real CFA:
///   for a function, rsp at entry + 8; for an entry by a hardware frame, the address
///   above the frame's ss (3.16's INTR_FRAME/XCPT_FRAME: rsp + SS+8-RIP at entry); for a
///   system call, the top of the kernel stack where pt_regs ends (3.16's
///   `CFI_DEF_CFA rsp,KERNEL_STACK_OFFSET` once rsp is the kernel stack); for a jump
///   entry, the top of its pt_regs. Inside a routine the path calls, its rsp after the
///   `call` + 8.
/// - each register rule is true: `savedAt(n)` — the slot at CFA+n holds the caller's
///   value (rip: the return address or the interrupted ip; rsp: the interrupted rsp);
///   `inRegister(r)` — r holds it; `sameValue` — the register still holds it;
///   `valueAt(n)` — it is CFA+n.
/// - each objtool unwind hint at its instruction: REGS — a complete pt_regs of the
///   interrupted context at base+offset; REGS_PARTIAL (IRET_REGS) — its IRET frame
///   there; CALL and FUNC — base+offset is the CFA and the word below it the return
///   address; UNDEFINED and END_OF_STACK claim nothing.
extension Interpreter {
    /// The frame's real CFA where the path itself runs; nil when the model has no
    /// frame for the entry (a jump entry without pt_regs).
    var realCFA: UInt64? {
        switch path.entry {
        case .function: return setup.entryRSP.map { $0 &+ 8 }
        case .interrupt, .exception, .exceptionWithErrorCode, .int80, .syscall, .compatSyscall, .sysenter, .jump: return setup.frameTop
        }
    }

    /// The interrupted context's registers as the path finds them.
    func entryContext() -> UserView<D> {
        if let c = inputCache.entryContext { return c }
        let c = initialState().user
        inputCache.entryContext = c
        return c
    }

    /// The pt_regs field holding a register of the interrupted context.
    static func unwindField(_ reg: String) -> String? {
        switch reg {
        case "rip": return "ip"
        case "rsp": return "sp"
        default: return Register.parse(reg).flatMap { r in Layout.ptRegs.fields.first { $0.register == r.0 }?.userName }
        }
    }

    /// The caller's value of `reg` where the path itself runs: for a function the
    /// register at entry (rip: the return address, rsp: the CFA), else the interrupted
    /// context's. nil: nothing defines it here.
    func unwoundValue(_ reg: String, cfa: UInt64) -> (value: D.Value, known: D.Bit, field: String?)? {
        if path.entry == .function {
            switch reg {
            case "rip": return (d.input("entry.return_address"), d.bit(true), nil)
            case "rsp": return (d.constant(cfa), d.bit(true), nil)
            default: return Register.parse(reg).map { (d.input("entry.\($0.0.name)"), d.bit(true), nil) }
            }
        }
        guard let field = Self.unwindField(reg), let i = PtRegsField.index(field) else { return nil }
        let view = entryContext()
        guard let v = view.values[i] else { return nil }
        return (v, view.known[i] ?? d.bit(true), field)
    }

    func agree(_ a: D.Value, _ b: D.Value, field: String?) -> D.Bit? {
        guard let field else { return d.equal(a, b) }
        return userAgree(a, b, field: field)
    }

    func checkUnwindAnnotations(node: Int, instruction i: Int, _ s: MachineState<D>) throws {
        if d.known(s.reach) == false { return }
        for hint in program.unwindHints[i] ?? [] { try checkUnwindHint(hint, node: node, s) }
        guard let row = program.unwindRows[i] else { return }
        if let why = row.unsupported { throw Unsupported(node: node, reason: "unwind annotations: \(why)", onlyUnwindAnnotations: true) }
        // Where a routine the path called runs, the frame is that routine's.
        let baseDepth = path.entry == .function ? 1 : 0
        let inCallee = s.shadowStack.count > baseDepth
        let cfa: D.Value
        let cfaWords: String
        if inCallee, let top = s.shadowStack.last {
            guard let frame = top.frame else { throw Unsupported(node: node, reason: "unwind annotations: the frame of the routine this runs in is not known", onlyUnwindAnnotations: true) }
            cfa = d.add(frame, d.constant(8))
            cfaWords = "rsp after the call that entered this routine + 8"
        } else {
            guard let c = realCFA else {
                throw Unsupported(node: node, reason: "unwind annotations: the model has no CFA for a \(path.entry.rawValue) entry without pt_regs (ptregs=)", onlyUnwindAnnotations: true)
            }
            cfa = d.constant(c)
            cfaWords = path.entry == .function ? "rsp at entry + 8" : "\(setup.describe(address: c)), above the \(path.entry.isSystemCall ? "pt_regs frame" : "hardware frame")"
        }
        if let c = row.cfa {
            let described = d.add(s[c.register], d.constant(UInt64(bitPattern: c.offset)))
            require(.unwindAnnotations, node, "cfa", d.equal(described, cfa), s,
                    "the CFA the CFI describes (\(c.register.name)\(c.offset < 0 ? "" : "+")\(c.offset), \(row.cfaLocation.annotationWords)) must be the frame's: \(cfaWords)",
                    values: [("CFA by the CFI", described), ("real CFA", cfa)])
        }
        for reg in row.rules.keys.sorted() {
            guard let rule = row.rules[reg] else { continue }
            if case .undefined = rule.kind { continue }
            let caller: (value: D.Value, known: D.Bit, field: String?)
            if inCallee {
                guard reg == "rip", let top = s.shadowStack.last else {
                    throw Unsupported(node: node, reason: "unwind annotations: the rule for \(reg) (\(rule.location.annotationWords)) inside a routine the path calls is not checked: the model keeps no caller's registers there", onlyUnwindAnnotations: true)
                }
                caller = (top.returnAddress, d.bit(true), nil)
            } else {
                guard let c = unwoundValue(reg, cfa: realCFA ?? 0) else {
                    throw Unsupported(node: node, reason: "unwind annotations: the rule for \(reg) (\(rule.location.annotationWords)) names a register the \(path.entry.rawValue) entry does not define", onlyUnwindAnnotations: true)
                }
                caller = c
            }
            let claim: D.Bit?
            let shown: D.Value
            let words: String
            switch rule.kind {
            case .savedAt(let n):
                let address = d.add(cfa, d.constant(UInt64(bitPattern: n)))
                guard let cases = stackCases(address) else {
                    throw Unsupported(node: node, reason: "unwind annotations: the slot of \(reg) (\(rule.location.annotationWords)) is not on a modelled stack", onlyUnwindAnnotations: true)
                }
                shown = readSlot(s, cases).value
                claim = agree(shown, caller.value, field: caller.field)
                words = "the slot at CFA\(n < 0 ? "" : "+")\(n) (\(rule.location.annotationWords)) must hold the caller's \(reg)"
            case .valueAt(let n):
                shown = d.add(cfa, d.constant(UInt64(bitPattern: n)))
                claim = agree(shown, caller.value, field: caller.field)
                words = "the caller's \(reg) must be CFA\(n < 0 ? "" : "+")\(n) (\(rule.location.annotationWords))"
            case .inRegister(let r):
                shown = s[r]
                claim = agree(shown, caller.value, field: caller.field)
                words = "\(r.name) must hold the caller's \(reg) (\(rule.location.annotationWords))"
            case .sameValue:
                guard let (r, _) = Register.parse(reg) else {
                    throw Unsupported(node: node, reason: "unwind annotations: .cfi_same_value \(reg) (\(rule.location.annotationWords)) is not checked", onlyUnwindAnnotations: true)
                }
                shown = s[r]
                claim = agree(shown, caller.value, field: caller.field)
                words = "\(reg) must still hold the caller's value (\(rule.location.annotationWords))"
            case .undefined:
                continue
            }
            guard let claim else { continue }
            require(.unwindAnnotations, node, "register \(reg)", whereKnown(caller.known, claim), s, words,
                    values: [(reg, shown), ("caller's \(reg)", caller.value)])
        }
    }

    func checkUnwindHint(_ h: UnwindHint, node: Int, _ s: MachineState<D>) throws {
        let at = h.location.annotationWords
        switch h.kind {
        case .undefined, .endOfStack:
            return
        case .save, .restore:
            throw Unsupported(node: node, reason: "unwind hint \(h.kind.rawValue) (\(at)) copies objtool's state, which the model does not keep", onlyUnwindAnnotations: true)
        case .call, .function, .regs, .regsPartial:
            break
        }
        guard let base = h.base else {
            throw Unsupported(node: node, reason: "unwind hint \(h.kind.rawValue) (\(at)) with ORC base register \(h.baseCode), which the model does not read", onlyUnwindAnnotations: true)
        }
        let address = d.add(s[base], d.constant(UInt64(bitPattern: h.offset)))
        let place = "\(base.name)\(h.offset < 0 ? "" : "+")\(h.offset)"
        func slot(_ k: UInt64) throws -> D.Value {
            guard let cases = stackCases(d.add(address, d.constant(k))) else {
                throw Unsupported(node: node, reason: "unwind hint (\(at)): \(place) is not on a modelled stack", onlyUnwindAnnotations: true)
            }
            return readSlot(s, cases).value
        }
        switch h.kind {
        case .regs, .regsPartial:
            let fields = h.kind == .regs ? Layout.ptRegs.fields : Layout.ptRegs.fields.filter { ["ip", "cs", "flags", "sp", "ss"].contains($0.userName) }
            let first: Int64 = h.kind == .regs ? 0 : 128
            guard fields.contains(where: { userField(s, $0.userName) != nil }) else {
                throw Unsupported(node: node, reason: "unwind hint \(h.kind.rawValue) (\(at)): the path has no interrupted context to compare pt_regs with", onlyUnwindAnnotations: true)
            }
            for f in fields {
                guard let u = userField(s, f.userName) else { continue }
                let v = try slot(UInt64(bitPattern: f.offset - first))
                guard let ok = userAgree(v, u.value, field: f.userName) else { continue }
                let what = h.kind == .regs ? "pt_regs" : "the IRET frame"
                require(.unwindAnnotations, node, "hint", whereKnown(u.known, ok), s,
                        "the unwind hint \(h.kind.rawValue) (\(at)) says \(place) holds \(what): its \(f.userName) must be the interrupted \(userRegisterName(f))",
                        values: [("\(f.userName) at the hint", v), ("interrupted \(f.userName)", u.value)])
            }
        case .call, .function:
            // objtool then unwinds as at a function's first instruction: base+offset is
            // the CFA and the word below it the return address.
            let baseDepth = path.entry == .function ? 1 : 0
            let cfa: D.Value
            let ret: D.Value
            if s.shadowStack.count > baseDepth, let top = s.shadowStack.last, let frame = top.frame {
                cfa = d.add(frame, d.constant(8))
                ret = top.returnAddress
            } else if path.entry == .function, let c = realCFA {
                cfa = d.constant(c)
                ret = d.input("entry.return_address")
            } else {
                // No return address below any CFA of this frame: whatever is at
                // base+offset-8 is not one the model knows; claim the impossible so a
                // run reaching here is a violation with its trace.
                let below = try slot(UInt64(bitPattern: -8))
                require(.unwindAnnotations, node, "hint", d.bit(false), s,
                        "the unwind hint \(h.kind.rawValue) (\(at)) says \(place) is a function's CFA with a return address below it, but this \(path.entry.rawValue) path is in no call here",
                        values: [("word below \(place)", below)])
                return
            }
            require(.unwindAnnotations, node, "hint", d.equal(address, cfa), s,
                    "the unwind hint \(h.kind.rawValue) (\(at)) says \(place) is the CFA of the function running here",
                    values: [(place, address), ("real CFA", cfa)])
            let below = try slot(UInt64(bitPattern: -8))
            require(.unwindAnnotations, node, "hint", d.equal(below, ret), s,
                    "the unwind hint \(h.kind.rawValue) (\(at)) says the word below \(place) is the return address",
                    values: [("word below \(place)", below), ("return address", ret)])
        case .undefined, .endOfStack, .save, .restore:
            return
        }
    }
}

extension Mechanism {
    /// A CFI obligation's subject: `cfa`, the register a rule names, or `hint`.
    static func unwindSubject(key: String) -> String? {
        if key == "cfa" || key == "hint" { return key }
        if key.hasPrefix("register ") { return String(key.dropFirst("register ".count)) }
        return nil
    }
}

extension SourceLocation {
    /// `calling.h:92`: where an annotation was written, short enough for a requirement.
    var annotationWords: String { "\(file.split(separator: "/").last.map(String.init) ?? file):\(line)" }
}
