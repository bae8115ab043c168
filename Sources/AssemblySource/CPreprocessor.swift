#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import SpecSyntax

/// The system C preprocessor, run the way kbuild runs it on a `.S` file
/// (`cc -E -x assembler-with-cpp -D__ASSEMBLY__`). The tool never preprocesses C text
/// itself: cpp's behaviour is the kernel's behaviour.
///
/// The input is untrusted: the file and every flag come from a spec in a pull request.
/// So flags are passed as separate words (no shell), system headers are off
/// (`-nostdinc`), cpp runs in a process group of its own under a time and output bound,
/// and the files it read (its `-MD` dependency list) must all lie in an allowed root.
public struct CPreprocessor: Sendable {
    /// The compiler driver, looked up on PATH like make's `$(CC)`.
    public var compiler: String = "cc"
    public var timeoutSeconds: Double = 30
    /// Preprocessed output larger than this is refused (and cpp is stopped).
    public static let maximumOutputBytes = 16 << 20

    public init() {}

    /// What one run produced.
    public struct Output: Sendable {
        public var text: [UInt8]
        /// Every file cpp read, absolute and symlink-free, in the order cpp lists them.
        public var filesRead: [URL]
        /// The bodies of the feature-word macros (`isWantedDefinition`) as the unit ends.
        public var definitions: [String: String] = [:]
    }

    /// Macros whose values the checker needs after preprocessing: the CPU feature words,
    /// which say what an ALTERNATIVE's feature is (invariant spec-fence trusts a fence
    /// patched in on X86_FEATURE_FENCE_SWAPGS_* and names any other in its message).
    public static func isWantedDefinition(_ name: Substring) -> Bool { name.hasPrefix("X86_FEATURE_") }

    /// Flags, each already checked by the caller.
    public struct Flags: Sendable, Hashable {
        public var includeDirectories: [URL] = []
        /// `NAME` or `NAME=VALUE`.
        public var defines: [String] = []
        public var forcedIncludes: [URL] = []
        public init() {}
    }

    /// Preprocesses `file`. Errors are diagnostics: cpp's own first error mapped to its
    /// file:line:col (`display` names a file), or one at `location` (the `.source` line).
    public func run(_ file: URL, flags: Flags, at location: SourceLocation, display: (URL) -> String) throws -> Output {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-cpp-\(UUID().uuidString)")
        do { try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true) } catch {
            throw Diagnostic.error(location, "cannot make a scratch directory for the C preprocessor: \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outPath = scratch.appendingPathComponent("out.s").path
        let errPath = scratch.appendingPathComponent("err.txt").path
        let depPath = scratch.appendingPathComponent("deps.d").path
        let unitArguments = ["-x", "assembler-with-cpp", "-D__ASSEMBLY__", "-nostdinc"]
            + flags.includeDirectories.flatMap { ["-I", $0.path] } + flags.defines.flatMap { ["-D", $0] }
            + flags.forcedIncludes.flatMap { ["-include", $0.path] }
        let arguments = [compiler, "-E"] + unitArguments + ["-MD", "-MF", depPath, "-MT", "unit", "-o", outPath, file.path]
        let status = try spawnAndWait(arguments, stdoutPath: errPath, stderrPath: errPath, outputPath: outPath, at: location)
        let errors = String(decoding: (FileManager.default.contents(atPath: errPath) ?? Data()).prefix(64 << 10), as: UTF8.self)
        guard status == 0 else {
            throw Self.diagnostic(fromCompilerMessages: errors, status: status, at: location, display: display)
        }
        guard let data = FileManager.default.contents(atPath: outPath) else {
            throw Diagnostic.error(location, "the C preprocessor wrote no output")
        }
        if data.count > Self.maximumOutputBytes {
            throw Diagnostic.error(location, "preprocessed output is \(data.count) bytes; the limit is \(Self.maximumOutputBytes) bytes")
        }
        let deps = String(decoding: FileManager.default.contents(atPath: depPath) ?? Data(), as: UTF8.self)
        let files = Self.dependencies(deps).map { URL(fileURLWithPath: $0).standardizedFileURL.resolvingSymlinksInPath() }
        var out = Output(text: [UInt8](data), filesRead: files)
        // Only a unit with ALTERNATIVE sites needs the feature words: a second run, with
        // the same flags, that prints the macros defined at the end of the unit.
        if data.range(of: Data(".altinstructions".utf8)) != nil {
            let macrosPath = scratch.appendingPathComponent("macros.h").path
            let dump = [compiler, "-E", "-dM"] + unitArguments + ["-o", macrosPath, file.path]
            guard try spawnAndWait(dump, stdoutPath: errPath, stderrPath: errPath, outputPath: macrosPath, at: location) == 0 else {
                throw Diagnostic.error(location, "the C preprocessor failed listing the unit's macros")
            }
            out.definitions = Self.definitions(String(decoding: FileManager.default.contents(atPath: macrosPath) ?? Data(), as: UTF8.self),
                                               wanted: Self.isWantedDefinition)
        }
        return out
    }

    /// The bodies of the object-like macros `wanted` in `-dM` output (`#define NAME BODY`).
    static func definitions(_ text: String, wanted: (Substring) -> Bool) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("#define ") {
            let rest = line.dropFirst("#define ".count)
            let name = rest.prefix { $0 != " " && $0 != "(" }
            guard wanted(name), rest.dropFirst(name.count).first == " " else { continue }
            out[String(name)] = String(rest.dropFirst(name.count + 1))
        }
        return out
    }

