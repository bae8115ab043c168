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

/// One character of a logical line with where it came from: plain integers, so the
/// splitter does not copy the file name per character.
public struct SourceCharacter {
    public var scalar: Unicode.Scalar
    public var line: Int32
    public var column: Int32
    public init(_ scalar: Unicode.Scalar, line: Int, column: Int) {
        self.scalar = scalar
        self.line = Int32(truncatingIfNeeded: line)
        self.column = Int32(truncatingIfNeeded: column)
    }
    public var c: Unicode.Scalar { scalar }
}

public enum StatementSplitter {
    /// Largest spec file accepted: spec files come from untrusted pull requests.
    public static let maximumFileBytes = 4 << 20

    typealias Ch = SourceCharacter

    /// Splits decoded source text into statements. Comments (`#` unless it starts
    /// `#define`/`#include`, `//`, `/* */`) are dropped; `\` continues a line.
    public static func split(text: String, file: String) throws -> [RawStatement] {
        var result: [RawStatement] = []
        let chars = Array(text.unicodeScalars)
        var i = 0
        var line = 1
        var col = 1
        var inBlockComment = false
        var blockStart = (1, 1)
        var logical: [Ch] = []
        logical.reserveCapacity(128)
        // Collect one logical line at a time.
        while i < chars.count {
            logical.removeAll(keepingCapacity: true)
            while i < chars.count {
                let c = chars[i]
                if inBlockComment {
                    if c == "*", i + 1 < chars.count, chars[i + 1] == "/" {
                        inBlockComment = false
                        logical.append(Ch(" ", line: line, column: col))
                        i += 2; col += 2
                        continue
                    }
                    if c == "\n" { line += 1; col = 1 } else { col += 1 }
                    i += 1
                    continue
                }
                if c == "/", i + 1 < chars.count, chars[i + 1] == "*" {
                    inBlockComment = true
                    blockStart = (line, col)
                    i += 2; col += 2
                    continue
                }
                if c == "\\", i + 1 < chars.count, chars[i + 1] == "\n" {
                    logical.append(Ch(" ", line: line, column: col))
                    i += 2; line += 1; col = 1
                    continue
                }
                if c == "\n" {
                    i += 1; line += 1; col = 1
                    break
                }
                if c == "\0" {
                    throw Diagnostic.error(SourceLocation(file: file, line: line, column: col), "NUL byte in spec file: this is not a text file")
                }
                logical.append(Ch(c, line: line, column: col))
                i += 1; col += 1
            }
            try splitLogicalLine(logical[...], file: file, into: &result)
        }
        if inBlockComment {
            throw Diagnostic.error(SourceLocation(file: file, line: blockStart.0, column: blockStart.1), "unterminated /* comment")
        }
        return result
    }

    static func location(_ c: Ch, _ file: String) -> SourceLocation {
        SourceLocation(file: file, line: Int(c.line), column: Int(c.column))
    }

    static func text(_ chars: ArraySlice<Ch>) -> String {
        var s = String.UnicodeScalarView()
        for c in chars { s.append(c.scalar) }
        return String(s)
    }

    private static func splitLogicalLine(_ chars: ArraySlice<Ch>, file: String, into result: inout [RawStatement]) throws {
        // Strip comments: `//`, and `#` unless it begins a preprocessor directive.
        var end = chars.endIndex
        var k = chars.startIndex
        var inString = false
        let firstNonSpace = chars.firstIndex { !$0.scalar.isSpecSpace }
        while k < chars.endIndex {
            let c = chars[k].scalar
            if c == "\"" { inString.toggle() }
            if !inString {
                if c == "/", k + 1 < chars.endIndex, chars[k + 1].scalar == "/" { end = k; break }
                if c == "#" {
                    let isDirective = k == firstNonSpace && startsWithWord(chars, at: k + 1, ["define", "include", "undef"])
                    if !isDirective { end = k; break }
                }
            }
            k += 1
        }
        // Split at `;` outside strings (gas statement separator).
        var start = chars.startIndex
        inString = false
        for j in chars.startIndex..<end {
            if chars[j].scalar == "\"" { inString.toggle() }
            if chars[j].scalar == ";" && !inString {
                try parseStatement(chars[start..<j], file: file, into: &result)
                start = j + 1
            }
        }
        try parseStatement(chars[start..<end], file: file, into: &result)
    }

    private static func startsWithWord(_ chars: ArraySlice<Ch>, at k: Int, _ words: [String]) -> Bool {
        var s = ""
        var j = k
        while j < chars.endIndex, chars[j].scalar.isASCIILetter { s.unicodeScalars.append(chars[j].scalar); j += 1 }
        return words.contains(s)
    }

