import SpecSyntax

/// cpp's conditionals: `#if`, `#ifdef`, `#ifndef`, `#elif`, `#else`, `#endif`. cpp runs
/// before gas, so they are evaluated first, over the constants defined so far (`#define`,
/// `.equ`, layouts, pt_regs, `-D`), and the lines they drop never reach anything else —
/// not even `.macro` collection. Each file balances its own (cpp's rule).
extension Elaborator {
    struct CppConditions {
        struct Group {
            /// Lines of the current branch are kept.
            var active: Bool
            /// A branch of this group was taken: later `#elif`/`#else` are not.
            var taken: Bool
            var sawElse: Bool
            /// The enclosing groups keep their lines.
            var outerActive: Bool
            var head: Located
        }
        var groups: [Group] = []
        var active: Bool { groups.last?.active ?? true }
    }

    static let conditionalDirectives: Set<String> = ["#if", "#ifdef", "#ifndef", "#elif", "#else", "#endif"]
    /// The `#` directives of the spec language; `#define` and `#include` are handled
    /// with the other definitions, in order.
    static let preprocessorDirectives: Set<String> = conditionalDirectives.union(["#define", "#include", "#error"])

    /// Handles the statement `head rest` if it is a conditional directive, `#error`, or
    /// a line a false branch drops; says whether it did (then nothing else may look at
    /// it). A label is dropped exactly when `!cpp.active`.
    func preprocess(_ head: Located, _ rest: Located, _ cpp: inout CppConditions, notes: [Diagnostic.Note]) throws -> Bool {
        guard head.text.utf8.first == UInt8(ascii: "#") else { return !cpp.active }
        func err(_ loc: SourceLocation, _ m: String) -> Diagnostic { Diagnostic(at: loc, m, notes: notes) }
        guard Self.conditionalDirectives.contains(head.text) else {
            // cpp skips other directives in a dropped branch, and reads them first elsewhere.
            guard cpp.active else { return true }
            if head.text == "#error" { throw err(head.location, "#error \(rest.text)") }
            if !Self.preprocessorDirectives.contains(head.text) {
                throw err(head.location, "unknown preprocessor directive '\(head.text)' (the spec language has #define, #include, #if, #ifdef, #ifndef, #elif, #else, #endif and #error; a comment is '# text', with a blank after '#')")
            }
            return false
        }
        switch head.text {
        case "#if", "#ifdef", "#ifndef":
            if cpp.groups.count >= Self.maximumConditionalDepth {
                throw err(head.location, "\(head.text) nested more than \(Self.maximumConditionalDepth) deep")
            }
            // In a dropped branch cpp does not read the condition.
            let value: Bool
            do {
                value = cpp.active ? try condition(head, rest, notes: notes) : false
            } catch {
                // The group is open all the same (its #endif is no error of its own),
                // and none of its branches is read.
                cpp.groups.append(.init(active: false, taken: true, sawElse: false, outerActive: cpp.active, head: head))
                throw error
            }
            cpp.groups.append(.init(active: cpp.active && value, taken: value, sawElse: false, outerActive: cpp.active, head: head))
        case "#elif":
            guard var g = cpp.groups.popLast() else { throw err(head.location, "#elif without #if") }
            if g.sawElse {
                cpp.groups.append(g)
                throw err(head.location, "#elif after #else (the \(g.head.text) is at \(g.head.location))")
            }
            let value: Bool
            do {
                value = g.outerActive && !g.taken ? try condition(head, rest, notes: notes) : false
            } catch {
                g.active = false
                g.taken = true
                cpp.groups.append(g)
                throw error
            }
            g.active = value
            g.taken = g.taken || value
            cpp.groups.append(g)
        case "#else":
            try noText(after: head, rest, notes: notes)
            guard var g = cpp.groups.popLast() else { throw err(head.location, "#else without #if") }
            if g.sawElse {
                cpp.groups.append(g)
                throw err(head.location, "second #else for the \(g.head.text) at \(g.head.location)")
            }
            g.active = g.outerActive && !g.taken
            g.taken = true
            g.sawElse = true
            cpp.groups.append(g)
        default:    // #endif
            guard cpp.groups.popLast() != nil else { throw err(head.location, "#endif without #if") }
            try noText(after: head, rest, notes: notes)
        }
        return true
    }

