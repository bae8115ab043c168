import Foundation
import SpecSyntax

/// Reads spec files from inside the spec root only: spec files come from untrusted pull
/// requests, so an include may not reach outside the tree being checked.
public struct SpecLoader: Sendable {
    public let root: URL

    public init(root: String) {
        self.root = URL(fileURLWithPath: root).standardizedFileURL.resolvingSymlinksInPath()
    }

    /// The file whose presence makes a directory a spec root.
    public static let rootMarker = ".ptregs-root"

    /// The spec root of an input (a spec file or a directory of them), so that a
    /// subdirectory can be checked on its own and still include from its siblings.
    /// Walking up from the input, the first directory that holds a `.ptregs-root` file,
    /// or else the top of the git work tree (the directory holding `.git`), which the
    /// walk never passes: a pull request can add or move a marker inside the checkout,
    /// but that only ever makes the root smaller than the checkout. Outside a work tree
    /// with no marker: a directory input itself; a file's current directory when the
    /// file lies under it, else the file's own directory.
    public static func root(of input: String) -> String {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = fm.fileExists(atPath: input, isDirectory: &isDirectory)
        let url = URL(fileURLWithPath: input).standardizedFileURL
        var dir = (exists && isDirectory.boolValue ? url : url.deletingLastPathComponent()).resolvingSymlinksInPath()
        while true {
            if fm.fileExists(atPath: dir.appendingPathComponent(rootMarker).path)
                || fm.fileExists(atPath: dir.appendingPathComponent(".git").path) {
                return dir.path
            }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { break }
            dir = parent
        }
        if exists && isDirectory.boolValue { return input }
        let cwd = fm.currentDirectoryPath
        return url.path.hasPrefix(cwd + "/") ? cwd : url.deletingLastPathComponent().path
    }

    /// What a spec may read inside the root, which can be a whole checkout: only spec
    /// files (`.ptsh`, `.pts`), and no hidden file or directory that the file reaching
    /// for it (in directory `from`) is not itself inside, so that neither `.git/config`
    /// (a checkout's token) nor a credentials file an earlier CI step left in the work
    /// tree can be pulled into a spec and quoted in a diagnostic.
    func isReadableSpecFile(_ real: URL, from: URL) -> Bool {
        guard ["ptsh", "pts"].contains(real.pathExtension) else { return false }
        let fromPath = from.standardizedFileURL.resolvingSymlinksInPath().path
        var prefix = root.path
        for component in real.path.dropFirst(root.path.count).split(separator: "/") {
            prefix += "/" + component
            if component.hasPrefix("."), fromPath != prefix, !fromPath.hasPrefix(prefix + "/") { return false }
        }
        return true
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
        guard isReadableSpecFile(real, from: including.deletingLastPathComponent()) else {
            throw Diagnostic.error(location, "include of '\(name)' is not a spec file: only .ptsh and .pts files are read, and no hidden file or directory the including file is not in")
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
        guard isReadableSpecFile(real, from: url.deletingLastPathComponent()) else {
            throw Diagnostic.error(SourceLocation(file: displayName, line: 1, column: 1),
                                   "spec unit '\(displayName)' is \(real.path), not a spec file: only .pts and .ptsh files are read, and no hidden file or directory the link is not in")
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
