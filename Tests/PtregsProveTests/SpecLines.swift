import PtregsProve
import SpecElaboration
import StackSemantics
import XCTest

/// Small helpers for the invariant tests: the blamed line is written into the spec
/// itself, as a `# <-NAME` comment on the line the trace must end at, so a test says
/// which line it expects without counting lines by hand.
extension SpecHarness {
    /// The 1-based line of `text` that carries `marker`. Exactly one line must.
    static func line(_ marker: String, in text: String, file: StaticString = #filePath, line: UInt = #line) -> Int {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let hits = lines.indices.filter { lines[$0].contains(marker) }
        guard hits.count == 1 else {
            XCTFail("marker '\(marker)' is on \(hits.count) lines of the spec, expected exactly one", file: file, line: line)
            return -1
        }
        return hits[0] + 1
    }

    /// pt_regs's registers from r8 down, pushed in its order (what an entry pushes after
    /// di, si, dx, cx and ax), one spec line each.
    static let pushPtRegsFromR8 = ["r8", "r9", "r10", "r11", "rbx", "rbp", "r12", "r13", "r14", "r15"].map { "\tpushq %\($0)\n" }.joined()
    /// Every register pt_regs holds, popped from r15 up to di, one spec line each.
    static let popPtRegs = ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi"]
        .map { "\tpopq %\($0)\n" }.joined()
    /// The same pops but rdi's (`POP_REGS pop_rdi=0`): rsp is left on di's slot.
    static let popPtRegsToRsi = ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi"]
        .map { "\tpopq %\($0)\n" }.joined()

    /// Every invariant but `except` proves on `path` (the spec breaks only what the test is about).
    static func assertOthersProved(_ report: CheckReport, path: String, except: Set<Invariant>,
                                   file: StaticString = #filePath, line: UInt = #line) {
        for inv in Invariant.allCases where !except.contains(inv) {
            assertProved(report, path: path, inv, file: file, line: line)
        }
    }

    /// The slot a counterexample's blamed step touched whose label starts with `label`.
    static func touched(_ cx: Counterexample?, _ label: String) -> SlotView? {
        guard let cx, cx.steps.indices.contains(cx.blamedStepIndex) else { return nil }
        return cx.steps[cx.blamedStepIndex].touched.first { $0.label.hasPrefix(label) }
    }

    /// The slot of the stack picture before the blamed step whose label starts with `label`.
    static func pictured(_ cx: Counterexample?, _ label: String) -> SlotView? {
        cx?.picture.first { $0.label.hasPrefix(label) }
    }

    /// The value a counterexample prints under `label` (`read`, `rsp`, `popped` …).
    static func value(_ cx: Counterexample?, _ label: String) -> String? {
        cx?.values.first { $0.0 == label }?.1
    }

    /// Asserts the verdict is unknown and its reason mentions `reason`.
    static func assertUnknown(_ report: CheckReport, path: String, _ inv: Invariant, reasonContains reason: String,
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(report.diagnostics, [], file: file, line: line)
        guard let r = result(report, path: path, inv, file: file, line: line) else { return }
        guard case .unknown(let why) = r.verdict else {
            XCTFail("\(path) \(inv.rawValue): expected unknown, got \(describe(r.verdict))", file: file, line: line)
            return
        }
        XCTAssertTrue(why.contains(reason), "unknown reason '\(why)' lacks '\(reason)'", file: file, line: line)
    }
}
