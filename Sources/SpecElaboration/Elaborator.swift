import Foundation
import SpecSyntax

/// Elaboration: includes, `#define` constants, gas macros with `.if`, layouts and the
/// spec directives, then instruction decoding against the finished symbol tables.
public final class Elaborator {
    /// Bounds that keep hostile input from hanging CI.
    public static let maximumExpandedStatements = 200_000
    public static let maximumMacroDepth = 64
    public static let maximumIncludeDepth = 32
    public static let maximumConditionalDepth = 64
    /// Directives that take nothing after them: text there is an error, not ignored.
    static func takesNoOperands(_ name: String) -> Bool {
        switch name {
        case ".else", ".endif", ".dead", ".endlayout": return true
        default: return false
        }
    }

    let loader: SpecLoader

    struct Macro {
        struct Parameter {
            var name: String
            var defaultValue: String?
            /// `name:req`: an argument must be given.
            var required = false
            /// `name:vararg`: the last parameter takes the rest of the arguments.
            var variadic = false
        }
        var name: String
        var parameters: [Parameter]
        var body: [RawStatement]
        /// The body statements that mention no argument, as every expansion sees them
        /// (nil where an argument is substituted); worked out at the first expansion.
        var fixedBody: [RawStatement?]?
        var location: SourceLocation
    }

    /// The file statements come from: includes resolve from its directory.
    struct SourceFile {
        var url: URL
        var directory: Substring
    }

    struct ConstantDef {
        /// Nil for `#define NAME` with no value: it can only be tested.
        var expr: Expr?
        var location: SourceLocation
        /// A `#define` (or `-D`) body's top operator when it has no parentheses round
        /// it: cpp pastes that text, and `.equ` values are not pasted.
        var pasteOperator: String? = nil
        /// Set by `.set`, `.equ` or `name = value` to a value known there: gas lets
        /// such a symbol be set again (`vector = vector + 1` in a `.rept`).
        var reassignable = false
    }

    struct PendingInstruction {
        var head: Located
        var operands: [Located]
        var rest: Located
        var notes: [Diagnostic.Note]
        var labels: [String]
        var index: Int
        /// After `.dead`: code the source keeps although nothing reaches it.
        var declaredDead = false
        var section: String = ".text"
        /// From a `.source` file: the real code, not the spec's own.
        var fromSource = false
        /// Why the model cannot take this instruction of a real file, found before
        /// decoding (bytes among instructions, a code patching site).
        var unsupportedReason: String?
    }

    /// A label waiting for the next instruction of its section.
    struct PendingLabel {
        var label: Located
        var section: String
        /// Its entry in `numericLabels`, for a local label `1:`.
        var numeric: Int?
        /// Written in the unit's own spec text (not in a `.source` file).
        var fromSpec: Bool
    }

    /// A definition of a numeric local label: `order` is the number of instructions
    /// before it in source order (`1b` and `1f` count definitions in source order, as
    /// gas does, whatever section they are in), `target` the instruction it labels.
    struct NumericLabel {
        var order: Int
        var target: Int?
        /// Definitions of local labels before this one, counted in source order.
        var serial = 0
    }

    /// An assembler section: only code sections hold instructions.
    struct Section: Equatable {
        var name: String
        var isCode: Bool
        static let text = Section(name: ".text", isCode: true)
    }

    /// An instruction as written: what decoding reads besides the symbol tables.
    struct DecodedText: Hashable {
        var mnemonic: String
        var operands: [String]
        /// Code from a `.source` file sees other constants than the spec's own.
        var fromSource: Bool
    }

    struct PendingPath {
        var name: Located
        var attributes: [String: Located]
        var expectations: [Expectation] = []
        var assumptions: [RunAssumption] = []
    }

    var macros: [String: Macro] = [:]
    var constants: [String: ConstantDef] = [:]
    /// `.iret_to_kernel` labels, resolved once the code is placed.
    var pendingKernelOnlyIrets: [Located] = []
    /// Some constant has a `pasteOperator`: most units have none, and then evaluation
    /// looks nothing up for it.
    var hasPastedDefines = false
    /// Names cpp would replace in spec text: `#define`s so far and `-D`s.
    var cppDefinedNames: Set<String> = []
    /// Where each name not yet `#define`d was first written in spec text: cpp would not
    /// replace it there, so a later `#define` of it is refused.
    var cppFirstUses: [String: SourceLocation] = [:]
    var pending: [PendingInstruction] = []
    var pendingLabels: [PendingLabel] = []
    var labelDefinitions: [String: SourceLocation] = [:]
    var numericLabels: [String: [NumericLabel]] = [:]
    /// Labels in data sections: symbols, but no instruction's.
    var dataSymbols: Set<String> = []
    var section = Section.text
    /// `.previous` goes back here.
    var previousSection = Section.text
    /// `.pushsection` saves the current and previous sections.
    var sectionStack: [(Section, Section)] = []
    /// Whether a section name holds code, from its first switch.
    var sectionIsCode: [String: Bool] = [".text": true]
    /// `.code16` / `.code32` in force: instructions there are not 64-bit code.
    var codeMode: String?
    /// `.cfi_*` directives waiting for the next instruction of their section.
    var pendingAnnotations: [Int] = []
    /// Inside a `.source` file.
    var assemblyDepth = 0
    /// Where each declared per-CPU variable lies: its symbol and byte offset.
    var perCPUPlacements: [String: (symbol: String, offset: Int64)] = [:]
    /// The values of constants set again, each with the source index of the first
    /// instruction that sees it.
    var reassignments: [String: [(from: Int, def: ConstantDef)]] = [:]
    /// The source index of the instruction being decoded.
    var decodingAt: Int?
    /// The instruction being decoded comes from a `.source` file.
    var decodingSource = false
    /// Constants defined in the text of `.source` files (`.set`, `.equ`, `=`; cpp's
    /// `#define`s never reach the text): the only ones that code sees. gas assembles the
    /// file alone, so the spec's `#define`s, `.equ`s, `-D`s and pt_regs offsets are not
    /// there — a name they define is a symbol gas leaves to the linker.
    var assemblyConstants: Set<String> = []
    /// Names some constant kept as an expression refers to: they cannot be set again.
    var namesKeptAsExpressions: Set<String> = []
    /// Local label definitions so far (`NumericLabel.serial`).
    var localLabelSerial = 0
    /// Label references in code-patching tables (`.altinstructions`, `.parainstructions`).
    var patchSiteReferences: [PatchSiteReference] = []
    /// The operands of each patching-table group, in order.
    var patchTableItems: [Int: [PatchTableItem]] = [:]
    /// The data of `.discard.unwind_hints` (objtool's hint records), in source order.
    var unwindHintItems: [UnwindHintItem] = []
    /// `#define CFI_… .cfi_…`: statement heads that stand for a CFI directive.
    var directiveAliases: [String: String] = [:]
    /// Hints read from their records, at their instruction in source order.
    var pendingUnwindHints: [(Int, UnwindHint)] = []
    /// Source order → program order, once sections are placed.
    var placedIndex: [Int] = []
    /// ALTERNATIVE entries read from their tables (source order).
    var pendingAlternatives: [PendingAlternative] = []
    var pendingFaultFixups: [(from: Int, fixup: FaultFixup)] = []
    /// Each switch into a patching table starts a new group of references: one site.
    var patchSiteGroup = 0
    /// `.rept`/`.irp`/`.irpc` bodies being expanded, one inside another.
    var repetitionDepth = 0
    /// Macros expanded so far: gas's `\@`.
    var macroExpansions = 0
    /// Source-order indices of `pending` in program order (see `placeSections`).
    var sectionOrder: [Int] = []
    var paths: [PendingPath] = []
    var program = Program()
    var expandedCount = 0
    var includeStack: [URL] = []
    var layoutInProgress: (Layout, SourceLocation)?
    /// `.dead` is in force until the next label.
    var deadCode = false

    /// Every error found in the unit, in the order found (the first one is also thrown).
    /// Elaboration goes on after an error at the next statement of the file, then
    /// decodes every instruction and builds every path, so one run shows every error;
    /// a unit with any error is not checked.
    public private(set) var diagnostics: [Diagnostic] = []
    /// Errors past `maximumReportedErrors`, counted and not kept.
    var unreportedErrors = 0
    public static let maximumReportedErrors = 50
    /// Names whose definition failed: a later "unknown 'NAME'" would only repeat it.
    var failedDefinitions: Set<String> = []
    /// Source indices of the spec's instructions that did not decode.
    var failedInstructions: Set<Int> = []

    /// A bound on nesting or expansion was hit: elaboration stops there, as the
    /// statements after it would only repeat it.
    static func endsElaboration(_ d: Diagnostic) -> Bool {
        d.message.contains(" nested more than ") || d.message.hasPrefix("macro expansion produced more than ")
            || d.message.hasPrefix("includes nested more than ") || d.message.hasPrefix("#error ")
    }

    /// Records an error and elaboration goes on.
    func record(_ d: Diagnostic) {
        if !failedDefinitions.isEmpty, Self.quotedWords(d.message).contains(where: failedDefinitions.contains) { return }
        if diagnostics.count < Self.maximumReportedErrors { diagnostics.append(d) } else { unreportedErrors += 1 }
    }

    /// The words a message quotes, `'name'`: looked up, not searched for, so that many
    /// failed definitions cost no more per error than a few.
    static func quotedWords(_ message: String) -> [String] {
        message.split(separator: "'", omittingEmptySubsequences: false).enumerated().compactMap { k, piece in
            k % 2 == 1 && !piece.isEmpty ? String(piece) : nil
        }
    }

