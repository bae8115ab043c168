import Foundation
import SpecSyntax

/// Real assembly source as statements located in the files a person edits: a `.S` file
/// through the C preprocessor, or a `.s` file as it is, either way with its line
/// markers (`# LINE "FILE" FLAGS`) followed, so every statement carries the line of the
/// original `.S` file or header it came from.
public struct AssemblyReader {
    /// Directories every file read must lie in (symlink-free): the source tree and the
    /// spec root. The input is untrusted.
    public var roots: [URL]
    /// How a file is named in diagnostics.
    public var display: (URL) -> String
    public var preprocessor = CPreprocessor()

    public init(roots: [URL], display: @escaping (URL) -> String) {
        self.roots = roots.map { $0.standardizedFileURL.resolvingSymlinksInPath() }
        self.display = display
    }

    public struct Source {
        public var statements: [RawStatement]
        /// Every file the statements came from or cpp read, absolute and symlink-free.
        public var filesRead: [String]
        /// Macro bodies cpp reported (`CPreprocessor.isWantedDefinition`).
        public var definitions: [String: String] = [:]
    }

    /// Whether a symlink-free path lies under one of the roots.
    public func allows(_ real: URL) -> Bool {
        roots.contains { root in real.path.hasPrefix(root.path.hasSuffix("/") ? root.path : root.path + "/") }
    }

    /// Reads `file` (already resolved and checked): `.S` through cpp with `flags`, any
    /// other name as is. `location` is the `.source` line, for errors about the whole file.
    public func read(_ file: URL, flags: CPreprocessor.Flags, at location: SourceLocation) throws -> Source {
        let shown = display(file)
        let text: [UInt8]
        var files: [String]
        var definitions: [String: String] = [:]
        if file.pathExtension == "S" {
            try checkSize(file, shown: shown, at: location)
            let out = try preprocessor.run(file, flags: flags, at: location, display: display)
            for read in out.filesRead where !allows(read) {
                throw Diagnostic.error(location, "the C preprocessor read \(read.path), outside the source tree (\(roots.map(\.path).joined(separator: ", "))): includes may not leave it")
            }
            text = out.text
            definitions = out.definitions
            files = out.filesRead.map(\.path)
            if !files.contains(file.path) { files.insert(file.path, at: 0) }
        } else {
            try checkSize(file, shown: shown, at: location)
            guard let data = FileManager.default.contents(atPath: file.path) else {
                throw Diagnostic.error(location, "cannot read \(shown)")
            }
            text = [UInt8](data)
            files = [file.path]
        }
        return Source(statements: try statements(of: text, file: file), filesRead: files, definitions: definitions)
    }

    func checkSize(_ file: URL, shown: String, at location: SourceLocation) throws {
        let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)??.intValue
        guard let size else { throw Diagnostic.error(location, "cannot read \(shown)") }
        if size > StatementSplitter.maximumFileBytes {
            throw Diagnostic.error(location, "\(shown) is \(size) bytes; the limit is \(StatementSplitter.maximumFileBytes) bytes")
        }
    }

    /// The statements of preprocessed text whose unmarked lines belong to `file`.
    func statements(of text: [UInt8], file: URL) throws -> [RawStatement] {
        let pieces = try LineMarkers.pieces(of: text, file: display(file))
        var out: [RawStatement] = []
        for piece in pieces {
            let name: String
            switch piece.origin {
            case .unit:
                name = display(file)
            case .named(let written, let marker):
                if written.hasPrefix("<") && written.hasSuffix(">") {
                    // cpp's `<built-in>` and `<command-line>` hold no text of their own.
                    if piece.text.contains(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }) {
                        throw Diagnostic.error(marker, "text under the line marker \"\(written)\": not a file of the source tree")
                    }
                    continue
                }
                let base = roots.first ?? file.deletingLastPathComponent()
                let url = (written.hasPrefix("/") ? URL(fileURLWithPath: written) : base.appendingPathComponent(written)).standardizedFileURL
                let real = FileManager.default.fileExists(atPath: url.path) ? url.resolvingSymlinksInPath() : url
                guard allows(real) else {
                    throw Diagnostic.error(marker, "line marker names \(written), outside the source tree")
                }
                name = display(real)
            }
            // gas reads the text (cpp's output, or the file as it is) with its own comments.
            let code = try GasComments.blanked(piece.text, file: name, firstLine: piece.firstLine)
            let statements = try StatementSplitter.split(text: String(decoding: code, as: UTF8.self), file: name, firstLine: piece.firstLine, commentsRemoved: true)
            for s in statements {
                // After cpp a `#word` is no directive: gas would take it for a comment.
                if case .operation(let head, _, _) = s, head.text.utf8.first == UInt8(ascii: "#") {
                    throw Diagnostic.error(head.location, "'\(head.text)' is left in the preprocessed text: cpp did not take it for a directive, and gas would drop it as a comment; write it as a comment ('# text') or fix the directive")
                }
            }
            out += statements
        }
        return out
    }
}

