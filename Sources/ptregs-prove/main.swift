import ArgumentParser
import Foundation
import PtregsProve
import SpecElaboration
import SpecSyntax

/// The thin CLI: options in, `Checker` does the work, `TextReport` prints.
struct PtregsProveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ptregs-prove",
        abstract: "Prove stack-layout invariants of kernel entry/exit assembly specs.",
        discussion: """
        Exit codes: 0 every verdict as expected, 1 a violation (or an expected violation \
        that now proves), 2 bad input or usage, 3 an unknown verdict (timeout, \
        unsupported construct, loop).
        Invariants (--invariant NAME, .expect NAME …):
        \(InvariantRegistry.all.map { "  \($0.invariant.rawValue): \($0.help)" }.joined(separator: "\n"))
        The spec root (nothing outside it is read): --root, else the nearest directory \
        above each input that holds a .ptregs-root file, else the top of its git work tree.
        """,
        version: JSONReport.toolVersion)

    @Argument(help: "Spec files (.pts) or directories to search for them.")
    var inputs: [String] = ["Specs"]

    @Option(help: ArgumentHelp("The spec root: includes and units must lie inside it (default: the nearest directory above each input holding a .ptregs-root file, else the top of its git work tree).", valueName: "dir"))
    var root: String?

    @Option(name: .customLong("path"), help: "Check only paths whose name contains this (repeatable).")
    var pathFilters: [String] = []

    @Option(name: .customLong("invariant"), help: "Check only this invariant (repeatable): \(InvariantRegistry.names).")
    var invariants: [String] = []

    @Option(help: "Per-query solver timeout in milliseconds; a query that runs out is an unknown verdict (exit 3).")
    var timeout: UInt32 = 10_000

    @Option(name: .customLong("memory-limit"), help: "Z3's memory bound in megabytes; past it a query is an unknown verdict.")
    var memoryLimit: UInt32 = 4096

    @Option(help: "Z3's deterministic work bound per query (rlimit); running out is an unknown verdict.")
    var rlimit: UInt32?

    @Option(name: .customShort("D"),
            help: ArgumentHelp("Define a constant for #if and expressions, as cc -D: NAME (worth 1) or NAME=VALUE (repeatable).", valueName: "name[=value]"))
    var defines: [String] = []

    @Flag(help: "Parse and elaborate only; prove nothing.")
    var parseOnly = false

    @Option(help: "Output format: text, json, sarif, junit or html (one self-contained page: the verdict table and each violation's trace with a picture of the stack at every step).")
    var format: String = "text"

    @Option(help: "Paths proved in parallel (default: the number of cores). Output does not depend on it.")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Print one path's full trace and every obligation with its outcome, even when it proves.")
    var explain: String?

    @Option(name: .customLong("emit-smt2"), help: "Write every query sent to Z3 as an SMT-LIB2 file into this directory.")
    var emitSMT2: String?

    @Option(help: ArgumentHelp("Write a certificate (SMT-LIB2, raw terms) for every proved verdict into this directory; `z3 FILE` and `cvc5 FILE` re-check each (unsat). A proof without a certificate is reported unknown.", valueName: "dir"))
    var certify: String?

    @Option(name: .customLong("changed-since"), help: "Re-check only specs affected by the git diff since this ref, and fail on specs whose modelled code changed (see --tree).")
    var changedSince: String?

    @Option(help: "The source tree (a kernel tree): where .source files, -I and -include resolve, and with --changed-since a directory in the git tree holding the modelled code.")
    var tree: String = "."

    @Option(name: .customShort("I"),
            help: ArgumentHelp("An include directory for the C preprocessor of .source files, relative to --tree (repeatable).", valueName: "dir"))
    var includeDirectories: [String] = []

    @Option(name: .customLong("include", withSingleDash: true),
            help: ArgumentHelp("A header the C preprocessor reads first for .source files, as cc -include (repeatable).", valueName: "file"))
    var forcedIncludes: [String] = []

    @Option(help: "Check only shard I of N (1-based), e.g. 2/4: a deterministic split for CI matrix jobs.")
    var shard: String?

    // Self-checks: each turns an optimisation off; the verdicts must not change.
    @Flag(name: .customLong("no-merge"), help: "Self-check: enumerate paths instead of merging states at joins.")
    var noMerge = false

    @Flag(name: .customLong("no-fast-path"), help: "Self-check: send every obligation to Z3, and take every counterexample the search finds from a Z3 model.")
    var noFastPath = false

    @Flag(name: .customLong("no-probes"), help: "Self-check: no concrete probe runs; every counterexample from the search, by cases or from a Z3 model.")
    var noProbes = false

    @Option(help: "Print the fingerprint of FILE:FIRST-LAST or FILE@SYMBOL for a spec's .models line, and exit.")
    var fingerprint: String?

    @Flag(name: .shortAndLong, help: "Show every violation's full trace, including expected ones, and every step's slots.")
    var verbose = false

    @Option(help: "Colour: auto (a terminal without NO_COLOR), always, never.")
    var color: String = "auto"

    mutating func run() throws {
        AllocatorTuning.keepFreedMemory()
        var options = ProverOptions()
        options.timeoutMilliseconds = timeout
        options.resourceLimit = rlimit
        options.memoryLimitMegabytes = memoryLimit
        if !invariants.isEmpty {
            var set: Set<Invariant> = []
            for name in invariants {
                guard let inv = Invariant.named(name) else {
                    throw ValidationError("unknown invariant '\(name)' (expected \(InvariantRegistry.namesChoice))")
                }
                set.insert(inv)
            }
            options.invariants = set
        }
        guard ["text", "json", "sarif", "junit", "html"].contains(format) else {
            throw ValidationError("unknown format '\(format)' (expected text, json, sarif, junit or html)")
        }
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        if let spec = fingerprint {
            print(try Self.fingerprint(spec))
            return
        }
        var shardSpec: (Int, Int)?
        if let s = shard {
            let parts = s.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 2, parts[1] >= 1, parts[0] >= 1, parts[0] <= parts[1] else {
                throw ValidationError("--shard takes I/N with 1 <= I <= N, e.g. 2/4")
            }
            shardSpec = (parts[0], parts[1])
        }
        if let root {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--root \(root): no such directory")
            }
        }
        guard ["auto", "always", "never"].contains(color) else { throw ValidationError("--color must be auto, always or never") }
        var elaboration = ElaborationOptions()
        var defined: Set<String> = []
        for (k, text) in defines.enumerated() {
            let d: ElaborationOptions.Definition
            do { d = try ElaborationOptions.Definition(parsing: text, index: k + 1) } catch let e as Diagnostic {
                throw ValidationError(e.message.hasPrefix("-D ") ? e.message : "-D \(text): \(e.message) (column \(e.location.column))")
            }
            guard defined.insert(d.name).inserted else { throw ValidationError("-D \(d.name) is given twice") }
            elaboration.defines.append(d)
        }
        elaboration.sourceTree = tree
        let commandLine = ElaborationOptions.Definition.file
        elaboration.includeDirectories = includeDirectories.enumerated().map {
            Located($1, SourceLocation(file: commandLine, line: defines.count + $0 + 1, column: 1))
        }
        elaboration.forcedIncludes = forcedIncludes.enumerated().map {
            Located($1, SourceLocation(file: commandLine, line: defines.count + includeDirectories.count + $0 + 1, column: 1))
        }
        options.smt2Directory = emitSMT2.map { URL(fileURLWithPath: $0) }
        options.certifyDirectory = certify.map { URL(fileURLWithPath: $0) }
        options.mergeStates = !noMerge
        options.structuralFastPath = !noFastPath
        options.concreteProbes = !noProbes
        // The plain text report shows an accepted violation as one line: its trace is
        // not recorded (it is still replayed).
        options.traceAcceptedViolations = format != "text" || verbose
        // The HTML report draws the stack before every step of a trace.
        options.stackPerStep = format == "html"
        var checker = Checker(options: options)
        checker.pathFilters = pathFilters
        checker.parseOnly = parseOnly
        checker.elaboration = elaboration
        checker.jobs = jobs
        checker.shard = shardSpec
        checker.root = root
        let colour: Bool
        switch color {
        case "always": colour = true
        case "never": colour = false
        default: colour = isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        }
        if let name = explain {
            let (jobs, elaborated) = checker.elaborate(inputs)
            guard elaborated.diagnostics.isEmpty else {
                print(TextReport(colour: colour).render(elaborated), terminator: "")
                throw ExitCode(2)
            }
            guard let job = jobs.first(where: { $0.path.name == name }) else {
                FileHandle.standardError.write(Data("ptregs-prove: no path named '\(name)'\n".utf8))
                throw ExitCode(2)
            }
            let e = Explainer.explain(program: job.program, path: job.path, options: options)
            print(TextReport(colour: colour, verbose: true).render(e), terminator: "")
            return
        }
        let report: CheckReport
        if let ref = changedSince {
            let outcome = ChangeGate(ref: ref, tree: tree).run(checker, inputs: inputs)
            report = outcome.report
            if !outcome.unaffected.isEmpty && format == "text" {
                FileHandle.standardError.write(Data("ptregs-prove: \(outcome.unaffected.count) spec unit(s) unaffected by the diff since \(ref): not re-checked\n".utf8))
            }
        } else {
            report = checker.check(inputs)
        }
        switch format {
        case "json": print(JSONReport.render(report), terminator: "")
        case "sarif": print(SARIFReport.render(report), terminator: "")
        case "junit": print(JUnitReport.render(report), terminator: "")
        case "html": print(HTMLReport.render(report), terminator: "")
        default: print(TextReport(colour: colour, verbose: verbose).render(report), terminator: "")
        }
        if !pathFilters.isEmpty && report.paths.isEmpty && report.diagnostics.isEmpty && !parseOnly {
            FileHandle.standardError.write(Data("ptregs-prove: no path matches \(pathFilters.joined(separator: ", "))\n".utf8))
            throw ExitCode(2)
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}

