import SpecSyntax

/// The unwind annotations of the code, read into what the `cfi` invariant checks: the
/// row of the DWARF unwind table at each instruction (from the `.cfi_*` directives,
/// as gas assembles them) and objtool's unwind hints (from their records in
/// `.discard.unwind_hints`, as the kernel's UNWIND_HINT macro emits them).
extension Elaborator {
    /// One operand of `.discard.unwind_hints` data.
    struct UnwindHintItem {
        var directive: String
        var refs: [PatchSiteReference]
        var value: Int64?
        var location: SourceLocation
        var notes: [Diagnostic.Note]
    }

    /// DWARF's x86-64 register numbers (0–16) and the names gas accepts.
    static let dwarfRegisters = ["rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip"]

    /// A CFI register operand: `%rbx`, `rbx` or a DWARF number. Registers the model has
    /// no value for (rflags, segment registers, vector registers) keep their name: a
    /// rule about them cannot be judged.
    func frameRegister(_ o: Located, notes: [Diagnostic.Note]) throws -> String {
        var t = o.text
        if t.hasPrefix("%") { t.removeFirst() }
        if Self.dwarfRegisters.contains(t) { return t }
        if let n = Int(t) {
            guard n >= 0 else { throw Diagnostic(at: o.location, "DWARF register number \(n) is negative", notes: notes) }
            return n < Self.dwarfRegisters.count ? Self.dwarfRegisters[n] : "DWARF register \(n)"
        }
        guard let first = t.unicodeScalars.first, StatementSplitter.isIdentStart(first),
              t.unicodeScalars.allSatisfy(StatementSplitter.isIdentChar) else {
            throw Diagnostic(at: o.location, "'\(o.text)' is not a register", notes: notes)
        }
        return t
    }

    /// The operands of a `.cfi_*` directive: its registers and its offset.
    func frameOperands(_ name: String, _ operands: [Located], at loc: SourceLocation, notes: [Diagnostic.Note]) throws -> (registers: [String], offset: Int64?, simple: Bool) {
        func count(_ n: Int) throws {
            guard operands.count == n else { throw Diagnostic(at: loc, "\(name) takes \(n) operand\(n == 1 ? "" : "s"), found \(operands.count)", notes: notes) }
        }
        func number(_ o: Located) throws -> Int64 { try evaluate(Expr.parse(o), notes: notes) }
        switch name {
        case ".cfi_startproc":
            guard operands.count <= 1, operands.first.map({ $0.text == "simple" }) ?? true else {
                throw Diagnostic(at: loc, ".cfi_startproc takes nothing or 'simple'", notes: notes)
            }
            return ([], nil, !operands.isEmpty)
        case ".cfi_def_cfa", ".cfi_offset", ".cfi_rel_offset", ".cfi_val_offset":
            try count(2)
            return ([try frameRegister(operands[0], notes: notes)], try number(operands[1]), false)
        case ".cfi_def_cfa_offset", ".cfi_adjust_cfa_offset":
            try count(1)
            return ([], try number(operands[0]), false)
        case ".cfi_def_cfa_register":
            try count(1)
            return ([try frameRegister(operands[0], notes: notes)], nil, false)
        case ".cfi_register":
            try count(2)
            return (try operands.map { try frameRegister($0, notes: notes) }, nil, false)
        case ".cfi_restore", ".cfi_undefined", ".cfi_same_value":
            guard !operands.isEmpty else { throw Diagnostic(at: loc, "\(name) needs a register", notes: notes) }
            return (try operands.map { try frameRegister($0, notes: notes) }, nil, false)
        default:
            // The rest take what they take; the table builder says which it cannot judge.
            return ([], nil, false)
        }
    }

