import Foundation
import SpecSyntax

/// gas as kernel entry code uses it after the C preprocessor: sections, symbol
/// directives, alignment and data, code modes, conditional assembly, repetition, CFI
/// annotations, `.error` and `.warning`. What is accepted either changes what the model
/// sees (sections, conditions, repetitions) or is recorded (CFI) or has no effect on
/// the stack (symbol attributes, alignment padding, data outside code); anything else
/// stays an error with its line.
extension Elaborator {
    /// `.exitm`: the rest of the innermost expansion (a macro's body, or every run left
    /// of a `.rept`/`.irp`/`.irpc`) is not read.
    struct ExitMacro: Error { var location: SourceLocation }

    /// One open `.if` group.
    struct ConditionGroup {
        /// Lines of the current branch are assembled.
        var active: Bool
        /// A branch was taken: later `.elseif`/`.else` are not.
        var taken: Bool
        var sawElse: Bool
        var location: SourceLocation
    }

    static let conditionalAssemblyDirectives: Set<String> = [
        ".if", ".ifne", ".ifeq", ".ifgt", ".ifge", ".iflt", ".ifle",
        ".ifb", ".ifnb", ".ifc", ".ifnc", ".ifeqs", ".ifnes", ".ifdef", ".ifndef", ".ifnotdef",
    ]
    static let repetitionDirectives: Set<String> = [".rept", ".irp", ".irpc"]

    /// gas's `%rsp == %rbp` (unwind_hints.h's UNWIND_HINT_REGS picks its base so): two
    /// registers compared by name; nil when the text is not that.
    static func registerComparison(_ text: String) -> Bool? {
        for op in ["==", "!="] {
            let parts = text.components(separatedBy: op)
            guard parts.count == 2 else { continue }
            let a = parts[0].trimmingWhitespaces(), b = parts[1].trimmingWhitespaces()
            guard a.hasPrefix("%"), b.hasPrefix("%"), Register.parse(String(a.dropFirst())) != nil, Register.parse(String(b.dropFirst())) != nil else { return nil }
            return (a == b) == (op == "==")
        }
        return nil
    }

    /// Whether the condition of a `.if`-family directive holds.
    func conditionHolds(_ head: Located, operands: [Located], rest: Located, notes: [Diagnostic.Note]) throws -> Bool {
        // Only the truth of `.if`, `.ifne` and `.ifeq` matters; the others compare the value.
        let truthOnly = head.text == ".if" || head.text == ".ifne" || head.text == ".ifeq"
        func value() throws -> Int64 {
            if let same = Self.registerComparison(rest.text) { return same ? 1 : 0 }
            return try evaluate(Expr.parse(rest), asCondition: truthOnly, notes: notes)
        }
        switch head.text {
        case ".if", ".ifne": return try value() != 0
        case ".ifeq": return try value() == 0
        case ".ifgt": return try value() > 0
        case ".ifge": return try value() >= 0
        case ".iflt": return try value() < 0
        case ".ifle": return try value() <= 0
        case ".ifb": return rest.text.isEmpty
        case ".ifnb": return !rest.text.isEmpty
        case ".ifc", ".ifnc":
            let (a, b) = try gasComparedStrings(head, rest: rest, notes: notes)
            return (a == b) == (head.text == ".ifc")
        case ".ifeqs", ".ifnes":
            guard operands.count == 2 else {
                throw Diagnostic(at: head.location, "\(head.text) compares two strings: \(head.text) A, B", notes: notes)
            }
            let a = try comparedString(operands[0], notes: notes)
            let b = try comparedString(operands[1], notes: notes)
            return (a == b) == (head.text == ".ifeqs")
        default:    // .ifdef, .ifndef, .ifnotdef
            let name = rest.text
            guard !name.isEmpty, name.unicodeScalars.allSatisfy(StatementSplitter.isIdentChar) else {
                throw Diagnostic(at: rest.location, "\(head.text) needs a symbol name", notes: notes)
            }
            let defined = constants[name] != nil || labelDefinitions[name] != nil || program.externs[name] != nil
            return defined == (head.text == ".ifdef")
        }
    }