extension PtregsProveCommand {
    /// `FILE:FIRST-LAST` or `FILE@SYMBOL` → the fingerprint a `.models` line records.
    static func fingerprint(_ spec: String) throws -> String {
        var file = spec
        var lines: ClosedRange<Int>?
        var symbol: String?
        if let at = spec.lastIndex(of: "@") {
            file = String(spec[..<at])
            symbol = String(spec[spec.index(after: at)...])
        } else if let colon = spec.lastIndex(of: ":") {
            let parts = spec[spec.index(after: colon)...].split(separator: "-").compactMap { Int($0) }
            guard parts.count == 2, parts[0] >= 1, parts[0] <= parts[1] else { throw ValidationError("expected FILE:FIRST-LAST or FILE@SYMBOL") }
            file = String(spec[..<colon])
            lines = parts[0]...parts[1]
        }
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("cannot read \(file)")
        }
        guard let region = SourceFingerprint.region(of: text, lines: lines, symbol: symbol) else {
            throw ValidationError("\(symbol.map { "symbol \($0)" } ?? "those lines") not found in \(file)")
        }
        return ".models \(file) \(symbol.map { "symbol=\($0)" } ?? "lines=\(region.lowerBound)-\(region.upperBound)") fingerprint=\(SourceFingerprint.fingerprint(of: text, region: region))"
    }
}

// Usage errors exit 2 like bad input (ArgumentParser's default is 64).
/// cc's `-DNAME=VALUE` and `-IDIR`, one word: ArgumentParser reads the `=` in a joined
/// short option as its own syntax, so the word is split into `-D NAME=VALUE` first.
func splittingJoinedDefines(_ args: [String]) -> [String] {
    var out: [String] = []
    var afterTerminator = false
    for a in args {
        if a == "--" { afterTerminator = true }
        if !afterTerminator, a.hasPrefix("-D") || a.hasPrefix("-I"), a.count > 2 {
            out += [String(a.prefix(2)), String(a.dropFirst(2))]
        } else {
            out.append(a)
        }
    }
    return out
}

do {
    var command = try PtregsProveCommand.parseAsRoot(splittingJoinedDefines(Array(CommandLine.arguments.dropFirst())))
    try command.run()
} catch {
    let code = PtregsProveCommand.exitCode(for: error)
    if code == .success || error is ExitCode {
        PtregsProveCommand.exit(withError: error)
    }
    let message = PtregsProveCommand.fullMessage(for: error)
    if code == .validationFailure {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }
    PtregsProveCommand.exit(withError: error)
}