    /// An operand of hint-record data (`.long .Lhere_1 - .`, `.short 0`, `.byte 5`).
    func recordUnwindHintItem(_ directive: String, _ operands: [Located], notes: [Diagnostic.Note]) throws {
        for o in operands {
            var refs: [PatchSiteReference] = []
            for t in try Lexer.tokenize(o) {
                guard case .ident(let n) = t.kind, n != "." else { continue }
                if let last = n.last, last == "b" || last == "f", n.dropLast().allSatisfy(\.isNumber), n.count > 1 {
                    refs.append(PatchSiteReference(group: -1, label: String(n.dropLast()), direction: last,
                                                   serial: localLabelSerial, position: pending.count, location: t.location, table: section.name))
                } else if constants[n] == nil {
                    refs.append(PatchSiteReference(group: -1, label: n, direction: nil,
                                                   serial: localLabelSerial, position: pending.count, location: t.location, table: section.name))
                }
            }
            let value = refs.isEmpty ? try evaluate(Expr.parse(o), notes: notes) : nil
            unwindHintItems.append(UnwindHintItem(directive: directive, refs: refs, value: value, location: o.location, notes: notes))
        }
    }

    /// ORC's base-register codes (orc_types.h): the ones that name a register.
    static let orcRegisters: [Int64: Register] = [2: .rdx, 3: .rdi, 4: .rbp, 5: .rsp, 6: .r10, 7: .r13]

    /// Reads each `struct unwind_hint` record — `.long LABEL - .`, `.short sp_offset`,
    /// `.byte sp_reg`, `.byte type`, `.byte signal` (v6.x's layout, whose types
    /// objtool_types.h numbers) — into a hint at the instruction LABEL names. Data of any
    /// other shape is an error: a hint is a claim, and one not read is one not checked.
    func readUnwindHints() throws {
        let kinds: [UnwindHint.Kind] = [.undefined, .endOfStack, .call, .regs, .regsPartial, .function, .save, .restore]
        var k = 0
        let items = unwindHintItems
        while k < items.count {
            let ip = items[k]
            guard ip.refs.count == 1, k + 4 < items.count, items[(k + 1)...(k + 4)].allSatisfy({ $0.value != nil }) else {
                throw Diagnostic(at: ip.location, "unwind hint data is not a `struct unwind_hint` record (.long LABEL - ., .short sp_offset, .byte sp_reg, .byte type, .byte signal)", notes: ip.notes)
            }
            let offset = items[k + 1].value ?? 0, reg = items[k + 2].value ?? 0, type = items[k + 3].value ?? 0
            let target = resolve(ip.refs[0])
            guard target.exists, let at = target.target else {
                throw Diagnostic(at: ip.location, "unwind hint at '\(ip.refs[0].label)', which labels no instruction", notes: ip.notes)
            }
            guard type >= 0, type < Int64(kinds.count) else {
                throw Diagnostic(at: items[k + 3].location, "unknown unwind hint type \(type) (objtool_types.h: 0–7)", notes: ip.notes)
            }
            // Where the hint was written: the outermost macro invocation (UNWIND_HINT_REGS).
            var written = ip.location
            for note in ip.notes {
                guard note.message.hasPrefix("in expansion of macro") else { break }
                written = note.location
            }
            let hint = UnwindHint(kind: kinds[Int(type)], base: Self.orcRegisters[reg], baseCode: reg, offset: offset,
                                  location: written, expansion: ip.notes)
            pendingUnwindHints.append((at, hint))
            k += 5
        }
    }

