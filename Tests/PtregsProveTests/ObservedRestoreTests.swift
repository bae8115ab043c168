import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// Invariant 1 judged where values are observed (issue 14, items 13 and 14): loads and
/// pops in between are no obligations; an exit that gives a register back is, and its
/// violation is blamed by provenance on the instruction that put the wrong value there,
/// with every register wrong at that exit reported.
final class ObservedRestoreTests: XCTestCase {
    // MARK: false alarms of the home-slot rule, now proved

    /// A callee-saved register used as scratch after its value was spilled — loaded
    /// from a slot nothing wrote, from the return address, from another register's
    /// save — and popped back before the ret.
    func testCalleeSavedRegisterUsedAsScratchAfterSpillProves() {
        let report = SpecHarness.check("""
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbx
        \tpushq %r12
        \tsubq $8, %rsp
        \tmovq (%rsp), %r12
        \tmovq 24(%rsp), %rbx
        \tmovq 8(%rsp), %rbx
        \taddq %rdi, %rbx
        \tmovq %rbx, (%rsp)
        \tcall schedule
        \tmovq (%rsp), %r12
        \taddq $8, %rsp
        \tpopq %r12
        \tpopq %rbx
        \tret
        """)
        SpecHarness.assertOthersProved(report, path: "f", except: [])
    }

    /// The v4.0 FIXUP_TOP_OF_STACK fix: the user rip reaches pt_regs.cx through a scratch
    /// register (rcx itself, or r11, which is then restored from its own slot), and IRET
    /// gives the user rcx = rip back — right, whatever register carried it.
    func testValueReachingItsSlotThroughAScratchRegisterProves() {
        let saves = RestoreInvariantTests.saves.replacingOccurrences(of: "\tmovq %rcx, RCX(%rsp)\n", with: "")
        for route in ["\tmovq RIP(%rsp), %rcx\n\tmovq %rcx, RCX(%rsp)", "\tmovq RIP(%rsp), %r11\n\tmovq %r11, RCX(%rsp)"] {
            let report = SpecHarness.check(RestoreInvariantTests.syscallViaIret(saves: saves, between: route))
            SpecHarness.assertOthersProved(report, path: "sc", except: [])
        }
    }

    // MARK: violations, blamed by provenance

    /// rbx and r12 popped in the wrong order: both come back wrong at the ret, each
    /// blamed on its own pop, with the slot it read and the save that slot held.
    func testWrongPopOrderReportsBothRegisters() {
        let spec = """
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbx         # <-save-rbx
        \tpushq %r12         # <-save-r12
        \tcall schedule
        \tpopq %rbx          # <-pop-rbx
        \tpopq %r12          # <-pop-r12
        \tret                # <-exit
        """
        let line = { (m: String) in SpecHarness.line(m, in: spec) }
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "f", .restoreMatchesSave, blamedLine: line("<-pop-rbx"),
                                            requirementContains: "rbx must hold its value from the path's entry when the path returns at `ret` (line \(line("<-exit")))")
        guard let cx else { return }
        XCTAssertTrue(cx.requirement.contains("`popq %rbx` (line \(line("<-pop-rbx"))) read entry stack-0x10, which held saved r12 (pushed) (line \(line("<-save-r12")))"), cx.requirement)
        XCTAssertTrue(cx.requirement.contains("also wrong there: r12 (blamed on `popq %r12`, line \(line("<-pop-r12")))"), cx.requirement)
        XCTAssertEqual(cx.related.count, 1)
        XCTAssertEqual(cx.related.first?.location.line, line("<-pop-r12"))
        XCTAssertTrue(cx.related.first?.message.contains("read entry stack-0x8, which held saved rbx (pushed) (line \(line("<-save-rbx")))") == true,
                      cx.related.first?.message ?? "")
        XCTAssertEqual(cx.observation?.location.line, line("<-exit"))
        // The replayed run goes through both pops to the ret; the picture is the stack
        // before the blamed pop.
        XCTAssertEqual(cx.steps.map(\.text), ["pushq %rbx", "pushq %r12", "call schedule", "popq %rbx", "popq %r12", "ret"])
        XCTAssertEqual(cx.blamedStepIndex, 3)
        XCTAssertEqual(cx.rsp, "entry stack-0x10")
        XCTAssertEqual(SpecHarness.pictured(cx, "entry stack-0x10")?.holds, "saved r12 (pushed) (line \(line("<-save-r12")))")
        // The values the run gave back differ from the entry's.
        XCTAssertNotEqual(SpecHarness.value(cx, "rbx"), SpecHarness.value(cx, "at entry"))
        SpecHarness.assertOthersProved(report, path: "f", except: [.restoreMatchesSave])
    }

    /// A pop of another register's save is a move, right while nobody looks — and
    /// wrong when the ret gives it back: blamed on the pop, which read the slot of rbp.
    func testPopOfAnotherRegistersSaveObservedAtTheExit() {
        let spec = """
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbx
        \tpushq %rbp         # <-save-rbp
        \tcall schedule
        \tpopq %rbx          # <-blamed
        \taddq $8, %rsp
        \tret
        """
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "f", .restoreMatchesSave, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "read entry stack-0x10, which held saved rbp (pushed) (line \(SpecHarness.line("<-save-rbp", in: spec)))")
        XCTAssertEqual(SpecHarness.touched(cx, "entry stack-0x10")?.holds, "saved rbp (pushed) (line \(SpecHarness.line("<-save-rbp", in: spec)))")
        XCTAssertEqual(cx?.related.count, 0, "rbp itself is never touched: it comes back right")
    }

    /// The same pop when nothing observes it: rsi is not given back by a function's ret.
    func testPopOfAnotherRegistersSaveNobodyObservesProves() {
        let report = SpecHarness.check("""
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbx
        \tpushq %rdi
        \tcall schedule
        \tpopq %rsi
        \tpopq %rbx
        \tret
        """)
        SpecHarness.assertOthersProved(report, path: "f", except: [])
    }

    /// A wrong value moved through another register: blamed on the move that put it in
    /// the register the exit gives back, with the load it came from.
    func testWrongValueCarriedByAMoveNamesTheLoad() {
        let spec = """
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbx
        \tsubq $8, %rsp
        \tcall schedule
        \tmovq (%rsp), %rax  # <-load
        \tmovq %rax, %rbx    # <-blamed
        \taddq $8, %rsp
        \tpopq %rax
        \tret
        """
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "f", .restoreMatchesSave, blamedLine: SpecHarness.line("<-blamed", in: spec),
                                            requirementContains: "`movq %rax, %rbx` (line \(SpecHarness.line("<-blamed", in: spec))) copied it from the value `movq (%rsp), %rax` (line \(SpecHarness.line("<-load", in: spec))) read from entry stack-0x10, which held garbage (never written)")
        XCTAssertNotNil(cx)
    }
}

