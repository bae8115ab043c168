/// An integer expression as gas and cpp write them: `15*8+\addskip`, `RCX-ARGOFFSET`,
/// `~0x200`, `(_TIF_WORK_SYSCALL_ENTRY & ~_TIF_SYSCALL_AUDIT)`.
public indirect enum Expr: Hashable, Sendable {
    case number(Int64, SourceLocation)
    case name(String, SourceLocation)
    case unary(String, Expr, SourceLocation)
    case binary(String, Expr, Expr, SourceLocation)

    public var location: SourceLocation {
        switch self {
        case .number(_, let l), .name(_, let l), .unary(_, _, let l), .binary(_, _, _, let l): return l
        }
    }

    /// Every name the expression mentions.
    public var names: [String] {
        switch self {
        case .number: return []
        case .name(let n, _): return [n]
        case .unary(_, let e, _): return e.names
        case .binary(_, let a, let b, _): return a.names + b.names
        }
    }

    /// Whether a name the expression mentions satisfies `predicate` (no `names` array).
    public func containsName(where predicate: (String) throws -> Bool) rethrows -> Bool {
        switch self {
        case .number: return false
        case .name(let n, _): return try predicate(n)
        case .unary(_, let e, _): return try e.containsName(where: predicate)
        case .binary(_, let a, let b, _): return try a.containsName(where: predicate) || b.containsName(where: predicate)
        }
    }
}

/// Tokens shared by the expression and operand parsers.
public struct Token: Hashable, Sendable {
    public enum Kind: Hashable, Sendable { case number(Int64), ident(String), register(String), punct(String), string(String) }
    public var kind: Kind
    public var location: SourceLocation
    public init(kind: Kind, location: SourceLocation) {
        self.kind = kind
        self.location = location
    }
}

public enum Lexer {
    public static func tokenize(_ text: Located) throws -> [Token] {
        try tokenize(text.text[...], at: text.location)
    }

    /// Tokens of `text`, whose first character is at `origin`.
    public static func tokenize(_ text: Substring, at origin: SourceLocation) throws -> [Token] {
        if let tokens = try text.utf8.withContiguousStorageIfAvailable({ try tokenize(utf8: $0, at: origin) }) {
            return tokens
        }
        return try Array(text.utf8).withUnsafeBufferPointer { try tokenize(utf8: $0, at: origin) }
    }