    /// At the end of a file: every group it opened is closed.
    func finishPreprocessing(_ cpp: CppConditions, notes: [Diagnostic.Note]) throws {
        if let open = cpp.groups.last {
            throw Diagnostic(at: open.head.location, "\(open.head.text) without #endif", notes: notes)
        }
    }

    func noText(after head: Located, _ rest: Located, notes: [Diagnostic.Note]) throws {
        if !rest.text.isEmpty { throw Diagnostic(at: rest.location, "unexpected '\(rest.text)' after \(head.text)", notes: notes) }
    }

    /// The truth of `#if EXPR`, `#elif EXPR`, `#ifdef NAME` or `#ifndef NAME`.
    func condition(_ head: Located, _ rest: Located, notes: [Diagnostic.Note]) throws -> Bool {
        let tokens = try Lexer.tokenize(rest)
        if head.text == "#ifdef" || head.text == "#ifndef" {
            guard case .ident(let name)? = tokens.first?.kind else {
                throw Diagnostic(at: rest.location, "\(head.text) needs a name", notes: notes)
            }
            if tokens.count > 1 { throw Diagnostic(at: tokens[1].location, "unexpected text after the name of \(head.text)", notes: notes) }
            return (constants[name] != nil) == (head.text == "#ifdef")
        }
        guard !tokens.isEmpty else { throw Diagnostic(at: rest.location, "\(head.text) needs an expression", notes: notes) }
        // `defined NAME` and `defined(NAME)` become 1 or 0 before the expression is read.
        var out: [Token] = []
        var k = 0
        while k < tokens.count {
            guard case .ident("defined") = tokens[k].kind else {
                if case .ident(let name) = tokens[k].kind, constants[name] == nil {
                    // cpp reads an unknown name as 0: a typo would pick a branch silently.
                    throw Diagnostic(at: tokens[k].location, "'\(name)' is not defined (cpp would read it as 0): test it with defined(\(name)) or #ifdef, or define it (#define, or -D on the command line)", notes: notes)
                }
                out.append(tokens[k])
                k += 1
                continue
            }
            let at = tokens[k].location
            var j = k + 1
            let parenthesized = j < tokens.count && tokens[j].kind == .punct("(")
            if parenthesized { j += 1 }
            guard j < tokens.count, case .ident(let name) = tokens[j].kind else {
                throw Diagnostic(at: at, "defined needs a name: defined(NAME) or defined NAME", notes: notes)
            }
            j += 1
            if parenthesized {
                guard j < tokens.count, tokens[j].kind == .punct(")") else { throw Diagnostic(at: at, "expected ')' after defined(\(name)", notes: notes) }
                j += 1
            }
            out.append(Token(kind: .number(constants[name] != nil ? 1 : 0), location: at))
            k = j
        }
        var end = rest.location
        end.column += rest.text.unicodeScalars.count
        var stream = TokenStream(out, end: end)
        let e = try stream.parseExpr()
        if let extra = stream.peek { throw Diagnostic(at: extra.location, "unexpected text after expression", notes: notes) }
        return try evaluate(e, asCondition: true, notes: notes) != 0
    }
}

extension Elaborator {
    /// A word cpp would see in spec text: an identifier (letters, digits, `_`; for
    /// assembler-with-cpp neither `$` nor `.` is part of one), with the byte before it.
    struct CppWord {
        var name: String
        var offset: Int
        var before: UInt8?
    }