/// `--explain` (item 14): a pop or load into a register says what the slot held and who
/// relies on the value — never "holds by construction" for a pop of another register's
/// save, which is no obligation of its own any more.
final class ExplainRestoreTests: XCTestCase {
    func explanation(_ text: String) throws -> String {
        let program = try Elaborator(loader: SpecLoader(root: FileManager.default.temporaryDirectory.path))
            .elaborate(text: text, file: URL(fileURLWithPath: "/tmp/spec.pts"), displayName: "spec.pts")
        let path = try XCTUnwrap(program.paths.first)
        return TextReport(colour: false).render(Explainer.explain(program: program, path: path, options: ProverOptions()))
    }

    func testPopOfAnotherRegistersSaveSaysWhatTheSlotHoldsAndWhoRelies() throws {
        let text = try explanation("""
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbx
        \tpushq %rdi
        \tcall schedule
        \tpopq %rsi
        \tpopq %r12
        \tmovq %rbx, %r12
        \tret
        """)
        XCTAssertFalse(text.contains("pop into"), text)
        XCTAssertTrue(text.contains("(restore: rsi ← entry stack-0x10, which held saved rdi (pushed) (line 5); nobody observes it in rsi: `ret` (line 10) does not give rsi back)"), text)
        // r12 gets rbx's save, then is replaced by the live rbx before the ret looks.
        XCTAssertTrue(text.contains("(restore: r12 ← entry stack-0x8, which held saved rbx (pushed) (line 4); nobody observes it in r12: `movq %rbx, %r12` (line 9) replaces it before any exit)"), text)
    }

    func testWrongPopOrderSaysTheExitReliesOnItAndItIsWrong() throws {
        let text = try explanation("""
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbx
        \tpushq %r12
        \tcall schedule
        \tpopq %rbx
        \tpopq %r12
        \tret
        """)
        XCTAssertTrue(text.contains("(restore: rbx ← entry stack-0x10, which held saved r12 (pushed) (line 5); relied on by `ret` (line 9), which gives rbx back and needs its value from the path's entry there — it is not (the restore verdict blames this step))"), text)
    }

    func testValueCarriedToItsSlotSaysWhereItWasStored() throws {
        let saves = RestoreInvariantTests.saves.replacingOccurrences(of: "\tmovq %rcx, RCX(%rsp)\n", with: "")
        let text = try explanation(RestoreInvariantTests.syscallViaIret(saves: saves, between: "\tmovq RIP(%rsp), %r11\n\tmovq %r11, RCX(%rsp)"))
        XCTAssertTrue(text.contains("(restore: r11 ← pt_regs.ip (kernel_stack), which held saved rcx (line 18); stored to pt_regs.cx (kernel_stack-0x28) by line 28; nobody observes it in r11: `movq R11(%rsp), %r11` (line 29) replaces it before any exit)"), text)
        XCTAssertTrue(text.contains("(restore: rcx ← pt_regs.cx (kernel_stack-0x28), which held saved r11 (line 28); relied on by `iretq` (line 40), which gives rcx back and needs the user's value (pt_regs.cx) there — it is)"), text)
    }
}
