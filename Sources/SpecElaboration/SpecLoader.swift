import Foundation
import SpecSyntax

/// Reads spec files from inside the spec root only: spec files come from untrusted pull
/// requests, so an include may not reach outside the tree being checked.
public struct SpecLoader: Sendable {
    public let root: URL

    public init(root: String) {
        self.root = URL(fileURLWithPath: root).standardizedFileURL.resolvingSymlinksInPath()
    }

    /// Resolves `name` relative to the including file's directory and checks it stays
    /// under the root.
    public func resolve(_ name: String, from including: URL, at location: SourceLocation) throws -> URL {
        let url = including.deletingLastPathComponent().appendingPathComponent(name).standardizedFileURL
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw Diagnostic.error(location, "included file '\(name)' not found (looked for \(url.path))")
        }
        let real = url.resolvingSymlinksInPath()
        guard contains(real) else {
            throw Diagnostic.error(location, "include of '\(name)' escapes the spec root \(root.path)")
        }
        return real
    }

    /// The real file behind a spec unit, checked like an include: a unit that is a
    /// symlink out of the root would let a pull request make the checker read any file.
    public func resolveUnit(_ url: URL, displayName: String) throws -> URL {
        let real = url.standardizedFileURL.resolvingSymlinksInPath()
        guard contains(real) else {
            throw Diagnostic.error(SourceLocation(file: displayName, line: 1, column: 1),
                                   "spec unit '\(displayName)' is a link to \(real.path), outside the spec root \(root.path)")
        }
        return real
    }

    /// Whether a symlink-free path lies under the root.
    public func contains(_ real: URL) -> Bool {
        real.path.hasPrefix(root.path.hasSuffix("/") ? root.path : root.path + "/")
    }

    /// Reads a file as UTF-8 text, refusing binaries and huge files.
    public func read(_ url: URL, displayName: String, from location: SourceLocation? = nil) throws -> String {
        let here = location ?? SourceLocation(file: displayName, line: 1, column: 1)
        let attrs = try? FileManager.default.attributesOfItem(atPath: url.path)
        if let size = attrs?[.size] as? NSNumber, size.intValue > StatementSplitter.maximumFileBytes {
            throw Diagnostic.error(SourceLocation(file: displayName, line: 1, column: 1),
                "spec file is \(size.intValue) bytes; the limit is \(StatementSplitter.maximumFileBytes) bytes")
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw Diagnostic.error(here, "cannot read \(displayName)")
        }
        if data.count > StatementSplitter.maximumFileBytes {
            throw Diagnostic.error(SourceLocation(file: displayName, line: 1, column: 1),
                "spec file is \(data.count) bytes; the limit is \(StatementSplitter.maximumFileBytes) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            // Name the line of the first bad byte so the user can look at it.
            var line = 1
            var column = 1
            for chunk in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
                if String(data: Data(chunk), encoding: .utf8) == nil {
                    // The column of the first byte that does not decode.
                    let bytes = [UInt8](chunk)
                    var k = 0
                    while k < bytes.count, String(bytes: bytes[..<(k + 1)], encoding: .utf8) != nil || (k + 1 < bytes.count && String(bytes: bytes[..<min(bytes.count, k + 4)], encoding: .utf8) != nil) { k += 1 }
                    column = k + 1
                    break
                }
                line += 1
            }
            throw Diagnostic.error(SourceLocation(file: displayName, line: line, column: column),
                "spec file is not valid UTF-8 text")
        }
        return text
    }
}
