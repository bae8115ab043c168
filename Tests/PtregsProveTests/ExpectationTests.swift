import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// `.expect` and `.limit` name the mechanism they accept (invariant, what is wrong, where
/// it is observed); every violation of a path is reported, and one that no expectation
/// names fails the gate — also on a path with a known bug.
final class ExpectationTests: XCTestCase {
    /// rbx comes back from the wrong slot (line 8) and r12 is overwritten (line 6): two
    /// mechanisms of one invariant at one `ret`.
    static let twoBugs = """
    .extern preempt_schedule
    .path f entry=function
    f:
    \tsubq $16, %rsp
    \tmovq %rbx, 8(%rsp)
    \tmovq $1, %r12
    \tcall preempt_schedule
    \tmovq (%rsp), %rbx
    \taddq $16, %rsp
    \tret
    """

    func spec(_ directives: String) -> String {
        Self.twoBugs.replacingOccurrences(of: ".path f entry=function", with: ".path f entry=function\n" + directives)
    }

    func restore(_ report: CheckReport) throws -> InvariantResult {
        XCTAssertEqual(report.diagnostics.map(\.description), [])
        return try XCTUnwrap(report.paths.first?.results.first { $0.invariant == .restoreMatchesSave })
    }

    // MARK: every violation

    func testEveryViolationIsReportedWithItsMechanismAndItsOwnCounterexample() throws {
        let r = try restore(SpecHarness.check(Self.twoBugs))
        XCTAssertEqual(r.violations.map(\.mechanism.description), ["restore r12 at ret", "restore rbx at ret"].sorted())
        let byMechanism = Dictionary(uniqueKeysWithValues: r.violations.map { ($0.mechanism.subject, $0.counterexample) })
        // Each blamed on its own instruction: rbx on the restore that read the wrong slot,
        // r12 on the move that overwrote it.
        XCTAssertEqual(byMechanism["rbx"]?.location.line, 8)
        XCTAssertEqual(byMechanism["r12"]?.location.line, 6)
        XCTAssertEqual(r.unexpected.count, 2)
        XCTAssertEqual(r.status, .fail)
    }

    func testAnExpectationAcceptsOnlyTheMechanismItNames() throws {
        let report = SpecHarness.check(spec(".expect restore rbx at ret"))
        let r = try restore(report)
        XCTAssertEqual(r.expected.map(\.mechanism.subject), ["rbx"])
        XCTAssertEqual(r.unexpected.map(\.mechanism.subject), ["r12"])
        XCTAssertEqual(report.exitCode, 1, "the second bug fails the gate")
        let text = TextReport(colour: false).render(report)
        XCTAssertTrue(text.contains("spec.pts:7:2: error: f: restore matches save violated: r12 must hold its value from the path's entry"), text)
        XCTAssertTrue(text.contains("declare it after the .path: `.expect restore r12 at ret`"), text)
        XCTAssertTrue(text.contains("violations: 1 expected, 0 model limits, 1 unexpected"), text)
    }

    func testBothMechanismsNamedPass() throws {
        let report = SpecHarness.check(spec(".expect restore rbx r12 at ret"))
        XCTAssertEqual(try restore(report).status, .pass)
        XCTAssertEqual(report.exitCode, 0)
    }

    func testAnExpectationAtAnotherPointIsStaleAndAcceptsNothing() throws {
        let report = SpecHarness.check(spec(".expect restore rbx r12 at sysretq"))
        let r = try restore(report)
        XCTAssertEqual(r.unexpected.count, 2)
        XCTAssertEqual(r.staleExpectations.map(\.mechanism.description), ["restore rbx at sysretq", "restore r12 at sysretq"])
        XCTAssertEqual(report.exitCode, 1)
        let text = TextReport(colour: false).render(report)
        XCTAssertTrue(text.contains("spec.pts:3:17: error: f: restore matches save: `.expect restore rbx at sysretq` matches no violation: now proves — update the expectation"), text)
    }

