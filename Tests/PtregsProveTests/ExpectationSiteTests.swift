import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// An expectation accepts its mechanism at as many distinct sites as it states
/// (`sites=N`, default 1): the words of a known bug at a second place in the code are a
/// second bug until the spec says otherwise. A site is the program instruction where the
/// obligation is judged; runs, call contexts and loop copies reaching it are one site,
/// macro expansions and `.rept` copies are one each.
final class ExpectationSiteTests: XCTestCase {
    /// The red team's spec: a known bug at the first `ret` (line 7), a new one with the
    /// same words at the last (line 12).
    static func twoExits(_ directive: String) -> String {
        """
        .path g entry=function
        \(directive)
        g:
        \tcmpq $1, %rdi
        \tje 1f
        \tmovq $0, %rbx
        \tret
        1:\tcmpq $2, %rsi
        \tje 2f
        \tret
        2:\tmovq $5, %rbx
        \tret
        """
    }

    func result(_ report: CheckReport, _ inv: Invariant, file: StaticString = #filePath, line: UInt = #line) throws -> InvariantResult {
        XCTAssertEqual(report.diagnostics.map(\.description), [], file: file, line: line)
        return try XCTUnwrap(report.paths.first?.results.first { $0.invariant == inv }, file: file, line: line)
    }

    /// A replayed counterexample: blamed on `blamed`, its trace ending at the site.
    func assertReplayed(_ v: Violation, blamed: Int, site: Int, file: StaticString = #filePath, line: UInt = #line) {
        let cx = v.counterexample
        XCTAssertEqual(cx.location.line, blamed, "blamed: \(cx.instruction) — \(cx.requirement)", file: file, line: line)
        XCTAssertEqual(v.site.location.line, site, file: file, line: line)
        XCTAssertFalse(cx.steps.isEmpty, "no trace", file: file, line: line)
        XCTAssertEqual(cx.steps.last?.sourceLocation.line, site, "the trace ends where the obligation is judged", file: file, line: line)
        if cx.steps.indices.contains(cx.blamedStepIndex) {
            XCTAssertEqual(cx.steps[cx.blamedStepIndex].sourceLocation.line, blamed, file: file, line: line)
        }
    }

    // MARK: two exits, one mechanism