    /// Works on UTF-8 bytes: every token boundary is an ASCII byte, and columns count
    /// scalars.
    static func tokenize(utf8 s: UnsafeBufferPointer<UInt8>, at origin: SourceLocation) throws -> [Token] {
        var out: [Token] = []
        var columns = ScalarColumnCounter()
        var i = 0
        func loc(_ k: Int) -> SourceLocation {
            SourceLocation(file: origin.file, line: origin.line, column: origin.column + columns.column(at: k, in: s))
        }
        func text(_ a: Int, _ b: Int) -> String { String(decoding: UnsafeBufferPointer(rebasing: s[a..<b]), as: UTF8.self) }
        while i < s.count {
            let c = s[i]
            if c.isSpecSpace { i += 1; continue }
            let start = i
            if c.isASCIIDigit {
                var j = i
                while j < s.count, s[j].isASCIILetter || s[j].isASCIIDigit { j += 1 }
                // Local label references `1f` / `1b` are identifiers.
                let last = s[j - 1]
                if j - i >= 2, last == UInt8(ascii: "f") || last == UInt8(ascii: "b"), s[i..<(j - 1)].allSatisfy(\.isASCIIDigit) {
                    out.append(Token(kind: .ident(text(i, j)), location: loc(start)))
                    i = j; continue
                }
                let literal = UnsafeBufferPointer(rebasing: s[i..<j])
                guard let v = parseInteger(literal) else {
                    if literal.count > 1, literal[0] == UInt8(ascii: "0"), literal.allSatisfy(\.isASCIIDigit) {
                        throw Diagnostic.error(loc(start), "malformed number '\(text(i, j))': a leading 0 makes it octal, as gas reads it, and octal has no digit 8 or 9")
                    }
                    throw Diagnostic.error(loc(start), "malformed or too large number '\(text(i, j))' (numbers are 64-bit)")
                }
                out.append(Token(kind: .number(v), location: loc(start)))
                i = j; continue
            }
            if c == UInt8(ascii: "'") {
                let (v, j) = try characterConstant(s, at: i, location: loc(start))
                out.append(Token(kind: .number(v), location: loc(start)))
                i = j; continue
            }
            // After a value (`(vector-0x20)%7`, `x % y`) `%` is gas's modulo operator;
            // elsewhere it starts a register name.
            let afterValue: Bool
            switch out.last?.kind {
            case .number?, .ident?, .punct(")")?: afterValue = true
            default: afterValue = false
            }
            if c == UInt8(ascii: "%"), !afterValue {
                var j = i + 1
                while j < s.count, s[j].isASCIILetter || s[j].isASCIIDigit { j += 1 }
                if j == i + 1 { throw Diagnostic.error(loc(start), "expected a register name after '%'") }
                let name = String(decoding: s[(i + 1)..<j].lazy.map(\.asciiLowercased), as: UTF8.self)
                out.append(Token(kind: .register(name), location: loc(start)))
                i = j; continue
            }
            if c == UInt8(ascii: "\"") {
                var j = i + 1
                while j < s.count, s[j] != UInt8(ascii: "\"") { j += 1 }
                if j >= s.count { throw Diagnostic.error(loc(start), "unterminated string") }
                out.append(Token(kind: .string(text(i + 1, j)), location: loc(start)))
                i = j + 1; continue
            }
            if c.isIdentStart || c == UInt8(ascii: "\\") {
                var j = c == UInt8(ascii: "\\") ? i + 1 : i
                while j < s.count, s[j].isIdentChar { j += 1 }
                if c == UInt8(ascii: "\\") && j == i + 1 { throw Diagnostic.error(loc(start), "stray '\\' (macro arguments are written \\name)") }
                out.append(Token(kind: .ident(text(i, j)), location: loc(start)))
                i = j; continue
            }
            if i + 1 < s.count, let two = twoCharacterPunctuation(c, s[i + 1]) {
                out.append(Token(kind: .punct(two), location: loc(start)))
                i += 2; continue
            }
            if let one = punctuation(c) {
                out.append(Token(kind: .punct(one), location: loc(start)))
                i += 1; continue
            }
            // The whole scalar, for the message.
            var j = i + 1
            while j < s.count, s[j].isUTF8Continuation { j += 1 }
            throw Diagnostic.error(loc(start), "unexpected character '\(text(i, j))'")
        }
        return out
    }