    /// The identifiers cpp would find in `text`: not inside strings, character
    /// constants or numbers (`1f`, `0x10`).
    static func cppWords(_ text: String) -> [CppWord] {
        let u = Array(text.utf8)
        var out: [CppWord] = []
        var k = 0
        while k < u.count {
            let c = u[k]
            if c == UInt8(ascii: "\"") {
                k += 1
                while k < u.count, u[k] != UInt8(ascii: "\"") { k += u[k] == UInt8(ascii: "\\") ? 2 : 1 }
                k += 1
            } else if c == UInt8(ascii: "'") {
                k = Lexer.endOfCharacterConstant(u, quoteAt: k, end: u.count)
            } else if c.isASCIIDigit || (c == UInt8(ascii: ".") && k + 1 < u.count && u[k + 1].isASCIIDigit) {
                // A preprocessing number: `1f`, `0x1e`, `1e+5` are one token each.
                k += 1
                while k < u.count {
                    if (u[k] == UInt8(ascii: "+") || u[k] == UInt8(ascii: "-")), "eEpP".utf8.contains(u[k - 1]) { k += 1; continue }
                    guard u[k].isIdentChar else { break }
                    k += 1
                }
            } else if c.isASCIILetter || c == UInt8(ascii: "_") {
                let start = k
                while k < u.count, u[k].isASCIILetter || u[k].isASCIIDigit || u[k] == UInt8(ascii: "_") { k += 1 }
                out.append(CppWord(name: String(decoding: u[start..<k], as: UTF8.self), offset: start, before: start > 0 ? u[start - 1] : nil))
            } else {
                k += 1
            }
        }
        return out
    }

    /// A spec's `#define`d name where the tool does not expand it, but cpp would replace
    /// it: a register (`%rax`), a statement's head (a mnemonic, a macro's name, a
    /// directive), a label, a jump's or call's target, a macro's name or parameter, a
    /// repetition's parameter. Constants in expressions are expanded as cpp would.
    /// `asWritten`: the text of a file, whose names not yet defined are remembered (a
    /// later `#define` of one is refused: cpp would not have replaced it here).
    func checkCppNames(_ stmt: RawStatement, notes: [Diagnostic.Note], asWritten: Bool) throws {
        guard !cppDefinedNames.isEmpty || asWritten else { return }
        func fail(_ w: CppWord, _ l: Located, _ what: String) -> Diagnostic {
            let at = SourceLocation(file: l.location.file, line: l.location.line,
                                    column: l.location.column + String(decoding: Array(l.text.utf8)[..<w.offset], as: UTF8.self).unicodeScalars.count)
            return Diagnostic(at: at, "'\(w.name)' is #define'd, and cpp would replace it in \(what), which the spec language does not: rename one of them", notes: notes)
        }
        func remember(_ words: [CppWord], _ l: Located) {
            guard asWritten else { return }
            for w in words where constants[w.name] == nil && cppFirstUses[w.name] == nil {
                cppFirstUses[w.name] = SourceLocation(file: l.location.file, line: l.location.line,
                                                      column: l.location.column + String(decoding: Array(l.text.utf8)[..<w.offset], as: UTF8.self).unicodeScalars.count)
            }
        }
        switch stmt {
        case .label(let l):
            let words = Self.cppWords(l.text)
            if let w = words.first(where: { cppDefinedNames.contains($0.name) }) { throw fail(w, l, "the label '\(l.text)'") }
            remember(words, l)
        case .operation(let head, _, let rest):
            // cpp's own directives are read by the tool as cpp reads them.
            guard head.text.utf8.first != UInt8(ascii: "#") else { return }
            let headWords = Self.cppWords(head.text)
            if directiveAliases[head.text] == nil, let w = headWords.first(where: { cppDefinedNames.contains($0.name) }) {
                throw fail(w, head, "the statement's head '\(head.text)'")
            }
            let words = Self.cppWords(rest.text)
            for w in words where cppDefinedNames.contains(w.name) {
                if w.before == UInt8(ascii: "%") { throw fail(w, rest, "the register name '%\(w.name)'") }
                if w.before == UInt8(ascii: "\\") { throw fail(w, rest, "the macro argument '\\\(w.name)'") }
            }
            // String comparisons compare the text as written: cpp would have replaced a
            // name there before gas compared it.
            if [".ifc", ".ifnc", ".ifeqs", ".ifnes", ".ifb", ".ifnb", ".ifdef", ".ifndef"].contains(Self.macroKey(head.text)),
               let w = words.first(where: { cppDefinedNames.contains($0.name) }) {
                throw fail(w, rest, "the operand of \(head.text)")
            }
            let lower = Self.macroKey(head.text)
            if lower.hasPrefix("j") || lower.hasPrefix("call") || lower.hasPrefix("loop") {
                // A target written as a bare name is a label to the tool.
                let target = rest.text.hasPrefix("*") ? String(rest.text.dropFirst()).trimmingWhitespaces() : rest.text
                if let w = words.first, words.count == 1, w.name == target, cppDefinedNames.contains(w.name) {
                    throw fail(w, rest, "the target '\(w.name)'")
                }
            }
            if head.text == ".macro" || Self.repetitionDirectives.contains(head.text) {
                // The names it defines: a macro's name and parameters (up to a default's
                // `=`), a repetition's parameter.
                var names: [CppWord] = []
                var inDefault = false
                let bytes = Array(rest.text.utf8)
                var k = 0
                for w in words {
                    while k < w.offset {
                        if bytes[k] == UInt8(ascii: "=") { inDefault = true }
                        if bytes[k] == UInt8(ascii: ",") || bytes[k] == UInt8(ascii: " ") || bytes[k] == UInt8(ascii: "\t") { inDefault = false }
                        k += 1
                    }
                    if !inDefault { names.append(w) }
                    if head.text != ".macro" { break }
                }
                if let w = names.first(where: { cppDefinedNames.contains($0.name) }) {
                    throw fail(w, rest, head.text == ".macro" ? "the macro name or parameter '\(w.name)'" : "the parameter '\(w.name)' of \(head.text)")
                }
            }
            remember(headWords, head)
            remember(words, rest)
        }
    }

