/// A position in a spec file. `file` is the path as the user named it, so editors
/// and CI problem matchers can open it.
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }
}

/// A problem with the input, as a value: it is printed by the reporter, never on the way.
public struct Diagnostic: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning, note }
    public var severity: Severity
    public var location: SourceLocation
    public var message: String
    /// Where a macro or include was expanded from, innermost first.
    public var notes: [Note]

    public struct Note: Hashable, Sendable {
        public var location: SourceLocation
        public var message: String
        public init(location: SourceLocation, message: String) {
            self.location = location
            self.message = message
        }
    }

    public init(_ severity: Severity = .error, at location: SourceLocation, _ message: String, notes: [Note] = []) {
        self.severity = severity
        self.location = location
        self.message = message
        self.notes = notes
    }

    public static func error(_ location: SourceLocation, _ message: String) -> Diagnostic {
        Diagnostic(.error, at: location, message)
    }

    /// `file:line:col: error: message`, the form compilers print.
    public var description: String {
        var s = "\(location): \(severity.rawValue): \(message)"
        for n in notes { s += "\n\(n.location): note: \(n.message)" }
        return s
    }
}