    /// gas's character constant `'c` (and `'c'`, which gas 2.40 also reads): the byte's
    /// value. Escapes only where gas gives C's value (`\n \t \b \r \f \\ \' \"`); gas
    /// reads `'\0`, `'\101` and `'\x41` as neither C nor anything useful, so those are
    /// errors. Returns the value and the offset after the constant.
    static func characterConstant(_ s: UnsafeBufferPointer<UInt8>, at i: Int, location: SourceLocation) throws -> (Int64, Int) {
        var j = i + 1
        guard j < s.count else { throw Diagnostic.error(location, "expected a character after ' (a character constant is written 'c)") }
        let v: UInt8
        if s[j] == UInt8(ascii: "\\") {
            guard j + 1 < s.count else { throw Diagnostic.error(location, "expected a character after '\\'") }
            switch s[j + 1] {
            case UInt8(ascii: "n"): v = 0x0A
            case UInt8(ascii: "t"): v = 0x09
            case UInt8(ascii: "b"): v = 0x08
            case UInt8(ascii: "r"): v = 0x0D
            case UInt8(ascii: "f"): v = 0x0C
            case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): v = s[j + 1]
            default:
                var k = j + 2
                while k < s.count, s[k].isUTF8Continuation { k += 1 }
                let esc = String(decoding: UnsafeBufferPointer(rebasing: s[j..<k]), as: UTF8.self)
                throw Diagnostic.error(location, "character escape '\(esc)' is not supported (gas does not read it as C does): write the number")
            }
            j += 2
        } else {
            guard s[j] < 0x80, s[j] >= 0x20 || s[j] == 0x09, s[j] != 0x7F else {
                throw Diagnostic.error(location, "a character constant holds one printable ASCII character")
            }
            v = s[j]
            j += 1
        }
        if j < s.count, s[j] == UInt8(ascii: "'") { j += 1 }
        return (Int64(v), j)
    }

    /// The offset just past the character constant whose `'` is at `k`, as
    /// `characterConstant` reads it: the statement and operand splitters skip it, so
    /// `';`, `'#`, `',` and `'"` are characters there, not syntax.
    public static func endOfCharacterConstant<C: RandomAccessCollection>(_ s: C, quoteAt k: Int, end: Int) -> Int
        where C.Element == UInt8, C.Index == Int {
        var j = k + 1
        guard j < end else { return end }
        j += s[j] == UInt8(ascii: "\\") ? 2 : 1
        while j < end, s[j].isUTF8Continuation { j += 1 }
        if j < end, s[j] == UInt8(ascii: "'") { j += 1 }
        return min(j, end)
    }

    static func twoCharacterPunctuation(_ a: UInt8, _ b: UInt8) -> String? {
        switch (a, b) {
        case (UInt8(ascii: "<"), UInt8(ascii: "<")): return "<<"
        case (UInt8(ascii: ">"), UInt8(ascii: ">")): return ">>"
        case (UInt8(ascii: "="), UInt8(ascii: "=")): return "=="
        case (UInt8(ascii: "!"), UInt8(ascii: "=")): return "!="
        // gas's other spelling of "not equal".
        case (UInt8(ascii: "<"), UInt8(ascii: ">")): return "<>"
        case (UInt8(ascii: "<"), UInt8(ascii: "=")): return "<="
        case (UInt8(ascii: ">"), UInt8(ascii: "=")): return ">="
        case (UInt8(ascii: "&"), UInt8(ascii: "&")): return "&&"
        case (UInt8(ascii: "|"), UInt8(ascii: "|")): return "||"
        default: return nil
        }
    }

    /// `+-*/%&|^~!()$,=:<>`
    static func punctuation(_ c: UInt8) -> String? {
        switch c {
        case UInt8(ascii: "+"): return "+"
        case UInt8(ascii: "-"): return "-"
        case UInt8(ascii: "*"): return "*"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "%"): return "%"
        case UInt8(ascii: "&"): return "&"
        case UInt8(ascii: "|"): return "|"
        case UInt8(ascii: "^"): return "^"
        case UInt8(ascii: "~"): return "~"
        case UInt8(ascii: "!"): return "!"
        case UInt8(ascii: "("): return "("
        case UInt8(ascii: ")"): return ")"
        case UInt8(ascii: "$"): return "$"
        case UInt8(ascii: ","): return ","
        case UInt8(ascii: "="): return "="
        case UInt8(ascii: ":"): return ":"
        case UInt8(ascii: "<"): return "<"
        case UInt8(ascii: ">"): return ">"
        default: return nil
        }
    }

    static func parseInteger(_ lit: String) -> Int64? {
        var lit = lit
        return lit.withUTF8 { parseInteger($0) }
    }

    /// A literal of ASCII letters and digits as gas reads it: decimal, `0x` hex, `0b`
    /// binary, and a leading `0` for octal (`040` is 32). Any of them may use all 64
    /// bits (`0xffffffff80000000`, `18446744073709551615`): the bit pattern is kept.
    static func parseInteger(_ lit: UnsafeBufferPointer<UInt8>) -> Int64? {
        var k = 0
        var radix: UInt64 = 10
        if lit.count >= 2, lit[0] == UInt8(ascii: "0") {
            switch lit[1].asciiLowercased {
            case UInt8(ascii: "x"): radix = 16; k = 2
            case UInt8(ascii: "b"): radix = 2; k = 2
            default: radix = 8; k = 1
            }
        }
        guard k < lit.count else { return nil }
        var u: UInt64 = 0
        while k < lit.count {
            let c = lit[k].asciiLowercased
            let digit: UInt64
            if c.isASCIIDigit { digit = UInt64(c - UInt8(ascii: "0")) }
            else if c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") { digit = UInt64(c - UInt8(ascii: "a")) + 10 }
            else { return nil }
            guard digit < radix else { return nil }
            let (m, o1) = u.multipliedReportingOverflow(by: radix)
            let (a, o2) = m.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            u = a
            k += 1
        }
        return Int64(bitPattern: u)
    }
}

