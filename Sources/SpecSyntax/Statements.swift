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

    /// One logical line as UTF-8 bytes, with where each byte came from: plain integers,
    /// so the splitter does not copy the file name per byte. A scalar's continuation
    /// bytes carry the column of its first byte (a column is a scalar).
    struct LogicalLine {
        var bytes: [UInt8] = []
        var lines: [Int32] = []
        var columns: [Int32] = []

        mutating func append(_ byte: UInt8, line: Int, column: Int) {
            bytes.append(byte)
            lines.append(Int32(truncatingIfNeeded: line))
            columns.append(Int32(truncatingIfNeeded: column))
        }

        mutating func removeAll() {
            bytes.removeAll(keepingCapacity: true)
            lines.removeAll(keepingCapacity: true)
            columns.removeAll(keepingCapacity: true)
        }

        func location(_ k: Int, _ file: String) -> SourceLocation {
            SourceLocation(file: file, line: Int(lines[k]), column: Int(columns[k]))
        }

        func text(_ range: Range<Int>) -> String {
            bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self) }
        }
    }

    /// Splits decoded source text into statements. Comments (`#` unless a word follows
    /// it at once at the start of a line, `//`, `/* */`) are dropped; `\` continues a
    /// line. Works on UTF-8 bytes: everything it looks for is ASCII.
    /// `firstLine` is the line number of the text's first line: a piece of preprocessed
    /// output starts where its line marker says.
    /// `commentsRemoved`: the text is assembly whose comments gas's rules took out
    /// already (`GasComments`), so no comment syntax of the spec language applies.
    public static func split(text: String, file: String, firstLine: Int = 1, commentsRemoved: Bool = false) throws -> [RawStatement] {
        var text = text
        return try text.withUTF8 { try split(utf8: $0, file: file, firstLine: firstLine, recover: false, commentsRemoved: commentsRemoved).statements }
    }

    /// Like `split`, but a syntax error ends only its own logical line: the statements
    /// of every other line are kept, and the errors are returned in order. A NUL byte
    /// still stops it (the file is no text).
    public static func splitRecovering(text: String, file: String, firstLine: Int = 1) throws -> (statements: [RawStatement], errors: [Diagnostic]) {
        var text = text
        return try text.withUTF8 { try split(utf8: $0, file: file, firstLine: firstLine, recover: true) }
    }

    static func split(utf8 chars: UnsafeBufferPointer<UInt8>, file: String, firstLine: Int = 1, recover: Bool,
                      commentsRemoved: Bool = false) throws -> (statements: [RawStatement], errors: [Diagnostic]) {
        var errors: [Diagnostic] = []
        var result: [RawStatement] = []
        var i = 0
        var line = firstLine
        var col = 1
        var inBlockComment = false
        var blockStart = (firstLine, 1)
        var logical = LogicalLine()
        logical.bytes.reserveCapacity(128)
        logical.lines.reserveCapacity(128)
        logical.columns.reserveCapacity(128)
        let slash = UInt8(ascii: "/"), star = UInt8(ascii: "*"), newline = UInt8(ascii: "\n"), backslash = UInt8(ascii: "\\")
        // Collect one logical line at a time.
        while i < chars.count {
            logical.removeAll()
            while i < chars.count {
                let c = chars[i]
                if inBlockComment {
                    if c == star, i + 1 < chars.count, chars[i + 1] == slash {
                        inBlockComment = false
                        logical.append(UInt8(ascii: " "), line: line, column: col)
                        i += 2; col += 2
                        continue
                    }
                    if c == newline { line += 1; col = 1 } else if !c.isUTF8Continuation { col += 1 }
                    i += 1
                    continue
                }
                if c.isUTF8Continuation {
                    logical.append(c, line: line, column: col - 1)
                    i += 1
                    continue
                }
                if c == slash, !commentsRemoved, i + 1 < chars.count, chars[i + 1] == star {
                    inBlockComment = true
                    blockStart = (line, col)
                    i += 2; col += 2
                    continue
                }
                if c == backslash, i + 1 < chars.count, chars[i + 1] == newline {
                    logical.append(UInt8(ascii: " "), line: line, column: col)
                    i += 2; line += 1; col = 1
                    continue
                }
                if c == newline {
                    i += 1; line += 1; col = 1
                    break
                }
                if c == 0 {
                    throw Diagnostic.error(SourceLocation(file: file, line: line, column: col), "NUL byte in spec file: this is not a text file")
                }
                logical.append(c, line: line, column: col)
                i += 1; col += 1
            }
            do {
                try splitLogicalLine(logical, file: file, commentsRemoved: commentsRemoved, into: &result)
            } catch let d as Diagnostic where recover {
                errors.append(d)
            }
        }
        if inBlockComment {
            let d = Diagnostic.error(SourceLocation(file: file, line: blockStart.0, column: blockStart.1), "unterminated /* comment")
            guard recover else { throw d }
            errors.append(d)
        }
        return (result, errors)
    }

    private static func splitLogicalLine(_ line: LogicalLine, file: String, commentsRemoved: Bool, into result: inout [RawStatement]) throws {
        let chars = line.bytes
        // Strip comments: `//`, and `#` unless it begins a preprocessor directive.
        var end = chars.endIndex
        var k = chars.startIndex
        var inString = false
        let firstNonSpace = chars.firstIndex { !$0.isSpecSpace }
        while k < chars.endIndex, !commentsRemoved {
            let c = chars[k]
            // gas's `\"` inside a string ends nothing.
            if inString, c == UInt8(ascii: "\\") { k += 2; continue }
            if c == UInt8(ascii: "\"") { inString.toggle() }
            if !inString {
                if c == UInt8(ascii: "'") { k = Lexer.endOfCharacterConstant(chars, quoteAt: k, end: chars.endIndex); continue }
                if c == UInt8(ascii: "/"), k + 1 < chars.endIndex, chars[k + 1] == UInt8(ascii: "/") { end = k; break }
                if c == UInt8(ascii: "#") {
                    // `#word` at the start of a line is a directive, as cpp reads it (an
                    // unknown one is an error, never a comment); `# text` is a comment.
                    let isDirective = k == firstNonSpace && k + 1 < chars.endIndex && (chars[k + 1].isASCIILetter || chars[k + 1] == UInt8(ascii: "_"))
                    if !isDirective { end = k; break }
                }
            }
            k += 1
        }
        // Split at `;` outside strings (gas statement separator).
        var start = chars.startIndex
        inString = false
        var j = chars.startIndex
        while j < end {
            if inString, chars[j] == UInt8(ascii: "\\") { j += 2; continue }
            if chars[j] == UInt8(ascii: "\"") { inString.toggle() }
            if chars[j] == UInt8(ascii: "'") && !inString { j = Lexer.endOfCharacterConstant(chars, quoteAt: j, end: end); continue }
            if chars[j] == UInt8(ascii: ";") && !inString {
                try parseStatement(line, start..<j, file: file, into: &result)
                start = j + 1
            }
            j += 1
        }
        try parseStatement(line, start..<end, file: file, into: &result)
    }

    public static func isIdentStart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c == "." || (c.isASCIILetter)
    }
    public static func isIdentChar(_ c: Unicode.Scalar) -> Bool {
        isIdentStart(c) || c.isASCIIDigit || c == "$"
    }

    /// A word of a statement head or label: identifier characters, and `\arg` / `\()`
    /// inside macro bodies. The word so far is `chars[wordStart..<j]`.
    private static func isWordChar(_ chars: [UInt8], _ j: Int, end: Int, wordStart: Int) -> Bool {
        let c = chars[j]
        if c.isIdentChar || c == UInt8(ascii: "\\") { return true }
        // gas's `\@` (the macro expansion count) inside a word: `.Lskip_\@:`.
        if c == UInt8(ascii: "@"), j > wordStart, chars[j - 1] == UInt8(ascii: "\\") { return true }
        if c == UInt8(ascii: "("), j + 1 < end, chars[j + 1] == UInt8(ascii: ")"), j > wordStart, chars[j - 1] == UInt8(ascii: "\\") { return true }
        if c == UInt8(ascii: ")"), j - 2 >= wordStart, chars[j - 2] == UInt8(ascii: "\\"), chars[j - 1] == UInt8(ascii: "(") { return true }
        return j == wordStart && c.isASCIIDigit
    }

    private static func parseStatement(_ line: LogicalLine, _ range: Range<Int>, file: String, into result: inout [RawStatement]) throws {
        let chars = line.bytes
        var k = range.lowerBound
        let end = range.upperBound
        func skipSpace() { while k < end, chars[k].isSpecSpace { k += 1 } }
        while true {
            skipSpace()
            guard k < end else { return }
            let startLoc = line.location(k, file)
            // A word: identifier, numeric label, `#define`.
            var j = k
            if chars[j] == UInt8(ascii: "#") { j += 1 }
            while j < end, isWordChar(chars, j, end: end, wordStart: k) { j += 1 }
            let isDirective = chars[k] == UInt8(ascii: "#")
            if j == k || (isDirective && j == k + 1) {
                var scalarEnd = k + 1
                while scalarEnd < end, chars[scalarEnd].isUTF8Continuation { scalarEnd += 1 }
                throw Diagnostic.error(startLoc, "expected a label, an instruction or a directive, found '\(line.text(k..<scalarEnd))'")
            }
            let word = line.text(k..<j)
            // Label?
            var m = j
            while m < end, chars[m] == UInt8(ascii: " ") || chars[m] == UInt8(ascii: "\t") { m += 1 }
            if m < end, chars[m] == UInt8(ascii: ":"), !isDirective {
                result.append(.label(Located(word, startLoc)))
                k = m + 1
                continue
            }
            // Operation: the rest of the statement is its operand text.
            k = j
            skipSpace()
            let restText = trailingSpaceTrimmed(line, k..<end)
            let restLoc = k < end ? line.location(k, file) : startLoc
            let operands = chars.withUnsafeBufferPointer { splitOperands($0, k..<end) { line.location($0, file) } }
            result.append(.operation(head: Located(word, startLoc), operands: operands, rest: Located(restText, restLoc)))
            return
        }
    }

    /// The text without trailing whitespace characters (`Character.isWhitespace`).
    private static func trailingSpaceTrimmed(_ line: LogicalLine, _ range: Range<Int>) -> String {
        let chars = line.bytes[range]
        guard chars.allSatisfy({ $0 < 0x80 }) else { return line.text(range).trimmingTrailingSpace() }
        // ASCII: each byte is a character; the whitespace ones are tab…CR and space.
        var end = range.upperBound
        while end > range.lowerBound, line.bytes[end - 1] == 0x20 || (line.bytes[end - 1] >= 0x09 && line.bytes[end - 1] <= 0x0D) { end -= 1 }
        return line.text(range.lowerBound..<end)
    }

    /// Splits operand text (with its location) at commas outside parentheses and strings.
    public static func splitOperands(_ text: Located) -> [Located] {
        var bytes = text.text
        let base = text.location
        return bytes.withUTF8 { utf8 in
            var columns = ScalarColumnCounter()
            return splitOperands(utf8, 0..<utf8.count) {
                SourceLocation(file: base.file, line: base.line, column: base.column + columns.column(at: $0, in: utf8))
            }
        }
    }

    /// Splits `chars[range]` at commas outside parentheses and strings; `location`
    /// gives where a byte came from.
    static func splitOperands(_ chars: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, location: (Int) -> SourceLocation) -> [Located] {
        var out: [Located] = []
        var depth = 0
        var inString = false
        var pieceStart = range.lowerBound
        var lastComma: Int?
        // The end of the last character constant: its blank (`' `) is no padding.
        var constantEnd = range.lowerBound
        func flush(_ end: Int) {
            var a = pieceStart
            var b = end
            while a < b, chars[a].isSpecSpace { a += 1 }
            while b > max(a, constantEnd), chars[b - 1].isSpecSpace { b -= 1 }
            if a < b {
                out.append(Located(String(decoding: UnsafeBufferPointer(rebasing: chars[a..<b]), as: UTF8.self), location(a)))
            } else if let f = pieceStart < end ? pieceStart : lastComma {
                // An empty operand (`a,,b` or a trailing comma) stays, so it is reported.
                out.append(Located("", location(f)))
            }
        }
        var j = range.lowerBound
        while j < range.upperBound {
            let c = chars[j]
            if inString, c == UInt8(ascii: "\\") { j += 2; continue }
            if c == UInt8(ascii: "\"") { inString.toggle() }
            if !inString {
                if c == UInt8(ascii: "'") {
                    j = Lexer.endOfCharacterConstant(chars, quoteAt: j, end: range.upperBound)
                    constantEnd = j
                    continue
                }
                if c == UInt8(ascii: "(") { depth += 1 }
                if c == UInt8(ascii: ")") { depth -= 1 }
                if c == UInt8(ascii: ",") && depth == 0 {
                    flush(j)
                    lastComma = j
                    pieceStart = j + 1
                }
            }
            j += 1
        }
        if pieceStart < range.upperBound || !out.isEmpty { flush(range.upperBound) }
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