    func testALimitIsShownAndCountedApartAndCannotMaskARealViolation() throws {
        let limit = ".limit restore rbx at ret reason=\"the model's slot numbering\""
        let report = SpecHarness.check(spec(limit))
        let r = try restore(report)
        XCTAssertEqual(r.limits.map(\.mechanism.subject), ["rbx"])
        XCTAssertEqual(r.unexpected.map(\.mechanism.subject), ["r12"], "a limit accepts only its own mechanism")
        XCTAssertEqual(report.exitCode, 1)

        let accepted = SpecHarness.check(spec(limit + "\n.expect restore r12 at ret"))
        XCTAssertEqual(accepted.exitCode, 0)
        let text = TextReport(colour: false).render(accepted)
        XCTAssertTrue(text.contains("model limit: f: restore matches save: reported falsely: rbx must hold"), text)
        XCTAssertTrue(text.contains("[restore rbx at ret: the model's slot numbering]"), text)
        XCTAssertTrue(text.contains("violations: 1 expected, 1 model limit, 0 unexpected"), text)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(JSONReport.render(accepted).utf8)) as? [String: Any])
        let summary = try XCTUnwrap(json["summary"] as? [String: Any])
        XCTAssertEqual(summary["limits"] as? Int, 1)
        XCTAssertEqual(summary["expectedViolations"] as? Int, 1)
        XCTAssertEqual(summary["unexpectedViolations"] as? Int, 0)
    }

    func testAStaleLimitSaysToRemoveIt() throws {
        let report = SpecHarness.check(spec(".expect restore rbx r12 at ret\n.limit frame rsp at ret reason=\"none\""))
        XCTAssertEqual(report.exitCode, 1)
        let text = TextReport(colour: false).render(report)
        XCTAssertTrue(text.contains("`.limit frame rsp at ret` matches no violation: the model no longer reports it — remove the limit"), text)
    }

    func testAQuotedInstructionPoint() throws {
        let report = SpecHarness.check(".path f entry=function\n.expect frame below-rsp at \"movq %rax,  -8(%rsp)\"\nf:\n\tmovq %rax, -8(%rsp)\n\tmovq %rbx, -16(%rsp)\n\tret\n")
        let frame = try XCTUnwrap(report.paths.first?.results.first { $0.invariant == .frameBalance })
        XCTAssertEqual(frame.expected.map(\.mechanism.point), ["movq %rax, -8(%rsp)"], "white space does not matter")
        XCTAssertEqual(frame.unexpected.map(\.mechanism.point), ["movq %rbx, -16(%rsp)"])
    }

    // MARK: the directive

    func assertError(_ directive: String, _ location: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        let report = SpecHarness.check(spec(directive))
        XCTAssertEqual(report.exitCode, 2, file: file, line: line)
        guard let d = report.diagnostics.first else { return XCTFail("no diagnostic", file: file, line: line) }
        XCTAssertEqual(d.location.description, location, d.message, file: file, line: line)
        XCTAssertTrue(d.message.contains(message), d.message, file: file, line: line)
    }

    func testAnyViolationOfAnInvariantCannotBeExpected() {
        assertError(".expect restore violated", "spec.pts:3:17", "would accept any violation and hide a second bug")
    }

    func testUnknownMechanismListsTheValidWords() {
        assertError(".expect restore rxx at ret", "spec.pts:3:17", "unknown restore mechanism 'rxx' (expected one of: rax, rcx")
        assertError(".expect frame rsp-wrong at ret", "spec.pts:3:15", "expected one of: rsp, below-rsp, outside-frame, no-caller")
        assertError(".expect stack rsp at ret", "spec.pts:3:9", "unknown invariant 'stack'")
    }

    func testMalformedDirectives() {
        assertError(".expect restore rbx", "spec.pts:3:17", "expected 'at POINT'")
        assertError(".expect restore at ret", "spec.pts:3:17", "expected what is wrong before 'at'")
        assertError(".expect restore rbx at", "spec.pts:3:21", "expected the point after 'at'")
        assertError(".expect restore rbx at ret iretq", "spec.pts:3:28", "one point after 'at'")
        assertError(".limit restore rbx at ret", "spec.pts:3:1", "a .limit says why the model reports it falsely")
        assertError(".expect restore rbx at ret reason=\"x\"", "spec.pts:3:36", "unknown .expect attribute 'reason'")
        assertError(".expect restore rbx at ret\n.limit restore rbx at ret reason=\"x\"", "spec.pts:4:16", "restore rbx at ret is already declared at spec.pts:3:17")
    }

    // MARK: a second bug on a corpus path with a known one

    /// Checks one unit of a copy of Specs/ with `edit` applied to `file`; the unexpected
    /// mechanisms of `invariant`.
    func mutatedCorpus(unit: String, file: String? = nil, invariant: Invariant,
                       _ edit: (String) -> String, line: UInt = #line) throws -> (CheckReport, [String]) {
        let fm = FileManager.default
        let copy = fm.temporaryDirectory.appendingPathComponent("ptregs-mutant-\(UUID().uuidString)")
        try fm.copyItem(at: URL(fileURLWithPath: CorpusTests.specsPath), to: copy)
        defer { try? fm.removeItem(at: copy) }
        let target = copy.appendingPathComponent(file ?? unit)
        let before = try String(contentsOf: target, encoding: .utf8)
        let after = edit(before)
        XCTAssertNotEqual(after, before, "the mutation must change the spec", line: line)
        try after.write(to: target, atomically: true, encoding: .utf8)
        let cwd = fm.currentDirectoryPath
        fm.changeCurrentDirectoryPath(copy.path)
        defer { fm.changeCurrentDirectoryPath(cwd) }
        let report = Checker(options: ProverOptions()).check([unit])
        XCTAssertEqual(report.diagnostics.map(\.description), [], line: line)
        let unexpected = report.paths.flatMap(\.results).filter { $0.invariant == invariant }.flatMap(\.unexpected).map(\.mechanism.description)
        return (report, unexpected)
    }

    func testSecondRestoreBugOnAnExpectedPathFails() throws {
        // The unchanged unit passes: its known violations are all expected.
        let (clean, none) = try mutatedCorpus(unit: "arch/x86/kernel/entry_64/stub_fork.before.pts", invariant: .restoreMatchesSave) {
            $0 + "\n"
        }
        XCTAssertEqual(clean.exitCode, 0)
        XCTAssertEqual(none, [])
        let (report, unexpected) = try mutatedCorpus(unit: "arch/x86/kernel/entry_64/stub_fork.before.pts", invariant: .restoreMatchesSave) {
            $0.replacingOccurrences(of: "\tcall stub_fork ", with: "\tmovq $0, RDI-ARGOFFSET(%rsp)\n\tcall stub_fork ")
        }
        XCTAssertEqual(report.exitCode, 1)
        XCTAssertTrue(unexpected.contains("restore rdi at iretq"), "\(unexpected)")
    }

    func testSecondPtraceBugOnAnExpectedPathFails() throws {
        let (report, unexpected) = try mutatedCorpus(unit: "arch/x86/kernel/entry_64/stub_fork.before.pts", invariant: .ptraceConsistency) {
            $0.replacingOccurrences(of: "\tcall stub_fork ", with: "\tmovq $0, ORIG_RAX-ARGOFFSET(%rsp)\n\tcall stub_fork ")
        }
        XCTAssertEqual(report.exitCode, 1)
        XCTAssertTrue(unexpected.contains("ptrace orig_ax at sys_fork"), "\(unexpected)")
    }

    func testSecondFrameBugOnAPathWithAFrameLimitFails() throws {
        let (report, unexpected) = try mutatedCorpus(unit: "arch/x86/ia32/ia32entry/ia32_cstar_target.before.pts",
                                                      file: "arch/x86/ia32/ia32entry/ia32entry.before.ptsh", invariant: .frameBalance) {
            // Below rsp on the kernel stack, right after the switch to it.
            $0.replacingOccurrences(of: "\tmovl %esp, %r8d\n\tmovq PER_CPU_VAR(kernel_stack), %rsp\n",
                                    with: "\tmovl %esp, %r8d\n\tmovq PER_CPU_VAR(kernel_stack), %rsp\n\tmovq %rax, -8(%rsp)\n")
        }
        XCTAssertEqual(report.exitCode, 1)
        XCTAssertEqual(unexpected, ["frame below-rsp at \"movq %rax, -8(%rsp)\""])
    }

    func testSecondReturnStackBugOnAnExpectedPathFails() throws {
        let (report, unexpected) = try mutatedCorpus(unit: "arch/x86/kernel/entry_64/stub_execve.before.pts", invariant: .returnStack) {
            $0.replacingOccurrences(of: "\tcall stub_execve ", with: "\tcall 7f\n7:\taddq $8, %rsp\n\tcall stub_execve ")
        }
        XCTAssertEqual(report.exitCode, 1)
        XCTAssertTrue(unexpected.contains("return-stack unreturned-call at 7f"), "\(unexpected)")
    }
}
