/// One piece of text with where it starts.
public struct Located: Hashable, Sendable {
    public var text: String
    public var location: SourceLocation
    public init(_ text: String, _ location: SourceLocation) {
        self.text = text
        self.location = location
    }
}

/// One statement of a spec file, before macro expansion: assembly reads line by line,
/// so the unit of syntax is the statement (gas's `;` splits a line into several).
public enum RawStatement: Hashable, Sendable {
    /// `name:` or a numeric local label `1:`.
    case label(Located)
    /// A mnemonic, a macro invocation or a directive (starting with `.` or `#`) with its
    /// operand text split at top-level commas. `rest` is the whole operand text.
    case operation(head: Located, operands: [Located], rest: Located)

    public var location: SourceLocation {
        switch self {
        case .label(let l): return l.location
        case .operation(let h, _, _): return h.location
        }
    }
}

public enum StatementSplitter {
    /// Largest spec file accepted: spec files come from untrusted pull requests.
    public static let maximumFileBytes = 4 << 20

    /// Splits decoded source text into statements. Comments (`#` unless it starts
    /// `#define`/`#include`, `//`, `/* */`) are dropped; `\` continues a line.
    public static func split(text: String, file: String) throws -> [RawStatement] {
        var result: [RawStatement] = []
        let chars = Array(text.unicodeScalars)
        var i = 0
        var line = 1
        var col = 1
        var inBlockComment = false
        var blockStart = SourceLocation(file: file, line: 1, column: 1)

        // Collect one logical line at a time as (scalar, location) pairs.
        while i < chars.count || false {
            var logical: [(Unicode.Scalar, SourceLocation)] = []
            while i < chars.count {
                let c = chars[i]
                let loc = SourceLocation(file: file, line: line, column: col)
                if inBlockComment {
                    if c == "*", i + 1 < chars.count, chars[i + 1] == "/" {
                        inBlockComment = false
                        i += 2; col += 2
                        logical.append((" ", loc))
                        continue
                    }
                    if c == "\n" { line += 1; col = 1 } else { col += 1 }
                    i += 1
                    continue
                }
                if c == "/", i + 1 < chars.count, chars[i + 1] == "*" {
                    inBlockComment = true
                    blockStart = loc
                    i += 2; col += 2
                    continue
                }
                if c == "\\", i + 1 < chars.count, chars[i + 1] == "\n" {
                    i += 2; line += 1; col = 1
                    logical.append((" ", loc))
                    continue
                }
                if c == "\n" {
                    i += 1; line += 1; col = 1
                    break
                }
                if c == "\0" {
                    throw Diagnostic.error(loc, "NUL byte in spec file: this is not a text file")
                }
                logical.append((c, loc))
                i += 1; col += 1
            }
            try splitLogicalLine(logical, into: &result)
        }
        if inBlockComment {
            throw Diagnostic.error(blockStart, "unterminated /* comment")
        }
        return result
    }

    private static func splitLogicalLine(_ chars: [(Unicode.Scalar, SourceLocation)], into result: inout [RawStatement]) throws {
        // Strip comments: `//`, and `#` unless it begins a preprocessor directive.
        var end = chars.count
        var k = 0
        var inString = false
        let firstNonSpace = chars.firstIndex { !$0.0.properties.isWhitespace }
        while k < chars.count {
            let c = chars[k].0
            if c == "\"" { inString.toggle() }
            if !inString {
                if c == "/", k + 1 < chars.count, chars[k + 1].0 == "/" { end = k; break }
                if c == "#" {
                    let isDirective = k == firstNonSpace && startsWithWord(chars, at: k + 1, ["define", "include", "undef"])
                    if !isDirective { end = k; break }
                }
            }
            k += 1
        }
        // Split at `;` outside strings (gas statement separator).
        var pieces: [ArraySlice<(Unicode.Scalar, SourceLocation)>] = []
        var start = 0
        inString = false
        for j in 0..<end {
            if chars[j].0 == "\"" { inString.toggle() }
            if chars[j].0 == ";" && !inString {
                pieces.append(chars[start..<j])
                start = j + 1
            }
        }
        pieces.append(chars[start..<end])
        for p in pieces { try parseStatement(Array(p), into: &result) }
    }

