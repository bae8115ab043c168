import Foundation
import PtregsProve
import SpecElaboration

// ptregs-bench: figures and ratios, never a pass/fail. Each measurement runs in a child
// process so its peak memory is its own. Run it in release:
//   swift run -c release ptregs-bench [Specs]

struct Measurement: Codable {
    var input: String
    var size: Int
    var wallSeconds: Double
    var solverSeconds: Double
    var queries: Int
    var peakMiB: Double
    var verdicts: String
}

func peakMiB() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024   // KiB on Linux
}

func measure(_ inputs: [String], parseOnly: Bool, options: ProverOptions = ProverOptions()) -> Measurement {
    var checker = Checker(options: options)
    checker.jobs = ProcessInfo.processInfo.activeProcessorCount
    checker.parseOnly = parseOnly
    let start = DispatchTime.now().uptimeNanoseconds
    let report = checker.check(inputs)
    let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let results = report.paths.flatMap(\.results)
    let verdicts = "\(results.filter { $0.verdict.name == "proved" }.count)p/\(results.filter { $0.verdict.name == "violated" }.count)v/\(results.filter { $0.verdict.name == "unknown" }.count)u" + (report.diagnostics.isEmpty ? "" : "/\(report.diagnostics.count)err")
    return Measurement(input: "", size: 0, wallSeconds: wall, solverSeconds: report.paths.map(\.solverSeconds).reduce(0, +),
                       queries: results.map(\.solverQueries).reduce(0, +), peakMiB: peakMiB(), verdicts: verdicts)
}

/// Child mode: `ptregs-bench --single KIND SIZE [SPECS]` prints one JSON measurement.
func single(_ kind: String, _ size: Int, _ specs: String) -> Measurement {
    AllocatorTuning.keepFreedMemory()   // as the CLI does
    var m: Measurement
    switch kind {
    case "corpus": m = measure([specs], parseOnly: false)
    case "corpus-parse": m = measure([specs], parseOnly: true)
    case "corpus-z3":
        // Every obligation and counterexample search sent to Z3 (`--no-fast-path`): what
        // the simplifier and the case splitting save, and the solver at work.
        var options = ProverOptions()
        options.structuralFastPath = false
        m = measure([specs], parseOnly: false, options: options)
    case "corpus-certify":
        // Every proved verdict certified (`--certify`): the certifying run and one Z3
        // check per certificate, written to a temporary directory.
        var options = ProverOptions()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-bench-certify-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        options.certifyDirectory = dir
        m = measure([specs], parseOnly: false, options: options)
    default:
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-bench-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("bench.pts")
        guard let body = generatedBody(kind, size) else {
            m = Measurement(input: "", size: 0, wallSeconds: 0, solverSeconds: 0, queries: 0, peakMiB: 0, verdicts: "unknown input")
            break
        }
        try? BenchmarkShapes.spec(body).write(to: file, atomically: true, encoding: .utf8)
        m = measure([file.path], parseOnly: false)
    }
    m.input = kind
    m.size = size
    return m
}

/// The instruction text of a generated input: `ret` (one instruction: start-up),
/// `straight-line` (L operations) or a diamond shape `dia-ARM` (N diamonds).
func generatedBody(_ kind: String, _ size: Int) -> String? {
    if kind == "ret" { return "\tret\n" }
    if kind == "straight-line" { return BenchmarkShapes.straightLineBody(size) }
    guard let arm = BenchmarkShapes.Arm.allCases.first(where: { BenchmarkShapes.name($0) == kind }) else { return nil }
    return BenchmarkShapes.diamondBody(arm, size)
}

func runChild(_ kind: String, _ size: Int, _ specs: String, repeats: Int) -> Measurement? {
    var best: Measurement?
    for _ in 0..<repeats {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        p.arguments = ["--single", kind, String(size), specs]
        let out = Pipe()
        p.standardOutput = out
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard let m = try? JSONDecoder().decode(Measurement.self, from: data) else { return nil }
        if let b = best, b.wallSeconds <= m.wallSeconds { continue }
        best = m
    }
    return best
}

/// A process's wall time (from just before the spawn to its exit) and CPU time (user
/// and system, from wait4), in seconds.
struct ProcessTime {
    var wall: Double
    var cpu: Double
    /// The exit status of the last run (wait4's status word decoded).
    var exitCode: Int32 = 0
}

/// Runs `path` with `arguments` (output to /dev/null) and returns its times, or nil when
/// it could not start (posix_spawn and wait4: no run-loop polling between them).
func timeProcess(_ path: String, _ arguments: [String]) -> ProcessTime? {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    var pid: pid_t = 0
    let start = DispatchTime.now().uptimeNanoseconds
    guard posix_spawn(&pid, path, &actions, nil, argv, environ) == 0 else { return nil }
    var status: Int32 = 0
    var usage = rusage()
    guard wait4(pid, &status, 0, &usage) == pid else { return nil }
    let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    let exitCode = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return ProcessTime(wall: wall, cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime), exitCode: exitCode)
}

