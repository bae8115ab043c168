import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// `ist=VAR`: 3.16's paranoidzeroentry_ist moves its vector's IST stack pointer down by
/// EXCEPTION_STKSZ around the handler call (`subq $EXCEPTION_STKSZ, INIT_TSS_IST(ist)`),
/// so a nested exception of the vector (a breakpoint in the #DB handler) gets a stack of
/// its own; every exit must give the pointer back as the entry found it.
final class ISTStackTests: XCTestCase {
    static let debugEntry = """
    #define EXCEPTION_STKSZ 4096
    #define INIT_TSS_IST_DEBUG 60          # TSS_ist + (DEBUG_STACK - 1) * 8
    .percpu init_tss+INIT_TSS_IST_DEBUG
    .extern do_debug observes=all
    .path debug entry=interrupt from=kernel ist=init_tss+INIT_TSS_IST_DEBUG
    debug:
    \tpushq $-1                       # orig_ax
    \tpushq %rdi
    \tpushq %rsi
    \tpushq %rdx
    \tpushq %rcx
    \tpushq %rax
    \(SpecHarness.pushPtRegsFromR8)\
    \tmovq %rsp, %rdi
    \txorl %esi, %esi
    \tsubq $EXCEPTION_STKSZ, PER_CPU_VAR(init_tss + INIT_TSS_IST_DEBUG)
    \tcall do_debug
    \taddq $EXCEPTION_STKSZ, PER_CPU_VAR(init_tss + INIT_TSS_IST_DEBUG)   # <-unshift
    \(SpecHarness.popPtRegs)\
    \taddq $8, %rsp
    \tiretq                           # <-exit
    """

    func testTheShiftAroundTheHandlerProves() {
        let report = SpecHarness.check(Self.debugEntry)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "debug", inv) }
    }

    func testAMissingUnshiftIsCaught() {
        let spec = Self.debugEntry.replacingOccurrences(of: "\taddq $EXCEPTION_STKSZ, PER_CPU_VAR(init_tss + INIT_TSS_IST_DEBUG)   # <-unshift\n", with: "")
        let report = SpecHarness.check(spec)
        let cx = SpecHarness.assertViolated(report, path: "debug", .restoreMatchesSave, blamedLine: SpecHarness.line("<-exit", in: spec),
                                            requirementContains: "the IST stack pointer init_tss+")
        XCTAssertEqual(SpecHarness.result(report, path: "debug", .restoreMatchesSave)?.violations.first?.mechanism.subject, "ist")
        XCTAssertNotNil(cx)
    }

    func testAnExitThatSkipsTheUnshiftIsCaught() {
        // One way out leaves before the unshift (the handler asked for a fast return).
        let spec = Self.debugEntry
            .replacingOccurrences(of: "\tcall do_debug\n", with: "\tcall do_debug\n\ttestl %eax, %eax\n\tjnz fast\n")
            .replacingOccurrences(of: "\tiretq                           # <-exit",
                                  with: "\tiretq                           # <-exit\nfast:\n\(SpecHarness.popPtRegs)\taddq $8, %rsp\n\tiretq                           # <-fast")
        let report = SpecHarness.check(spec)
        SpecHarness.assertViolated(report, path: "debug", .restoreMatchesSave, blamedLine: SpecHarness.line("<-fast", in: spec),
                                   requirementContains: "must be as the entry found it")
    }

    func testAShiftTheWrongWayIsCaught() {
        let spec = Self.debugEntry.replacingOccurrences(of: "\taddq $EXCEPTION_STKSZ, PER_CPU_VAR", with: "\tsubq $EXCEPTION_STKSZ, PER_CPU_VAR")
        SpecHarness.assertViolated(SpecHarness.check(spec), path: "debug", .restoreMatchesSave, blamedLine: SpecHarness.line("<-exit", in: spec),
                                   requirementContains: "the IST stack pointer")
    }

    func testIstIsCheckedWhereItIsWritten() {
        let syscall = SpecHarness.check(".percpu kernel_stack stack\n.percpu ist_ptr\n.path s entry=syscall ist=ist_ptr\ns:\n\tsysretq\n")
        XCTAssertTrue(syscall.diagnostics.contains { $0.description.contains("ist= applies to interrupt and exception entries") }, "\(syscall.diagnostics)")
        let undeclared = SpecHarness.check(".path d entry=interrupt ist=ist_ptr\nd:\n\tiretq\n")
        XCTAssertTrue(undeclared.diagnostics.contains { $0.description.contains("ist= names a per-CPU variable") }, "\(undeclared.diagnostics)")
    }
}