    /// The two strings `.ifc`/`.ifnc` compare, as gas 2.40 reads them (read.c's
    /// get_mri_string): the first ends at the first comma whatever encloses it
    /// (`(a,b)` or `"a,b"` is cut there), the second is the rest of the statement; each
    /// is compared character for character, quotes included, blanks at its ends left
    /// out. What gas reads otherwise is refused: blanks inside an operand (gas's scrubber
    /// drops some of them, `a + b` matches `a+b`) and single quotes other than one
    /// `'…'` operand (gas folds `''` and ends the operand at the closing quote).
    func gasComparedStrings(_ head: Located, rest: Located, notes: [Diagnostic.Note]) throws -> (String, String) {
        let t = rest.text
        guard let comma = t.firstIndex(of: ",") else {
            throw Diagnostic(at: head.location, "\(head.text) compares two strings: \(head.text) A, B", notes: notes)
        }
        let parts = [t[..<comma], t[t.index(after: comma)...]]
        var out: [String] = []
        for (k, p) in parts.enumerated() {
            let operand = p.trimmingWhitespaces()
            let offset = t.distance(from: t.startIndex, to: k == 0 ? t.startIndex : t.index(after: comma))
            let at = SourceLocation(file: rest.location.file, line: rest.location.line, column: rest.location.column + offset)
            var inString = false
            for c in operand.unicodeScalars {
                if c == "\"" { inString.toggle() }
                if !inString, c == " " || c == "\t" {
                    throw Diagnostic(at: at, "\(head.text) operand '\(operand)' has a blank inside: gas's reading of it (it drops some blanks) is not modelled", notes: notes)
                }
            }
            if operand.contains("'") {
                let inner = operand.dropFirst().dropLast()
                guard operand.count >= 2, operand.hasPrefix("'"), operand.hasSuffix("'"), !inner.contains("'") else {
                    throw Diagnostic(at: at, "\(head.text) operand '\(operand)' with single quotes other than around it: gas's reading of it is not modelled", notes: notes)
                }
            }
            out.append(operand)
        }
        return (out[0], out[1])
    }

    /// A string of `.ifeqs`/`.ifnes`: inside `"…"`, as gas demands (it rejects `'…'`).
    /// gas reads escapes there; a backslash is refused rather than compared as written.
    func comparedString(_ l: Located, notes: [Diagnostic.Note]) throws -> String {
        let t = l.text
        guard t.count >= 2, t.hasPrefix("\""), t.hasSuffix("\"") else {
            throw Diagnostic(at: l.location, "expected a string in double quotes", notes: notes)
        }
        let inner = String(t.dropFirst().dropLast())
        if inner.contains("\\") || inner.contains("\"") {
            throw Diagnostic(at: l.location, "escapes in a compared string are not modelled: gas reads them", notes: notes)
        }
        return inner
    }

    /// The bindings of each run of a `.rept`, `.irp` or `.irpc` body.
    func repetitions(_ head: Located, operands: [Located], rest: Located, notes: [Diagnostic.Note]) throws -> [[String: String]] {
        switch head.text {
        case ".rept":
            let n = try evaluate(Expr.parse(rest), notes: notes)
            guard n >= 0, n <= Int64(Self.maximumExpandedStatements) else {
                throw Diagnostic(at: rest.location, ".rept count \(n) is outside 0…\(Self.maximumExpandedStatements)", notes: notes)
            }
            return Array(repeating: [:], count: Int(n))
        default:
            // `.irp name, a, b` (or `.irp name a b`): the name, then the values.
            var words = operands
            if operands.count == 1 {
                words = operands[0].text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { Located(String($0), operands[0].location) }
            }
            guard let name = words.first, !name.text.isEmpty, name.text.unicodeScalars.allSatisfy(StatementSplitter.isIdentChar) else {
                throw Diagnostic(at: rest.location, "\(head.text) needs a parameter name: \(head.text) NAME, VALUES", notes: notes)
            }
            let values: [String]
            if head.text == ".irp" {
                values = words.dropFirst().map(\.text)
            } else {
                values = words.dropFirst().map(\.text).joined().map { String($0) }
            }
            // gas runs the body once, with the parameter empty, when there are no values.
            return values.isEmpty ? [[name.text: ""]] : values.map { [name.text: $0] }
        }
    }