/// An executable named `name` on the PATH, else the first of `fallbacks` that exists.
func findExecutable(_ name: String, fallbacks: [String] = []) -> String? {
    let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
    for candidate in dirs.map({ $0 + "/" + name }) + fallbacks where FileManager.default.isExecutableFile(atPath: candidate) {
        return candidate
    }
    return nil
}

/// Side-by-side process times on one generated input: `ptregs-prove` on the spec, and
/// `objtool --orc` on the same instructions assembled by `as` (a fresh copy of the
/// object for each run: objtool writes its ORC tables into it).
struct SideBySide {
    var prove: ProcessTime?
    var objtool: ProcessTime?
}

let proveBinary: String? = {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let p = dir.appendingPathComponent("ptregs-prove").path
    return FileManager.default.isExecutableFile(atPath: p) ? p : nil
}()
let objtoolBinary = findExecutable("objtool", fallbacks: ["/usr/lib/linux-kbuild-6.1/tools/objtool/objtool"])
let assembler = findExecutable("as")

func sideBySide(_ kind: String, _ size: Int, repeats: Int) -> SideBySide {
    var r = SideBySide()
    guard let body = generatedBody(kind, size) else { return r }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-bench-side-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let spec = dir.appendingPathComponent("bench.pts"), source = dir.appendingPathComponent("bench.s")
    let object = dir.appendingPathComponent("bench.o"), copy = dir.appendingPathComponent("run.o")
    do {
        try BenchmarkShapes.spec(body).write(to: spec, atomically: true, encoding: .utf8)
        try BenchmarkShapes.gas(body).write(to: source, atomically: true, encoding: .utf8)
    } catch { return r }
    // The two alternate, run by run, so that a change in the machine's load between
    // them does not fall on one side only.
    let proveArguments = ["--root", dir.path, "--jobs", "\(ProcessInfo.processInfo.activeProcessorCount)", spec.path]
    let assembled = assembler.map { timeProcess($0, ["-o", object.path, source.path]) != nil } == true
        && FileManager.default.fileExists(atPath: object.path)
    for _ in 0..<repeats {
        if let prove = proveBinary, let t = timeProcess(prove, proveArguments) {
            r.prove = ProcessTime(wall: min(r.prove?.wall ?? t.wall, t.wall), cpu: min(r.prove?.cpu ?? t.cpu, t.cpu), exitCode: t.exitCode)
        }
        if let objtool = objtoolBinary, assembled {
            try? FileManager.default.removeItem(at: copy)
            try? FileManager.default.copyItem(at: object, to: copy)
            if let t = timeProcess(objtool, ["--orc", copy.path]) {
                r.objtool = ProcessTime(wall: min(r.objtool?.wall ?? t.wall, t.wall), cpu: min(r.objtool?.cpu ?? t.cpu, t.cpu), exitCode: t.exitCode)
            }
        }
    }
    return r
}

/// Least-squares slope of log(time) over log(size).
func growthExponent(_ points: [(size: Int, seconds: Double)]) -> Double {
    let pts = points.filter { $0.seconds > 0 && $0.size > 0 }.map { (log(Double($0.size)), log($0.seconds)) }
    guard pts.count >= 2 else { return .nan }
    let mx = pts.map(\.0).reduce(0, +) / Double(pts.count), my = pts.map(\.1).reduce(0, +) / Double(pts.count)
    let num = pts.map { ($0.0 - mx) * ($0.1 - my) }.reduce(0, +)
    let den = pts.map { ($0.0 - mx) * ($0.0 - mx) }.reduce(0, +)
    return den == 0 ? .nan : num / den
}

func f(_ x: Double?, _ w: Int, _ digits: Int = 4) -> String {
    guard let x else { return String(repeating: " ", count: w - 1) + "-" }
    return String(format: "%\(w).\(digits)f", x)
}