    /// Records the error of a statement that failed, and the name it was defining.
    func recordRecovered(_ d: Diagnostic, statement: RawStatement) {
        record(d)
        // A duplicate's first definition stands.
        if d.message.hasPrefix("duplicate") { return }
        switch statement {
        case .label(let l):
            failedDefinitions.insert(l.text)
        case .operation(let head, let operands, let rest):
            let word: String?
            switch head.text {
            case ".macro", "#define", ".extern", ".percpu", ".layout":
                word = rest.text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," || $0 == "(" }).first.map(String.init)
            case ".equ", ".set", ".equiv":
                word = operands.first?.text.trimmingWhitespaces()
            default:
                word = rest.text.hasPrefix("=") ? head.text : nil
            }
            if let w = word, !w.isEmpty { failedDefinitions.insert(w) }
        }
    }

    /// The recorded errors, capped, when there are any: what the unit's
    /// elaboration ends with.
    func recordedErrors() -> [Diagnostic] {
        // In the order found: syntax errors, then each statement's in file order, then
        // what decoding and the paths find; the first is the one a single-error run gave.
        var all = diagnostics
        if unreportedErrors > 0, let last = all.last {
            all.append(Diagnostic(at: last.location, "… and \(unreportedErrors) more error\(unreportedErrors == 1 ? "" : "s") in \(program.file) (only the first \(Self.maximumReportedErrors) are reported)"))
        }
        return all
    }

    /// Included files split once per run, shared by the units that include them, and
    /// include names resolved once: resolving asks the file system several times per
    /// path component. Units elaborate on several threads, hence the lock.
    public final class IncludeCache: @unchecked Sendable {
        private let lock = NSLock()
        private var statements: [String: [RawStatement]] = [:]
        private var resolved: [String: (url: URL, path: String, display: String)] = [:]
        public init() {}

        /// Statements carry the file's display name, which depends on the unit's root:
        /// kept per name, units see the same statements whichever ran first.
        func statements(of path: String, shownAs display: String) -> [RawStatement]? {
            lock.lock(); defer { lock.unlock() }
            return statements["\(display)\u{0}\(path)"]
        }

        func store(_ s: [RawStatement], of path: String, shownAs display: String) {
            lock.lock(); defer { lock.unlock() }
            statements["\(display)\u{0}\(path)"] = s
        }

        func resolution(_ key: String) -> (url: URL, path: String, display: String)? {
            lock.lock(); defer { lock.unlock() }
            return resolved[key]
        }

        func store(_ r: (url: URL, path: String, display: String), for key: String) {
            lock.lock(); defer { lock.unlock() }
            resolved[key] = r
        }
    }
    let includes: IncludeCache?
    let rootPath: String
    let options: ElaborationOptions

    /// A `-D` that cannot be defined, reported when elaboration starts.
    var optionError: Diagnostic?

    public init(loader: SpecLoader, includes: IncludeCache? = nil, options: ElaborationOptions = ElaborationOptions()) {
        self.loader = loader
        self.includes = includes
        self.rootPath = loader.root.path
        self.options = options
        for f in Layout.ptRegs.fields {
            constants[f.name] = ConstantDef(expr: .number(f.offset, SourceLocation(file: "<pt_regs>", line: 0, column: 0)), location: SourceLocation(file: "<pt_regs>", line: 0, column: 0))
        }
        for d in options.defines {
            if let prev = constants[d.name] {
                optionError = optionError ?? Diagnostic.error(d.location, "-D \(d.name) is defined twice (first at \(prev.location))")
                continue
            }
            constants[d.name] = ConstantDef(expr: d.expr, location: d.location, pasteOperator: d.pasteOperator)
            if d.pasteOperator != nil { hasPastedDefines = true }
            cppDefinedNames.insert(d.name)
        }
    }

    /// Elaborates one spec unit (a `.pts` file and what it includes).
    public func elaborate(file url: URL, displayName: String) throws -> Program {
        let real = try loader.resolveUnit(url, displayName: displayName)
        // Includes still resolve from the unit's directory as named, as cpp does.
        return try elaborate(text: loader.read(real, displayName: displayName), file: url, displayName: displayName)
    }

    /// Elaborates spec text as if it were the file `url` (includes resolve from there).
    public func elaborate(text: String, file url: URL, displayName: String) throws -> Program {
        if text.utf8.count > StatementSplitter.maximumFileBytes {
            throw Diagnostic.error(SourceLocation(file: displayName, line: 1, column: 1),
                                   "spec file is \(text.utf8.count) bytes; the limit is \(StatementSplitter.maximumFileBytes) bytes")
        }
        if let optionError { throw optionError }
        program.file = displayName
        let (statements, syntaxErrors) = try StatementSplitter.splitRecovering(text: text, file: displayName)
        syntaxErrors.forEach(record)
        includeStack = [url.standardizedFileURL.resolvingSymlinksInPath()]
        program.files = [includeStack[0].path]
        let unitPath = url.path
        let unitFile = SourceFile(url: url, directory: unitPath.utf8.lastIndex(of: UInt8(ascii: "/")).map { unitPath[..<$0] } ?? "")
        do {
            try process(statements, arguments: nil, notes: [], macroStack: [], isUnit: true, file: unitFile, recover: true)
        } catch let d as Diagnostic {
            // An error no statement recovers from (a bound, #error, an open .if).
            record(d)
            diagnostics = recordedErrors()
            throw diagnostics.first ?? d
        }
        if let (layout, loc) = layoutInProgress {
            record(Diagnostic.error(loc, ".layout \(layout.name) is not closed by .endlayout"))
        }
        // Labels at the very end label nothing. In a `.source` file one at a section's
        // end is a symbol a `.size` or table may use: it labels no instruction, so a
        // jump to it is an error where it is decoded.
        if let dangling = pendingLabels.first(where: \.fromSpec), diagnostics.isEmpty {
            record(Diagnostic.error(dangling.label.location, "label '\(dangling.label.text)' is at the end of the code: nothing follows it"))
        }
        markPatchSites()
        do { try readUnwindHints() } catch let d as Diagnostic { record(d) }
        placeSections()
        // Decoding runs once the symbol tables are final, so within the unit the same
        // instruction text decodes to the same operation, and macros repeat theirs.
        // Jumps and calls are not kept: where `1f`/`1b` lead depends on the position.
        var decoded: [DecodedText: Operation] = [:]
        for k in sectionOrder {
            let p = pending[k]
            let text = DecodedText(mnemonic: p.head.text, operands: p.operands.map(\.text), fromSource: p.fromSource)
            let op: Operation
            if let why = p.unsupportedReason {
                op = .unsupported(why)
            } else if let known = decoded[text], reassignments.isEmpty {
                op = known
            } else {
                decodingAt = p.index
                decodingSource = p.fromSource
                defer { decodingAt = nil; decodingSource = false }
                do {
                    op = try decode(p)
                } catch let d as Diagnostic where p.fromSource {
                    // Real code keeps what the model cannot take: only the paths that
                    // reach it are affected (unknown), as the spec's own code is not.
                    // Where the problem is, when a macro put it away from the line shown.
                    let shown = Instruction(operation: .noEffect(""), location: p.head.location, text: "", expansion: p.notes, labels: []).sourceLocation
                    op = .unsupported(d.location == shown ? d.message : "\(d.message) (\(d.location))")
                } catch let d as Diagnostic {
                    // The spec's own instruction: an error; the others are still decoded.
                    record(d)
                    op = .unsupported(d.message)
                    failedInstructions.insert(p.index)
                }
                switch op {
                // A bare `lock` is checked against the instruction after it.
                case .jump, .branch, .call, .noEffect("lock"): break
                default: decoded[text] = op
                }
            }
            // Dead code: nothing falls into an instruction after an unconditional
            // transfer, and without a label nothing can jump to it either.
            // Real code may keep such code (`ret; int3` against straight-line speculation).
            if let prev = program.instructions.last, prev.section == p.section, p.labels.isEmpty, prev.operation.endsFallThrough, !p.declaredDead, !p.fromSource,
               !failedInstructions.contains(p.index) {
                record(Diagnostic(at: p.head.location, "unreachable code: nothing can reach this instruction after `\(prev.text)` (give it a label, mark it `.dead` if the source keeps it, or remove it)", notes: p.notes))
            }
            var instruction = Instruction(operation: op, location: p.head.location, text: instructionText(p), expansion: p.notes, labels: p.labels,
                                          section: p.section)
            instruction.fromSource = p.fromSource
            program.instructions.append(instruction)
        }
        do { try buildUnwindRows() } catch let d as Diagnostic { record(d) }
        for label in pendingKernelOnlyIrets {
            guard let start = program.labels[label.text] else {
                record(Diagnostic.error(label.location, ".iret_to_kernel names '\(label.text)', which is no label of the code")); continue
            }
            guard let k = program.instructions.indices.first(where: { $0 >= start && program.instructions[$0].operation == .iret }) else {
                record(Diagnostic.error(label.location, "no iretq at or after '\(label.text)'")); continue
            }
            program.kernelOnlyIrets[k] = label.location
        }
        for p in paths {
            // A label missing after other errors is most likely one of them (a label in a
            // statement that failed): not reported twice.
            if program.labels[p.name.text] == nil, !diagnostics.isEmpty { continue }
            do { program.paths.append(try buildPath(p)) } catch let d as Diagnostic { record(d) }
        }
        if let first = diagnostics.first {
            diagnostics = recordedErrors()
            throw first
        }
        if program.paths.isEmpty {
            throw Diagnostic.error(SourceLocation(file: displayName, line: 1, column: 1),
                                   text.allSatisfy(\.isWhitespace) ? "empty spec file: nothing to check" :
                                   "no .path in this file: nothing to check (files that only hold macros and declarations are named .ptsh and included)")
        }
        return program
    }

    func instructionText(_ p: PendingInstruction) -> String {
        p.rest.text.isEmpty ? p.head.text : "\(p.head.text) \(p.rest.text)"
    }

    // MARK: - Statement processing

    /// `recover`: an error in one of `statements` is recorded (`recordRecovered`) and the
    /// next statement is read, for the statements of a file (the unit, an include); a
    /// macro's or a repetition's body fails as a whole, at the statement that used it.
    func process(_ statements: [RawStatement], fixed: [RawStatement?] = [], arguments: [String: String]?, notes: [Diagnostic.Note],
                 macroStack: [String], isUnit: Bool, file: SourceFile, recover: Bool = false) throws {
        // Conditional assembly: one group per open `.if`.
        var conditions: [ConditionGroup] = []
        var cpp = CppConditions()
        var i = 0
        func active() -> Bool { conditions.allSatisfy(\.active) }

        while i < statements.count {
            let raw = statements[i]
            i += 1
            do {
                // Only statements produced by macro expansion count against the bound.
                if arguments != nil { expandedCount += 1 }
                if expandedCount > Self.maximumExpandedStatements {
                    throw Diagnostic(at: raw.location, "macro expansion produced more than \(Self.maximumExpandedStatements) statements; expansion is bounded (exponential or runaway macro?)", notes: notes)
                }
                // Spec text as written (a unit's or an include's lines): what cpp would
                // replace and the tool would not is refused, on lines cpp keeps.
                if recover, assemblyDepth == 0, cpp.active {
                    try checkCppNames(raw, notes: notes, asWritten: true)
                }
                // cpp's conditionals act first, on the text as written (macro bodies have
                // none left: they were taken out when the body was collected).
                var stmt = try (i - 1 < fixed.count ? fixed[i - 1] : nil) ?? substitute(raw, arguments)
                if arguments != nil, assemblyDepth == 0 {
                    // An argument lands where the tool does not expand (`%\reg`).
                    try checkCppNames(stmt, notes: notes, asWritten: false)
                }
                if arguments != nil, case .operation(let h, _, let r) = stmt, Self.hasStatementSeparator(h.text) || Self.hasStatementSeparator(r.text) {
                    // An argument with `;` (ALTERNATIVE "testb %al, %al; jz 1f", …): gas reads
                    // the line after substitution, so it is several statements.
                    guard active(), cpp.active else { continue }
                    try process(try Self.statementsAfterSubstitution(h, r), arguments: nil, notes: notes, macroStack: macroStack, isUnit: isUnit, file: file)
                    continue
                }
                if case .operation(let h, _, let r) = stmt, arguments != nil, h.text.contains(where: { $0 == " " || $0 == "\t" }) || h.text.isEmpty {
                    // An argument that is a whole instruction (`\insn` with "pushq %rbx"):
                    // gas reads the line after substitution, so the head is its first word.
                    guard let resplit = Self.statementAfterSubstitution(h, r) else { continue }
                    stmt = resplit
                }
                switch stmt {
                case .label(let l):
                    guard active(), cpp.active else { continue }
                    try defineLabel(l, notes: notes, fromSpec: assemblyDepth == 0)
                case .operation(let head, let operands, let rest):
                    if try preprocess(head, rest, &cpp, notes: notes) { continue }
                    let name = head.text
                    // Conditionals and macro definitions all start with `.`.
                    guard name.utf8.first == UInt8(ascii: ".") else {
                        guard active() else { continue }
                        try processOperation(head: head, operands: operands, rest: rest, notes: notes, macroStack: macroStack, isUnit: isUnit, file: file)
                        continue
                    }
                    if !rest.text.isEmpty, Self.takesNoOperands(name) {
                        let d = Diagnostic(at: rest.location, "unexpected '\(rest.text)' after \(name)", notes: notes)
                        // The directive still does its work, so that no second error follows.
                        guard recover else { throw d }
                        record(d)
                    }
                    switch name {
                    case _ where Self.conditionalAssemblyDirectives.contains(name):
                        if conditions.count >= Self.maximumConditionalDepth {
                            throw Diagnostic(at: head.location, "\(name) nested more than \(Self.maximumConditionalDepth) deep", notes: notes)
                        }
                        // In a dropped branch gas does not read the condition.
                        let value: Bool
                        do {
                            value = active() ? try conditionHolds(head, operands: operands, rest: rest, notes: notes) : false
                        } catch {
                            // Open all the same, none of its branches read: its .endif is no error.
                            conditions.append(ConditionGroup(active: false, taken: true, sawElse: false, location: head.location))
                            throw error
                        }
                        conditions.append(ConditionGroup(active: value, taken: value, sawElse: false, location: head.location))
                    case ".elseif":
                        guard var last = conditions.popLast() else { throw Diagnostic(at: head.location, ".elseif without .if", notes: notes) }
                        if last.sawElse {
                            conditions.append(last)
                            throw Diagnostic(at: head.location, ".elseif after .else (the .if is at \(last.location))", notes: notes)
                        }
                        let value: Bool
                        do {
                            value = active() && !last.taken
                                ? try Self.registerComparison(rest.text) ?? (evaluate(Expr.parse(rest), asCondition: true, notes: notes) != 0) : false
                        } catch {
                            last.active = false
                            last.taken = true
                            conditions.append(last)
                            throw error
                        }
                        last.active = value
                        last.taken = last.taken || value
                        conditions.append(last)
                    case ".else":
                        guard var last = conditions.popLast() else { throw Diagnostic(at: head.location, ".else without .if", notes: notes) }
                        if last.sawElse {
                            conditions.append(last)
                            throw Diagnostic(at: head.location, "second .else for the .if at \(last.location)", notes: notes)
                        }
                        last.active = active() && !last.taken
                        last.taken = true
                        last.sawElse = true
                        conditions.append(last)
                    case ".rept", ".irp", ".irpc":
                        // The body up to the matching .endr (nested repetitions count).
                        var depth = 1
                        var body: [RawStatement] = []
                        while i < statements.count {
                            let s = statements[i]
                            i += 1
                            switch s {
                            case .label:
                                if !cpp.active { continue }
                                if recover, assemblyDepth == 0 { checkCppNamesRecording(s, notes: notes) }
                            case .operation(let h, _, let r):
                                if try preprocess(h, r, &cpp, notes: notes) { continue }
                                if recover, assemblyDepth == 0 { checkCppNamesRecording(s, notes: notes) }
                                if Self.repetitionDirectives.contains(h.text) { depth += 1 }
                                if h.text == ".endr" {
                                    if !r.text.isEmpty { throw Diagnostic(at: r.location, "unexpected '\(r.text)' after .endr", notes: notes) }
                                    depth -= 1
                                }
                            }
                            if depth == 0 { break }
                            body.append(s)
                        }
                        if depth != 0 { throw Diagnostic(at: head.location, "unterminated \(name): no .endr before the end of the file", notes: notes) }
                        guard active() else { continue }
                        // Nested repetitions recurse: bounded like macros, and every run
                        // counts against the expansion bound even when its body is empty.
                        if repetitionDepth >= Self.maximumMacroDepth {
                            throw Diagnostic(at: head.location, "repetitions nested more than \(Self.maximumMacroDepth) deep", notes: notes)
                        }
                        repetitionDepth += 1
                        defer { repetitionDepth -= 1 }
                        // gas substitutes the enclosing macro's (or repetition's) arguments
                        // into the whole body first: `\a` there is the macro's `a` even
                        // when the repetition's parameter is named `a` too.
                        let substituted = try arguments.map { args in try body.map { try substitute($0, args, keepingUnknown: true) } } ?? body
                        do {
                            for bound in try repetitions(head, operands: operands, rest: rest, notes: notes) {
                                expandedCount += 1
                                if expandedCount > Self.maximumExpandedStatements {
                                    throw Diagnostic(at: head.location, "macro expansion produced more than \(Self.maximumExpandedStatements) statements; expansion is bounded (exponential or runaway macro?)", notes: notes)
                                }
                                let note = Diagnostic.Note(location: head.location, message: "in repetition of \(name)")
                                try process(substituted, arguments: bound, notes: [note] + notes, macroStack: macroStack, isUnit: isUnit, file: file)
                            }
                        } catch is ExitMacro {
                            // gas's `.exitm` ends the innermost expansion: a repetition's
                            // runs are one expansion, so the runs left are dropped too, and
                            // what follows `.endr` is read.
                        }
                    case ".endr":
                        throw Diagnostic(at: head.location, ".endr without .rept, .irp or .irpc", notes: notes)
                    case ".endif":
                        guard conditions.popLast() != nil else { throw Diagnostic(at: head.location, ".endif without .if", notes: notes) }
                    case ".macro":
                        // Collect the body up to the matching .endm (nested definitions count).
                        var depth = 1
                        var body: [RawStatement] = []
                        while i < statements.count {
                            let s = statements[i]
                            i += 1
                            // The body is what cpp leaves of it.
                            switch s {
                            case .label:
                                if !cpp.active { continue }
                                if recover, assemblyDepth == 0 { checkCppNamesRecording(s, notes: notes) }
                            case .operation(let h, _, let r):
                                if try preprocess(h, r, &cpp, notes: notes) { continue }
                                if recover, assemblyDepth == 0 { checkCppNamesRecording(s, notes: notes) }
                                if h.text == ".macro" { depth += 1 }
                                if h.text == ".endm" {
                                    if !r.text.isEmpty { throw Diagnostic(at: r.location, "unexpected '\(r.text)' after .endm", notes: notes) }
                                    depth -= 1
                                }
                            }
                            if depth == 0 { break }
                            body.append(s)
                        }
                        if depth != 0 { throw Diagnostic(at: head.location, "unterminated .macro: no .endm before the end of the file", notes: notes) }
                        if active() {
                            // A macro defined while another expands: gas substituted the
                            // outer arguments into its body text as well.
                            let substituted = try arguments.map { args in try body.map { try substitute($0, args, keepingUnknown: true) } } ?? body
                            try defineMacro(rest, body: substituted, at: head.location, notes: notes)
                        }
                    case ".endm":
                        throw Diagnostic(at: head.location, ".endm without .macro", notes: notes)
                    default:
                        guard active() else { continue }
                        try processOperation(head: head, operands: operands, rest: rest, notes: notes, macroStack: macroStack, isUnit: isUnit, file: file)
                    }
                }
            } catch let d as Diagnostic where recover && !Self.endsElaboration(d) {
                // A statement of the file itself (not of a macro expansion) that fails is
                // reported, and the next statement is read: every error of a file in one run.
                recordRecovered(d, statement: raw)
            }
        }
        try finishPreprocessing(cpp, notes: notes)
        if let open = conditions.last {
            throw Diagnostic(at: open.location, ".if without .endif", notes: notes)
        }
    }

    /// `keepingUnknown`: a `\name` that is no argument stays as written, for the
    /// repetition or macro whose body this is to bind (gas's macro_expand_body).
    func substitute(_ stmt: RawStatement, _ args: [String: String]?, keepingUnknown: Bool = false) throws -> RawStatement {
        guard let args else { return stmt }
        switch stmt {
        case .label(let l): return .label(try substituteArguments(l, args, keepingUnknown: keepingUnknown))
        case .operation(let h, _, let r):
            let rest = try substituteArguments(r, args, keepingUnknown: keepingUnknown)
            let ops = StatementSplitter.splitOperands(rest)
            return .operation(head: try substituteArguments(h, args, keepingUnknown: keepingUnknown), operands: ops, rest: rest)
        }
    }

    /// Whether the text has a `;` outside strings and character constants.
    static func hasStatementSeparator(_ text: String) -> Bool {
        guard text.containsByte(UInt8(ascii: ";")) else { return false }
        let u = Array(text.utf8)
        var inString = false
        var k = 0
        while k < u.count {
            if u[k] == UInt8(ascii: "\"") { inString.toggle() }
            if !inString, u[k] == UInt8(ascii: "'") { k = Lexer.endOfCharacterConstant(u, quoteAt: k, end: u.count); continue }
            if !inString, u[k] == UInt8(ascii: ";") { return true }
            k += 1
        }
        return false
    }

    /// `head rest` split into statements again, at the head's place.
    static func statementsAfterSubstitution(_ head: Located, _ rest: Located) throws -> [RawStatement] {
        let line = rest.text.isEmpty ? head.text : "\(head.text) \(rest.text)"
        let shift = head.location.column - 1
        func moved(_ l: Located) -> Located {
            Located(l.text, SourceLocation(file: l.location.file, line: head.location.line, column: l.location.column + shift))
        }
        return try StatementSplitter.split(text: line, file: head.location.file, firstLine: head.location.line).map {
            switch $0 {
            case .label(let l): return .label(moved(l))
            case .operation(let h, let ops, let r): return .operation(head: moved(h), operands: ops.map(moved), rest: moved(r))
            }
        }
    }

    /// `head rest` read again as a statement; nil when nothing is left.
    static func statementAfterSubstitution(_ head: Located, _ rest: Located) -> RawStatement? {
        let line = [head.text, rest.text].filter { !$0.isEmpty }.joined(separator: " ").trimmingWhitespaces()
        guard !line.isEmpty else { return nil }
        let wordEnd = line.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? line.endIndex
        let newRest = Located(line[wordEnd...].trimmingWhitespaces(), head.location)
        return .operation(head: Located(String(line[..<wordEnd]), head.location), operands: StatementSplitter.splitOperands(newRest), rest: newRest)
    }

    /// Whether substitution rewrites the text: it has a backslash, as Foundation's
    /// `contains` (the test this code has always made) sees it: not one that a
    /// combining mark makes part of a larger character.
    func mentionsArguments(_ l: Located) -> Bool {
        guard l.text.containsByte(UInt8(ascii: "\\")) else { return false }
        return l.text.isASCII || l.text.range(of: "\\") != nil
    }

    /// `\name` → the argument's text; `\()` separates a name from following text.
    func substituteArguments(_ l: Located, _ args: [String: String], keepingUnknown: Bool = false) throws -> Located {
        guard mentionsArguments(l) else { return l }
        var text = l.text
        return try text.withUTF8 { s in
            guard let firstBackslash = s.firstIndex(of: UInt8(ascii: "\\")) else { return l }
            var out: [UInt8] = []
            out.reserveCapacity(s.count + 32)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: s[..<firstBackslash]))
            var columns = ScalarColumnCounter()
            var k = firstBackslash
            while k < s.count {
                guard s[k] == UInt8(ascii: "\\") else {
                    out.append(s[k]); k += 1
                    continue
                }
                if k + 2 < s.count, s[k + 1] == UInt8(ascii: "("), s[k + 2] == UInt8(ascii: ")") {
                    k += 3; continue
                }
                // `\@`: gas's count of macros expanded, bound at each expansion.
                if k + 1 < s.count, s[k + 1] == UInt8(ascii: "@"), let count = args["@"] {
                    out.append(contentsOf: count.utf8)
                    k += 2; continue
                }
                var j = k + 1
                while j < s.count, s[j].isIdentChar { j += 1 }
                let name = String(decoding: UnsafeBufferPointer(rebasing: s[(k + 1)..<j]), as: UTF8.self)
                if args[name] == nil, keepingUnknown {
                    // `\@` too: an inner expansion binds it, or it is an error there.
                    out.append(UInt8(ascii: "\\"))
                    k += 1
                    continue
                }
                guard let v = args[name] else {
                    let loc = SourceLocation(file: l.location.file, line: l.location.line, column: l.location.column + columns.column(at: k, in: s))
                    throw Diagnostic.error(loc, name.isEmpty ? "stray '\\' in macro body" : "macro has no parameter '\(name)'")
                }
                out.append(contentsOf: v.utf8)
                k = j
            }
            return Located(String(decoding: out, as: UTF8.self), l.location)
        }
    }

    /// `#define`, `.equ`, `.set`, `.equiv` or `name = value`. A `#define` is kept as its
    /// expression (cpp pastes it where it is used); gas's forms are evaluated here when
    /// they can be, and may then be set again, as gas allows, unless a constant kept as
    /// an expression refers to them (it would see the new value where gas saw the old).
    func defineConstant(_ cname: String, _ valueText: String, at valueLoc: SourceLocation, directive: String, rest: Located,
                        notes: [Diagnostic.Note]) throws {
        guard !cname.isEmpty, cname.unicodeScalars.allSatisfy(StatementSplitter.isIdentChar), !cname.contains("(") else {
            throw Diagnostic(at: rest.location, "malformed constant name '\(cname)' (function-like #define is not supported)", notes: notes)
        }
        let isGas = directive != "#define"
        if assemblyDepth > 0 { assemblyConstants.insert(cname) }
        // gas lets `.set` and `=` set a symbol again; `.equ` too, but a spec that sets an
        // `.equ` twice is more likely wrong than a loop, so that stays an error.
        let mayReassign = directive == ".set" || directive == "="
        if let prev = constants[cname] {
            if prev.location.file == ElaborationOptions.Definition.file {
                throw Diagnostic(at: rest.location, "'\(cname)' is also defined on the command line (-D \(cname)): to make this its default, write '#ifndef \(cname)' before and '#endif' after", notes: notes)
            }
            guard mayReassign, prev.reassignable, !namesKeptAsExpressions.contains(cname) else {
                throw Diagnostic(at: rest.location, "duplicate definition of '\(cname)' (first defined at \(prev.location))", notes: notes)
            }
            guard !valueText.isEmpty else { throw Diagnostic(at: rest.location, "\(directive) needs a value", notes: notes) }
            let value = try evaluate(Expr.parse(valueText[...], at: valueLoc), notes: notes)
            let def = ConstantDef(expr: .number(value, valueLoc), location: rest.location, reassignable: true)
            // Instructions are decoded at the end: each must read the value in force
            // where it stands, so the values are kept with where they start.
            reassignments[cname, default: [(from: 0, def: prev)]].append((from: pending.count, def: def))
            constants[cname] = def
            return
        }
        if valueText.isEmpty {
            if isGas { throw Diagnostic(at: rest.location, "\(directive) needs a value", notes: notes) }
            constants[cname] = ConstantDef(expr: nil, location: rest.location)
            return
        }
        let parsed = try Expr.parseReportingTop(valueText[...], at: valueLoc)
        if isGas, let value = try? evaluate(parsed.expr, notes: notes) {
            constants[cname] = ConstantDef(expr: .number(value, valueLoc), location: rest.location, reassignable: true)
            return
        }
        constants[cname] = ConstantDef(expr: parsed.expr, location: rest.location, pasteOperator: directive == "#define" ? parsed.top : nil)
        namesKeptAsExpressions.formUnion(parsed.expr.names)
        if directive == "#define" && parsed.top != nil { hasPastedDefines = true }
    }

    func defineLabel(_ l: Located, notes: [Diagnostic.Note], fromSpec: Bool = true) throws {
        let isNumeric = l.text.first?.isNumber == true
        if isNumeric {
            guard l.text.allSatisfy(\.isNumber) else { throw Diagnostic(at: l.location, "malformed label '\(l.text)'", notes: notes) }
        } else if let prev = labelDefinitions[l.text] {
            throw Diagnostic(at: l.location, "duplicate label '\(l.text)' (first defined at \(prev))", notes: notes)
        } else if program.externs[l.text] != nil {
            throw Diagnostic(at: l.location, "label '\(l.text)' is also declared .extern", notes: notes)
        }
        if !isNumeric { labelDefinitions[l.text] = l.location }
        var slot: Int?
        if isNumeric {
            numericLabels[l.text, default: []].append(NumericLabel(order: pending.count, target: nil, serial: localLabelSerial))
            localLabelSerial += 1
            slot = (numericLabels[l.text]?.count ?? 1) - 1
        }
        // A label in a data section names data: a symbol, but no instruction's.
        guard section.isCode else {
            if !isNumeric { dataSymbols.insert(l.text) }
            return
        }
        pendingLabels.append(PendingLabel(label: l, section: section.name, numeric: slot, fromSpec: fromSpec))
    }

    func defineMacro(_ rest: Located, body: [RawStatement], at loc: SourceLocation, notes: [Diagnostic.Note]) throws {
        let words = splitWords(rest.text)
        guard let name = words.first, !name.isEmpty, name.unicodeScalars.allSatisfy(StatementSplitter.isIdentChar) else {
            throw Diagnostic(at: loc, ".macro needs a name", notes: notes)
        }
        // gas keeps a macro named after one of its directives but never expands it: the
        // directive runs (gas only warns).
        if Self.gasPseudoOps.contains(Self.macroKey(name)) {
            throw Diagnostic(at: loc, "gas ignores a macro named after its directive '\(Self.macroKey(name))': the directive runs, not the macro", notes: notes)
        }
        if let prev = macros[Self.macroKey(name)] {
            let spelled = prev.name == name ? "" : " as '\(prev.name)'; gas's macro names ignore case"
            throw Diagnostic(at: loc, "duplicate macro '\(name)' (first defined at \(prev.location)\(spelled))", notes: notes)
        }
        var params: [Macro.Parameter] = []
        for w in words.dropFirst() {
            var p: Macro.Parameter
            if let eq = w.firstIndex(of: "=") {
                p = Macro.Parameter(name: String(w[..<eq]), defaultValue: String(w[w.index(after: eq)...]))
            } else {
                p = Macro.Parameter(name: w, defaultValue: nil)
            }
            // gas's qualifiers: `name:req`, `name:vararg`.
            if let colon = p.name.firstIndex(of: ":") {
                let qualifier = p.name[p.name.index(after: colon)...]
                p.name = String(p.name[..<colon])
                switch qualifier {
                case "req": p.required = true
                case "vararg": p.variadic = true
                default: throw Diagnostic(at: loc, "unknown qualifier ':\(qualifier)' of macro parameter '\(p.name)' (gas has :req and :vararg)", notes: notes)
                }
            }
            if p.variadic && p.defaultValue != nil {
                throw Diagnostic(at: loc, "macro parameter '\(p.name)' is :vararg and has a default", notes: notes)
            }
            if params.last?.variadic == true {
                throw Diagnostic(at: loc, "only the last parameter of a macro can be :vararg", notes: notes)
            }
            params.append(p)
        }
        macros[Self.macroKey(name)] = Macro(name: name, parameters: params, body: body, fixedBody: nil, location: loc)
    }

    /// gas looks macros up by their name in lower case: `POPQ` defines `popq`, and an
    /// instruction `popq` (or `PopQ`) invokes it.
    static func macroKey(_ name: String) -> String {
        // Most names are lower case already: no copy for them (every statement asks).
        if name.utf8.allSatisfy({ $0 < 0x80 && !($0 >= 0x41 && $0 <= 0x5a) }) { return name }
        return name.isASCII ? String(decoding: name.utf8.map(\.asciiLowercased), as: UTF8.self) : name.lowercased()
    }

    /// `a, b=1 c` → words split at commas and blanks.
    func splitWords(_ s: String) -> [String] {
        s.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
    }

    func processOperation(head: Located, operands: [Located], rest: Located, notes: [Diagnostic.Note], macroStack: [String],
                          isUnit: Bool, file includingFile: SourceFile) throws {
        if let alias = directiveAliases[head.text], macros[Self.macroKey(head.text)] == nil {
            if alias.isEmpty { return }
            return try processOperation(head: Located(alias, head.location), operands: operands, rest: rest, notes: notes, macroStack: macroStack,
                                        isUnit: isUnit, file: includingFile)
        }
        let name = head.text
        // gas's `name = value`, the same as `.set name, value`.
        if rest.text.utf8.first == UInt8(ascii: "="), !rest.text.hasPrefix("=="), name.utf8.first != UInt8(ascii: "#") {
            let value = rest.text.dropFirst()
            let leading = value.prefix { $0 == " " || $0 == "\t" }.count
            let valueLoc = SourceLocation(file: rest.location.file, line: rest.location.line, column: rest.location.column + 1 + leading)
            try defineConstant(name, value.trimmingWhitespaces(), at: valueLoc, directive: "=", rest: rest, notes: notes)
            return
        }
        let key = Self.macroKey(name)
        if var macro = macros[key] {
            if macroStack.contains(where: { Self.macroKey($0) == key }) {
                let chain = (macroStack + [name]).joined(separator: " -> ")
                throw Diagnostic(at: head.location, "recursive macro: \(chain)", notes: notes)
            }
            if macroStack.count >= Self.maximumMacroDepth {
                throw Diagnostic(at: head.location, "macros nested more than \(Self.maximumMacroDepth) deep", notes: notes)
            }
            var args = try bindArguments(macro, operands: operands, rest: rest, at: head.location, notes: notes)
            args["@"] = String(macroExpansions)
            macroExpansions += 1
            if macro.fixedBody == nil {
                macro.fixedBody = macro.body.map { stmt in
                    switch stmt {
                    case .label(let l): return mentionsArguments(l) ? nil : stmt
                    case .operation(let h, _, let r):
                        return mentionsArguments(h) || mentionsArguments(r) ? nil : .operation(head: h, operands: StatementSplitter.splitOperands(r), rest: r)
                    }
                }
                macros[key] = macro
            }
            let note = Diagnostic.Note(location: head.location, message: "in expansion of macro '\(name)'")
            do {
                try process(macro.body, fixed: macro.fixedBody ?? [], arguments: args, notes: [note] + notes, macroStack: macroStack + [name],
                            isUnit: isUnit, file: includingFile)
            } catch is ExitMacro {
                // `.exitm`: the expansion ends here.
            }
            return
        }
        // Instructions skip the directive checks: every directive, and every name
        // they reject, starts with `.`, `#` or `CFI_`.
        if let first = name.utf8.first, first != UInt8(ascii: "."), first != UInt8(ascii: "#"), first != UInt8(ascii: "C") {
            try appendInstruction(head: head, operands: operands, rest: rest, notes: notes)
            return
        }
        switch name {
        case "#define", ".equ", ".set", ".equiv":
            let parts: (String, String)
            if name == "#define" {
                let t = rest.text
                guard !t.isEmpty else { throw Diagnostic(at: head.location, "#define needs a name", notes: notes) }
                // `#define NAME` alone (an include guard, a feature flag) defines it for
                // #ifdef and defined() only.
                let sp = t.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? t.endIndex
                parts = (String(t[..<sp]), t[sp...].trimmingWhitespaces())
            } else {
                guard operands.count == 2 else { throw Diagnostic(at: head.location, "\(name) needs a name and a value", notes: notes) }
                parts = (operands[0].text, operands[1].text)
            }
            let (cname, valueText) = parts
            // dwarf2.h's `#define CFI_ADJUST_CFA_OFFSET .cfi_adjust_cfa_offset` (and the
            // empty `#define CFI_SIGNAL_FRAME` of assemblers without it): a name that
            // stands for a CFI directive where it heads a statement, as cpp makes it.
            if name == "#define", cname.hasPrefix("CFI_"),
               valueText.isEmpty || (valueText.hasPrefix(".cfi_") && !valueText.contains(where: { $0 == " " || $0 == "\t" })) {
                directiveAliases[cname] = valueText
            }
            if name == "#define", assemblyDepth == 0, let used = cppFirstUses[cname] {
                throw Diagnostic(at: rest.location, "'\(cname)' is used at \(used) before this #define: cpp would not replace it there; define it before its first use", notes: notes)
            }
            let valueLoc = SourceLocation(file: rest.location.file, line: rest.location.line,
                                          column: rest.location.column + Self.firstOccurrence(of: valueText, in: rest.text))
            try defineConstant(cname, valueText, at: valueLoc, directive: name, rest: rest, notes: notes)
            if name == "#define" { cppDefinedNames.insert(cname) }
        case ".include", "#include":
            let tokens = try Lexer.tokenize(rest)
            guard case .string(let file)? = tokens.first?.kind else {
                throw Diagnostic(at: rest.location, "\(name) needs a quoted file name", notes: notes)
            }
            if tokens.count > 1 { throw Diagnostic(at: tokens[1].location, "unexpected text after the file name of \(name)", notes: notes) }
            if includeStack.count >= Self.maximumIncludeDepth {
                throw Diagnostic(at: head.location, "includes nested more than \(Self.maximumIncludeDepth) deep", notes: notes)
            }
            let (url, path, display) = try resolveInclude(file, from: includingFile, at: rest.location)
            if includeStack.contains(url) {
                throw Diagnostic(at: head.location, "include loop: '\(file)' is already being included", notes: notes)
            }
            let stmts: [RawStatement]
            if let cached = includes?.statements(of: path, shownAs: display) {
                stmts = cached
            } else {
                stmts = try StatementSplitter.split(text: loader.read(url, displayName: display, from: head.location), file: display)
                includes?.store(stmts, of: path, shownAs: display)
            }
            includeStack.append(url)
            defer { includeStack.removeLast() }
            if !program.files.contains(path) { program.files.append(path) }
            let note = Diagnostic.Note(location: head.location, message: "included from here")
            let included = SourceFile(url: url, directory: path.utf8.lastIndex(of: UInt8(ascii: "/")).map { path[..<$0] } ?? "")
            try process(stmts, arguments: nil, notes: [note] + notes, macroStack: macroStack, isUnit: false, file: included, recover: true)
        case ".source":
            guard isUnit, macroStack.isEmpty else {
                throw Diagnostic(at: head.location, ".source outside a unit's own lines: a unit (.pts) names the assembly file it checks", notes: notes)
            }
            let (stmts, url) = try readSource(head, rest, from: includingFile, notes: notes)
            let note = Diagnostic.Note(location: head.location, message: "read by .source here")
            let sourceFile = SourceFile(url: url, directory: url.path.utf8.lastIndex(of: UInt8(ascii: "/")).map { url.path[..<$0] } ?? "")
            try processAssembly(stmts, notes: [note] + notes, file: sourceFile)
        case ".path":
            let attrs = try parseAttributes(rest, notes: notes)
            guard let pname = attrs.positional.first else { throw Diagnostic(at: head.location, ".path needs the name of the label where the path starts", notes: notes) }
            if attrs.positional.count > 1 { throw Diagnostic(at: attrs.positional[1].location, "unexpected '\(attrs.positional[1].text)' (attributes are key=value)", notes: notes) }
            // An include is read once per unit that includes it: a path there would be
            // checked by none of them (or by all, twice over): refused, not dropped.
            guard isUnit else {
                throw Diagnostic(at: head.location, ".path in an included file: paths are declared in a unit (.pts); an include shares code, macros and declarations", notes: notes)
            }
            if let prev = paths.first(where: { $0.name.text == pname.text }) {
                throw Diagnostic(at: pname.location, "duplicate .path '\(pname.text)' (first declared at \(prev.name.location))", notes: notes)
            }
            paths.append(PendingPath(name: pname, attributes: attrs.keyed))
        case ".models":
            let attrs = try parseAttributes(rest, notes: notes)
            guard let file = attrs.positional.first, attrs.positional.count == 1 else {
                throw Diagnostic(at: head.location, "expected '.models FILE [lines=A-B | symbol=NAME] [fingerprint=HEX]'", notes: notes)
            }
            var src = ModelledSource(file: file.text, lines: nil, symbol: attrs.keyed["symbol"]?.text,
                                     fingerprint: attrs.keyed["fingerprint"]?.text, location: head.location)
            for (k, v) in attrs.keyed where !["lines", "symbol", "fingerprint"].contains(k) {
                throw Diagnostic(at: v.location, "unknown .models attribute '\(k)' (expected lines=, symbol=, fingerprint=)", notes: notes)
            }
            if let l = attrs.keyed["lines"] {
                let parts = l.text.split(separator: "-").compactMap { Int($0) }
                guard parts.count == 2, parts[0] >= 1, parts[0] <= parts[1] else {
                    throw Diagnostic(at: l.location, "expected lines=FIRST-LAST", notes: notes)
                }
                src.lines = parts[0]...parts[1]
            }
            if src.lines != nil && src.symbol != nil {
                throw Diagnostic(at: head.location, ".models takes lines= or symbol=, not both", notes: notes)
            }
            // From an include too: it models code for every unit that includes it, so a
            // change to that code must reach each of them in the CI gate.
            if !program.modelledSources.contains(src) { program.modelledSources.append(src) }
        case ".dead":
            // The source keeps code nothing reaches (3.16's thunk_64.S emits a SAVE_ARGS
            // only for its CFI side effect): say so, and it is not an error.
            deadCode = true
        case ".expect", ".limit":
            let attrs = try parseAttributes(rest, notes: notes)
            guard isUnit else {
                throw Diagnostic(at: head.location, "\(name) in an included file: it belongs after its .path in the unit (.pts)", notes: notes)
            }
            guard let last = paths.indices.last else { throw Diagnostic(at: head.location, "\(name) must follow a .path", notes: notes) }
            let kind: Expectation.Kind = name == ".limit" ? .limit : .violation
            let parsed = try Expectation.parse(kind: kind, words: attrs.positional, reason: attrs.keyed["reason"], keyed: attrs.keyed,
                                               at: head.location, notes: notes)
            for e in parsed {
                if let prev = paths[last].expectations.first(where: { $0.mechanism.isNamed(by: e.mechanism) }) {
                    // One declaration per mechanism: its sites are counted by `sites=`, so
                    // two declarations would make the count ambiguous.
                    throw Diagnostic(at: e.location, "\(e.mechanism) is already declared at \(prev.location) (a mechanism at several sites is one declaration with sites=N)", notes: notes)
                }
                paths[last].expectations.append(e)
            }
        case ".assume":
            let attrs = try parseAttributes(rest, notes: notes)
            guard isUnit else {
                throw Diagnostic(at: head.location, ".assume in an included file: it belongs after its .path in the unit (.pts)", notes: notes)
            }
            guard let last = paths.indices.last else { throw Diagnostic(at: head.location, ".assume must follow a .path", notes: notes) }
            let form = ".assume taken|not-taken LABEL reason=\"WHY\"' or '.assume feature NAME present|absent reason=\"WHY\""
            for (k, v) in attrs.keyed where k != "reason" {
                throw Diagnostic(at: v.location, "unknown .assume attribute '\(k)' (expected '\(form)')", notes: notes)
            }
            let isFeature = attrs.positional.first?.text == "feature"
            guard isFeature ? attrs.positional.count == 3 && ["present", "absent"].contains(attrs.positional[2].text)
                    : attrs.positional.count == 2 && ["taken", "not-taken"].contains(attrs.positional[0].text) else {
                throw Diagnostic(at: attrs.positional.first?.location ?? head.location,
                                 "expected '\(form)': which way every conditional branch of the path to LABEL goes, or whether the CPU has the feature every ALTERNATIVE on NAME is patched on", notes: notes)
            }
            guard let reason = attrs.keyed["reason"], !reason.text.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw Diagnostic(at: head.location, "an .assume says why the runs it leaves out need not be checked: reason=\"…\"", notes: notes)
            }
            let label = attrs.positional[1]
            if let prev = paths[last].assumptions.first(where: { $0.label == label.text && ($0.feature != nil) == isFeature }) {
                throw Diagnostic(at: label.location, "\(isFeature ? "the feature" : "branches to") \(label.text) \(isFeature ? "is" : "are") already assumed at \(prev.location)", notes: notes)
            }
            // A feature's word is resolved with the path (the .source that names it may come later).
            paths[last].assumptions.append(RunAssumption(taken: isFeature ? attrs.positional[2].text == "present" : attrs.positional[0].text == "taken",
                                                            label: label.text, reason: reason.text, location: label.location,
                                                            feature: isFeature ? "" : nil))
        case ".extern":
            try declareExtern(rest, at: head.location, notes: notes)
        case ".iret_to_kernel":
            let attrs = try parseAttributes(rest, notes: notes)
            for (k, v) in attrs.keyed where k != "reason" {
                throw Diagnostic(at: v.location, "unknown .iret_to_kernel attribute '\(k)' (expected '.iret_to_kernel LABEL reason=\"WHY\"')", notes: notes)
            }
            guard attrs.positional.count == 1, let label = attrs.positional.first else {
                throw Diagnostic(at: head.location, "expected '.iret_to_kernel LABEL reason=\"WHY\"': the iretq at or after LABEL returns only to kernel mode", notes: notes)
            }
            guard let reason = attrs.keyed["reason"], !reason.text.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw Diagnostic(at: head.location, "an .iret_to_kernel says why that iretq never returns to user space: reason=\"…\"", notes: notes)
            }
            pendingKernelOnlyIrets.append(label)
        case ".unmodelled":
            // `.unmodelled NAME bits=EXPR [set=EXPR]`: memory the model does not hold, written
            // NAME(…) or NAME+OFF(…), has only these bits set (thread_info's TIF_* flags), and
            // those of set= always (the sign bit of a kernel address).
            let attrs = try parseAttributes(rest, notes: notes)
            let form = ".unmodelled NAME bits=EXPR [set=EXPR] reason=\"WHY\""
            for (k, v) in attrs.keyed where k != "bits" && k != "set" && k != "reason" {
                throw Diagnostic(at: v.location, "unknown .unmodelled attribute '\(k)' (expected '\(form)')", notes: notes)
            }
            guard attrs.positional.count == 1, let name = attrs.positional.first, !name.text.isEmpty,
                  MemoryOperand.leadingName(name.text) == name.text, name.text.first?.isNumber == false else {
                throw Diagnostic(at: attrs.positional.first?.location ?? head.location, "expected '\(form)': the name the memory operand starts with", notes: notes)
            }
            guard let bits = attrs.keyed["bits"] else {
                throw Diagnostic(at: head.location, "expected '\(form)': bits= says which bits of \(name.text) may be set", notes: notes)
            }
            if program.unmodelled[name.text] != nil { throw Diagnostic(at: name.location, "duplicate .unmodelled '\(name.text)'", notes: notes) }
            let mask = UInt64(bitPattern: try evaluate(Expr.parse(bits), notes: notes))
            let set = try attrs.keyed["set"].map { UInt64(bitPattern: try evaluate(Expr.parse($0), notes: notes)) } ?? 0
            if set & ~mask != 0, let at = attrs.keyed["set"] {
                throw Diagnostic(at: at.location, "set= names bits that bits= does not allow", notes: notes)
            }
            // An assumption about memory restricts the runs checked: it says why, as .assume does.
            guard let reason = attrs.keyed["reason"], !reason.text.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw Diagnostic(at: head.location, "expected '\(form)': reason= says why \(name.text) holds only those bits (the verdicts of every path that reads it depend on it)", notes: notes)
            }
            program.unmodelled[name.text] = RunAssumption(memory: name.text, bits: mask, setBits: set, reason: reason.text, location: head.location)
        case ".percpu":
            let words = try parseAttributes(rest, notes: notes).positional
            guard let word = words.first else { throw Diagnostic(at: head.location, ".percpu needs a variable name", notes: notes) }
            // `.percpu cpu_tss_rw+TSS_sp0`: a field of a per-CPU struct is a variable of its own.
            let placed = try perCPUPlacement(word.text[...], at: word.location, notes: notes)
            let v = Located(placed.offset == 0 ? placed.symbol : "\(placed.symbol)+\(placed.offset)", word.location)
            if program.perCPU[v.text] != nil { throw Diagnostic(at: v.location, "duplicate .percpu '\(v.text)'", notes: notes) }
            // Variables are separate words of state: two that share bytes would not see
            // each other's writes.
            if let other = perCPUPlacements.first(where: { $0.value.symbol == placed.symbol && abs($0.value.offset - placed.offset) < 8 }) {
                throw Diagnostic(at: v.location, "per-CPU variable '\(v.text)' overlaps '\(other.key)': fields of one per-CPU symbol must be at least 8 bytes apart", notes: notes)
            }
            perCPUPlacements[v.text] = placed
            var kind = PerCPUKind.value
            if words.count > 1 {
                if let sign = words[1].text.first, sign == "+" || sign == "-" {
                    throw Diagnostic(at: words[1].location, "write a per-CPU field's offset without blanks: '.percpu \(words.map(\.text).joined())'", notes: notes)
                }
                guard words.count == 2, words[1].text == "stack" || words[1].text == "pointer" else {
                    throw Diagnostic(at: words[1].location, "expected 'stack', 'pointer' or nothing after the per-CPU variable name", notes: notes)
                }
                kind = words[1].text == "stack" ? .stack : .pointer
            }
            program.perCPU[v.text] = kind
        case ".layout":
            let attrs = try parseAttributes(rest, notes: notes)
            guard let lname = attrs.positional.first else { throw Diagnostic(at: head.location, ".layout needs a name", notes: notes) }
            if layoutInProgress != nil { throw Diagnostic(at: head.location, "nested .layout", notes: notes) }
            if program.layouts[lname.text] != nil { throw Diagnostic(at: lname.location, "duplicate layout '\(lname.text)'", notes: notes) }
            if attrs.positional.count > 1 { throw Diagnostic(at: attrs.positional[1].location, "unexpected '\(attrs.positional[1].text)' (expected '.layout NAME [size=N]')", notes: notes) }
            for (k, v) in attrs.keyed where k != "size" {
                throw Diagnostic(at: v.location, "unknown .layout attribute '\(k)' (expected size=)", notes: notes)
            }
            var size: Int64 = 0
            if let s = attrs.keyed["size"] {
                size = try evaluate(Expr.parse(s), notes: notes)
                if size < 0 { throw Diagnostic(at: s.location, "layout size \(size) is negative", notes: notes) }
            }
            layoutInProgress = (Layout(name: lname.text, size: size, fields: []), head.location)
        case ".field":
            guard let (oldLayout, lloc) = layoutInProgress else { throw Diagnostic(at: head.location, ".field outside .layout", notes: notes) }
            guard operands.count == 2 else { throw Diagnostic(at: head.location, "expected '.field NAME, OFFSET'", notes: notes) }
            let fname = operands[0].text
            guard let first = fname.unicodeScalars.first, StatementSplitter.isIdentStart(first), fname.unicodeScalars.allSatisfy(StatementSplitter.isIdentChar) else {
                throw Diagnostic(at: operands[0].location, "malformed field name '\(fname)'", notes: notes)
            }
            var layout = oldLayout
            let off = try evaluate(Expr.parse(operands[1]), notes: notes)
            // `size - 8`, not `off + 8`: the offset is the user's and may be near Int64.max.
            if off < 0 || off % 8 != 0 || (layout.size > 0 && off > layout.size - 8) {
                throw Diagnostic(at: operands[1].location, "field offset \(off) is outside layout \(layout.name) (size \(layout.size)) or not 8-byte aligned", notes: notes)
            }
            if let prev = constants[fname] { throw Diagnostic(at: operands[0].location, "duplicate definition of '\(fname)' (first defined at \(prev.location))", notes: notes) }
            constants[fname] = ConstantDef(expr: .number(off, operands[1].location), location: operands[0].location)
            layout.fields.append(.init(name: fname, offset: off, register: nil, userName: fname))
            layoutInProgress = (layout, lloc)
        case ".endlayout":
            guard let (layout, _) = layoutInProgress else { throw Diagnostic(at: head.location, ".endlayout without .layout", notes: notes) }
            program.layouts[layout.name] = layout
            layoutInProgress = nil
        default:
            if try assemblerDirective(head, operands: operands, rest: rest, notes: notes) { return }
            if name.hasPrefix("CFI_") {
                throw Diagnostic(at: head.location, "'\(name)' is not defined: define the CFI_ macros as the kernel's dwarf2.h does (`#define \(name) .cfi_\(name.dropFirst(4).lowercased())`) in the spec or a file it includes", notes: notes)
            }
            if name.hasPrefix(".") || name.hasPrefix("#") {
                throw Diagnostic(at: head.location, "unknown directive '\(name)'", notes: notes)
            }
            try appendInstruction(head: head, operands: operands, rest: rest, notes: notes)
        }
    }

    /// An instruction statement: decoded once the unit's symbol tables are complete.
    func appendInstruction(head: Located, operands: [Located], rest: Located, notes: [Diagnostic.Note], unsupported: String? = nil) throws {
        guard section.isCode else {
            throw Diagnostic(at: head.location, "'\(head.text)' in the data section \(section.name): only code sections hold instructions (is a .section or .popsection missing?)", notes: notes)
        }
        if let mode = codeMode {
            throw Diagnostic(at: head.location, "'\(head.text)' after \(mode): only 64-bit code is modelled (.code64)", notes: notes)
        }
        // The labels and annotations of this section wait for this instruction.
        let mine = pendingLabels.filter { $0.section == section.name }
        pendingLabels.removeAll { $0.section == section.name }
        for l in mine {
            if let slot = l.numeric {
                numericLabels[l.label.text]?[slot].target = pending.count
            } else {
                program.labels[l.label.text] = pending.count
            }
        }
        for k in pendingAnnotations where program.frameAnnotations[k].section == section.name {
            program.frameAnnotations[k].instruction = pending.count
        }
        pendingAnnotations.removeAll { program.frameAnnotations[$0].section == section.name }
        let labels = mine.map(\.label.text)
        if !labels.isEmpty { deadCode = false }
        pending.append(PendingInstruction(head: head, operands: operands, rest: rest, notes: notes, labels: labels, index: pending.count,
                                          declaredDead: deadCode, section: section.name, fromSource: assemblyDepth > 0,
                                          unsupportedReason: unsupported))
    }

    /// The order of the program: each code section's instructions together, sections in
    /// the order they first hold one (gas assembles each section contiguously). Labels,
    /// local labels and annotations are renumbered to it; `pending` keeps source order.
    func placeSections() {
        // Sections in the order they first appear, each section's instructions in source
        // order: one pass to group them (a sort looked the section names up in every
        // comparison, 6% of a 20,000-line straight line's instructions).
        var rank: [String: Int] = [:]
        var groups: [[Int]] = []
        var last = (section: "", rank: -1)
        for k in pending.indices {
            let section = pending[k].section
            if section == last.section, last.rank >= 0 {
                groups[last.rank].append(k)
            } else if let r = rank[section] {
                groups[r].append(k)
                last = (section, r)
            } else {
                rank[section] = groups.count
                last = (section, groups.count)
                groups.append([k])
            }
        }
        sectionOrder = Array(groups.joined())
        var placed = [Int](repeating: 0, count: pending.count)
        for (k, old) in sectionOrder.enumerated() { placed[old] = k }
        placedIndex = placed
        program.labels = program.labels.mapValues { placed[$0] }
        for (key, defs) in numericLabels {
            numericLabels[key] = defs.map { NumericLabel(order: $0.order, target: $0.target.map { placed[$0] }) }
        }
        for k in program.frameAnnotations.indices {
            program.frameAnnotations[k].instruction = program.frameAnnotations[k].instruction.map { placed[$0] }
        }
        placeAlternatives(placed)
    }

    /// The included file, its path and its display name. A name resolves from the
    /// including file's directory, so it resolves the same way for every file there.
    func resolveInclude(_ name: String, from including: SourceFile, at location: SourceLocation) throws -> (url: URL, path: String, display: String) {
        let key = "\(rootPath)\u{0}\(including.directory)\u{0}\(name)"
        if let r = includes?.resolution(key) { return r }
        let url = try loader.resolve(name, from: including.url, at: location)
        let r = (url: url, path: url.path, display: relativeDisplay(url))
        includes?.store(r, for: key)
        return r
    }

    func relativeDisplay(_ url: URL) -> String {
        let rootPath = loader.root.path.hasSuffix("/") ? loader.root.path : loader.root.path + "/"
        let cwd = FileManager.default.currentDirectoryPath + "/"
        if url.path.hasPrefix(cwd) { return String(url.path.dropFirst(cwd.count)) }
        if url.path.hasPrefix(rootPath) { return String(url.path.dropFirst(rootPath.count)) }
        return url.path
    }

    /// The arguments of a macro call as gas 2.40 (x86-64) splits them, learnt by
    /// assembling calls and dumping what the body saw. Two steps:
    /// 1. gas's input scrubber first drops every blank that does not stand between two
    ///    symbol components (letters, digits, `_`, `.`, `$`, x86's extra `*`, `%`, `-`,
    ///    `(`, `[`, `{`, `}`) or next to a string: `112 +8`, `112+ 8` and `112 + 8` are
    ///    all `112+8`, but `112 -8` and `112 *8` keep their blank, and so does `8 (%rsp)`;
    ///    `(a) b` becomes `(a)b`.
    /// 2. A comma or a remaining blank outside a string and outside `(…)`/`[…]` ends an
    ///    argument: `XCPT_FRAME 1 112 +8` is `1`, `112+8`; `M 112 -8` is `112`, `-8`.
    static func gasMacroArguments(_ operands: [Located]) -> [Located] {
        func isSymbolComponent(_ c: UInt8) -> Bool {
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c >= 0x80
                || "_.$*%-([{}\\\"'".utf8.contains(c)
        }
        func isBlank(_ c: UInt8) -> Bool { c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") }
        var out: [Located] = []
        for operand in operands {
            let bytes = Array(operand.text.utf8)
            var piece: [UInt8] = []
            var pieceColumn = 0
            var column = 0
            var depth = 0
            var inString = false
            func flush() {
                if !piece.isEmpty {
                    let loc = operand.location
                    out.append(Located(String(decoding: piece, as: UTF8.self), SourceLocation(file: loc.file, line: loc.line, column: loc.column + pieceColumn)))
                }
                piece = []
            }
            var k = 0
            while k < bytes.count {
                let c = bytes[k]
                if !inString, isBlank(c) {
                    var next = k
                    while next < bytes.count, isBlank(bytes[next]) { next += 1 }
                    let kept = k > 0 && next < bytes.count && isSymbolComponent(bytes[k - 1]) && isSymbolComponent(bytes[next])
                    if kept {
                        if depth > 0 { piece.append(UInt8(ascii: " ")) } else { flush() }
                    }
                    column += next - k
                    k = next
                    continue
                }
                if piece.isEmpty { pieceColumn = column }
                if c == UInt8(ascii: "\""), k == 0 || bytes[k - 1] != UInt8(ascii: "\\") { inString.toggle() }
                if !inString {
                    if c == UInt8(ascii: "(") || c == UInt8(ascii: "[") { depth += 1 }
                    if (c == UInt8(ascii: ")") || c == UInt8(ascii: "]")), depth > 0 { depth -= 1 }
                }
                piece.append(c)
                // A column is a scalar: continuation bytes do not count.
                if c & 0xC0 != 0x80 { column += 1 }
                k += 1
            }
            flush()
        }
        return out
    }

    func bindArguments(_ macro: Macro, operands: [Located], rest: Located, at loc: SourceLocation, notes: [Diagnostic.Note]) throws -> [String: String] {
        if operands.count > 1, operands.contains(where: { $0.text.isEmpty }) {
            throw Diagnostic(at: rest.location, "empty macro argument", notes: notes)
        }
        let actual = Self.gasMacroArguments(operands.filter { !$0.text.isEmpty })
        var bound: [String: String] = [:]
        var positional = 0
        var sawKeyword = false
        for (k, a) in actual.enumerated() {
            if positional < macro.parameters.count, macro.parameters[positional].variadic {
                // `:vararg` takes this argument and every one after it.
                // gas gives it the rest of the line as written.
                let offset = a.location.column - rest.location.column
                if a.location.line == rest.location.line, a.location.file == rest.location.file, offset >= 0, offset < rest.text.unicodeScalars.count {
                    bound[macro.parameters[positional].name] = String(String.UnicodeScalarView(rest.text.unicodeScalars.dropFirst(offset)))
                } else {
                    bound[macro.parameters[positional].name] = actual[k...].map(\.text).joined(separator: ", ")
                }
                positional += 1
                break
            }
            if let eq = a.text.firstIndex(of: "="), a.text[a.text.index(after: eq)...].first != "=" {
                let key = a.text[..<eq].trimmingWhitespaces()
                if macro.parameters.contains(where: { $0.name == key }) {
                    // gas warns and takes the later value; the tool refuses the ambiguity.
                    if bound[key] != nil {
                        throw Diagnostic(at: a.location, "value for parameter '\(key)' of macro '\(macro.name)' was already specified", notes: notes)
                    }
                    bound[key] = Self.macroArgument(a.text[a.text.index(after: eq)...].trimmingWhitespaces())
                    sawKeyword = true
                    continue
                }
                // gas reads `name=value` as a keyword argument whatever the name: a
                // misspelt one is an error, never the next positional argument.
                if let first = key.unicodeScalars.first, first.properties.isAlphabetic || first == "_",
                   key.unicodeScalars.allSatisfy(StatementSplitter.isIdentChar) {
                    let names = macro.parameters.map(\.name)
                    let near = names.map { ($0, Self.editDistance(key, $0)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
                    throw Diagnostic(at: a.location, "macro '\(macro.name)' has no parameter '\(key)'\(near.map { " (did you mean '\($0)'?)" } ?? ""): its parameters are \(names.isEmpty ? "none" : names.map { "'\($0)'" }.joined(separator: ", ")) (defined at \(macro.location))", notes: notes)
                }
            }
            // As gas: once a keyword argument is given, a positional one is an error.
            if sawKeyword {
                throw Diagnostic(at: a.location, "can't mix positional and keyword arguments: '\(a.text)' follows a keyword argument of macro '\(macro.name)'", notes: notes)
            }
            guard positional < macro.parameters.count else {
                throw Diagnostic(at: a.location, "macro '\(macro.name)' takes \(macro.parameters.count) argument(s), got \(actual.count) (defined at \(macro.location))", notes: notes)
            }
            bound[macro.parameters[positional].name] = Self.macroArgument(a.text)
            positional += 1
        }
        for p in macro.parameters where bound[p.name] == nil {
            if p.required {
                throw Diagnostic(at: loc, "macro '\(macro.name)' requires argument '\(p.name)' (it is declared '\(p.name):req'; defined at \(macro.location))", notes: notes)
            }
            // As gas: an argument left out is its default, or empty (`.ifb` tests for it).
            bound[p.name] = p.defaultValue ?? ""
        }
        return bound
    }

    /// An argument as a macro body sees it: gas passes `"text"` without its quotes (how a
    /// blank or a comma gets into one argument, or an empty one: `""`).
    static func macroArgument(_ text: String) -> String {
        let u = text.utf8
        guard u.count >= 2, u.first == UInt8(ascii: "\""), u.last == UInt8(ascii: "\""),
              !text.dropFirst().dropLast().contains("\"") else { return text }
        return String(text.dropFirst().dropLast())
    }

    struct Attributes {
        var positional: [Located] = []
        var keyed: [String: Located] = [:]
    }

    /// `name key=value key="quoted text" flag` → positional words and key/values.
    func parseAttributes(_ rest: Located, notes: [Diagnostic.Note]) throws -> Attributes {
        var out = Attributes()
        var text = rest.text
        try text.withUTF8 { s in
            let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), quote = UInt8(ascii: "\"")
            var columns = ScalarColumnCounter()
            var word: [UInt8] = []
            var k = 0
            while k < s.count {
                while k < s.count, s[k] == space || s[k] == tab { k += 1 }
                guard k < s.count else { break }
                let start = k
                word.removeAll(keepingCapacity: true)
                var inQuote = false
                while k < s.count, inQuote || !(s[k] == space || s[k] == tab) {
                    if s[k] == quote { inQuote.toggle() } else { word.append(s[k]) }
                    k += 1
                }
                let startColumn = columns.column(at: start, in: s)
                let loc = SourceLocation(file: rest.location.file, line: rest.location.line, column: rest.location.column + startColumn)
                if inQuote { throw Diagnostic(at: loc, "unterminated string", notes: notes) }
                // `key=value`, split by characters: an `=` that carries a combining mark is
                // not one (ASCII words: bytes are characters).
                let keyAndValue: (key: String, keyLength: Int, value: String)?
                if word.allSatisfy({ $0 < 0x80 }) {
                    keyAndValue = word.firstIndex(of: UInt8(ascii: "=")).map {
                        (String(decoding: word[..<$0], as: UTF8.self), $0, String(decoding: word[($0 + 1)...], as: UTF8.self))
                    }
                } else {
                    let wordText = String(decoding: word, as: UTF8.self)
                    keyAndValue = wordText.firstIndex(of: "=").map {
                        let key = String(wordText[..<$0])
                        return (key, key.count, String(wordText[wordText.index(after: $0)...]))
                    }
                }
                if let (key, keyLength, value) = keyAndValue {
                    if out.keyed[key] != nil { throw Diagnostic(at: loc, "attribute '\(key)' given twice", notes: notes) }
                    // The value starts a quote later when the source has one right after
                    // `key=` (counted in the source, where quotes were not dropped).
                    let valueCol = keyLength + 1 + (Self.byteOffset(ofScalar: keyLength + 1, after: start, in: s).map { s[$0] == quote } == true ? 1 : 0)
                    out.keyed[key] = Located(value, SourceLocation(file: loc.file, line: loc.line, column: loc.column + valueCol))
                } else {
                    out.positional.append(Located(String(decoding: word, as: UTF8.self), loc))
                }
            }
        }
        return out
    }

    /// Characters before the first occurrence of `needle` (0 when there is none), as
    /// Foundation's `range(of:)` finds it: for non-ASCII text it matches whole
    /// characters up to canonical equivalence, so it is asked.
    static func firstOccurrence(of needle: String, in text: String) -> Int {
        guard text.isASCII && needle.isASCII else {
            return text.range(of: needle).map { text.distance(from: text.startIndex, to: $0.lowerBound) } ?? 0
        }
        let t = Array(text.utf8), n = Array(needle.utf8)
        guard !n.isEmpty, n.count <= t.count else { return 0 }
        for k in 0...(t.count - n.count) where t[k..<(k + n.count)].elementsEqual(n) { return k }
        return 0
    }

    /// Where the scalar `n` scalars after the one at byte `start` begins, if the text
    /// has it.
    static func byteOffset(ofScalar n: Int, after start: Int, in s: UnsafeBufferPointer<UInt8>) -> Int? {
        var k = start
        var remaining = n
        while k < s.count {
            if !s[k].isUTF8Continuation {
                if remaining == 0 { return k }
                remaining -= 1
            }
            k += 1
        }
        return nil
    }

    // MARK: - Constants

    /// Deepest evaluation, counting each operator and each constant a name leads to: a
    /// chain of constants defined by constants is as deep as its length.
    public static let maximumEvaluationDepth = 1024

    /// The value of `e`. `asCondition`: only its truth matters (`.if`, `#if`), so a
    /// comparison may be its value (gas gives -1 for true where C gives 1).
    public func evaluate(_ e: Expr, asCondition: Bool = false, notes: [Diagnostic.Note] = []) throws -> Int64 {
        var visiting: Set<String> = []
        do {
            return try evaluate(e, notes: notes, visiting: &visiting, asCondition: asCondition, depth: 0)
        } catch let deep as TooDeep {
            // Reported where the expression is used, with where it went too deep.
            throw Diagnostic(at: e.location, "constant expression nested more than \(Self.maximumEvaluationDepth) deep (counting the constants it refers to)",
                             notes: [Diagnostic.Note(location: deep.location, message: "too deep here")] + notes)
        }
    }

    struct TooDeep: Error { var location: SourceLocation }

    /// Recursive over the tree and through constants, so its frame is kept small (the
    /// checks and the arithmetic are functions of their own): the depth bound must fit
    /// the stack of a debug build's worker thread.
    func evaluate(_ e: Expr, notes: [Diagnostic.Note], visiting: inout Set<String>, asCondition: Bool, depth: Int) throws -> Int64 {
        if depth >= Self.maximumEvaluationDepth { throw TooDeep(location: e.location) }
        switch e {
        case .number(let v, _): return v
        case .name(let n, let loc):
            let def = try constant(n, at: loc, notes: notes, visiting: visiting)
            guard let body = def.expr else {
                throw Diagnostic(at: loc, "'\(n)' is #defined without a value (at \(def.location)): #ifdef, #ifndef and defined() can test it, nothing can use it", notes: notes)
            }
            visiting.insert(n)
            defer { visiting.remove(n) }
            return try evaluate(body, notes: notes, visiting: &visiting, asCondition: asCondition, depth: depth + 1)
        case .unary(let op, let a, let loc):
            try checkPasted(a, under: op, isLeft: nil, notes: notes)
            let v = try evaluate(a, notes: notes, visiting: &visiting, asCondition: op == "!", depth: depth + 1)
            return try Self.apply(op, v, at: loc, notes: notes)
        case .binary(let op, let a, let b, let loc):
            try checkPasted(a, under: op, isLeft: true, notes: notes)
            try checkPasted(b, under: op, isLeft: false, notes: notes)
            let logical = op == "&&" || op == "||"
            let x = try evaluate(a, notes: notes, visiting: &visiting, asCondition: logical, depth: depth + 1)
            let y = try evaluate(b, notes: notes, visiting: &visiting, asCondition: logical, depth: depth + 1)
            return try Self.apply(op, x, y, asCondition: asCondition, at: loc, notes: notes)
        }
    }

    /// The definition of constant `n`, or why there is none to use.
    func constant(_ n: String, at loc: SourceLocation, notes: [Diagnostic.Note], visiting: Set<String>) throws -> ConstantDef {
        if (assemblyDepth > 0 || decodingSource) && !assemblyConstants.contains(n) {
            let spec = constants[n].map {
                $0.location.file == "<pt_regs>" ? " (the model's pt_regs offset: the file gets its own from the kernel's headers, through cpp)"
                    : " (the spec defines it at \($0.location), but gas assembles the file without the spec)"
            } ?? ""
            throw Diagnostic(at: loc, "'\(n)' is not defined in the assembly read by .source: gas leaves it to the linker as an undefined symbol\(spec)", notes: notes)
        }
        guard let def = constants[n] else {
            if program.labels[n] != nil || program.externs[n] != nil {
                throw Diagnostic(at: loc, "unknown constant '\(n)': it is a symbol (a label or an .extern), and only '$\(n)' alone or 'leaq \(n)(%rip)' gives its address", notes: notes)
            }
            throw Diagnostic(at: loc, "unknown constant '\(n)'", notes: notes)
        }
        if visiting.contains(n) { throw Diagnostic(at: loc, "constant '\(n)' is defined in terms of itself", notes: notes) }
        if let at = decodingAt, let history = reassignments[n], let then = history.last(where: { $0.from <= at }) { return then.def }
        return def
    }

    /// cpp pastes a `#define`'s text: `X * 2` with `#define X 1 + 2` is 5, not its value
    /// times 2. Where the pasted text groups differently, that is an error.
    func checkPasted(_ operand: Expr, under op: String, isLeft: Bool?, notes: [Diagnostic.Note]) throws {
        guard hasPastedDefines, case .name(let n, let loc) = operand, let inner = constants[n]?.pasteOperator else { return }
        if let isLeft, TokenStream.pastesAsValue(inner: inner, outer: op, innerIsLeft: isLeft) { return }
        throw Diagnostic(at: loc, "'\(n)' is #defined with '\(inner)' outside parentheses: cpp pastes its text under this '\(op)', which groups differently from its value; write its #define as (…)", notes: notes)
    }

    static func overflow(_ loc: SourceLocation, _ notes: [Diagnostic.Note]) -> Diagnostic {
        Diagnostic(at: loc, "arithmetic overflow in constant expression (values are signed 64-bit)", notes: notes)
    }

    static func apply(_ op: String, _ v: Int64, at loc: SourceLocation, notes: [Diagnostic.Note]) throws -> Int64 {
        switch op {
        case "-":
            let (r, o) = Int64(0).subtractingReportingOverflow(v)
            if o { throw overflow(loc, notes) }
            return r
        case "~": return ~v
        case "!": return v == 0 ? 1 : 0
        default: return v
        }
    }

    static func apply(_ op: String, _ x: Int64, _ y: Int64, asCondition: Bool, at loc: SourceLocation, notes: [Diagnostic.Note]) throws -> Int64 {
        switch op {
        case "+": let (r, o) = x.addingReportingOverflow(y); if o { throw overflow(loc, notes) }; return r
        case "-": let (r, o) = x.subtractingReportingOverflow(y); if o { throw overflow(loc, notes) }; return r
        case "*": let (r, o) = x.multipliedReportingOverflow(by: y); if o { throw overflow(loc, notes) }; return r
        case "/", "%":
            if y == 0 { throw Diagnostic(at: loc, "division by zero in constant expression", notes: notes) }
            let (r, o) = op == "/" ? x.dividedReportingOverflow(by: y) : x.remainderReportingOverflow(dividingBy: y)
            if o { throw overflow(loc, notes) }
            return r
        case "<<", ">>":
            if y < 0 || y > 63 { throw Diagnostic(at: loc, "shift count \(y) out of range 0...63", notes: notes) }
            if op == "<<" { return x << y }
            // gas shifts right logically, C (gcc) arithmetically: they differ only here.
            if x < 0 { throw Diagnostic(at: loc, "'>>' of a negative value: gas shifts in zeros, C copies the sign bit; write the value you mean", notes: notes) }
            return x >> y
        case "&": return x & y
        case "|": return x | y
        case "^": return x ^ y
        case "&&": return (x != 0 && y != 0) ? 1 : 0
        case "||": return (x != 0 || y != 0) ? 1 : 0
        case "==", "!=", "<>", "<", ">", "<=", ">=":
            guard asCondition else {
                throw Diagnostic(at: loc, "the value of '\(op)' is -1 for true in gas but 1 in C: use a comparison only as a condition (.if, #if, or under &&, || or !)", notes: notes)
            }
            switch op {
            case "==": return x == y ? 1 : 0
            case "!=", "<>": return x != y ? 1 : 0
            case "<": return x < y ? 1 : 0
            case ">": return x > y ? 1 : 0
            case "<=": return x <= y ? 1 : 0
            default: return x >= y ? 1 : 0
            }
        default: throw Diagnostic(at: loc, "unknown operator '\(op)'", notes: notes)
        }
    }
}