    /// Every directive gas 2.40 (x86-64 ELF) has, in lower case: the names for which
    /// its `.macro .NAME` warns "attempt to redefine pseudo-op" (found by asking gas).
    static let gasPseudoOps: Set<String> = [
        ".2byte", ".4byte", ".8byte", ".abort", ".align", ".allow_index_reg", ".altmacro", ".arch", ".ascii", ".asciz",
        ".att_mnemonic", ".att_syntax", ".attach_to_group", ".balign", ".balignl", ".balignw", ".bfloat16", ".bss",
        ".bundle_align_mode", ".bundle_lock", ".bundle_unlock", ".byte", ".cfi_adjust_cfa_offset", ".cfi_def_cfa",
        ".cfi_def_cfa_offset", ".cfi_def_cfa_register", ".cfi_endproc", ".cfi_escape", ".cfi_fde_data",
        ".cfi_inline_lsda", ".cfi_label", ".cfi_lsda", ".cfi_negate_ra_state", ".cfi_offset", ".cfi_personality",
        ".cfi_personality_id", ".cfi_register", ".cfi_rel_offset", ".cfi_remember_state", ".cfi_restore",
        ".cfi_restore_state", ".cfi_return_column", ".cfi_same_value", ".cfi_sections", ".cfi_signal_frame",
        ".cfi_startproc", ".cfi_undefined", ".cfi_val_encoded_addr", ".cfi_val_offset", ".cfi_window_save", ".code16",
        ".code16gcc", ".code32", ".code64", ".comm", ".common", ".common.s", ".data", ".dc", ".dc.a", ".dc.b", ".dc.d",
        ".dc.l", ".dc.s", ".dc.w", ".dc.x", ".dcb", ".dcb.b", ".dcb.d", ".dcb.l", ".dcb.s", ".dcb.w", ".dcb.x",
        ".debug", ".dfloat", ".disallow_index_reg", ".double", ".ds", ".ds.b", ".ds.d", ".ds.l", ".ds.p", ".ds.s",
        ".ds.w", ".ds.x", ".eject", ".else", ".elsec", ".elseif", ".end", ".endc", ".endfunc", ".endif", ".endm",
        ".endr", ".equ", ".equiv", ".eqv", ".err", ".error", ".exitm", ".extern", ".fail", ".ffloat", ".file", ".fill",
        ".float", ".format", ".func", ".global", ".globl", ".gnu_attribute", ".hfloat", ".hidden", ".hword", ".ident",
        ".if", ".ifb", ".ifc", ".ifdef", ".ifeq", ".ifeqs", ".ifge", ".ifgt", ".ifle", ".iflt", ".ifnb", ".ifnc",
        ".ifndef", ".ifne", ".ifnes", ".ifnotdef", ".incbin", ".include", ".int", ".intel_mnemonic", ".intel_syntax",
        ".internal", ".irep", ".irepc", ".irp", ".irpc", ".largecomm", ".lcomm", ".lflags", ".line", ".linefile",
        ".linkonce", ".list", ".llen", ".loc", ".loc_mark_labels", ".local", ".long", ".lsym", ".macro", ".mexit",
        ".mri", ".name", ".noaltmacro", ".noformat", ".nolist", ".noopt", ".nop", ".nopage", ".nops", ".octa",
        ".offset", ".operand_check", ".optim", ".org", ".p2align", ".p2alignl", ".p2alignw", ".page", ".plen",
        ".popsection", ".previous", ".print", ".protected", ".psize", ".purgem", ".pushsection", ".quad", ".reloc",
        ".rep", ".rept", ".rva", ".sbttl", ".sect", ".sect.s", ".section", ".section.s", ".set", ".short", ".single",
        ".size", ".skip", ".sleb128", ".slong", ".space", ".spc", ".sse_check", ".stabd", ".stabn", ".stabs",
        ".string", ".string16", ".string32", ".string64", ".string8", ".struct", ".subsection", ".symver", ".text",
        ".tfloat", ".this_gcc_requires_the_gnu_assembler", ".title", ".tls_common", ".ttl", ".type", ".uleb128",
        ".value", ".version", ".vtable_entry", ".vtable_inherit", ".warning", ".weak", ".weakref", ".word", ".xcom",
        ".xdef", ".xref", ".xstabs", ".zero",
    ]

    static let symbolAttributeDirectives: Set<String> = [".globl", ".global", ".weak", ".local", ".hidden", ".protected", ".internal"]
    static let dataDirectives: Set<String> = [
        ".byte", ".word", ".short", ".hword", ".value", ".2byte", ".int", ".long", ".4byte", ".quad", ".8byte", ".octa",
        ".ascii", ".asciz", ".string", ".zero", ".skip", ".space", ".fill", ".uleb128", ".sleb128",
    ]
    static let alignmentDirectives: Set<String> = [".align", ".balign", ".p2align", ".balignw", ".balignl", ".p2alignw", ".p2alignl"]
    /// The CFI directives gas knows (the ones a check of unwind data can read).
    static let frameDirectives: Set<String> = [
        ".cfi_startproc", ".cfi_endproc", ".cfi_sections", ".cfi_def_cfa", ".cfi_def_cfa_offset", ".cfi_def_cfa_register",
        ".cfi_adjust_cfa_offset", ".cfi_offset", ".cfi_rel_offset", ".cfi_val_offset", ".cfi_register", ".cfi_restore",
        ".cfi_undefined", ".cfi_same_value", ".cfi_remember_state", ".cfi_restore_state", ".cfi_signal_frame",
        ".cfi_return_column", ".cfi_escape", ".cfi_personality", ".cfi_lsda", ".cfi_window_save",
    ]