/// gcc's line markers: `# LINE "FILE" FLAGS` (and `#line LINE "FILE"`) say that the
/// next line is LINE of FILE.
public enum LineMarkers {
    public enum Origin: Equatable {
        /// Lines before any marker: the file itself.
        case unit
        /// The name a marker wrote, with where the marker is in the text.
        case named(String, SourceLocation)
    }

    public struct Piece {
        public var origin: Origin
        public var firstLine: Int
        /// The lines, joined by newlines.
        public var text: [UInt8]
        public var lineCount = 0
    }

    /// Bounds a marker's line number: the splitter keeps lines in 32 bits.
    public static let maximumLine = 1 << 30

    /// Cuts text at its markers; the marker lines themselves are left out.
    public static func pieces(of text: [UInt8], file: String) throws -> [Piece] {
        var pieces: [Piece] = [Piece(origin: .unit, firstLine: 1, text: [])]
        var start = 0
        var outputLine = 1
        while start < text.count {
            var end = start
            while end < text.count, text[end] != 0x0A { end += 1 }
            let line = text[start..<end]
            if let (number, name) = try marker(line, at: SourceLocation(file: file, line: outputLine, column: 1)) {
                let origin: Origin = .named(name, SourceLocation(file: file, line: outputLine, column: 1))
                pieces.append(Piece(origin: origin, firstLine: number, text: []))
            } else {
                let last = pieces.count - 1
                if pieces[last].lineCount > 0 { pieces[last].text.append(0x0A) }
                pieces[last].text.append(contentsOf: line)
                pieces[last].lineCount += 1
            }
            start = end + 1
            outputLine += 1
        }
        return pieces.filter { $0.lineCount > 0 }
    }

    /// `# 12 "name" 1 3` → (12, "name"); nil for a line that is no marker.
    static func marker(_ line: ArraySlice<UInt8>, at location: SourceLocation) throws -> (Int, String)? {
        var k = line.startIndex
        func skipBlanks() { while k < line.endIndex, line[k] == 0x20 || line[k] == 0x09 { k += 1 } }
        guard k < line.endIndex, line[k] == UInt8(ascii: "#") else { return nil }
        k += 1
        skipBlanks()
        if line[k...].starts(with: "line".utf8) {
            k += 4
            guard k < line.endIndex, line[k] == 0x20 || line[k] == 0x09 else { return nil }
            skipBlanks()
        }
        let digitsStart = k
        while k < line.endIndex, line[k].isASCIIDigit { k += 1 }
        guard k > digitsStart, k == line.endIndex || line[k] == 0x20 || line[k] == 0x09 || line[k] == 0x0D else { return nil }
        guard k - digitsStart <= 10, let number = Int(String(decoding: line[digitsStart..<k], as: UTF8.self)), number <= maximumLine else {
            throw Diagnostic.error(location, "line marker with a line number out of range")
        }
        skipBlanks()
        guard k < line.endIndex, line[k] == UInt8(ascii: "\"") else {
            // gas would take `# 12 …` for a line marker too: never a silent comment.
            throw Diagnostic.error(location, "'# \(number)' at the start of a line is a line marker to gas, but no quoted file name follows: write a comment that does not start with a number")
        }
        // The name as cpp escapes it: `\\` and `\"`.
        var name: [UInt8] = []
        k += 1
        var closed = false
        while k < line.endIndex {
            let c = line[k]
            if c == UInt8(ascii: "\\"), k + 1 < line.endIndex { name.append(line[k + 1]); k += 2; continue }
            if c == UInt8(ascii: "\"") { closed = true; k += 1; break }
            name.append(c)
            k += 1
        }
        guard closed else { throw Diagnostic.error(location, "line marker with an unterminated file name") }
        // Flags: 1 enter, 2 return, 3 system header, 4 extern "C".
        while k < line.endIndex {
            let c = line[k]
            guard c == 0x20 || c == 0x09 || c == 0x0D || (c >= UInt8(ascii: "1") && c <= UInt8(ascii: "4")) else {
                throw Diagnostic.error(location, "malformed line marker")
            }
            k += 1
        }
        return (number, String(decoding: name, as: UTF8.self))
    }
}

