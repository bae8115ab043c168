import Foundation
import SpecElaboration
import SpecSyntax
import StackSemantics
import Z3Kit

/// One path to prove: its unit, its declaration and the graph elaboration built for it.
public struct PathJob: Sendable {
    public var program: Program
    public var path: PathSpec
    public var graph: PathGraph

    /// A rough relative cost for scheduling: a looping path is run several times
    /// (passes to an inductive head state, then unrolled).
    var estimatedCost: Int { graph.nodes.count * (graph.loopHeads.isEmpty ? 1 : 4) }
}

/// The library's front door: spec files or directories in, a report out.
public struct Checker: Sendable {
    public var options: ProverOptions
    /// Only paths whose name contains one of these (empty: all).
    public var pathFilters: [String] = []
    /// Parse and elaborate only.
    public var parseOnly = false
    /// Paths proved at once (each has its own Z3 context). Output order never depends on it.
    public var jobs = ProcessInfo.processInfo.activeProcessorCount
    /// `-D` constants every unit sees.
    public var elaboration = ElaborationOptions()
    /// The spec root for every input (`--root`); nil: each input's own (`SpecLoader.root(of:)`).
    public var root: String?

    public init(options: ProverOptions = ProverOptions()) { self.options = options }

    public struct SpecFile: Sendable {
        public var url: URL
        public var root: String
        public var display: String
    }