    /// Handles a gas directive; false when `head` is none of them.
    func assemblerDirective(_ head: Located, operands: [Located], rest: Located, notes: [Diagnostic.Note]) throws -> Bool {
        let name = head.text
        func err(_ loc: SourceLocation, _ m: String) -> Diagnostic { Diagnostic(at: loc, m, notes: notes) }
        func noOperands() throws {
            if !rest.text.isEmpty { throw err(rest.location, "unexpected '\(rest.text)' after \(name)") }
        }
        switch name {
        case ".text", ".data", ".bss":
            if !rest.text.isEmpty { throw err(rest.location, "subsections (\(name) \(rest.text)) are not modelled") }
            switchSection(to: Section(name: name, isCode: name == ".text"))
        case ".section", ".pushsection":
            guard let first = operands.first, !first.text.isEmpty else { throw err(head.location, "\(name) needs a section name") }
            let sectionName = first.text.count >= 2 && first.text.hasPrefix("\"") && first.text.hasSuffix("\"") ? String(first.text.dropFirst().dropLast()) : first.text
            var flags: String?
            if operands.count > 1 {
                let f = operands[1].text
                guard f.count >= 2, f.hasPrefix("\""), f.hasSuffix("\"") else {
                    throw err(operands[1].location, "expected the section's flags in quotes (subsections are not modelled)")
                }
                flags = String(f.dropFirst().dropLast())
            }
            let target = Section(name: sectionName, isCode: sectionHoldsCode(sectionName, flags: flags))
            if name == ".pushsection" {
                if sectionStack.count >= Self.maximumConditionalDepth {
                    throw err(head.location, ".pushsection nested more than \(Self.maximumConditionalDepth) deep")
                }
                sectionStack.append((section, previousSection))
            }
            switchSection(to: target)
        case ".popsection":
            try noOperands()
            guard let (current, previous) = sectionStack.popLast() else { throw err(head.location, ".popsection without .pushsection") }
            section = current
            previousSection = previous
        case ".previous":
            try noOperands()
            swap(&section, &previousSection)
        case ".code64":
            try noOperands()
            codeMode = nil
        case ".code32", ".code16":
            try noOperands()
            codeMode = name
        case _ where Self.symbolAttributeDirectives.contains(name):
            guard !operands.isEmpty else { throw err(head.location, "\(name) needs a symbol name") }
            for o in operands { try checkSymbolName(o, directive: name, notes: notes) }
        case ".type":
            // `.type name, @function`, or without the comma as the kernel's SYM_END
            // writes it: `.type name STT_FUNC`.
            var words = operands
            if operands.count == 1 {
                let parts = operands[0].text.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if parts.count == 2, let gap = operands[0].text.range(of: String(parts[1]), options: .backwards) {
                    let column = operands[0].location.column + operands[0].text.distance(from: operands[0].text.startIndex, to: gap.lowerBound)
                    words = [Located(String(parts[0]), operands[0].location),
                             Located(String(parts[1]), SourceLocation(file: operands[0].location.file, line: operands[0].location.line, column: column))]
                }
            }
            guard words.count == 2 else { throw err(head.location, "expected '.type NAME, @function' (or @object, @notype)") }
            try checkSymbolName(words[0], directive: name, notes: notes)
            let kinds = ["function", "object", "notype", "gnu_indirect_function"]
            let kind = words[1].text.trimmingCharacters(in: CharacterSet(charactersIn: "@%\""))
            let elfKinds = ["STT_FUNC", "STT_OBJECT", "STT_NOTYPE", "STT_GNU_IFUNC"]
            guard kinds.contains(kind) || elfKinds.contains(words[1].text) else {
                throw err(words[1].location, "unknown symbol type '\(words[1].text)'")
            }
        case ".size":
            // The symbol's size is metadata: it moves nothing on the stack.
            guard operands.count == 2 else { throw err(head.location, "expected '.size NAME, EXPRESSION'") }
            try checkSymbolName(operands[0], directive: name, notes: notes)
        case _ where Self.alignmentDirectives.contains(name):
            guard (1...3).contains(operands.count), !operands[0].text.isEmpty else { throw err(head.location, "expected '\(name) ALIGNMENT[, FILL[, MAX]]'") }
            if section.isCode, operands.count > 1, !operands[1].text.isEmpty {
                // Padding that can be run must be nops: other bytes would be code of their own.
                let fill = try evaluate(Expr.parse(operands[1]), notes: notes)
                if fill == 0xcc, assemblyDepth > 0 {
                    // int3 padding, which real files put after an unconditional jump or
                    // return: a run that falls into it may trap or, when the padding is
                    // empty at that address, go on: the model cannot tell which.
                    try appendInstruction(head: head, operands: operands, rest: rest, notes: notes,
                                          unsupported: "alignment padding of int3 (0xcc) bytes: whether a run falling into it traps depends on the address")
                    return true
                }
                guard fill == 0x90, name == ".align" || name == ".balign" || name == ".p2align" else {
                    throw err(operands[1].location, "alignment in code filled with \(operands[1].text), not nops (0x90): bytes the model cannot decode")
                }
            }
        case ".nops":
            guard section.isCode else { throw err(head.location, ".nops outside a code section") }
        case _ where Self.dataDirectives.contains(name):
            if section.isCode {
                // Only padding with nops is accepted among the instructions.
                let nopPadding = (name == ".skip" || name == ".space") && operands.count == 2
                    && (try? evaluate(Expr.parse(operands[1]), notes: notes)) == 0x90
                // 3.x writes nops and clac/stac as bytes (ASM_NOP3, __ASM_CLAC): those
                // are instructions the model has.
                let values = name == ".byte" ? operands.map { try? evaluate(Expr.parse($0), notes: notes) } : []
                if name == ".byte", assemblyDepth > 0, Self.noEffectEncoding(values.compactMap { $0 }) != nil, !values.contains(where: { $0 == nil }) {
                    try appendInstruction(head: head, operands: operands, rest: rest, notes: notes)
                } else if nopPadding {
                    // The padding is code the CPU runs, at an address of its own: an
                    // ALTERNATIVE with an empty original pads its site to the
                    // replacement's length, and a label after the site (`jmp 2f` past a
                    // FENCE_SWAPGS_* site) skips it. Taken as at the next instruction, a
                    // jump past the site ran its replacement (a fence it never passes).
                    // A length that is 0 emits nothing; one the model cannot evaluate
                    // (label differences) is a nop of some length.
                    if (try? evaluate(Expr.parse(operands[0]), notes: notes)) != 0 {
                        try appendInstruction(head: head, operands: operands, rest: rest, notes: notes)
                    }
                } else {
                    let why = "'\(name)' in the code section \(section.name): data among instructions is not modelled"
                    // In a real file these are bytes the CPU may run: an instruction the
                    // model cannot take, so paths through them are unknown.
                    guard assemblyDepth > 0 else { throw err(head.location, why + " (is a .section missing?)") }
                    try appendInstruction(head: head, operands: operands, rest: rest, notes: notes, unsupported: why)
                }
            } else if Self.patchTables.contains(section.name) {
                try recordPatchSiteReferences(operands, notes: notes)
            } else if section.name == ".discard.unwind_hints" {
                try recordUnwindHintItem(name, operands, notes: notes)
            }
        case _ where name.hasPrefix(".cfi_"):
            guard Self.frameDirectives.contains(name) else { throw err(head.location, "unknown CFI directive '\(name)'") }
            guard section.isCode else { throw err(head.location, "'\(name)' in the data section \(section.name)") }
            let parsed = try frameOperands(name, operands, at: head.location, notes: notes)
            program.frameAnnotations.append(FrameAnnotation(directive: name, operands: operands.map(\.text), location: head.location,
                                                            expansion: notes, section: section.name, instruction: nil,
                                                            registers: parsed.registers, offset: parsed.offset, simple: parsed.simple))
            pendingAnnotations.append(program.frameAnnotations.count - 1)
        case ".purgem":
            guard macros.removeValue(forKey: Self.macroKey(rest.text)) != nil else { throw err(rest.location, "no macro '\(rest.text)' to purge") }
        case ".exitm":
            try noOperands()
            guard notes.contains(where: { $0.message.hasPrefix("in expansion of macro") || $0.message.hasPrefix("in repetition of") }) else {
                throw err(head.location, ".exitm outside a macro or repetition")
            }
            // Caught where the innermost macro or repetition is expanded.
            throw ExitMacro(location: head.location)
        case ".error":
            throw err(head.location, ".error: \(try message(rest, notes: notes))")
        case ".warning":
            // gas would warn and go on; the checker stops: the source says its assumptions fail here.
            throw err(head.location, ".warning: \(try message(rest, notes: notes)) (the assembler would only warn; the check stops here)")
        default:
            return false
        }
        return true
    }

