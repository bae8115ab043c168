import CPUOracle
import Foundation

// ptregs-oracle [--seed N] [--programs N] [--runs N] [--prove-all] [--keep DIR]
// Runs the CPU oracle (see CPUOracle) and prints what it found.
var options = CPUOracle.Options(seed: 1, programs: 1000)
var args = CommandLine.arguments.dropFirst()
@MainActor func value(_ flag: String) -> String {
    guard let v = args.popFirst() else {
        FileHandle.standardError.write(Data("\(flag) needs a value\n".utf8))
        exit(2)
    }
    return v
}
@MainActor func number(_ flag: String) -> UInt64 {
    let v = value(flag)
    guard let n = v.hasPrefix("0x") ? UInt64(v.dropFirst(2), radix: 16) : UInt64(v) else {
        FileHandle.standardError.write(Data("\(flag): not a number: \(v)\n".utf8))
        exit(2)
    }
    return n
}
while let a = args.popFirst() {
    switch a {
    case "--seed": options.seed = number(a)
    case "--programs": options.programs = Int(number(a))
    case "--runs": options.runsPerProgram = max(1, Int(number(a)))
    case "--prove-all": options.proveAll = true
    case "--no-prove": options.checkProofs = false
    case "--keep": options.workDirectory = URL(fileURLWithPath: value(a))
    case "--show":
        // The DSL text of one program of the seed, as the findings number them.
        print(CPUOracle.program(seed: options.seed, index: Int(number(a))).dsl, terminator: "")
        exit(0)
    case "-h", "--help":
        print("""
        usage: ptregs-oracle [--seed N] [--programs N] [--runs N] [--prove-all] [--no-prove] [--keep DIR] [--show K]
        Generates random function-shaped programs, runs each natively (as --64, cc) and on
        the concrete interpreter with the same inputs, and compares registers, flags and
        stack; a native run that breaks an invariant must not be proved. Exit 1 on any finding.
        """)
        exit(0)
    default:
        FileHandle.standardError.write(Data("unknown argument \(a) (see --help)\n".utf8))
        exit(2)
    }
}
if let why = CPUOracle.unavailable() {
    FileHandle.standardError.write(Data("cpu oracle unavailable: \(why)\n".utf8))
    exit(2)
}
let summary: CPUOracle.Summary
do {
    summary = try CPUOracle.run(options) { s in
        FileHandle.standardError.write(Data("\(s.programs) programs, \(s.runs) runs, \(s.findings.count) findings, \(Int(s.seconds)) s\n".utf8))
    }
} catch {
    FileHandle.standardError.write(Data("cpu oracle failed: \(error)\n".utf8))
    exit(2)
}
for f in summary.findings { print(CPUOracle.report(f)) }
print("seed \(options.seed): \(summary.programs) programs, \(summary.runs) runs (\(summary.exited) reached the path's ret, \(summary.returned) left by a local function's ret after a tail call, \(summary.faulted - summary.returned) faulted in a ret to data, \(summary.trapped) stopped at a trap), \(summary.agreed) agreed with the interpreter")
print("broken natively: " + ["restore", "frame", "return-stack"].map { n in "\(n) \(summary.brokenNatively.first { $0.key.rawValue == n }?.value ?? 0)" }.joined(separator: ", ") + " runs")
if summary.proved > 0 {
    print("prover asked about \(summary.proved) programs: " + summary.verdicts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
}
for (why, n) in summary.unknownReasons.sorted(by: { $0.value > $1.value }) { print("  unknown \(n)x: \(why.count > 300 ? why.prefix(300) + "…" : why)") }
var byKind: [String: Int] = [:]
for f in summary.findings { byKind[f.kind.rawValue, default: 0] += 1 }
print("findings: \(summary.findings.count)" + (byKind.isEmpty ? "" : " (" + byKind.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ") + ")"))
print(String(format: "%.1f s", summary.seconds))
exit(summary.findings.isEmpty ? 0 : 1)