/// Recursive-descent parser over tokens, with C's precedence.
public struct TokenStream {
    public var tokens: [Token]
    public var index = 0
    public let end: SourceLocation

    public init(_ tokens: [Token], end: SourceLocation) {
        self.tokens = tokens
        self.end = end
    }

    public var atEnd: Bool { index >= tokens.count }
    public var peek: Token? { index < tokens.count ? tokens[index] : nil }
    public var location: SourceLocation { peek?.location ?? end }

    public mutating func next() -> Token? {
        defer { index += 1 }
        return peek
    }

    public mutating func accept(_ p: String) -> Bool {
        if case .punct(p)? = peek?.kind { index += 1; return true }
        return false
    }

    public mutating func expect(_ p: String, _ what: String) throws {
        if !accept(p) { throw Diagnostic.error(location, "expected \(what)") }
    }

    /// C's binary operator levels, loosest first: `||` is 0, `* / %` are 9.
    static func binaryLevel(_ p: String) -> Int? {
        switch p {
        case "||": return 0
        case "&&": return 1
        case "|": return 2
        case "^": return 3
        case "&": return 4
        case "==", "!=", "<>": return 5
        case "<", ">", "<=", ">=": return 6
        case "<<", ">>": return 7
        case "+", "-": return 8
        case "*", "/", "%": return 9
        default: return nil
        }
    }

    /// gas's levels for the same operators (binutils expr.c, op_rank): shifts bind like
    /// `*`, the bitwise operators share one level above `+`, all comparisons one below.
    static func gasLevel(_ p: String) -> Int {
        switch p {
        case "*", "/", "%", "<<", ">>": return 9
        case "|", "^", "&": return 8
        case "+", "-": return 7
        case "==", "!=", "<>", "<", ">", "<=", ">=": return 4
        case "&&": return 3
        default: return 2    // ||
        }
    }

    /// Whether an operand whose top operator is `inner` (written without parentheses)
    /// groups under `outer` the same way in C and in gas. A constant's text goes to both
    /// (cpp then gas), so where they disagree the spec must say which it means.
    public static func groupsAlike(inner: String, outer: String, innerIsLeft: Bool) -> Bool {
        guard let ci = binaryLevel(inner), let co = binaryLevel(outer) else { return false }
        let gi = gasLevel(inner), go = gasLevel(outer)
        return innerIsLeft ? ((ci >= co) == (gi >= go)) : ((ci > co) == (gi > go))
    }

    /// Whether text whose top operator is `inner`, pasted as an operand of `outer` (as
    /// cpp pastes a `#define`), still groups as that operand's value, in C and in gas.
    public static func pastesAsValue(inner: String, outer: String, innerIsLeft: Bool) -> Bool {
        guard let ci = binaryLevel(inner), let co = binaryLevel(outer) else { return false }
        let gi = gasLevel(inner), go = gasLevel(outer)
        return innerIsLeft ? (ci >= co && gi >= go) : (ci > co && gi > go)
    }

    /// Deepest expression tree, and deepest nesting of parentheses and unary operators,
    /// accepted. Parsing, evaluation and the tree's own release recurse over them, so
    /// hostile input (30,000 nested parentheses, a 70,000-term sum) must not choose them.
    public static let maximumDepth = 256

    /// A parsed operand: the tree, its depth, and its top operator when that is a
    /// binary operator written without parentheses.
    public struct Parsed {
        public var expr: Expr
        public var depth: Int
        public var top: String?
    }

    public mutating func parseExpr() throws -> Expr { try parseExprReportingTop().expr }

    public mutating func parseExprReportingTop() throws -> Parsed { try parseBinary(0, nesting: 0) }