    /// The quoted text of `.error` / `.warning` (gas's default when there is none).
    func message(_ rest: Located, notes: [Diagnostic.Note]) throws -> String {
        guard !rest.text.isEmpty else { return "no message" }
        let t = rest.text
        guard t.count >= 2, t.hasPrefix("\""), t.hasSuffix("\"") else {
            throw Diagnostic(at: rest.location, "expected a quoted message", notes: notes)
        }
        return String(t.dropFirst().dropLast())
    }

    func checkSymbolName(_ l: Located, directive: String, notes: [Diagnostic.Note]) throws {
        guard let first = l.text.unicodeScalars.first, StatementSplitter.isIdentStart(first),
              l.text.unicodeScalars.allSatisfy(StatementSplitter.isIdentChar) else {
            throw Diagnostic(at: l.location, "\(directive) needs a symbol name, found '\(l.text)'", notes: notes)
        }
    }

    /// Tables that tell the kernel to replace code at boot: ALTERNATIVE sites (by CPU
    /// feature) and paravirt sites. The code there may not be what the source says.
    static let patchTables: Set<String> = [".altinstructions", ".parainstructions", "__ex_table"]

    /// A label a patching table names, with when it was named.
    struct PatchSiteReference {
        var group: Int
        /// `740` of `740b`, or a named label.
        var label: String
        /// `b` or `f` for a local label; nil for a named one.
        var direction: Character?
        /// Local labels defined before the reference.
        var serial: Int
        /// Instructions before the reference, in source order.
        var position: Int
        var location: SourceLocation
        var table: String
    }

    /// The labels a directive in a patching table mentions (`.long 740b - .`,
    /// `.byte 742b-740b`).
    func recordPatchSiteReferences(_ operands: [Located], notes: [Diagnostic.Note]) throws {
        for o in operands {
            var refs: [PatchSiteReference] = []
            for t in try Lexer.tokenize(o) {
                guard case .ident(let n) = t.kind, n != "." else { continue }
                if let last = n.last, last == "b" || last == "f", n.dropLast().allSatisfy(\.isNumber), n.count > 1 {
                    refs.append(PatchSiteReference(group: patchSiteGroup, label: String(n.dropLast()), direction: last,
                                                   serial: localLabelSerial, position: pending.count, location: t.location, table: section.name))
                } else if constants[n] == nil {
                    refs.append(PatchSiteReference(group: patchSiteGroup, label: n, direction: nil,
                                                   serial: localLabelSerial, position: pending.count, location: t.location, table: section.name))
                }
            }
            patchSiteReferences += refs
            let value = refs.isEmpty ? try? evaluate(Expr.parse(o), notes: notes) : nil
            patchTableItems[patchSiteGroup, default: []].append(PatchTableItem(refs: refs, value: value))
        }
    }