func row(_ m: Measurement, _ side: SideBySide = SideBySide()) -> String {
    let cpuRatio = side.prove.flatMap { p in side.objtool.map { p.cpu / $0.cpu } }
    let wallRatio = side.prove.flatMap { p in side.objtool.map { p.wall / $0.wall } }
    return "\(m.input.padding(toLength: 13, withPad: " ", startingAt: 0)) \(String(m.size).leftPadded(7)) \(f(m.wallSeconds, 9)) \(f(side.prove?.wall, 9)) \(f(side.prove?.cpu, 9)) \(f(side.objtool?.wall, 9)) \(f(side.objtool?.cpu, 9)) \(f(wallRatio, 6, 1)) \(f(cpuRatio, 6, 1)) \(String(format: "%8.1f", m.peakMiB)) \(m.verdicts)" + (m.queries > 0 ? String(format: ", %d Z3 queries, %.3f s in Z3", m.queries, m.solverSeconds) : "")
        + (side.objtool.map { $0.exitCode != 0 ? "; objtool exited \($0.exitCode)" : "" } ?? "")
        + (side.prove.map { $0.exitCode != 0 ? "; ptregs-prove exited \($0.exitCode)" : "" } ?? "")
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

let args = Array(CommandLine.arguments.dropFirst())
if args.first == "--single", args.count >= 3 {
    let m = single(args[1], Int(args[2]) ?? 0, args.count > 3 ? args[3] : "Specs")
    if let data = try? JSONEncoder().encode(m) { FileHandle.standardOutput.write(data) }
    exit(0)
}
if args.first == "--emit", args.count >= 4, let size = Int(args[2]), let body = generatedBody(args[1], size) {
    // `ptregs-bench --emit KIND SIZE DIR`: write the generated input as bench.pts and bench.s.
    let dir = URL(fileURLWithPath: args[3])
    do {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try BenchmarkShapes.spec(body).write(to: dir.appendingPathComponent("bench.pts"), atomically: true, encoding: .utf8)
        try BenchmarkShapes.gas(body).write(to: dir.appendingPathComponent("bench.s"), atomically: true, encoding: .utf8)
    } catch {
        print("cannot write \(dir.path): \(error)")
        exit(1)
    }
    exit(0)
}
if args.first == "--mutations" {
    // Mutation score of the prover over a spec tree (default Specs/).
    let (jobs, report) = Checker().elaborate([args.count > 1 ? args[1] : "Specs"])
    for d in report.diagnostics { print(d) }
    let start = DispatchTime.now().uptimeNanoseconds
    let results = MutationTesting.run(jobs)
    print(MutationTesting.summary(results), terminator: "")
    print(String(format: "(%.1f s)", Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
    exit(0)
}
// `ptregs-bench [SPECS] [--quick]`: --quick skips the corpus runs and the largest sizes.
let quick = args.contains("--quick")
let specs = args.first { !$0.hasPrefix("--") } ?? "Specs"
let repeats = 3
print("ptregs-bench on \(ProcessInfo.processInfo.activeProcessorCount) cores; best of \(repeats) runs for the corpus, of 5 for generated inputs (3 at 100,000), each in its own process")
print("ptregs-prove process: \(proveBinary ?? "not built (swift build -c release); no process times")")
print("objtool: \(objtoolBinary.map { "\($0) --orc on the same code assembled by as" } ?? "not found (PATH, /usr/lib/linux-kbuild-6.1/tools/objtool); no side-by-side times")")
print("check: the check in-process (wall); prove: a ptregs-prove process on the spec; objtool: an objtool process; wall and cpu (user+sys) seconds; ratios prove/objtool")
print("input            size  check(s)  prove(s) prove-cpu objtool(s) obj-cpu  wall×   cpu× peak MiB verdicts (proved/violated/unknown)")
if !quick {
    if let full = runChild("corpus", 0, specs, repeats: repeats), let parse = runChild("corpus-parse", 0, specs, repeats: repeats) {
        print(row(full)); print(row(parse))
        print(String(format: "corpus: %.1f ms total, %.1f ms parse+elaborate; ratio %.2fx (target < 3x, < 300 ms)",
                     full.wallSeconds * 1000, parse.wallSeconds * 1000, full.wallSeconds / max(parse.wallSeconds, 1e-9)))
    }
    if let z3 = runChild("corpus-z3", 0, specs, repeats: 1) {
        print(row(z3))
        print(String(format: "corpus with every query sent to Z3 (--no-fast-path; one run): %.1f ms", z3.wallSeconds * 1000))
    }
}

/// Generated inputs are small: the best of five, as their growth is read off few points.
let seriesRepeats = 5

/// Measures each size of one generated input, prints its rows and its growth.
func series(_ kind: String, _ sizes: [Int], unit: String) {
    var points: [(size: Int, seconds: Double)] = []
    var last: [(size: Int, seconds: Double)] = []
    for n in sizes {
        guard let m = runChild(kind, n, specs, repeats: n >= 100_000 ? 3 : seriesRepeats) else { continue }
        let side = sideBySide(kind, n, repeats: n >= 100_000 ? 3 : seriesRepeats)
        print(row(m, side))
        points.append((n, m.wallSeconds))
        last.append((n, m.wallSeconds))
        if last.count > 3 { last.removeFirst() }
    }
    print(String(format: "\(kind): fitted growth exponent %.2f over %@, %.2f over the last three sizes (1.0 = linear in \(unit))",
                 growthExponent(points), sizes.map(String.init).joined(separator: ","), growthExponent(last)))
}

if let m = runChild("ret", 1, specs, repeats: repeats) {
    let side = sideBySide("ret", 1, repeats: 11)
    print(row(m, side))
    print("ret: one `ret` instruction; the process time is start-up (best of 11 processes each)")
}
let diamondSizes = quick ? [16, 64, 256] : [16, 64, 256, 512, 1024]
for arm in BenchmarkShapes.Arm.allCases {
    series(BenchmarkShapes.name(arm), diamondSizes, unit: "N")
}
series("straight-line", quick ? [100, 1_000, 10_000] : [100, 1_000, 10_000, 100_000], unit: "L")