/// gas's comments in an assembly file, taken out before it is split into statements
/// (the spec language's own comment rules are cpp's, and differ): `#` anywhere outside
/// a string or character constant comments out the rest of the line, even a `/*` there;
/// `/* … */` is a comment that may span lines; `/` where a statement starts (at the
/// start of a line, after `;` or after a label) comments out the rest of the line.
/// What gas reads otherwise, or rejects, is an error here rather than a guess: `//`
/// after a statement started (gas reads a division), `\` at the end of a line (gas does
/// not join lines), a string not closed on its line.
public enum GasComments {
    /// The text with each comment blanked: newlines stay, and a comment's character is
    /// one blank, so lines and columns are unchanged. A `#word` that starts a line is
    /// kept (without what follows it) for the reader to report.
    public static func blanked(_ text: [UInt8], file: String, firstLine: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        let newline = UInt8(ascii: "\n"), blank = UInt8(ascii: " ")
        var line = firstLine
        var column = 1
        var lineStart = 0
        // Only blanks since the start of a statement (a line, `;`, a label's `:`).
        var atStatementStart = true
        var statementStart = 0
        func location() -> SourceLocation { SourceLocation(file: file, line: line, column: column) }
        func isScalarStart(_ b: UInt8) -> Bool { !b.isUTF8Continuation }
        /// Blanks text[from..<to] (a scalar is one blank; newlines are kept).
        func blankOut(_ from: Int, _ to: Int) {
            for b in text[from..<to] {
                if b == newline { out.append(newline); line += 1; column = 1 } else if isScalarStart(b) { out.append(blank); column += 1 }
            }
        }
        func copy(_ from: Int, _ to: Int) {
            for b in text[from..<to] {
                out.append(b)
                if b == newline { line += 1; column = 1 } else if isScalarStart(b) { column += 1 }
            }
        }
        func endOfLine(_ from: Int) -> Int {
            var e = from
            while e < text.count, text[e] != newline { e += 1 }
            return e
        }
        var k = 0
        while k < text.count {
            let c = text[k]
            switch c {
            case newline:
                copy(k, k + 1)
                k += 1
                lineStart = k
                statementStart = k
                atStatementStart = true
            case UInt8(ascii: "\""):
                // A string, with gas's `\` escapes, closed on its line.
                var j = k + 1
                while j < text.count, text[j] != UInt8(ascii: "\""), text[j] != newline {
                    j += text[j] == UInt8(ascii: "\\") && j + 1 < text.count && text[j + 1] != newline ? 2 : 1
                }
                guard j < text.count, text[j] == UInt8(ascii: "\"") else {
                    throw Diagnostic.error(location(), "string not closed on its line")
                }
                copy(k, j + 1)
                k = j + 1
                atStatementStart = false
            case UInt8(ascii: "'"):
                let e = Lexer.endOfCharacterConstant(text, quoteAt: k, end: endOfLine(k))
                copy(k, e)
                k = e
                atStatementStart = false
            case UInt8(ascii: "/") where k + 1 < text.count && text[k + 1] == UInt8(ascii: "*"):
                var j = k + 2
                while j + 1 < text.count, !(text[j] == UInt8(ascii: "*") && text[j + 1] == UInt8(ascii: "/")) { j += 1 }
                guard j + 1 < text.count else { throw Diagnostic.error(location(), "unterminated /* comment") }
                let spansLines = text[k..<j].contains(newline)
                blankOut(k, j + 2)
                k = j + 2
                if spansLines { atStatementStart = true; statementStart = k }
            case UInt8(ascii: "#"):
                let e = endOfLine(k)
                let firstOnLine = text[lineStart..<k].allSatisfy(\.isSpecSpace)
                if firstOnLine, k + 1 < text.count, text[k + 1].isASCIILetter || text[k + 1] == UInt8(ascii: "_") {
                    // `#word`: left for the reader's error (no directive reaches gas).
                    var w = k + 1
                    while w < e, text[w].isIdentChar { w += 1 }
                    copy(k, w)
                    blankOut(w, e)
                } else {
                    blankOut(k, e)
                }
                k = e
            case UInt8(ascii: "/"):
                if atStatementStart {
                    let e = endOfLine(k)
                    blankOut(k, e)
                    k = e
                } else if k + 1 < text.count, text[k + 1] == UInt8(ascii: "/") {
                    throw Diagnostic.error(location(), "'//' after the start of a statement: gas does not read it as a comment here (it reads a division); use '#' or '/* */'")
                } else {
                    copy(k, k + 1)
                    k += 1
                }
            case UInt8(ascii: "\\") where k + 1 < text.count && (text[k + 1] == newline || (text[k + 1] == UInt8(ascii: "\r") && k + 2 < text.count && text[k + 2] == newline)):
                throw Diagnostic.error(location(), "'\\' at the end of a line: gas does not join lines (cpp does, for a .S file)")
            case UInt8(ascii: ";"):
                copy(k, k + 1)
                k += 1
                atStatementStart = true
                statementStart = k
            case UInt8(ascii: ":"):
                // After a label, a statement starts.
                let word = text[statementStart..<k].drop(while: \.isSpecSpace)
                let isLabel = !word.isEmpty && word.allSatisfy { $0.isIdentChar || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "@") || $0 == UInt8(ascii: "(") || $0 == UInt8(ascii: ")") }
                copy(k, k + 1)
                k += 1
                if isLabel { atStatementStart = true; statementStart = k } else { atStatementStart = false }
            default:
                if !c.isSpecSpace { atStatementStart = false }
                copy(k, k + 1)
                k += 1
            }
        }
        return out
    }
}