    /// One operand of a patching table's data: the labels it names and, when it names
    /// none, its value (an ALTERNATIVE entry's feature word).
    struct PatchTableItem {
        var refs: [PatchSiteReference]
        var value: Int64?
    }

    /// An ALTERNATIVE entry read from its table data, in source order (`pending`).
    struct PendingAlternative {
        var siteStart: Int
        var resume: Int
        /// The replacement's first and last instruction; nil when it is empty.
        var replacement: ClosedRange<Int>?
        var feature: String
        var location: SourceLocation
    }

    /// Where a table reference leads: whether its label exists, and the instruction it
    /// labels (nil at the end of a section).
    func resolve(_ r: PatchSiteReference) -> (exists: Bool, target: Int?) {
        if let dir = r.direction {
            let defs = numericLabels[r.label] ?? []
            let def = dir == "f" ? defs.first(where: { $0.serial >= r.serial }) : defs.last(where: { $0.serial < r.serial })
            return (def != nil, def?.target)
        }
        let t = program.labels[r.label]
        return (t != nil, t)
    }

    /// The entries of one `.altinstructions` group, each `.long ORIG - .`, `.long NEW - .`,
    /// the feature word and the lengths `ORIG_END - ORIG` and `NEW_END - NEW` (the forms
    /// of 3.x's altinstruction_entry and 6.x's altinstr_entry; ALTERNATIVE_2 puts two
    /// entries in one group). nil when the data does not have that shape: the site is
    /// then left to the caller as code the model does not take.
    func alternatives(inGroup g: Int) -> [PendingAlternative]? {
        let items = patchTableItems[g] ?? []
        // Entries start with two operands of one label each.
        var entries: [[PatchTableItem]] = []
        var k = 0
        while k < items.count {
            if k + 1 < items.count, items[k].refs.count == 1, items[k + 1].refs.count == 1,
               entries.isEmpty || entries[entries.count - 1].count > 2 {
                entries.append([items[k], items[k + 1]])
                k += 2
                continue
            }
            guard !entries.isEmpty else { return nil }
            entries[entries.count - 1].append(items[k])
            k += 1
        }
        guard !entries.isEmpty else { return nil }
        func same(_ a: PatchSiteReference, _ b: PatchSiteReference) -> Bool {
            a.label == b.label && a.direction == b.direction && a.serial == b.serial
        }
        var out: [PendingAlternative] = []
        for e in entries {
            let origRef = e[0].refs[0], newRef = e[1].refs[0]
            // A length is END - START: the end of each part is the label its length
            // subtracts that part's start from.
            let lengths = e.dropFirst(2).filter { $0.refs.count == 2 }
            guard let origEndRef = lengths.first(where: { same($0.refs[1], origRef) })?.refs[0],
                  let newEndRef = lengths.first(where: { same($0.refs[1], newRef) })?.refs[0] else {
                // 3.x's ASM_CLAC/ASM_STAC give the lengths as numbers (`…, 3, 3`): the
                // parts are then measured in bytes, which the model knows for `.byte`
                // instructions only.
                guard let arm = numericLengthAlternative(e, origRef, newRef) else { return nil }
                out.append(arm)
                continue
            }
            let orig = resolve(origRef), origEnd = resolve(origEndRef), new = resolve(newRef), newEnd = resolve(newEndRef)
            guard orig.exists, origEnd.exists, new.exists, newEnd.exists,
                  let start = orig.target, let resume = origEnd.target, pending.indices.contains(start), pending.indices.contains(resume),
                  start <= resume, pending[resume].section == pending[start].section else { return nil }
            var replacement: ClosedRange<Int>?
            if let first = new.target, first != newEnd.target {
                let section = pending[first].section
                guard section != pending[start].section else { return nil }
                let end = newEnd.target ?? pending.count
                guard let last = (first..<min(end, pending.count)).last(where: { pending[$0].section == section }) else { return nil }
                replacement = first...last
            }
            let feature = e.dropFirst(2).first(where: { $0.refs.isEmpty && $0.value != nil })?.value
                .map(Program.featureWord) ?? "\(origRef.location)"
            out.append(PendingAlternative(siteStart: start, resume: resume, replacement: replacement, feature: feature, location: origRef.location))
        }
        return out
    }