    /// Precedence climbing: the same left-associative trees as one function per level,
    /// without ten nested calls per operand. A left-deep chain grows in this loop, so
    /// its depth is counted here, not by recursion.
    mutating func parseBinary(_ minimumLevel: Int, nesting: Int) throws -> Parsed {
        var lhs = try parseUnary(nesting: nesting)
        while index < tokens.count, case .punct(let p) = tokens[index].kind, let level = Self.binaryLevel(p), level >= minimumLevel {
            let loc = tokens[index].location
            index += 1
            let rhs = try parseBinary(level + 1, nesting: nesting)
            if let inner = lhs.top, !Self.groupsAlike(inner: inner, outer: p, innerIsLeft: true) {
                throw Diagnostic.error(loc, "C and gas group 'a \(inner) b \(p) c' differently (C: (a \(inner) b) \(p) c; gas: a \(inner) (b \(p) c)): add parentheses")
            }
            if let inner = rhs.top, !Self.groupsAlike(inner: inner, outer: p, innerIsLeft: false) {
                throw Diagnostic.error(loc, "C and gas group 'a \(p) b \(inner) c' differently (C: a \(p) (b \(inner) c); gas: (a \(p) b) \(inner) c): add parentheses")
            }
            let depth = max(lhs.depth, rhs.depth) + 1
            if depth > Self.maximumDepth {
                throw Diagnostic.error(loc, "expression nested more than \(Self.maximumDepth) operators deep")
            }
            lhs = Parsed(expr: .binary(p, lhs.expr, rhs.expr, loc), depth: depth, top: p)
        }
        return lhs
    }

    mutating func parseUnary(nesting: Int) throws -> Parsed {
        if case .punct(let p)? = peek?.kind, p == "-" || p == "~" || p == "!" || p == "+" {
            let loc = location
            if nesting >= Self.maximumDepth { throw Diagnostic.error(loc, "expression nested more than \(Self.maximumDepth) deep") }
            index += 1
            let operand = try parseUnary(nesting: nesting + 1)
            return Parsed(expr: .unary(p, operand.expr, loc), depth: operand.depth + 1, top: nil)
        }
        return try parsePrimary(nesting: nesting)
    }

    mutating func parsePrimary(nesting: Int) throws -> Parsed {
        guard let t = peek else { throw Diagnostic.error(end, "expected an expression") }
        switch t.kind {
        case .number(let v):
            index += 1
            return Parsed(expr: .number(v, t.location), depth: 1, top: nil)
        case .ident(let n):
            index += 1
            return Parsed(expr: .name(n, t.location), depth: 1, top: nil)
        case .punct("("):
            if nesting >= Self.maximumDepth { throw Diagnostic.error(t.location, "expression nested more than \(Self.maximumDepth) deep") }
            index += 1
            var e = try parseBinary(0, nesting: nesting + 1)
            try expect(")", "')'")
            e.top = nil
            return e
        default:
            throw Diagnostic.error(t.location, "expected an expression")
        }
    }
}

extension Expr {
    /// Parses a whole operand text as one expression.
    public static func parse(_ text: Located) throws -> Expr {
        try parse(text.text[...], at: text.location)
    }

    /// Parses `text`, whose first character is at `origin`, as one expression.
    public static func parse(_ text: Substring, at origin: SourceLocation) throws -> Expr {
        try parseReportingTop(text, at: origin).expr
    }

    /// `parse`, also saying the top operator when it is a binary one without parentheses
    /// (a `#define` body cpp would paste into a larger expression).
    public static func parseReportingTop(_ text: Substring, at origin: SourceLocation) throws -> TokenStream.Parsed {
        let toks = try Lexer.tokenize(text, at: origin)
        var scalars = 0
        for b in text.utf8 where !b.isUTF8Continuation { scalars += 1 }
        let end = SourceLocation(file: origin.file, line: origin.line, column: origin.column + scalars)
        var ts = TokenStream(toks, end: end)
        let e = try ts.parseExprReportingTop()
        if let extra = ts.peek { throw Diagnostic.error(extra.location, "unexpected text after expression") }
        return e
    }
}