    public static func isIdentStart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c == "." || (c.isASCIILetter)
    }
    public static func isIdentChar(_ c: Unicode.Scalar) -> Bool {
        isIdentStart(c) || c.isASCIIDigit || c == "$"
    }

    /// A word of a statement head or label: identifier characters, and `\arg` / `\()`
    /// inside macro bodies.
    private static func isWordChar(_ chars: ArraySlice<Ch>, _ j: Int, _ word: String) -> Bool {
        let c = chars[j].scalar
        if isIdentChar(c) || c == "\\" { return true }
        if c == "(", j + 1 < chars.endIndex, chars[j + 1].scalar == ")", word.last == "\\" { return true }
        if c == ")", word.hasSuffix("\\(") { return true }
        return word.isEmpty && c.isASCIIDigit
    }

    private static func parseStatement(_ chars: ArraySlice<Ch>, file: String, into result: inout [RawStatement]) throws {
        var k = chars.startIndex
        func skipSpace() { while k < chars.endIndex, chars[k].scalar.isSpecSpace { k += 1 } }
        while true {
            skipSpace()
            guard k < chars.endIndex else { return }
            let startLoc = location(chars[k], file)
            // A word: identifier, numeric label, `#define`.
            var word = ""
            var j = k
            if chars[j].scalar == "#" { word = "#"; j += 1 }
            while j < chars.endIndex, isWordChar(chars, j, word) {
                word.unicodeScalars.append(chars[j].scalar); j += 1
            }
            if word.isEmpty || word == "#" {
                throw Diagnostic.error(startLoc, "expected a label, an instruction or a directive, found '\(String(chars[k].scalar))'")
            }
            if let first = word.unicodeScalars.first, !first.isASCII {
                throw Diagnostic.error(startLoc, "expected a label, an instruction or a directive")
            }
            // Label?
            var m = j
            while m < chars.endIndex, chars[m].scalar == " " || chars[m].scalar == "\t" { m += 1 }
            if m < chars.endIndex, chars[m].scalar == ":", word.first != "#" {
                result.append(.label(Located(word, startLoc)))
                k = m + 1
                continue
            }
            // Operation: the rest of the statement is its operand text.
            k = j
            skipSpace()
            let restChars = chars[k...]
            let restText = text(restChars).trimmingTrailingSpace()
            let restLoc = restChars.first.map { location($0, file) } ?? startLoc
            let operands = splitOperands(restChars, file: file)
            result.append(.operation(head: Located(word, startLoc), operands: operands, rest: Located(restText, restLoc)))
            return
        }
    }

    /// Splits operand text (with its location) at commas outside parentheses and strings.
    public static func splitOperands(_ text: Located) -> [Located] {
        let base = text.location
        var chars: [Ch] = []
        var col = base.column
        for c in text.text.unicodeScalars {
            chars.append(Ch(c, line: base.line, column: col))
            col += 1
        }
        return splitOperands(chars[...], file: base.file)
    }

    static func splitOperands(_ chars: ArraySlice<Ch>, file: String) -> [Located] {
        var out: [Located] = []
        var depth = 0
        var inString = false
        var pieceStart = chars.startIndex
        var lastComma: Ch?
        func flush(_ end: Int) {
            var a = chars[pieceStart..<end]
            while let f = a.first, f.scalar.isSpecSpace { a = a.dropFirst() }
            while let l = a.last, l.scalar.isSpecSpace { a = a.dropLast() }
            if let f = a.first {
                out.append(Located(text(a), location(f, file)))
            } else if let f = chars[pieceStart..<end].first ?? lastComma {
                // An empty operand (`a,,b` or a trailing comma) stays, so it is reported.
                out.append(Located("", location(f, file)))
            }
        }
        for j in chars.indices {
            let c = chars[j].scalar
            if c == "\"" { inString.toggle() }
            if !inString {
                if c == "(" { depth += 1 }
                if c == ")" { depth -= 1 }
                if c == "," && depth == 0 {
                    flush(j)
                    lastComma = chars[j]
                    pieceStart = j + 1
                    continue
                }
            }
        }
        if pieceStart < chars.endIndex || !out.isEmpty { flush(chars.endIndex) }
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

extension Unicode.Scalar {
    /// Blank within a line (spec syntax is ASCII; Unicode property lookups are slow).
    @inlinable public var isSpecSpace: Bool { self == " " || self == "\t" || self == "\r" || self == "\u{0B}" || self == "\u{0C}" }
    @inlinable public var isASCIILetter: Bool { (self >= "a" && self <= "z") || (self >= "A" && self <= "Z") }
    @inlinable public var isASCIIDigit: Bool { self >= "0" && self <= "9" }
}
