import Foundation
@testable import PtregsProve
import SpecElaboration
import StackSemantics
import XCTest
import Z3Kit

/// `--certify`: every proved verdict comes with an SMT-LIB2 certificate over raw terms
/// whose `unsat` is the proof, and two independent solvers agree on every one.
final class CertificateTests: XCTestCase {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    /// Proves `inputs` with `--certify` into a fresh directory.
    func certify(_ inputs: [String]) throws -> (CheckReport, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-cert-\(UUID().uuidString)")
        var options = ProverOptions()
        options.certifyDirectory = dir
        var checker = Checker(options: options)
        checker.jobs = 2
        return (checker.check(inputs), dir)
    }

    /// The first line a solver binary prints for `file`, or nil when it is not installed.
    static func answer(_ solver: String, _ file: URL) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [solver, file.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        guard (try? p.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus == 127 { return nil }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
    }

    static func installed(_ solver: String) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "command -v \(solver)"]
        p.standardOutput = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// Every proved verdict of the corpus and of the fixtures has a certificate, and
    /// `z3 FILE` and `cvc5 FILE` both answer unsat on each.
    func testEveryProvedVerdictHasACertificateBothSolversRecheck() throws {
        for solver in ["z3", "cvc5"] where !Self.installed(solver) {
            throw XCTSkip("\(solver) is not installed (.ci/run installs it)")
        }
        let (report, dir) = try certify([CorpusTests.specsPath, Self.here.appendingPathComponent("Fixtures/specs").path])
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertEqual(report.diagnostics.count, 0, "\(report.diagnostics)")
        let results = report.paths.flatMap(\.results)
        let proved = results.filter { $0.verdict.name == "proved" }
        XCTAssertGreaterThan(proved.count, 150)
        XCTAssertFalse(results.contains { if case .unknown(let why) = $0.verdict { return why.contains("certificate") }; return false },
                       "a proof without a certificate")
        let files = proved.compactMap(\.certificate)
        XCTAssertEqual(files.count, proved.count)
        XCTAssertEqual(Set(files).count, files.count, "one file per (path, invariant)")
        let answers = ConcurrentAnswers(count: files.count)
        DispatchQueue.concurrentPerform(iterations: files.count) { i in
            let url = dir.appendingPathComponent(files[i])
            answers.set(i, "\(Self.answer("z3", url) ?? "missing") \(Self.answer("cvc5", url) ?? "missing")")
        }
        for (file, a) in zip(files, answers.values) where a != "unsat unsat" {
            XCTFail("\(file): z3 and cvc5 answered \(a)")
        }
    }

