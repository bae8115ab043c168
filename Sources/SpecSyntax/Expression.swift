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
}

/// Tokens shared by the expression and operand parsers.
public struct Token: Hashable, Sendable {
    public enum Kind: Hashable, Sendable { case number(Int64), ident(String), register(String), punct(String), string(String) }
    public var kind: Kind
    public var location: SourceLocation
}

public enum Lexer {
    public static func tokenize(_ text: Located) throws -> [Token] {
        let s = Array(text.text.unicodeScalars)
        var out: [Token] = []
        var i = 0
        func loc(_ k: Int) -> SourceLocation {
            SourceLocation(file: text.location.file, line: text.location.line, column: text.location.column + k)
        }
        while i < s.count {
            let c = s[i]
            if c.isSpecSpace { i += 1; continue }
            let start = i
            if c.isASCIIDigit {
                var j = i
                var lit = ""
                while j < s.count, s[j].isASCIILetter || s[j].isASCIIDigit {
                    lit.unicodeScalars.append(s[j]); j += 1
                }
                // Local label references `1f` / `1b` are identifiers.
                if lit.count >= 2, (lit.hasSuffix("f") || lit.hasSuffix("b")), lit.dropLast().allSatisfy(\.isNumber) {
                    out.append(Token(kind: .ident(lit), location: loc(start)))
                    i = j; continue
                }
                guard let v = parseInteger(lit) else {
                    throw Diagnostic.error(loc(start), "malformed or too large number '\(lit)' (numbers are 64-bit)")
                }
                out.append(Token(kind: .number(v), location: loc(start)))
                i = j; continue
            }
            if c == "%" {
                var j = i + 1
                var name = ""
                while j < s.count, s[j].isASCIILetter || s[j].isASCIIDigit {
                    name.unicodeScalars.append(s[j]); j += 1
                }
                if name.isEmpty { throw Diagnostic.error(loc(start), "expected a register name after '%'") }
                out.append(Token(kind: .register(name.lowercased()), location: loc(start)))
                i = j; continue
            }
            if c == "\"" {
                var j = i + 1
                var str = ""
                while j < s.count, s[j] != "\"" { str.unicodeScalars.append(s[j]); j += 1 }
                if j >= s.count { throw Diagnostic.error(loc(start), "unterminated string") }
                out.append(Token(kind: .string(str), location: loc(start)))
                i = j + 1; continue
            }
            if StatementSplitter.isIdentStart(c) || c == "\\" {
                var j = i
                var name = ""
                if c == "\\" { name = "\\"; j += 1 }
                while j < s.count, StatementSplitter.isIdentChar(s[j]) { name.unicodeScalars.append(s[j]); j += 1 }
                if name == "\\" { throw Diagnostic.error(loc(start), "stray '\\' (macro arguments are written \\name)") }
                out.append(Token(kind: .ident(name), location: loc(start)))
                i = j; continue
            }
            let two = i + 1 < s.count ? String(String.UnicodeScalarView([c, s[i + 1]])) : ""
            if ["<<", ">>", "==", "!=", "<=", ">=", "&&", "||"].contains(two) {
                out.append(Token(kind: .punct(two), location: loc(start)))
                i += 2; continue
            }
            if "+-*/%&|^~!()$,=:<>".unicodeScalars.contains(c) {
                out.append(Token(kind: .punct(String(c)), location: loc(start)))
                i += 1; continue
            }
            throw Diagnostic.error(loc(start), "unexpected character '\(String(c))'")
        }
        return out
    }

    static func parseInteger(_ lit: String) -> Int64? {
        let lower = lit.lowercased()
        var digits = Substring(lower)
        var radix = 10
        if digits.hasPrefix("0x") { radix = 16; digits = digits.dropFirst(2) }
        else if digits.hasPrefix("0b") { radix = 2; digits = digits.dropFirst(2) }
        guard !digits.isEmpty, let u = UInt64(digits, radix: radix) else { return nil }
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

    static let binaryPrecedence: [[String]] = [["||"], ["&&"], ["|"], ["^"], ["&"], ["==", "!="], ["<", ">", "<=", ">="], ["<<", ">>"], ["+", "-"], ["*", "/", "%"]]

    public mutating func parseExpr() throws -> Expr { try parseBinary(0) }

    mutating func parseBinary(_ level: Int) throws -> Expr {
        if level == Self.binaryPrecedence.count { return try parseUnary() }
        var lhs = try parseBinary(level + 1)
        while case .punct(let p)? = peek?.kind, Self.binaryPrecedence[level].contains(p) {
            let loc = peek!.location
            index += 1
            let rhs = try parseBinary(level + 1)
            lhs = .binary(p, lhs, rhs, loc)
        }
        return lhs
    }

    mutating func parseUnary() throws -> Expr {
        if case .punct(let p)? = peek?.kind, ["-", "~", "!", "+"].contains(p) {
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
        let toks = try Lexer.tokenize(text)
        let end = SourceLocation(file: text.location.file, line: text.location.line, column: text.location.column + text.text.unicodeScalars.count)
        var ts = TokenStream(toks, end: end)
        let e = try ts.parseExpr()
        if let extra = ts.peek { throw Diagnostic.error(extra.location, "unexpected text after expression") }
        return e
    }
}