    /// The file names of a make rule `unit: a b \` + newline + ` c` as cpp's `-MD` writes
    /// it (blanks in names escaped with `\`, `$` doubled).
    static func dependencies(_ rule: String) -> [String] {
        guard let colon = rule.range(of: ":") else { return [] }
        var names: [String] = []
        var current = ""
        var chars = rule[colon.upperBound...].makeIterator()
        while let c = chars.next() {
            if c == "\\" {
                guard let n = chars.next() else { break }
                if n == "\n" { continue }
                current.append(n == " " || n == "#" || n == "\\" ? n : "\\")
                if !(n == " " || n == "#" || n == "\\") { current.append(n) }
                continue
            }
            if c == "$", let n = chars.next() {
                current.append(n == "$" ? "$" : c)
                if n != "$" { current.append(n) }
                continue
            }
            if c == " " || c == "\t" || c == "\n" {
                if !current.isEmpty { names.append(current); current = "" }
                continue
            }
            current.append(c)
        }
        if !current.isEmpty { names.append(current) }
        return names
    }

    /// cpp's first `FILE:LINE:COL: error: …` (or `fatal error`) as a diagnostic.
    static func diagnostic(fromCompilerMessages text: String, status: Int32, at location: SourceLocation, display: (URL) -> String) -> Diagnostic {
        for line in text.split(separator: "\n") {
            for marker in [": fatal error: ", ": error: "] {
                guard let r = line.range(of: marker) else { continue }
                let position = line[..<r.lowerBound].split(separator: ":", omittingEmptySubsequences: false)
                let message = "cpp: " + line[r.upperBound...]
                if position.count >= 3, let l = Int(position[position.count - 2]), let c = Int(position[position.count - 1]) {
                    let name = position.dropLast(2).joined(separator: ":")
                    return Diagnostic.error(SourceLocation(file: display(URL(fileURLWithPath: name)), line: l, column: c), message)
                }
                return Diagnostic.error(location, message)
            }
        }
        let first = text.split(separator: "\n").first.map { ": \($0)" } ?? ""
        return Diagnostic.error(location, "the C preprocessor failed (exit status \(status))\(first)")
    }

    /// Runs `arguments` (argv[0] found on PATH) in a new process group with stdin from
    /// /dev/null; kills the group when it runs past the time bound or writes more than
    /// the output bound. Returns the exit status (a signal death is reported as 128+N).
    func spawnAndWait(_ arguments: [String], stdoutPath: String, stderrPath: String, outputPath: String, at location: SourceLocation) throws -> Int32 {
        #if canImport(Glibc)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        // A small environment: CPATH and friends would add include directories.
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let environment = ["PATH=\(path)", "LC_ALL=C"]
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let spawned = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            throw Diagnostic.error(location, "cannot run the C preprocessor '\(arguments[0])': \(String(cString: strerror(spawned)))")
        }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var status: Int32 = 0
        var pause: useconds_t = 200
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR {
                throw Diagnostic.error(location, "lost track of the C preprocessor: \(String(cString: strerror(errno)))")
            }
            let written = (try? FileManager.default.attributesOfItem(atPath: outputPath)[.size] as? NSNumber)??.intValue ?? 0
            let tooLong = Date() > deadline
            if tooLong || written > Self.maximumOutputBytes {
                kill(-pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw Diagnostic.error(location, tooLong
                    ? "the C preprocessor ran longer than \(Int(timeoutSeconds)) seconds (an include of a device or a runaway expansion?); stopped"
                    : "preprocessed output passed \(Self.maximumOutputBytes) bytes; stopped")
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        // cc waits for the cc1 it started, so nothing of the group is left to stop.
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
        #else
        throw Diagnostic.error(location, "running the C preprocessor is supported on Linux only")
        #endif
    }
}