    private static func startsWithWord(_ chars: [(Unicode.Scalar, SourceLocation)], at k: Int, _ words: [String]) -> Bool {
        var s = ""
        var j = k
        while j < chars.count, chars[j].0.properties.isAlphabetic { s.unicodeScalars.append(chars[j].0); j += 1 }
        return words.contains(s)
    }

    public static func isIdentStart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c == "." || (c.isASCII && c.properties.isAlphabetic)
    }
    public static func isIdentChar(_ c: Unicode.Scalar) -> Bool {
        isIdentStart(c) || (c.isASCII && c.properties.numericType != nil) || c == "$"
    }

    private static func parseStatement(_ chars: [(Unicode.Scalar, SourceLocation)], into result: inout [RawStatement]) throws {
        var k = 0
        func skipSpace() { while k < chars.count, chars[k].0.properties.isWhitespace { k += 1 } }
        while true {
            skipSpace()
            guard k < chars.count else { return }
            let startLoc = chars[k].1
            // A word: identifier, numeric label, `#define`.
            var word = ""
            var j = k
            if chars[j].0 == "#" { word = "#"; j += 1 }
            while j < chars.count, isIdentChar(chars[j].0) || chars[j].0 == "\\" || chars[j].0 == "(" && j + 1 < chars.count && chars[j + 1].0 == ")" && word.last == "\\" || chars[j].0 == ")" && word.hasSuffix("\\(") || (word.isEmpty && chars[j].0.isASCII && chars[j].0.properties.numericType != nil) {
                word.unicodeScalars.append(chars[j].0); j += 1
            }
            if word.isEmpty || word == "#" {
                throw Diagnostic.error(startLoc, "expected a label, an instruction or a directive, found '\(String(chars[k].0))'")
            }
            if let first = word.unicodeScalars.first, !isASCII(first) {
                throw Diagnostic.error(startLoc, "expected a label, an instruction or a directive")
            }
            // Label?
            var m = j
            while m < chars.count, chars[m].0 == " " || chars[m].0 == "\t" { m += 1 }
            if m < chars.count, chars[m].0 == ":" , word.first != "#" {
                result.append(.label(Located(word, startLoc)))
                k = m + 1
                continue
            }
            // Operation: the rest of the statement is its operand text.
            k = j
            skipSpace()
            let restChars = chars[k...]
            let restText = String(String.UnicodeScalarView(restChars.map { $0.0 })).trimmingTrailingSpace()
            let restLoc = restChars.first?.1 ?? startLoc
            let operands = splitOperands(Array(restChars))
            result.append(.operation(head: Located(word, startLoc), operands: operands, rest: Located(restText, restLoc)))
            return
        }
    }

    private static func isASCII(_ c: Unicode.Scalar) -> Bool { c.isASCII }

    /// Splits at commas outside parentheses and strings.
    public static func splitOperands(_ chars: [(Unicode.Scalar, SourceLocation)]) -> [Located] {
        var out: [Located] = []
        var depth = 0
        var inString = false
        var cur: [(Unicode.Scalar, SourceLocation)] = []
        var lastComma: SourceLocation?
        func flush() {
            var a = cur[...]
            while let f = a.first, f.0.properties.isWhitespace { a = a.dropFirst() }
            while let l = a.last, l.0.properties.isWhitespace { a = a.dropLast() }
            if let f = a.first {
                out.append(Located(String(String.UnicodeScalarView(a.map { $0.0 })), f.1))
            } else if let f = cur.first?.1 ?? lastComma {
                // An empty operand (`a,,b` or a trailing comma) stays, so it is reported.
                out.append(Located("", f))
            }
            cur = []
        }
        for c in chars {
            if c.0 == "\"" { inString.toggle() }
            if !inString {
                if c.0 == "(" { depth += 1 }
                if c.0 == ")" { depth -= 1 }
                if c.0 == "," && depth == 0 { flush(); lastComma = c.1; continue }
            }
            cur.append(c)
        }
        if !cur.isEmpty || !out.isEmpty { flush() }
        return out
    }
}

extension String {
    func trimmingTrailingSpace() -> String {
        var s = Substring(self)
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