    func testASecondSiteOfAnExpectedMechanismFailsAndIsNamed() throws {
        let report = SpecHarness.check(Self.twoExits(".expect restore rbx at ret"))
        let r = try result(report, .restoreMatchesSave)
        XCTAssertEqual(report.exitCode, 1)
        XCTAssertEqual(r.status, .fail)
        XCTAssertEqual(r.violations.count, 2, "one violation per site")
        // In code order, the first site is accepted and the one past the count is not.
        let expected = try XCTUnwrap(r.expected.first), unexpected = try XCTUnwrap(r.unexpected.first)
        XCTAssertEqual(r.expected.count, 1)
        XCTAssertEqual(r.unexpected.count, 1)
        assertReplayed(expected, blamed: 6, site: 7)
        assertReplayed(unexpected, blamed: 11, site: 12)
        XCTAssertEqual(unexpected.exceedsSitesOf?.location.line, 2)
        XCTAssertEqual(r.staleExpectations.count, 0)

        let text = TextReport(colour: false).render(report)
        XCTAssertTrue(text.contains("spec.pts:11:4: error: g: restore matches save violated: rbx must hold its value from the path's entry when the path returns at `ret` (line 12)"), text)
        XCTAssertTrue(text.contains("[restore rbx at ret, site spec.pts:12]: `.expect restore rbx at ret` (spec.pts:2:17) is declared for 1 site and is now seen at 2: spec.pts:7, spec.pts:12"), text)
        XCTAssertTrue(text.contains("spec.pts:2:17: note: if every site is the same known bug and a fix is not part of the change, declare them all: `.expect restore rbx at ret sites=2`"), text)
        XCTAssertTrue(text.contains("violations: 1 expected, 0 model limits, 1 unexpected"), text)
        // The unexpected site's trace is printed (the accepted one's only with -v).
        XCTAssertTrue(text.contains(">   11 movq $5, %rbx"), text)
        XCTAssertFalse(text.contains(">    6 movq $0, %rbx"), text)

        // JSON: each site its own violation, with its site and its counterexample.
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(JSONReport.render(report).utf8)) as? [String: Any])
        let paths = try XCTUnwrap(json["paths"] as? [[String: Any]])
        let results = try XCTUnwrap(paths.first?["results"] as? [[String: Any]])
        let restore = try XCTUnwrap(results.first { $0["invariant"] as? String == "restore" })
        let violations = try XCTUnwrap(restore["violations"] as? [[String: Any]])
        XCTAssertEqual(violations.map { $0["disposition"] as? String }, ["expected", "unexpected"])
        XCTAssertEqual(violations.map { ($0["site"] as? [String: Any])?["line"] as? Int }, [7, 12])
        XCTAssertEqual(violations.map { (($0["counterexample"] as? [String: Any])?["location"] as? [String: Any])?["line"] as? Int }, [6, 11])
        XCTAssertEqual((violations[1]["exceedsSitesOf"] as? [String: Any])?["sites"] as? Int, 1)

        // SARIF: one result per site, each with its own identity.
        let sarif = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(SARIFReport.render(report).utf8)) as? [String: Any])
        let sarifResults = try XCTUnwrap((sarif["runs"] as? [[String: Any]])?.first?["results"] as? [[String: Any]])
        let restoreResults = sarifResults.filter { $0["ruleId"] as? String == "restore" }
        XCTAssertEqual(restoreResults.map { $0["level"] as? String }, ["note", "error"])
        let prints = restoreResults.compactMap { ($0["partialFingerprints"] as? [String: String])?["ptregsProve/v1"] }
        XCTAssertEqual(Set(prints).count, 2)
        XCTAssertTrue((restoreResults[1]["message"] as? [String: Any])?["text"].map { "\($0)" }?.contains("is now seen at 2: spec.pts:7, spec.pts:12") == true)
    }

    func testDeclaringBothSitesPasses() throws {
        let report = SpecHarness.check(Self.twoExits(".expect restore rbx at ret sites=2"))
        let r = try result(report, .restoreMatchesSave)
        XCTAssertEqual(report.exitCode, 0)
        XCTAssertEqual(r.status, .pass)
        XCTAssertEqual(r.expected.count, 2)
        assertReplayed(r.expected[0], blamed: 6, site: 7)
        assertReplayed(r.expected[1], blamed: 11, site: 12)
        XCTAssertEqual(r.expected[0].acceptedBy?.description, ".expect restore rbx at ret sites=2")
        let text = TextReport(colour: false).render(report)
        XCTAssertTrue(text.contains("violations: 2 expected, 0 model limits, 0 unexpected"), text)
    }

    func testASiteFixedMakesTheCountStale() throws {
        // The second exit's bug is fixed: rbx is left alone there.
        let fixed = Self.twoExits(".expect restore rbx at ret sites=2").replacingOccurrences(of: "2:\tmovq $5, %rbx", with: "2:\tmovq $5, %rax")
        let report = SpecHarness.check(fixed)
        let r = try result(report, .restoreMatchesSave)
        XCTAssertEqual(report.exitCode, 1)
        XCTAssertEqual(r.status, .stale)
        XCTAssertEqual(r.expected.count, 1)
        XCTAssertEqual(r.unexpected.count, 0)
        XCTAssertEqual(r.staleExpectations.map(\.sites), [2])
        let text = TextReport(colour: false).render(report)
        XCTAssertTrue(text.contains("spec.pts:2:17: error: g: restore matches save: `.expect restore rbx at ret sites=2` is declared for 2 sites and is now seen at 1 site (spec.pts:7) — update sites= (`.expect restore rbx at ret`)"), text)
        XCTAssertTrue(text.contains("1 expectation out of date"), text)
    }

    func testBothSitesFixedIsStaleAsBefore() throws {
        let fixed = Self.twoExits(".expect restore rbx at ret sites=2")
            .replacingOccurrences(of: "\tmovq $0, %rbx", with: "\tmovq $0, %rax")
            .replacingOccurrences(of: "2:\tmovq $5, %rbx", with: "2:\tmovq $5, %rax")
        let report = SpecHarness.check(fixed)
        XCTAssertEqual(try result(report, .restoreMatchesSave).status, .stale)
        XCTAssertTrue(TextReport(colour: false).render(report).contains("`.expect restore rbx at ret sites=2` matches no violation: now proves — update the expectation"))
    }

    /// Accepted violations untraced (the text report without -v): a site found to be
    /// one too many is unexpected, and still gets its trace.
    func testAnExtraSiteIsTracedWhenAcceptedOnesAreNot() throws {
        var options = ProverOptions()
        options.traceAcceptedViolations = false
        var checker = Checker(options: options)
        checker.jobs = 1
        let report = checker.check(source: Self.twoExits(".expect restore rbx at ret"), name: "spec.pts")
        let r = try result(report, .restoreMatchesSave)
        let unexpected = try XCTUnwrap(r.unexpected.first)
        assertReplayed(unexpected, blamed: 11, site: 12)
    }

    // MARK: an access whose text repeats

    static let repeatedAccess = """
    .path h entry=function
    DIRECTIVE
    h:
    \tcmpq $1, %rdi
    \tje 1f
    \tmovq %rax, -8(%rsp)
    \tret
    1:\tmovq %rax, -8(%rsp)
    \tret
    """

    func testABelowRspAccessWrittenTwiceIsTwoSites() throws {
        let one = SpecHarness.check(Self.repeatedAccess.replacingOccurrences(of: "DIRECTIVE", with: ".expect frame below-rsp at \"movq %rax, -8(%rsp)\""))
        let r = try result(one, .frameBalance)
        XCTAssertEqual(one.exitCode, 1)
        XCTAssertEqual(r.violations.map(\.site.location.line), [6, 8])
        XCTAssertEqual(r.expected.map(\.site.location.line), [6])
        XCTAssertEqual(r.unexpected.map(\.site.location.line), [8])
        // An access is blamed on itself, and the trace ends there.
        assertReplayed(r.violations[0], blamed: 6, site: 6)
        assertReplayed(r.violations[1], blamed: 8, site: 8)
        let text = TextReport(colour: false).render(one)
        XCTAssertTrue(text.contains("is declared for 1 site and is now seen at 2: spec.pts:6, spec.pts:8"), text)
        XCTAssertTrue(text.contains("`.expect frame below-rsp at \"movq %rax, -8(%rsp)\" sites=2`"), text)

        let two = SpecHarness.check(Self.repeatedAccess.replacingOccurrences(of: "DIRECTIVE", with: ".expect frame below-rsp at \"movq %rax, -8(%rsp)\" sites=2"))
        XCTAssertEqual(two.exitCode, 0)
        XCTAssertEqual(try result(two, .frameBalance).expected.count, 2)
    }

    func testAnUndeclaredMechanismAtTwoSitesSuggestsBoth() throws {
        let report = SpecHarness.check(Self.repeatedAccess.replacingOccurrences(of: "DIRECTIVE\n", with: ""))
        let r = try result(report, .frameBalance)
        XCTAssertEqual(r.unexpected.count, 2)
        XCTAssertNil(r.unexpected[0].exceedsSitesOf)
        XCTAssertTrue(TextReport(colour: false).render(report).contains("declare it after the .path: `.expect frame below-rsp at \"movq %rax, -8(%rsp)\" sites=2`"))
    }

    // MARK: what counts as one site

    /// A loop runs its access on every trip, and a routine called twice runs it in two
    /// call contexts: each is one instruction, one site.
    func testALoopAndTwoCallContextsAreOneSiteEach() throws {
        let loop = """
        .path l entry=function
        .expect frame below-rsp at "movq %rax, -8(%rsp)"
        l:
        \tmovq $3, %rcx
        1:\tmovq %rax, -8(%rsp)
        \tdecq %rcx
        \tjnz 1b
        \tret
        """
        let looped = SpecHarness.check(loop)
        let r = try result(looped, .frameBalance)
        XCTAssertEqual(looped.exitCode, 0, TextReport(colour: false).render(looped))
        XCTAssertEqual(r.violations.count, 1)
        XCTAssertEqual(r.violations.first?.site.location.line, 5)
        if let v = r.violations.first { assertReplayed(v, blamed: 5, site: 5) }

        let calls = """
        .path c entry=function
        .expect frame below-rsp at "movq %rax, -8(%rsp)"
        c:
        \tcall spill
        \tcall spill
        \tret
        spill:
        \tmovq %rax, -8(%rsp)
        \tret
        """
        let called = SpecHarness.check(calls)
        let rc = try result(called, .frameBalance)
        XCTAssertEqual(called.exitCode, 0, TextReport(colour: false).render(called))
        XCTAssertEqual(rc.violations.map(\.site.location.line), [8])
    }

    /// A macro expanded twice, or a `.rept 2`, makes two instructions: two sites, named
    /// where the spec's author wrote them.
    func testAMacroExpandedTwiceAndAReptAreTwoSites() throws {
        let macro = """
        .macro SPILL
        \tmovq %rax, -8(%rsp)
        .endm
        .path m entry=function
        .expect frame below-rsp at "movq %rax, -8(%rsp)"
        m:
        \tSPILL
        \tSPILL
        \tret
        """
        let once = SpecHarness.check(macro)
        let r = try result(once, .frameBalance)
        XCTAssertEqual(once.exitCode, 1)
        XCTAssertEqual(r.violations.map(\.site.location.line), [7, 8])
        XCTAssertEqual(r.unexpected.map(\.site.location.line), [8])
        assertReplayed(r.violations[0], blamed: 7, site: 7)
        assertReplayed(r.violations[1], blamed: 8, site: 8)
        XCTAssertTrue(TextReport(colour: false).render(once).contains("is now seen at 2: spec.pts:7, spec.pts:8"))
        let twice = SpecHarness.check(macro.replacingOccurrences(of: "-8(%rsp)\"", with: "-8(%rsp)\" sites=2"))
        XCTAssertEqual(twice.exitCode, 0)

        let rept = """
        .path n entry=function
        .expect frame below-rsp at "movq %rax, -8(%rsp)"
        n:
        \t.rept 2
        \tmovq %rax, -8(%rsp)
        \t.endr
        \tret
        """
        let copies = SpecHarness.check(rept)
        let rr = try result(copies, .frameBalance)
        XCTAssertEqual(copies.exitCode, 1)
        XCTAssertEqual(rr.violations.count, 2)
        XCTAssertEqual(Set(rr.violations.map(\.site.instruction)).count, 2)
        // Both copies are written on the `.rept` line: their order there tells them apart.
        XCTAssertTrue(TextReport(colour: false).render(copies).contains("is now seen at 2: spec.pts:4 (#1 there), spec.pts:4 (#2 there)"))
        XCTAssertEqual(SpecHarness.check(rept.replacingOccurrences(of: "-8(%rsp)\"", with: "-8(%rsp)\" sites=2")).exitCode, 0)
    }

    // MARK: the directive

    func testSitesIsANumberFromOne() {
        for value in ["0", "two", "-1"] {
            let report = SpecHarness.check(Self.twoExits(".expect restore rbx at ret sites=\(value)"))
            let d = report.diagnostics.first
            // At the value, after `.expect restore rbx at ret sites=`.
            XCTAssertEqual(d?.location.description, "spec.pts:2:34", "\(value): \(report.diagnostics)")
            XCTAssertTrue(d?.message.contains("sites= takes how many distinct sites") == true, "\(d?.message ?? "none")")
        }
    }

    func testALimitTakesSitesToo() throws {
        let report = SpecHarness.check(Self.twoExits(".limit restore rbx at ret sites=2 reason=\"the model's slot numbering\""))
        let r = try result(report, .restoreMatchesSave)
        XCTAssertEqual(report.exitCode, 0)
        XCTAssertEqual(r.limits.count, 2)
        XCTAssertEqual(r.limits.first?.acceptedBy?.description, ".limit restore rbx at ret sites=2 reason=\"the model's slot numbering\"")
    }

    func testASecondDeclarationOfAMechanismPointsAtSites() {
        let report = SpecHarness.check(Self.twoExits(".expect restore rbx at ret\n.expect restore rbx at retq"))
        XCTAssertTrue(report.diagnostics.first?.message.contains("already declared at spec.pts:2:17 (a mechanism at several sites is one declaration with sites=N)") == true,
                      "\(report.diagnostics)")
    }
}