    /// Spec units under the inputs: `.pts` files (`.ptsh` files are include-only), in
    /// path order, each with its spec root: `root` when given (every input must lie in
    /// it), else the root `SpecLoader.root(of:)` finds for its input.
    public static func specFiles(_ inputs: [String], root explicitRoot: String? = nil) -> (files: [SpecFile], errors: [Diagnostic]) {
        var files: [SpecFile] = []
        var errors: [Diagnostic] = []
        let fm = FileManager.default
        // Units by their absolute path: one named twice is checked and counted once (a
        // link to a unit is a unit of its own name, as the walk lists it).
        var checked: Set<String> = []
        for input in inputs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: input, isDirectory: &isDir) else {
                errors.append(.error(SourceLocation(file: input, line: 1, column: 1), "no such file or directory"))
                continue
            }
            let specRoot = explicitRoot ?? SpecLoader.root(of: input)
            let loader = SpecLoader(root: specRoot)
            let real = URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath()
            if explicitRoot != nil, real.path != loader.root.path, !loader.contains(real) {
                errors.append(.error(SourceLocation(file: input, line: 1, column: 1), "\(input) lies outside the spec root \(loader.root.path) given by --root"))
                continue
            }
            if isDir.boolValue {
                // The real directory: FileManager lists nothing under a symlinked one.
                let walked = SpecLoader(root: input)
                let top = walked.root
                let shown = input.hasSuffix("/") ? input : input + "/"
                func display(_ u: URL) -> String {
                    shown + u.standardizedFileURL.path.replacingOccurrences(of: top.standardizedFileURL.path + "/", with: "")
                }
                // Hidden entries (.git, .build) are never spec files: SpecLoader refuses them.
                guard let e = fm.enumerator(at: top, includingPropertiesForKeys: [.isSymbolicLinkKey], options: [.skipsHiddenFiles]) else {
                    errors.append(.error(SourceLocation(file: input, line: 1, column: 1), "cannot list the directory"))
                    continue
                }
                var found: [URL] = []
                for case let u as URL in e {
                    // FileManager does not descend into a symlinked directory. One inside the
                    // directory leads to units the walk finds anyway; one leading out of it
                    // would hide units (or lead to files outside the root): refused, never skipped.
                    var linkedDir: ObjCBool = false
                    if (try? u.resourceValues(forKeys: [.isSymbolicLinkKey]))?.isSymbolicLink == true,
                       fm.fileExists(atPath: u.path, isDirectory: &linkedDir), linkedDir.boolValue {
                        let target = u.resolvingSymlinksInPath()
                        if target.path != top.path && !walked.contains(target) {
                            let why = loader.contains(target)
                                ? "outside the directory being checked, so its units would be skipped: check \(target.path) itself"
                                : "outside the spec root \(loader.root.path)"
                            errors.append(.error(SourceLocation(file: display(u), line: 1, column: 1),
                                                 "directory '\(display(u))' is a link to \(target.path), \(why)"))
                        }
                        continue
                    }
                    // A `.pts` link is checked when the unit is read (SpecLoader.resolveUnit).
                    if u.pathExtension == "pts" { found.append(u) }
                }
                // A gate whose directory holds no unit would pass having checked nothing.
                if found.isEmpty {
                    errors.append(.error(SourceLocation(file: input, line: 1, column: 1), "no spec units (*.pts) under \(input): nothing would be checked"))
                }
                for u in found.sorted(by: { $0.path < $1.path }) where checked.insert(u.standardizedFileURL.path).inserted {
                    files.append(SpecFile(url: u, root: specRoot, display: display(u)))
                }
            } else if checked.insert(URL(fileURLWithPath: input).standardizedFileURL.path).inserted {
                // A unit named twice (or inside a directory also named) is checked once.
                files.append(SpecFile(url: URL(fileURLWithPath: input), root: specRoot, display: input))
            }
        }
        return (files, errors)
    }

    /// Parses and elaborates every unit; each path with a well-formed graph becomes a job.
    public func elaborate(_ inputs: [String]) -> (jobs: [PathJob], report: CheckReport) {
        let e = elaborateUnits(inputs)
        return (e.jobs, e.report)
    }

    public func elaborateUnits(_ inputs: [String]) -> (programs: [Program], jobs: [PathJob], report: CheckReport) {
        var programs: [Program] = []
        var report = CheckReport()
        let (files, errors) = Self.specFiles(inputs, root: root)
        report.diagnostics += errors
        report.files = files.count
        var jobs: [PathJob] = []
        let includes = Elaborator.IncludeCache()
        // Units elaborate on `jobs` threads; their results are put together in file
        // order, so the report does not depend on the thread count.
        let units = Self.parallelMap(files, width: max(1, min(self.jobs, files.count))) { f in
            self.elaborateUnit(f, includes: includes)
        }
        for unit in units {
            report.diagnostics += unit.diagnostics
            if let program = unit.program { programs.append(program) }
            jobs += unit.jobs
        }
        return (programs, jobs, report)
    }

    /// One unit: its program and jobs, or the diagnostic that stopped it; and the
    /// diagnostics of paths whose graph cannot be built.
    func elaborateUnit(_ f: SpecFile, includes: Elaborator.IncludeCache) -> (program: Program?, jobs: [PathJob], diagnostics: [Diagnostic]) {
        let program: Program
        let elaborator = Elaborator(loader: SpecLoader(root: f.root), includes: includes, options: elaboration)
        do {
            program = try elaborator.elaborate(file: f.url, displayName: f.display)
        } catch let d as Diagnostic {
            // Every error of the unit; its paths are not checked.
            return (nil, [], elaborator.diagnostics.isEmpty ? [d] : elaborator.diagnostics)
        } catch {
            return (nil, [], [.error(SourceLocation(file: f.display, line: 1, column: 1), "\(error)")])
        }
        var unitReport = CheckReport()
        let jobs = self.jobs(for: program, into: &unitReport)
        return (program, jobs, unitReport.diagnostics)
    }

    /// Checks spec text held in memory (tests, fuzzing): `name` is how it is reported;
    /// includes resolve inside `root`.
    public func check(source: String, name: String, root: String = FileManager.default.temporaryDirectory.path) -> CheckReport {
        var report = CheckReport()
        report.files = 1
        let program: Program
        let elaborator = Elaborator(loader: SpecLoader(root: root), options: elaboration)
        do {
            program = try elaborator.elaborate(
                text: source, file: URL(fileURLWithPath: root).appendingPathComponent(name), displayName: name)
        } catch let d as Diagnostic {
            report.diagnostics += elaborator.diagnostics.isEmpty ? [d] : elaborator.diagnostics
            return report
        } catch {
            report.diagnostics.append(.error(SourceLocation(file: name, line: 1, column: 1), "\(error)"))
            return report
        }
        let jobs = self.jobs(for: program, into: &report)
        if !parseOnly { report.paths = prove(jobs) }
        return report
    }

    /// A unit's paths that pass the filters. Building each path's graph is part of
    /// elaboration: it finds paths with no exit.
    func jobs(for program: Program, into report: inout CheckReport) -> [PathJob] {
        var jobs: [PathJob] = []
        for p in program.paths {
            let graph: PathGraph
            do { graph = try PathGraph(program: program, path: p) } catch let d as Diagnostic {
                report.diagnostics.append(d)
                continue
            } catch {
                report.diagnostics.append(.error(p.location, "\(error)"))
                continue
            }
            if pathFilters.isEmpty || pathFilters.contains(where: { p.name.contains($0) }) {
                jobs.append(PathJob(program: program, path: p, graph: graph))
            }
        }
        return jobs
    }

    /// `--shard I/N`: this shard's share of the jobs, by position (1-based I).
    public var shard: (index: Int, count: Int)?

    public func check(_ inputs: [String]) -> CheckReport {
        var (jobs, report) = elaborate(inputs)
        if parseOnly { return report }
        report.paths = prove(jobs)
        return report
    }

    /// Proves jobs in parallel; the result order is the job order.
    public func prove(_ all: [PathJob]) -> [PathReport] {
        Z3Global.setMemoryLimit(megabytes: options.memoryLimitMegabytes)
        var jobs = all
        if let s = shard { jobs = all.enumerated().filter { $0.offset % s.count == s.index - 1 }.map(\.element) }
        let options = self.options
        // Longest first, so no thread is left proving a long path alone at the end.
        let start = jobs.indices.sorted { (jobs[$0].estimatedCost, $1) > (jobs[$1].estimatedCost, $0) }
        return Self.parallelMap(jobs, width: jobs.isEmpty ? 1 : max(1, min(self.jobs, jobs.count)), startOrder: start) { job in
            PathProver.prove(program: job.program, path: job.path, options: options, graph: job.graph)
        }
    }

    /// Maps on `width` threads; results keep the input order. `startOrder` (a
    /// permutation of the indices) is the order items are taken in.
    static func parallelMap<T: Sendable, R: Sendable>(_ items: [T], width: Int, startOrder: [Int]? = nil,
                                                      _ body: @escaping @Sendable (T) -> R) -> [R] {
        if width <= 1 { return items.map(body) }
        let results = ResultSlots<R>(count: items.count)
        let next = ResultSlots<Int>(count: 0)
        DispatchQueue.concurrentPerform(iterations: width) { _ in
            while let k = next.claim(below: items.count) {
                let i = startOrder?[k] ?? k
                results.set(i, body(items[i]))
            }
        }
        return results.values()
    }
}

/// Thread-safe result storage for `parallelMap`.
final class ResultSlots<R>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [R?]
    private var counter = 0

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ r: R) {
        lock.lock(); defer { lock.unlock() }
        slots[i] = r
    }

    func claim(below n: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard counter < n else { return nil }
        counter += 1
        return counter - 1
    }

    func values() -> [R] {
        lock.lock(); defer { lock.unlock() }
        return slots.compactMap { $0 }
    }
}