    /// `checkCppNames` on a line of a body being collected: an error is recorded and the
    /// body is still collected (its `.endm` must be found).
    func checkCppNamesRecording(_ stmt: RawStatement, notes: [Diagnostic.Note]) {
        do { try checkCppNames(stmt, notes: notes, asWritten: true) } catch let d as Diagnostic { record(d) } catch {}
    }
}

/// What the command line adds to every unit: `-D NAME[=VALUE]`, as cc's `-D`.
public struct ElaborationOptions: Sendable, Hashable {
    /// One `-D`: a constant defined before the unit's first line.
    public struct Definition: Sendable, Hashable {
        public var name: String
        public var expr: Expr
        /// The value's top operator without parentheses: cpp pastes it (see `#define`).
        public var pasteOperator: String?
        public var location: SourceLocation
        /// `NAME` or `NAME=VALUE` as given: what the C preprocessor gets for `.source`.
        public var text: String

        /// Where `-D` constants say they come from.
        public static let file = "<command line>"

        /// `NAME` (worth 1, as with cc) or `NAME=VALUE`, the `index`-th `-D`; throws a
        /// diagnostic at `<command line>:index:column`.
        public init(parsing text: String, index: Int) throws {
            let (nameText, valueText, valueColumn): (Substring, Substring, Int)
            if let eq = text.firstIndex(of: "=") {
                nameText = text[..<eq]
                valueText = text[text.index(after: eq)...]
                valueColumn = text.distance(from: text.startIndex, to: eq) + 2
            } else {
                (nameText, valueText, valueColumn) = (text[...], "1", 1)
            }
            let at = SourceLocation(file: Self.file, line: index, column: 1)
            guard let first = nameText.unicodeScalars.first, StatementSplitter.isIdentStart(first), first != ".",
                  nameText.unicodeScalars.allSatisfy(StatementSplitter.isIdentChar) else {
                throw Diagnostic.error(at, "-D \(text): expected NAME or NAME=VALUE, NAME an identifier")
            }
            if Layout.ptRegs.field(named: String(nameText)).map({ $0.name == nameText }) == true {
                throw Diagnostic.error(at, "-D \(text): \(nameText) is a pt_regs offset the tool defines")
            }
            let parsed = try Expr.parseReportingTop(valueText, at: SourceLocation(file: Self.file, line: index, column: valueColumn))
            name = String(nameText)
            expr = parsed.expr
            pasteOperator = parsed.top
            location = at
            self.text = text
        }
    }

    public var defines: [Definition] = []
    /// `--tree`: where `.source` names resolve first (default: the current directory).
    public var sourceTree: String?
    /// `-I DIR` for the C preprocessor of every `.source`, relative to the tree.
    public var includeDirectories: [Located] = []
    /// `-include FILE` for the C preprocessor of every `.source`.
    public var forcedIncludes: [Located] = []
    /// How long the C preprocessor may run for one `.source` before it is stopped.
    public var preprocessorTimeoutSeconds: Double = 30
    public init() {}
}
