import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// `.assume taken|not-taken LABEL`: a path checked under one way of its branches to
/// LABEL. Verdicts cover exactly the runs that go that way, counterexamples are such
/// runs, and every report says the verdicts are conditional.
final class AssumptionTests: XCTestCase {
    /// A 3.16-shaped syscall fast path; the slow path calls the tracer and forgets that
    /// the call clobbers the argument registers.
    static let spec = """
    .percpu old_rsp
    .percpu kernel_stack stack
    .percpu ti_flags
    .extern syscall_trace_enter
    .path sc entry=syscall
    .assume not-taken tracesys reason="the fast path only: no TIF work flags"
    sc:
    \tswapgs
    \tmovq %rsp, PER_CPU_VAR(old_rsp)
    \tmovq PER_CPU_VAR(kernel_stack), %rsp
    \tpushq %rcx
    \tpushq %r11
    \ttestl $0x100, PER_CPU_VAR(ti_flags)
    \tjnz tracesys
    fast:
    \tpopq %r11
    \tpopq %rcx
    \tmovq PER_CPU_VAR(old_rsp), %rsp
    \tswapgs
    \tsysretq
    tracesys:
    \tcall syscall_trace_enter      # <-slow
    \tjmp fast
    """

    func testTheFastPathProvesUnderItsAssumptionAndSaysSo() {
        let report = SpecHarness.check(Self.spec)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "sc", inv) }
        XCTAssertEqual(report.paths.first?.assumptions.map(\.label), ["tracesys"])
        let text = TextReport(colour: false).render(report)
        XCTAssertTrue(text.contains("proved: sc: restore matches save (under .assume)"), text)
        XCTAssertTrue(text.contains("spec.pts:6:19: note: sc: checked only on runs where every conditional branch to tracesys is not taken (the fast path only: no TIF work flags)"), text)
        XCTAssertTrue(text.contains("1 path checked under .assume"), text)
        let json = JSONReport.render(report)
        XCTAssertTrue(json.contains("\"label\" : \"tracesys\""), json)
    }

    func testWithoutTheAssumptionTheSlowPathsBugIsFound() {
        let spec = Self.spec.replacingOccurrences(of: ".assume not-taken tracesys reason=\"the fast path only: no TIF work flags\"\n", with: "")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "sc", .restoreMatchesSave, blamedLine: SpecHarness.line("<-slow", in: spec))
    }

    func testTheOtherSideIsCheckedAndItsCounterexampleTakesTheBranch() {
        let spec = Self.spec.replacingOccurrences(of: ".assume not-taken tracesys", with: ".assume taken tracesys")
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "sc", .restoreMatchesSave, blamedLine: SpecHarness.line("<-slow", in: spec))
        XCTAssertTrue(cx?.steps.contains { $0.text.hasPrefix("call syscall_trace_enter") } ?? false)
    }

    func testAFastPathBugIsStillFoundUnderTheAssumption() {
        // The assumption removes the slow path, not the checks of the fast one: rcx and
        // r11 popped the wrong way round give sysretq the user's rflags as rip.
        let spec = Self.spec.replacingOccurrences(of: "\tpopq %r11\n\tpopq %rcx\n", with: "\tpopq %rcx\n\tpopq %r11\n")
        let report = SpecHarness.check(spec)
        guard let r = SpecHarness.result(report, path: "sc", .ptraceConsistency), case .violated = r.verdict else {
            return XCTFail("the swapped pops must be reported under the assumption")
        }
        XCTAssertTrue(r.violations.allSatisfy { !$0.counterexample.steps.contains { $0.text.hasPrefix("call") } })
    }

    func testAnAssumptionThatRestrictsNothingIsAnError() {
        let spec = Self.spec.replacingOccurrences(of: "not-taken tracesys", with: "not-taken fast")
        let report = SpecHarness.check(spec)
        XCTAssertTrue(report.diagnostics.contains { $0.description.contains("6:19") && $0.description.contains("has no conditional branch to fast") },
                      "\(report.diagnostics)")
    }

    func testMalformedAssumptionsAreErrorsAtTheirWords() {
        func diagnostics(_ line: String) -> [String] {
            let spec = Self.spec.replacingOccurrences(of: ".assume not-taken tracesys reason=\"the fast path only: no TIF work flags\"", with: line)
            return SpecHarness.check(spec).diagnostics.map(\.description)
        }
        XCTAssertTrue(diagnostics(".assume not-taken tracesys").contains { $0.contains("reason=") }, "no reason")
        XCTAssertTrue(diagnostics(".assume never tracesys reason=\"x\"").contains { $0.contains("6:9") && $0.contains("taken|not-taken") })
        XCTAssertTrue(diagnostics(".assume taken nowhere reason=\"x\"").contains { $0.contains("6:15") && $0.contains("no label of the code") })
        XCTAssertTrue(diagnostics(".assume taken tracesys reason=\"x\" why=\"y\"").contains { $0.contains("unknown .assume attribute 'why'") })
    }

    func testAnAssumptionThatLeavesNoExitIsAnError() {
        // Always taking a loop's back edge leaves no way out.
        let spec = """
        .path f entry=function
        .assume taken again reason="x"
        f:
        again:
        \tdecq %rcx
        \tjnz again
        \tret
        """
        let report = SpecHarness.check(spec)
        XCTAssertTrue(report.diagnostics.contains { $0.description.contains("has no exit from here") }, "\(report.diagnostics)")
    }

    func testCertificatesNameTheAssumptionAndStillRecheck() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-assume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.spec.write(to: root.appendingPathComponent("spec.pts"), atomically: true, encoding: .utf8)
        let dir = root.appendingPathComponent("certificates")
        var options = ProverOptions()
        options.certifyDirectory = dir
        let report = Checker(options: options).check([root.appendingPathComponent("spec.pts").path])
        XCTAssertEqual(report.diagnostics, [])
        let files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
        XCTAssertFalse(files.isEmpty)
        for f in files {
            let text = try String(contentsOf: f, encoding: .utf8)
            XCTAssertTrue(text.contains("; assumed (runs outside it are not covered): .assume not-taken tracesys"), f.lastPathComponent)
            guard CertificateTests.installed("z3") else { throw XCTSkip("z3 is not installed: .ci/run installs it") }
            XCTAssertEqual(CertificateTests.answer("z3", f), "unsat", f.lastPathComponent)
        }
    }

    func testAnAssumptionBeyondAnInstructionTheModelCannotTakeIsNoError() {
        // In a real file (.source) an instruction outside the model ends the path's graph
        // there; the branch the assumption names lies beyond it. The verdicts are unknown.
        let files = [
            "spec.pts": ".source \"code.S\"\n.path f entry=function\n.assume not-taken out reason=\"x\"\n",
            "code.S": "f:\n\trdtsc\n\ttestq %rax, %rax\n\tjz out\n\tret\nout:\n\tret\n",
        ]
        let report = SpecHarness.check(files, unit: "spec.pts")
        XCTAssertEqual(report.diagnostics, [])
        guard case .unknown(let why)? = report.paths.first?.results.first?.verdict else { return XCTFail("expected unknown") }
        XCTAssertTrue(why.contains("rdtsc"), why)
    }
}
