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

/// A function path with `n` independent branch diamonds (2^n paths).
func diamonds(_ n: Int) -> String {
    var s = ".percpu thread_info pointer\n.extern schedule\n.path bench entry=function\nbench:\n\tpushq %rbx\n\tmovq PER_CPU_VAR(thread_info), %rcx\n"
    for i in 0..<n {
        s += "\ttestl $\(1 << (i % 30)), \(8 * (i / 30))(%rcx)\n\tjz d\(i)\n\tpushq %r12\n\tmovq $\(i), %r12\n\tpopq %r12\nd\(i):\n"
    }
    return s + "\tpopq %rbx\n\tret\n"
}

/// A function path of `l` straight-line operations.
func straightLine(_ l: Int) -> String {
    var s = ".path bench entry=function\nbench:\n\tpushq %rbx\n\tsubq $16, %rsp\n"
    var emitted = 2
    var k = 0
    while emitted < l - 4 {
        switch k % 4 {
        case 0: s += "\tmovq %rdi, 8(%rsp)\n"
        case 1: s += "\tmovq 8(%rsp), %rdi\n"
        case 2: s += "\tpushq %rsi\n"
        default: s += "\tpopq %rsi\n"
        }
        k += 1
        emitted += 1
    }
    return s + "\taddq $16, %rsp\n\tpopq %rbx\n\tret\n"
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
        try? (kind == "diamonds" ? diamonds(size) : straightLine(size)).write(to: file, atomically: true, encoding: .utf8)
        m = measure([file.path], parseOnly: false)
    }
    m.input = kind
    m.size = size
    return m
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
        if best == nil || m.wallSeconds < best!.wallSeconds { best = m }
    }
    return best
}

/// Least-squares slope of log(time) over log(size).
func growthExponent(_ ms: [Measurement]) -> Double {
    let pts = ms.filter { $0.wallSeconds > 0 && $0.size > 0 }.map { (log(Double($0.size)), log($0.wallSeconds)) }
    guard pts.count >= 2 else { return .nan }
    let mx = pts.map(\.0).reduce(0, +) / Double(pts.count), my = pts.map(\.1).reduce(0, +) / Double(pts.count)
    let num = pts.map { ($0.0 - mx) * ($0.1 - my) }.reduce(0, +)
    let den = pts.map { ($0.0 - mx) * ($0.0 - mx) }.reduce(0, +)
    return den == 0 ? .nan : num / den
}

func row(_ m: Measurement) -> String {
    func f(_ x: Double, _ w: Int) -> String { String(format: "%\(w).4f", x) }
    return "\(m.input.padding(toLength: 13, withPad: " ", startingAt: 0)) \(String(m.size).leftPadded(7)) \(f(m.wallSeconds, 10)) \(f(m.solverSeconds, 10)) \(String(m.queries).leftPadded(8)) \(String(format: "%9.1f", m.peakMiB)) \(m.verdicts)"
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
let specs = args.first ?? "Specs"
let repeats = 3
print("ptregs-bench on \(ProcessInfo.processInfo.activeProcessorCount) cores; best of \(repeats) runs, each in its own process")
print("input            size   wall (s) solver (s)  queries  peak MiB verdicts (proved/violated/unknown)")
var lines: [Measurement] = []
if let full = runChild("corpus", 0, specs, repeats: repeats), let parse = runChild("corpus-parse", 0, specs, repeats: repeats) {
    print(row(full)); print(row(parse))
    print(String(format: "corpus: %.1f ms total, %.1f ms parse+elaborate; ratio %.2fx (target < 3x, < 300 ms)",
                 full.wallSeconds * 1000, parse.wallSeconds * 1000, full.wallSeconds / max(parse.wallSeconds, 1e-9)))
}
if let certify = runChild("corpus-certify", 0, specs, repeats: 1), let full = runChild("corpus", 0, specs, repeats: repeats) {
    print(row(certify))
    print(String(format: "corpus with --certify (one run): %.1f ms, %.2fx a plain run (the plain run does not change)",
                 certify.wallSeconds * 1000, certify.wallSeconds / full.wallSeconds))
}
if let z3 = runChild("corpus-z3", 0, specs, repeats: 1) {
    print(row(z3))
    print(String(format: "corpus with every query sent to Z3 (--no-fast-path; one run): %.1f ms", z3.wallSeconds * 1000))
}
var dia: [Measurement] = []
for n in [1, 2, 4, 8, 16, 32, 64, 128, 256] {
    if let m = runChild("diamonds", n, specs, repeats: repeats) { dia.append(m); print(row(m)) }
}
print(String(format: "diamonds: fitted growth exponent %.2f (1.0 = linear in N; 2^N paths would be exponential)", growthExponent(dia)))
var line: [Measurement] = []
for l in [100, 1_000, 10_000, 100_000] {
    if let m = runChild("straight-line", l, specs, repeats: l >= 100_000 ? 1 : repeats) { line.append(m); print(row(m)) }
}
print(String(format: "straight-line: fitted growth exponent %.2f (1.0 = linear in L)", growthExponent(line)))