    /// A certificate is made of the path's own semantics: it names the path's inputs,
    /// its claims are not a constant, and changing one instruction changes it.
    func testACertificateDependsOnTheCode() throws {
        let spec = """
        .path f entry=function
        f:\tpushq %rbx
        \tmovq $1, %rbx
        \tpopq %rbx
        \tret
        """
        func restoreCertificate(_ text: String) throws -> String {
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: root) }
            try text.write(to: root.appendingPathComponent("spec.pts"), atomically: true, encoding: .utf8)
            let (report, dir) = try certify([root.appendingPathComponent("spec.pts").path])
            defer { try? FileManager.default.removeItem(at: dir) }
            let r = try XCTUnwrap(report.paths.first?.results.first { $0.invariant == .restoreMatchesSave })
            let name = try XCTUnwrap(r.certificate, SpecHarness.describe(r.verdict))
            return try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
        }
        let one = try restoreCertificate(spec)
        XCTAssertTrue(one.contains("(declare-fun entry.rbx () (_ BitVec 64))"), one)
        XCTAssertTrue(one.contains("(check-sat)"))
        XCTAssertTrue(one.contains("; path: f"))
        XCTAssertFalse(one.contains("(assert false)"))
        let other = try restoreCertificate(spec.replacingOccurrences(of: "movq $1, %rbx", with: "movq $2, %rbx"))
        XCTAssertNotEqual(one, other)
    }

    /// A simplifier decision the run relied on is a fact of the certificate: were it
    /// wrong, the certificate would not be unsat.
    func testAWrongSimplifierDecisionBreaksTheCertificate() throws {
        let d = CertifyingDomain()
        let x = d.builder.variable("x")
        // A simplified term that claims the value is 8, over a raw term that is x.
        let twin = TwinTerm(simplified: d.simplifier.const(8), raw: x)
        XCTAssertEqual(d.knownValue(twin), 8)
        XCTAssertEqual(d.facts.facts.count, 1)
        let z3 = Z3Context()
        var lowering = Z3Lowering(z3)
        let solver = Z3Solver(context: z3, timeoutMilliseconds: 10_000)
        solver.assert(lowering.lower(d.builder.anyOf(d.facts.facts.map { d.builder.negation($0) })))
        guard case .sat? = try? solver.check() else { return XCTFail("the wrong fact should be refutable") }
        // A right decision is no fact to check at all, or a valid one.
        let right = TwinTerm(simplified: d.simplifier.const(9), raw: d.builder.add(d.builder.const(4), d.builder.const(5)))
        XCTAssertEqual(d.knownValue(right), 9)
        XCTAssertEqual(d.facts.facts.count, 1, "an operation on constants is evaluated, not a fact")
    }

    /// A looping path's certificate carries its loop invariants' induction conditions.
    func testALoopingPathsCertificateCarriesItsInductionConditions() throws {
        let (report, dir) = try certify([Self.here.appendingPathComponent("Fixtures/specs/workloop.pts").path])
        defer { try? FileManager.default.removeItem(at: dir) }
        let certified = report.paths.flatMap(\.results).compactMap(\.certificate)
        XCTAssertFalse(certified.isEmpty)
        let text = try String(contentsOf: dir.appendingPathComponent(certified[0]), encoding: .utf8)
        XCTAssertTrue(text.contains("conditions that make its loop heads' widened states inductive"), String(text.prefix(1200)))
        XCTAssertTrue(text.contains("loop@"), "the widened state's variables appear in the certificate")
    }

    /// The newer semantics prove with certificates both solvers re-check:
    /// pushed frames below the stack top, thread_info, a frame copied to another stack,
    /// the 32-bit entries, a returns=ptregs helper, narrow access inside a slot, the
    /// FSGSBASE and control-register instructions, tail calls.
    func testCertificatesOfTheEntryGeometriesRecheck() throws {
        for solver in ["z3", "cvc5"] where !Self.installed(solver) {
            throw XCTSkip("\(solver) is not installed (.ci/run installs it)")
        }
        let specs = [EntryGeometryTests.pushedFrame, EntryGeometryTests.threadInfo, EntryGeometryTests.syncRegs,
                     EntryGeometryTests.syncRegsTailCall, EntryGeometryTests.errorEntry, CompatEntryTests.sysenter,
                     CompatEntryTests.int80, SystemRegisterTests.paranoid, GSParityInvariantTests.errorEntry,
                     ".path nmi entry=interrupt from=kernel\nnmi:\n\txorb $2, 17(%rsp)\n\ttestb $4, 17(%rsp)\n\txorb $2, 17(%rsp)\n\tiretq\n",
                     // This session's semantics: trampoline exits, the compat work loop's
                     // widening, Xen's frame, IST, SYSEXIT's stored ip and r8–r15, call
                     // arguments and results.
                     TrampolineExitTests.syscall68, TrampolineExitTests.exception, CompatWorkLoopTests.sysenterLoop,
                     XenFailsafeFrameTests.failsafe, ISTStackTests.debugEntry,
                     CompatEntryTests.sysenter.replacingOccurrences(of: "entry=sysenter", with: "entry=sysenter r8-r11=zero"),
                     CallContractTests.thunk(), CallContractTests.pushedPtRegs(pointer: "movq %rsp, %rdi"),
                     UnwindAnnotationTests.prologue(),
                     // A paranoid exit back to the interrupted context on the user's base,
                     // and an exit work loop whose saved cs keeps a user selector (a loop fact).
                     GSReturnModeTests.paranoid(fixup: false), GSReturnModeTests.workLoop(kernelToo: false),
                     // A per-CPU stack pointer read whose GS base only the path condition settles.
                     GSStackSwitchTests.handler(recognisesTruncated: true)]
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-cert-geometry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try UnwindAnnotationTests.dwarf2.write(to: root.appendingPathComponent("dwarf2.ptsh"), atomically: true, encoding: .utf8)
        var inputs: [String] = []
        for (k, text) in specs.enumerated() {
            let url = root.appendingPathComponent("g\(k).pts")
            try text.write(to: url, atomically: true, encoding: .utf8)
            inputs.append(url.path)
        }
        let (report, dir) = try certify(inputs)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertEqual(report.diagnostics.count, 0, "\(report.diagnostics)")
        let files = report.paths.flatMap(\.results).filter { $0.verdict.name == "proved" }.compactMap(\.certificate)
        XCTAssertGreaterThan(files.count, 50)
        for file in files {
            let url = dir.appendingPathComponent(file)
            XCTAssertEqual("\(Self.answer("z3", url) ?? "missing") \(Self.answer("cvc5", url) ?? "missing")", "unsat unsat", file)
        }
    }
}

/// Answers gathered from concurrent solver runs.
final class ConcurrentAnswers: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String]
    init(count: Int) { storage = Array(repeating: "", count: count) }
    func set(_ i: Int, _ s: String) { lock.lock(); storage[i] = s; lock.unlock() }
    var values: [String] { lock.lock(); defer { lock.unlock() }; return storage }
}
