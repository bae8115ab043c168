import AssemblySource
import Foundation
import SpecSyntax

/// `.source "FILE" [-I DIR] [-D NAME[=VALUE]] [-include FILE]…`: the code of a unit is a
/// real assembly file. The sidecar spec keeps what assembly cannot say (`.path`,
/// `.extern`, `.percpu`, `.expect`); the file's statements are elaborated where the
/// directive stands, with their locations in the `.S` file and its headers.
extension Elaborator {
    /// The directory `.source` names resolve against first (`--tree`, else the current
    /// directory), symlink-free.
    var sourceTree: URL {
        URL(fileURLWithPath: options.sourceTree ?? FileManager.default.currentDirectoryPath).standardizedFileURL.resolvingSymlinksInPath()
    }

    func readSource(_ head: Located, _ rest: Located, from including: SourceFile, notes: [Diagnostic.Note]) throws -> ([RawStatement], URL) {
        func err(_ loc: SourceLocation, _ m: String) -> Diagnostic { Diagnostic(at: loc, m, notes: notes) }
        let words = try sourceWords(rest, notes: notes)
        guard let nameWord = words.first, nameWord.quoted else {
            throw err(rest.location, ".source needs a quoted file name: .source \"arch/x86/entry/entry_64.S\" [-I DIR] [-D NAME[=VALUE]] [-include FILE]")
        }
        let tree = sourceTree
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: tree.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw err(head.location, "the source tree \(tree.path) is not a directory (--tree)")
        }
        let file = try resolveTreeFile(nameWord.word, from: including, tree: tree, what: "source file", at: nameWord.located.location, notes: notes)
        var flags = CPreprocessor.Flags()
        // The command line's flags come first, as kbuild's do before a file's own.
        for d in options.includeDirectories {
            flags.includeDirectories.append(try resolveTreeDirectory(d.text, tree: tree, at: d.location, notes: notes))
        }
        flags.defines += options.defines.map(\.text)
        for f in options.forcedIncludes {
            flags.forcedIncludes.append(try resolveTreeFile(f.text, from: nil, tree: tree, what: "-include file", at: f.location, notes: notes))
        }
        var k = 1
        func value(_ flag: Located, joined: String) throws -> Located {
            if !joined.isEmpty {
                return Located(joined, SourceLocation(file: flag.location.file, line: flag.location.line, column: flag.location.column + flag.text.count - joined.count))
            }
            guard k < words.count else { throw err(flag.location, "\(flag.text) needs a value") }
            k += 1
            return words[k - 1].located
        }
        while k < words.count {
            let w = words[k].located
            k += 1
            if w.text == "-include" {
                let f = try value(w, joined: "")
                flags.forcedIncludes.append(try resolveTreeFile(f.text, from: including, tree: tree, what: "-include file", at: f.location, notes: notes))
            } else if w.text.hasPrefix("-I") {
                let d = try value(w, joined: String(w.text.dropFirst(2)))
                flags.includeDirectories.append(try resolveTreeDirectory(d.text, tree: tree, at: d.location, notes: notes))
            } else if w.text.hasPrefix("-D") {
                let d = try value(w, joined: String(w.text.dropFirst(2)))
                let name = d.text.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                guard let first = name.unicodeScalars.first, StatementSplitter.isIdentStart(first), first != ".",
                      name.unicodeScalars.allSatisfy(StatementSplitter.isIdentChar) else {
                    throw err(d.location, "-D \(d.text): expected NAME or NAME=VALUE, NAME an identifier")
                }
                flags.defines.append(d.text)
            } else {
                throw err(w.location, "unknown .source flag '\(w.text)' (expected -I DIR, -D NAME[=VALUE] or -include FILE)")
            }
        }
        var reader = AssemblyReader(roots: [tree, loader.root], display: { [self] in relativeDisplay($0) })
        reader.preprocessor.timeoutSeconds = options.preprocessorTimeoutSeconds
        let source = try reader.read(file, flags: flags, at: nameWord.located.location)
        for f in source.filesRead where !program.files.contains(f) { program.files.append(f) }
        // The feature words the kernel's headers give the fence features: a body that is
        // not a plain constant expression (unexpected) names no word, so nothing is trusted.
        for (name, body) in source.definitions {
            guard let e = try? Expr.parse(Located(body, nameWord.located.location)), let v = try? evaluate(e) else { continue }
            program.featureNames[Program.featureWord(v), default: []].insert(name)
        }
        return (source.statements, file)
    }

    /// The statements of an assembly file, as gas reads them.
    func processAssembly(_ statements: [RawStatement], notes: [Diagnostic.Note], file: SourceFile) throws {
        // gas starts every file in .text, 64-bit (the kernel assembles with --64).
        let saved = (section, previousSection, sectionStack, codeMode)
        (section, previousSection, sectionStack, codeMode) = (.text, .text, [], nil)
        assemblyDepth += 1
        defer {
            assemblyDepth -= 1
            (section, previousSection, sectionStack, codeMode) = saved
        }
        try process(statements, arguments: nil, notes: notes, macroStack: [], isUnit: false, file: file)
    }

    /// A word of `.source`'s operands, with whether it was quoted.
    struct SourceWord {
        var located: Located
        var quoted: Bool
        var word: String { located.text }
    }

    /// Words split at blanks; `"…"` keeps blanks and is taken without its quotes.
    func sourceWords(_ rest: Located, notes: [Diagnostic.Note]) throws -> [SourceWord] {
        var out: [SourceWord] = []
        let scalars = Array(rest.text.unicodeScalars)
        var k = 0
        while k < scalars.count {
            while k < scalars.count, scalars[k] == " " || scalars[k] == "\t" { k += 1 }
            guard k < scalars.count else { break }
            let start = k
            let loc = SourceLocation(file: rest.location.file, line: rest.location.line, column: rest.location.column + start)
            var word = String.UnicodeScalarView()
            var quoted = false
            if scalars[k] == "\"" {
                quoted = true
                k += 1
                while k < scalars.count, scalars[k] != "\"" { word.append(scalars[k]); k += 1 }
                guard k < scalars.count else { throw Diagnostic(at: loc, "unterminated string", notes: notes) }
                k += 1
            } else {
                while k < scalars.count, !(scalars[k] == " " || scalars[k] == "\t") { word.append(scalars[k]); k += 1 }
            }
            out.append(SourceWord(located: Located(String(word), loc), quoted: quoted))
        }
        return out
    }

    /// A file named relative to the tree, else to the spec that names it; it must lie in
    /// the tree or the spec root.
    func resolveTreeFile(_ name: String, from including: SourceFile?, tree: URL, what: String,
                         at location: SourceLocation? = nil, notes: [Diagnostic.Note]) throws -> URL {
        let loc = location ?? SourceLocation(file: "<command line>", line: 1, column: 1)
        guard !name.isEmpty else { throw Diagnostic(at: loc, "empty \(what) name", notes: notes) }
        var candidates = [name.hasPrefix("/") ? URL(fileURLWithPath: name) : tree.appendingPathComponent(name)]
        if let including, !name.hasPrefix("/") { candidates.append(including.url.deletingLastPathComponent().appendingPathComponent(name)) }
        var isDirectory: ObjCBool = false
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path, isDirectory: &isDirectory) && !isDirectory.boolValue }) else {
            throw Diagnostic(at: loc, "\(what) '\(name)' not found (looked for \(candidates.map { $0.standardizedFileURL.path }.joined(separator: " and ")))", notes: notes)
        }
        let real = found.standardizedFileURL.resolvingSymlinksInPath()
        guard contained(real, in: tree) || loader.contains(real) else {
            throw Diagnostic(at: loc, "\(what) '\(name)' is \(real.path), outside the source tree \(tree.path) and the spec root \(loader.root.path)", notes: notes)
        }
        // A pipe or a device would never end.
        guard (try? FileManager.default.attributesOfItem(atPath: real.path)[.type] as? FileAttributeType) == .typeRegular else {
            throw Diagnostic(at: loc, "\(what) '\(name)' is not a regular file", notes: notes)
        }
        return real
    }

    /// `-I DIR`: a directory of the tree.
    func resolveTreeDirectory(_ name: String, tree: URL, at location: SourceLocation, notes: [Diagnostic.Note]) throws -> URL {
        let url = (name.hasPrefix("/") ? URL(fileURLWithPath: name) : tree.appendingPathComponent(name)).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Diagnostic(at: location, "-I \(name): no such directory (\(url.path))", notes: notes)
        }
        let real = url.resolvingSymlinksInPath()
        guard real.path == tree.path || contained(real, in: tree) || loader.contains(real) else {
            throw Diagnostic(at: location, "-I \(name) is \(real.path), outside the source tree \(tree.path)", notes: notes)
        }
        return real
    }

    func contained(_ real: URL, in root: URL) -> Bool {
        real.path.hasPrefix(root.path.hasSuffix("/") ? root.path : root.path + "/")
    }
}