    /// The entries of one `__ex_table` group: `.long (from) - .`, `.long (to) - .`, then
    /// 4.x's handler (`.long (ex_handler_default) - .`) or 5.16+'s type word (`.long 1`,
    /// EX_TYPE_DEFAULT). nil when the data has another shape: the caller then treats the
    /// code it names as code the model cannot take.
    func faultFixups(inGroup g: Int) -> [(from: Int, fixup: FaultFixup)]? {
        let items = patchTableItems[g] ?? []
        var out: [(from: Int, fixup: FaultFixup)] = []
        var k = 0
        while k < items.count {
            guard k + 1 < items.count, items[k].refs.count == 1, items[k + 1].refs.count == 1 else { return nil }
            let fromRef = items[k].refs[0], toRef = items[k + 1].refs[0]
            k += 2
            var handler: String?
            if k < items.count {
                let third = items[k]
                if third.refs.isEmpty, let v = third.value {
                    if v != 1 { handler = "exception-table type 0x\(String(UInt64(bitPattern: v), radix: 16)) (only EX_TYPE_DEFAULT, 1, just resumes at the fixup)" }
                    k += 1
                } else if third.refs.count == 1, third.refs[0].direction == nil, third.refs[0].label.hasPrefix("ex_handler_") {
                    if third.refs[0].label != "ex_handler_default" { handler = "exception-table handler \(third.refs[0].label) (only ex_handler_default just resumes at the fixup)" }
                    k += 1
                }
            }
            let from = resolve(fromRef), to = resolve(toRef)
            guard let f = from.target, let t = to.target, pending.indices.contains(f), pending.indices.contains(t) else { return nil }
            out.append((f, FaultFixup(fixup: t, unmodelledHandler: handler, location: fromRef.location)))
        }
        return out.isEmpty ? nil : out
    }

    /// An ALTERNATIVE entry whose lengths are numbers: the feature word, then the
    /// original's and the replacement's lengths. Each part must be whole `.byte`
    /// instructions adding up to its length exactly; otherwise nil.
    func numericLengthAlternative(_ e: [PatchTableItem], _ origRef: PatchSiteReference, _ newRef: PatchSiteReference) -> PendingAlternative? {
        let values = e.dropFirst(2).compactMap { $0.refs.isEmpty ? $0.value : nil }
        guard values.count >= 3, e.dropFirst(2).allSatisfy({ $0.refs.isEmpty }) else { return nil }
        let origLength = values[1], newLength = values[2]
        func byteLength(_ k: Int) -> Int64? {
            pending[k].head.text == ".byte" ? Int64(pending[k].operands.count) : nil
        }
        /// The next instruction of the same section after `k` (pending is in source
        /// order, where other sections' code is interleaved).
        func following(_ k: Int) -> Int? {
            var j = k + 1
            while j < pending.count, pending[j].section != pending[k].section { j += 1 }
            return j < pending.count ? j : nil
        }
        /// The instruction after those from `start` that make `length` bytes (nil at
        /// the section's end), and the last of them.
        func end(from start: Int, length: Int64) -> (after: Int?, last: Int)? {
            var total: Int64 = 0
            var k: Int? = start
            var last = start
            while total < length {
                guard let at = k, let n = byteLength(at) else { return nil }
                total += n
                last = at
                k = following(at)
            }
            return total == length ? (k, last) : nil
        }
        guard origLength > 0, let start = resolve(origRef).target, pending.indices.contains(start),
              let site = end(from: start, length: origLength), let resume = site.after else { return nil }
        var replacement: ClosedRange<Int>?
        if newLength > 0 {
            guard let first = resolve(newRef).target, pending.indices.contains(first), pending[first].section != pending[start].section,
                  let part = end(from: first, length: newLength) else { return nil }
            replacement = first...part.last
        }
        let feature = Program.featureWord(values[0])
        return PendingAlternative(siteStart: start, resume: resume, replacement: replacement, feature: feature, location: origRef.location)
    }

    /// The alternatives in program order, once sections are placed.
    func placeAlternatives(_ placed: [Int]) {
        for (from, f) in pendingFaultFixups {
            var placedFixup = f
            placedFixup.fixup = placed[f.fixup]
            program.faultFixups[placed[from]] = placedFixup
        }
        for a in pendingAlternatives {
            let arm = AlternativeArm(replacement: a.replacement.map { placed[$0.lowerBound] }, resume: placed[a.resume],
                                     feature: a.feature, location: a.location)
            program.alternatives[placed[a.siteStart], default: []].append(arm)
            if let r = a.replacement { program.replacementEnds[placed[r.upperBound]] = placed[a.resume] }
        }
    }