    /// The table's rows, instruction by instruction, each section on its own: the
    /// directives before an instruction apply from it on (DW_CFA_advance_loc).
    func buildUnwindRows() throws {
        for (at, hint) in pendingUnwindHints { program.unwindHints[placedIndex[at], default: []].append(hint) }
        var sections: [String] = []
        for a in program.frameAnnotations where !sections.contains(a.section) { sections.append(a.section) }
        for name in sections {
            let annotations = program.frameAnnotations.filter { $0.section == name }
            var current: UnwindRow?
            var initial: [String: UnwindRule] = [:]
            var remembered: [UnwindRow] = []
            var next = 0
            func apply(_ a: FrameAnnotation) throws {
                func fail(_ m: String) -> Diagnostic { Diagnostic(at: a.location, m, notes: a.expansion) }
                if a.directive == ".cfi_startproc" {
                    guard current == nil else { throw fail(".cfi_startproc inside a procedure: its .cfi_endproc is missing") }
                    current = UnwindRow(cfa: a.simple ? nil : .init(register: .rsp, offset: 8), cfaLocation: a.location)
                    initial = a.simple ? [:] : ["rip": UnwindRule(kind: .savedAt(-8), location: a.location)]
                    current?.rules = initial
                    remembered = []
                    return
                }
                if a.directive == ".cfi_sections" { return }
                guard var row = current else { throw fail("\(a.directive) outside a .cfi_startproc … .cfi_endproc procedure") }
                let off = a.offset ?? 0
                func register(_ n: String) throws -> Register {
                    guard let (r, w) = Register.parse(n), w == .q else { throw fail("\(a.directive): the CFA must be computed from a general register, not \(n)") }
                    return r
                }
                func rule(_ reg: String, _ kind: UnwindRule.Kind) {
                    if reg != "rip" && Register.parse(reg) == nil && kind != .undefined {
                        row.unsupported = row.unsupported ?? "\(a.directive) \(reg) (\(a.location)): the model has no value for \(reg)"
                    }
                    row.rules[reg] = UnwindRule(kind: kind, location: a.location)
                }
                switch a.directive {
                case ".cfi_endproc":
                    current = nil
                    return
                case ".cfi_def_cfa":
                    row.cfa = .init(register: try register(a.registers[0]), offset: off)
                    row.cfaLocation = a.location
                case ".cfi_def_cfa_offset", ".cfi_adjust_cfa_offset":
                    guard let cfa = row.cfa else { throw fail("\(a.directive) while the CFA has no register (.cfi_startproc simple needs a .cfi_def_cfa first)") }
                    let (sum, overflow) = cfa.offset.addingReportingOverflow(off)
                    guard !overflow else { throw fail("\(a.directive): the CFA offset overflows") }
                    row.cfa?.offset = a.directive == ".cfi_def_cfa_offset" ? off : sum
                    row.cfaLocation = a.location
                case ".cfi_def_cfa_register":
                    row.cfa = .init(register: try register(a.registers[0]), offset: row.cfa?.offset ?? 0)
                    row.cfaLocation = a.location
                case ".cfi_offset":
                    rule(a.registers[0], .savedAt(off))
                case ".cfi_rel_offset":
                    // Relative to the CFA register's value now: CFA - its offset + off.
                    guard let cfa = row.cfa else { throw fail(".cfi_rel_offset while the CFA is undefined") }
                    let (d, overflow) = off.subtractingReportingOverflow(cfa.offset)
                    guard !overflow else { throw fail(".cfi_rel_offset: the offset overflows") }
                    rule(a.registers[0], .savedAt(d))
                case ".cfi_val_offset":
                    rule(a.registers[0], .valueAt(off))
                case ".cfi_register":
                    guard let (r, w) = Register.parse(a.registers[1]), w == .q else {
                        row.unsupported = row.unsupported ?? ".cfi_register into \(a.registers[1]) (\(a.location)): the model has no value for it"
                        break
                    }
                    rule(a.registers[0], .inRegister(r))
                case ".cfi_restore":
                    for reg in a.registers { row.rules[reg] = initial[reg] }
                case ".cfi_undefined":
                    for reg in a.registers { rule(reg, .undefined) }
                case ".cfi_same_value":
                    for reg in a.registers { rule(reg, .sameValue) }
                case ".cfi_remember_state":
                    remembered.append(row)
                case ".cfi_restore_state":
                    guard let r = remembered.popLast() else { throw fail(".cfi_restore_state without a .cfi_remember_state") }
                    row = r
                case ".cfi_signal_frame", ".cfi_personality", ".cfi_lsda":
                    // Says how to use the frame (or exception handling), not where it is.
                    break
                default:
                    // .cfi_escape, .cfi_return_column, .cfi_window_save: raw DWARF or a
                    // changed return column, which the model does not read.
                    row.unsupported = row.unsupported ?? "\(a.directive) (\(a.location)) is not read by the model"
                }
                current = row
            }
            for i in program.instructions.indices where program.instructions[i].section == name {
                while next < annotations.count, let at = annotations[next].instruction, at <= i {
                    try apply(annotations[next])
                    next += 1
                }
                if let row = current { program.unwindRows[i] = row }
            }
            // Directives at the end of the section describe no instruction; they still
            // must be well-formed.
            while next < annotations.count {
                try apply(annotations[next])
                next += 1
            }
        }
    }
}
