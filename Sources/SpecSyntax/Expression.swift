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
                guard let v = parseInteger(UnsafeBufferPointer(rebasing: s[i..<j])) else {
                    throw Diagnostic.error(loc(start), "malformed or too large number '\(text(i, j))' (numbers are 64-bit)")
                }
                out.append(Token(kind: .number(v), location: loc(start)))
                i = j; continue
            }
            if c == UInt8(ascii: "%") {
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

    static func twoCharacterPunctuation(_ a: UInt8, _ b: UInt8) -> String? {
        switch (a, b) {
        case (UInt8(ascii: "<"), UInt8(ascii: "<")): return "<<"
        case (UInt8(ascii: ">"), UInt8(ascii: ">")): return ">>"
        case (UInt8(ascii: "="), UInt8(ascii: "=")): return "=="
        case (UInt8(ascii: "!"), UInt8(ascii: "=")): return "!="
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

    /// A literal of ASCII letters and digits: decimal, `0x` hex or `0b` binary.
    static func parseInteger(_ lit: UnsafeBufferPointer<UInt8>) -> Int64? {
        var k = 0
        var radix: UInt64 = 10
        if lit.count >= 2, lit[0] == UInt8(ascii: "0") {
            switch lit[1].asciiLowercased {
            case UInt8(ascii: "x"): radix = 16; k = 2
            case UInt8(ascii: "b"): radix = 2; k = 2
            default: break
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
        // Hex literals may use all 64 bits (0xffffffff80000000); keep the bit pattern.
        if radix != 10 { return Int64(bitPattern: u) }
        return u <= UInt64(Int64.max) ? Int64(u) : nil
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
        case "==", "!=": return 5
        case "<", ">", "<=", ">=": return 6
        case "<<", ">>": return 7
        case "+", "-": return 8
        case "*", "/", "%": return 9
        default: return nil
        }
    }

    public mutating func parseExpr() throws -> Expr { try parseBinary(0) }

    /// Precedence climbing: the same left-associative trees as one function per level,
    /// without ten nested calls per operand.
    mutating func parseBinary(_ minimumLevel: Int) throws -> Expr {
        var lhs = try parseUnary()
        while index < tokens.count, case .punct(let p) = tokens[index].kind, let level = Self.binaryLevel(p), level >= minimumLevel {
            let loc = tokens[index].location
            index += 1
            let rhs = try parseBinary(level + 1)
            lhs = .binary(p, lhs, rhs, loc)
        }
        return lhs
    }

    mutating func parseUnary() throws -> Expr {
        if case .punct(let p)? = peek?.kind, p == "-" || p == "~" || p == "!" || p == "+" {
            let loc = location
            index += 1
            return .unary(p, try parseUnary(), loc)
        }
        return try parsePrimary()
    }

    mutating func parsePrimary() throws -> Expr {
        guard let t = peek else { throw Diagnostic.error(end, "expected an expression") }
        switch t.kind {
        case .number(let v):
            index += 1
            return .number(v, t.location)
        case .ident(let n):
            index += 1
            return .name(n, t.location)
        case .punct("("):
            index += 1
            let e = try parseExpr()
            try expect(")", "')'")
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
        let toks = try Lexer.tokenize(text, at: origin)
        var scalars = 0
        for b in text.utf8 where !b.isUTF8Continuation { scalars += 1 }
        let end = SourceLocation(file: origin.file, line: origin.line, column: origin.column + scalars)
        var ts = TokenStream(toks, end: end)
        let e = try ts.parseExpr()
        if let extra = ts.peek { throw Diagnostic.error(extra.location, "unexpected text after expression") }
        return e
    }
}