    /// Every patched site the model cannot read as an ALTERNATIVE entry (paravirt sites,
    /// tables of another shape) has its original instructions unsupported: the CPU may
    /// run the replacement instead, and taking only the original would prove a run that
    /// may not happen. A site runs from the earliest code label its table entry names
    /// to the entry itself (the original is emitted just before its entry).
    func markPatchSites() {
        // gas refuses a table that names a local label with no definition that way.
        for r in patchSiteReferences {
            guard let dir = r.direction, !resolve(r).exists else { continue }
            record(Diagnostic.error(r.location, "local label '\(r.label)' is not defined \(dir == "f" ? "after" : "before") '\(r.label)\(dir)' (gas rejects the reference)"))
        }
        let groups = Dictionary(grouping: patchSiteReferences, by: \.group)
        for (group, refs) in groups.sorted(by: { $0.key < $1.key }) {
            // An ALTERNATIVE entry the model can read is checked arm by arm.
            if refs.first?.table == ".altinstructions", let arms = alternatives(inGroup: group) {
                pendingAlternatives += arms
                continue
            }
            if refs.first?.table == "__ex_table", let edges = faultFixups(inGroup: group) {
                pendingFaultFixups += edges
                continue
            }
            var targets: [Int] = []
            let paravirt = refs.first?.table == ".parainstructions"
            for r in refs {
                let target: Int?
                if let dir = r.direction {
                    let defs = numericLabels[r.label] ?? []
                    let def = dir == "f" ? defs.first(where: { $0.serial >= r.serial }) : defs.last(where: { $0.serial < r.serial })
                    target = def?.target
                } else {
                    target = program.labels[r.label]
                }
                // Labels in a replacement section name the new code, not the site.
                if let t = target, pending.indices.contains(t), !pending[t].section.contains("replacement") { targets.append(t) }
            }
            guard let start = targets.min(), let end = refs.map(\.position).max() else { continue }
            let site = pending[start].section
            let entry = refs[0]
            let siteRange = (start..<max(end, start + 1)).filter { pending.indices.contains($0) && pending[$0].section == site && pending[$0].fromSource }
            // A paravirt site whose calls through ops slots all have contracts: the
            // contract says what the call does, whether the kernel patched in native code
            // or calls the ops function, so the original is followed with it. A jmp
            // through a slot, or a call without a contract, keeps the site unknown.
            if paravirt, siteRange.contains(where: { isParavirtCall(pending[$0]) }),
               !siteRange.contains(where: { pending[$0].head.text.hasPrefix("jmp") && pending[$0].operands.first?.text.hasPrefix("*") == true }),
               siteRange.allSatisfy({ k in
                   guard isParavirtCall(pending[k]), let o = pending[k].operands.first else { return true }
                   return paravirtSlot(Located(String(o.text.dropFirst()), o.location)).map { program.externs[$0] != nil } ?? false
               }) {
                continue
            }
            let slots = siteRange.compactMap { k -> String? in
                guard isParavirtCall(pending[k]), let o = pending[k].operands.first else { return nil }
                return paravirtSlot(Located(String(o.text.dropFirst()), o.location))
            }.filter { program.externs[$0] == nil }
            let hint = slots.isEmpty ? "" : "; with a contract for its slot ('.extern \(slots[0]) …') the call is followed"
            for k in siteRange {
                pending[k].unsupportedReason = pending[k].unsupportedReason
                    ?? "the kernel may patch this code at boot (its \(entry.table) entry is at \(entry.location)): the CPU may run a replacement, which the model does not take yet\(hint)"
            }
        }
    }

    /// The no-effect instructions a `.byte` sequence encodes, as objdump names them
    /// (nop forms of 1 to 9 bytes, with 0x66 prefixes; clac 0f 01 ca; stac 0f 01 cb), or
    /// nil when any byte is not part of one.
    static func noEffectEncoding(_ bytes: [Int64]) -> String? {
        let forms: [([Int64], String)] = [
            ([0x66, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0], "nopw"), ([0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0], "nopl"),
            ([0x0f, 0x1f, 0x80, 0, 0, 0, 0], "nopl"), ([0x66, 0x0f, 0x1f, 0x44, 0, 0], "nopw"), ([0x0f, 0x1f, 0x44, 0, 0], "nopl"),
            ([0x0f, 0x1f, 0x40, 0], "nopl"), ([0x0f, 0x1f, 0x00], "nopl"), ([0x0f, 0x01, 0xca], "clac"), ([0x0f, 0x01, 0xcb], "stac"),
            ([0x66, 0x66, 0x66, 0x90], "nop"), ([0x66, 0x66, 0x90], "nop"), ([0x66, 0x90], "nop"), ([0x90], "nop"),
        ]
        var names: [String] = []
        var k = 0
        while k < bytes.count {
            guard let (form, name) = forms.first(where: { f in k + f.0.count <= bytes.count && Array(bytes[k..<(k + f.0.count)]) == f.0 }) else { return nil }
            names.append(name)
            k += form.count
        }
        return names.isEmpty ? nil : names.joined(separator: "; ")
    }

    func isParavirtCall(_ p: PendingInstruction) -> Bool {
        guard p.head.text == "call" || p.head.text == "callq", let o = p.operands.first, o.text.hasPrefix("*") else { return false }
        return paravirtSlot(Located(String(o.text.dropFirst()), o.location)) != nil
    }

    func switchSection(to target: Section) {
        // A section keeps the kind of its first switch (gas ignores changed flags).
        var next = target
        if let known = sectionIsCode[target.name] { next.isCode = known } else { sectionIsCode[target.name] = target.isCode }
        previousSection = section
        section = next
        if Self.patchTables.contains(next.name) { patchSiteGroup += 1 }
    }

    /// Whether a section holds code: its flags say `x`, or gas's defaults for its name.
    func sectionHoldsCode(_ name: String, flags: String?) -> Bool {
        if let flags { return flags.contains("x") }
        if let known = sectionIsCode[name] { return known }
        return name == ".text" || name.hasPrefix(".text.") || name == ".init" || name == ".fini"
    }
}
