import PtregsProve
import SpecElaboration
import XCTest

/// A known (expected) wrong value at an exit must not hide a second one at the same exit:
/// a site is the exit together with the instruction the wrong value is blamed on, so a
/// value from another instruction is another site, past the expectation's count
/// (Verdicts.swift, `Site`; PathProver.swift, `searchOtherBlames`).
final class SecondWrongValueTests: XCTestCase {
    /// One exit; rbx is clobbered on line 6 when rdi is 1 (the known bug) and on line 9
    /// when rsi is 2 (the new one); both reach the `ret` on line 10.
    static func oneExit(_ directive: String, secondBug: Bool = true) -> String {
        """
        .path g entry=function
        \(directive)
        g:
        \tcmpq $1, %rdi
        \tjne 1f
        \tmovq $0, %rbx
        1:\tcmpq $2, %rsi
        \tjne 2f
        \t\(secondBug ? "movq $5, %rbx" : "movq $5, %rax")
        2:\tret
        """
    }

    func restore(_ report: CheckReport, file: StaticString = #filePath, line: UInt = #line) throws -> InvariantResult {
        XCTAssertEqual(report.diagnostics.map(\.description), [], file: file, line: line)
        return try XCTUnwrap(SpecHarness.result(report, path: "g", .restoreMatchesSave), file: file, line: line)
    }

    func testASecondWrongValueAtTheExitOfAnExpectedOneFailsTheGate() throws {
        let report = SpecHarness.check(Self.oneExit(".expect restore rbx at ret"))
        let r = try restore(report)
        XCTAssertEqual(report.exitCode, 1)
        XCTAssertEqual(r.status, .fail)
        XCTAssertEqual(r.violations.map(\.counterexample.location.line).sorted(), [6, 9], "one violation per blamed line")
        XCTAssertEqual(r.expected.map(\.counterexample.location.line), [6])
        let second = try XCTUnwrap(r.unexpected.first)
        XCTAssertEqual(second.counterexample.location.line, 9)
        XCTAssertEqual(second.site.location.line, 10)
        XCTAssertEqual(second.counterexample.steps.last?.sourceLocation.line, 10, "the trace ends at the exit")
        // The replayed inputs take the second bug's branch.
        let inputs = Dictionary(second.counterexample.inputs, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(inputs["entry.rsi"], 2)
        XCTAssertEqual(r.siteCountExceeded(second).map { $0.contains("g.pts:10 (from line 6), g.pts:10 (from line 9)") || $0.contains("(from line 9)") }, true,
                       r.siteCountExceeded(second) ?? "accepted")
    }

    func testTwoSitesDeclaredAcceptBoth() throws {
        let report = SpecHarness.check(Self.oneExit(".expect restore rbx at ret sites=2"))
        let r = try restore(report)
        XCTAssertEqual(report.exitCode, 0)
        XCTAssertEqual(r.status, .pass)
        XCTAssertEqual(r.expected.count, 2)
    }

    func testOneWrongValueStaysOneSite() throws {
        let report = SpecHarness.check(Self.oneExit(".expect restore rbx at ret", secondBug: false))
        let r = try restore(report)
        XCTAssertEqual(report.exitCode, 0)
        XCTAssertEqual(r.status, .pass)
        XCTAssertEqual(r.violations.map(\.counterexample.location.line), [6])
    }

    /// The same, with the exit after a loop: the loop's proof run tracks register
    /// writers through the widened head, so the second value is found or ruled out there.
    static func loopThenExit(secondBug: Bool) -> String {
        """
        .path g entry=function
        .expect restore rbx at ret
        g:
        \tcmpq $1, %rdi
        \tjne 1f
        \tmovq $0, %rbx
        1:\tdecq %rcx
        \tjnz 1b
        \tcmpq $2, %rsi
        \tjne 2f
        \t\(secondBug ? "movq $5, %rbx" : "movq $5, %rax")
        2:\tret
        """
    }

    func testASecondWrongValueAfterALoopIsFound() throws {
        let report = SpecHarness.check(Self.loopThenExit(secondBug: true))
        let r = try restore(report)
        XCTAssertEqual(r.status, .fail, r.undecided ?? "")
        XCTAssertEqual(r.unexpected.map(\.counterexample.location.line), [11])
        XCTAssertEqual(r.expected.map(\.counterexample.location.line), [6])
    }

    func testNoSecondWrongValueAfterALoopProvesTheRest() throws {
        let report = SpecHarness.check(Self.loopThenExit(secondBug: false))
        let r = try restore(report)
        XCTAssertEqual(r.status, .pass, r.undecided ?? "")
        XCTAssertEqual(r.expected.map(\.counterexample.location.line), [6])
    }

    /// A value clobbered inside the loop body on some trips, the known bug before it.
    func testASecondWrongValueInsideALoopIsFound() throws {
        let spec = """
        .path g entry=function
        .expect restore rbx at ret
        g:
        \tcmpq $1, %rdi
        \tjne 1f
        \tmovq $0, %rbx
        1:\tcmpq %rcx, %rsi
        \tjne 2f
        \tmovq $5, %rbx
        2:\tdecq %rcx
        \tjnz 1b
        \tret
        """
        let report = SpecHarness.check(spec)
        let r = try restore(report)
        XCTAssertEqual(r.status, .fail, r.undecided ?? "")
        XCTAssertEqual(r.unexpected.map(\.counterexample.location.line), [9])
    }

    /// The same for a call's argument: a known wrong rdi at the call (the old offset after
    /// one more push), and on another branch a second instruction that overwrites it.
    func testASecondWrongArgumentAtAnExpectedCallFailsTheGate() throws {
        let thunk = CallContractTests.thunk(extraSave: "\tpushq %rbx", extraRestore: "\tpopq %rbx")
            .replacingOccurrences(of: ".path trace_hardirqs_on_thunk entry=function preserves=all",
                                  with: ".path trace_hardirqs_on_thunk entry=function preserves=all\n.expect args rdi at trace_hardirqs_on_caller")
        let known = SpecHarness.check(thunk)
        XCTAssertEqual(known.exitCode, 0, "the known wrong argument alone is accepted")
        let second = thunk.replacingOccurrences(of: "\tcall trace_hardirqs_on_caller  # <-call",
                                                with: "\ttestq %rsi, %rsi\n\tjz 1f\n\tmovq %rsi, %rdi   # <-second\n1:\tcall trace_hardirqs_on_caller  # <-call")
        let report = SpecHarness.check(second)
        let r = try XCTUnwrap(SpecHarness.result(report, path: "trace_hardirqs_on_thunk", .callArguments))
        XCTAssertEqual(report.exitCode, 1)
        XCTAssertEqual(r.expected.map(\.counterexample.location.line), [SpecHarness.line("<-arg", in: second)])
        XCTAssertEqual(r.unexpected.map(\.counterexample.location.line), [SpecHarness.line("<-second", in: second)])
    }
}
