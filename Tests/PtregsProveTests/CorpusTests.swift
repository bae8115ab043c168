import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// The corpus under Specs/ — the seed thread's entry paths before and after the series —
/// checked as a whole: no diagnostics, every (path, invariant) verdict as in the table
/// below, and every `.expect … violated` still violated. A change in the checker or in a
/// spec that moves any verdict fails here; update the table (and docs/corpus.md's
/// table) only together with the reason.
final class CorpusTests: XCTestCase {
    /// Specs/ of this package: three directories up from this file, then Specs.
    static var specsPath: String {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()   // PtregsProveTests
            .deletingLastPathComponent()   // Tests
            .deletingLastPathComponent()   // the package
            .appendingPathComponent("Specs").path
    }

    /// "unit file relative to Specs/: path name" → invariant rawValue → verdict.
    static let expected: [String: [String: String]] = [
        "arch/x86/ia32/ia32entry/ia32_cstar_target.after.pts: ia32_cstar_target":                 ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "violated", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/ia32/ia32entry/ia32_cstar_target.before.pts: ia32_cstar_target":                ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "violated", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/ia32/ia32entry/ia32_ptregs_common-fork.after.pts: ia32_syscall":                ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/ia32/ia32entry/ia32_ptregs_common-fork.before.pts: ia32_syscall":               ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/ia32/ia32entry/ia32_ptregs_common-rt_sigreturn.after.pts: ia32_syscall":        ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/ia32/ia32entry/ia32_ptregs_common-rt_sigreturn.before.pts: ia32_syscall":       ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/ia32/ia32entry/ia32_syscall.after.pts: ia32_syscall":                           ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/ia32/ia32entry/ia32_syscall.before.pts: ia32_syscall":                          ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/ia32/ia32entry/ia32_sysenter_target.after.pts: ia32_sysenter_target":           ["restore": "proved", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/ia32/ia32entry/ia32_sysenter_target.before.pts: ia32_sysenter_target":          ["restore": "proved", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/error_exit.after.pts: general_protection":                      ["restore": "proved", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/error_exit.after.pts: invalid_op":                              ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/error_exit.before.pts: general_protection":                     ["restore": "proved", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/error_exit.before.pts: invalid_op":                             ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/ret_from_fork.after.pts: ret_from_fork":                        ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/ret_from_fork.before.pts: ret_from_fork":                       ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/interrupt.before.pts: apic_timer_interrupt":                    ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/interrupt.before.pts: irq_entries_start":                       ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/interrupt.v1.pts: apic_timer_interrupt":                        ["restore": "proved", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/interrupt.v1.pts: irq_entries_start":                           ["restore": "proved", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/interrupt.v2.pts: apic_timer_interrupt":                        ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/interrupt.v2.pts: irq_entries_start":                           ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/nmi.after.pts: nmi":                                            ["restore": "proved", "frame": "violated", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/nmi.before.pts: nmi":                                           ["restore": "proved", "frame": "violated", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/paranoid_exit.after.pts: stack_segment":                        ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "violated", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/paranoid_exit.before.pts: stack_segment":                       ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "violated", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_execve-succeeds.after-rcx-fix.pts: system_call":           ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_execve-succeeds.after.pts: system_call":                   ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_execve-succeeds.before.pts: system_call":                  ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_execve.after-rcx-fix.pts: system_call":                    ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_execve.after.pts: system_call":                            ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_execve.before.pts: system_call":                           ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_fork-traced.after-rcx-fix.pts: system_call":               ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "violated", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_fork-traced.after.pts: system_call":                       ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "violated", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_fork-traced.before.pts: system_call":                      ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "violated", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_fork.after-rcx-fix.pts: system_call":                      ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_fork.after.pts: system_call":                              ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_fork.before.pts: system_call":                             ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_iopl.after-rcx-fix.pts: system_call":                      ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "violated", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_iopl.after.pts: system_call":                              ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "violated", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_iopl.before.pts: system_call":                             ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "violated", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_rt_sigreturn-succeeds.after-rcx-fix.pts: system_call":     ["restore": "proved", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_rt_sigreturn-succeeds.after.pts: system_call":             ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_rt_sigreturn-succeeds.before.pts: system_call":            ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_rt_sigreturn.after-rcx-fix.pts: system_call":              ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_rt_sigreturn.after.pts: system_call":                      ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_rt_sigreturn.before.pts: system_call":                     ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_x32_execve-succeeds.after-rcx-fix.pts: system_call":       ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_x32_execve-succeeds.after.pts: system_call":               ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_x32_execve-succeeds.before.pts: system_call":              ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_x32_execve.after-rcx-fix.pts: system_call":                ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_x32_execve.after.pts: system_call":                        ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_x32_execve.before.pts: system_call":                       ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_x32_rt_sigreturn-succeeds.after-rcx-fix.pts: system_call": ["restore": "proved", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_x32_rt_sigreturn-succeeds.after.pts: system_call":         ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_x32_rt_sigreturn-succeeds.before.pts: system_call":        ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_x32_rt_sigreturn.after-rcx-fix.pts: system_call":          ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_x32_rt_sigreturn.after.pts: system_call":                  ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/stub_x32_rt_sigreturn.before.pts: system_call":                 ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "violated", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/system_call.after-rcx-fix.pts: system_call":                    ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/system_call.after.pts: system_call":                            ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/system_call.before.pts: system_call":                           ["restore": "violated", "frame": "proved", "ptrace": "violated", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/system_call.denys-sysret.pts: system_call":                     ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/entry_64/xen_failsafe_callback.after.pts: xen_failsafe_callback":        ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "violated", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/entry_64/xen_failsafe_callback.before.pts: xen_failsafe_callback":       ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "violated", "sysret": "proved", "args": "proved", "spec-fence": "violated", "cfi": "proved"],
        "arch/x86/kernel/preempt/preempt.after.pts: ___preempt_schedule":                         ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/preempt/preempt.after.pts: ___preempt_schedule_context":                 ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/preempt/preempt.before.pts: ___preempt_schedule":                        ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/kernel/preempt/preempt.before.pts: ___preempt_schedule_context":                ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/lib/thunk_64/thunk_64.after.pts: lockdep_sys_exit_thunk":                       ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/lib/thunk_64/thunk_64.after.pts: trace_hardirqs_off_thunk":                     ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/lib/thunk_64/thunk_64.after.pts: trace_hardirqs_on_thunk":                      ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/lib/thunk_64/thunk_64.before.pts: lockdep_sys_exit_thunk":                      ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/lib/thunk_64/thunk_64.before.pts: trace_hardirqs_off_thunk":                    ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
        "arch/x86/lib/thunk_64/thunk_64.before.pts: trace_hardirqs_on_thunk":                     ["restore": "proved", "frame": "proved", "ptrace": "proved", "return-stack": "proved", "gs": "proved", "sysret": "proved", "args": "proved", "spec-fence": "proved", "cfi": "proved"],
    ]

    static func key(_ p: PathReport) -> String {
        let file = p.file
        let rel = file.range(of: "Specs/").map { String(file[$0.upperBound...]) } ?? file
        return "\(rel): \(p.name)"
    }

    func testCorpusVerdictTable() throws {
        let specs = Self.specsPath
        XCTAssertTrue(FileManager.default.fileExists(atPath: specs), "no Specs/ at \(specs)")
        let report = Checker(options: ProverOptions()).check([specs])

        XCTAssertEqual(report.diagnostics.map { "\($0)" }, [], "the corpus must elaborate without diagnostics")

        var actual: [String: [String: String]] = [:]
        for p in report.paths {
            let k = Self.key(p)
            XCTAssertNil(actual[k], "two paths report as \(k)")
            var row: [String: String] = [:]
            for r in p.results { row[r.invariant.rawValue] = r.verdict.name }
            actual[k] = row
        }
        XCTAssertEqual(Set(actual.keys), Set(Self.expected.keys), "paths in the corpus differ from the table")
        for k in Self.expected.keys.sorted() {
            guard let a = actual[k], let e = Self.expected[k] else { continue }
            for inv in Invariant.allCases {
                XCTAssertEqual(a[inv.rawValue], e[inv.rawValue], "\(k) \(inv.rawValue)")
            }
        }

        // Every violation is one the specs name by its mechanism (`.expect` for a bug of
        // the code, `.limit` for a false report of the model) at as many sites as they
        // state, and every one they name occurs there: the (mechanism, site) pairs are
        // exactly the specs'. A violation counts once per (mechanism, site), so the counts
        // move only together with the specs (docs/corpus.md gives the limits' reasons).
        // 831 expected: 791 mechanisms at one site each, plus the 40 further sites of the
        // `sites=` declarations below.
        let counts = VerdictCounts(report)
        XCTAssertEqual(counts.unexpectedViolations, 0)
        XCTAssertEqual(counts.staleExpectations, 0)
        XCTAssertEqual(counts.expectedViolations, 831)
        XCTAssertEqual(counts.limits, 15)

        // The declarations whose mechanism is one known bug at several sites (each spec
        // says why next to its `sites=`): "unit: path: directive" → sites. Any other
        // declaration accepts one site, so a second site of its words fails the gate.
        let multiSite: [String: Int] = [
            // error_entry's two rip checks that branch to error_swapgs (CVE-2019-1125).
            "arch/x86/kernel/entry_64/error_exit.before.pts: general_protection: .expect spec-fence taken at \"je error_swapgs\"": 2,
            "arch/x86/kernel/entry_64/error_exit.before.pts: general_protection: .expect spec-fence not-taken at \"je error_swapgs\"": 2,
            "arch/x86/kernel/entry_64/error_exit.after.pts: general_protection: .expect spec-fence taken at \"je error_swapgs\"": 2,
            "arch/x86/kernel/entry_64/error_exit.after.pts: general_protection: .expect spec-fence not-taken at \"je error_swapgs\"": 2,
            "arch/x86/kernel/entry_64/xen_failsafe_callback.before.pts: xen_failsafe_callback: .expect spec-fence taken at \"je error_swapgs\"": 2,
            "arch/x86/kernel/entry_64/xen_failsafe_callback.after.pts: xen_failsafe_callback: .expect spec-fence taken at \"je error_swapgs\"": 2,
            // Xen's four selector compares, each not-taken arm on to general_protection.
            "arch/x86/kernel/entry_64/xen_failsafe_callback.before.pts: xen_failsafe_callback: .expect spec-fence not-taken at \"jne 1f\"": 4,
            "arch/x86/kernel/entry_64/xen_failsafe_callback.after.pts: xen_failsafe_callback: .expect spec-fence not-taken at \"jne 1f\"": 4,
            // repeat_nmi's `.rept 5` copy of the saved frame, reading below rsp by design.
            "arch/x86/kernel/entry_64/nmi.before.pts: nmi: .expect frame below-rsp at \"pushq -6*8(%rsp)\"": 5,
            "arch/x86/kernel/entry_64/nmi.after.pts: nmi: .expect frame below-rsp at \"pushq -6*8(%rsp)\"": 5,
            // A tracer's write lost at the fork stop comes back to iretq by two reloads:
            // tracesys's and int_restore_rest's (a site is the exit with the blamed line).
            "arch/x86/kernel/entry_64/stub_fork-traced.before.pts: system_call: .expect restore r12 at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.before.pts: system_call: .expect restore r13 at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.before.pts: system_call: .expect restore r14 at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.before.pts: system_call: .expect restore r15 at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.before.pts: system_call: .expect restore rbp at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.before.pts: system_call: .expect restore rbx at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.after.pts: system_call: .expect restore r12 at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.after.pts: system_call: .expect restore r13 at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.after.pts: system_call: .expect restore r14 at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.after.pts: system_call: .expect restore r15 at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.after.pts: system_call: .expect restore rbp at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.after.pts: system_call: .expect restore rbx at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.after-rcx-fix.pts: system_call: .expect restore r12 at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.after-rcx-fix.pts: system_call: .expect restore r13 at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.after-rcx-fix.pts: system_call: .expect restore r14 at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.after-rcx-fix.pts: system_call: .expect restore r15 at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.after-rcx-fix.pts: system_call: .expect restore rbp at iretq": 2,
            "arch/x86/kernel/entry_64/stub_fork-traced.after-rcx-fix.pts: system_call: .expect restore rbx at iretq": 2,
            // cstar's swapped ebp reaches iretq from the xchgl and from int_restore_rest.
            "arch/x86/ia32/ia32entry/ia32_cstar_target.before.pts: ia32_cstar_target: .expect restore rbp at iretq": 2,
            "arch/x86/ia32/ia32entry/ia32_cstar_target.after.pts: ia32_cstar_target: .expect restore rbp at iretq": 2,
        ]
        var declaredSites: [String: Int] = [:]
        for p in report.paths {
            for r in p.results {
                for v in r.violations {
                    guard let e = v.acceptedBy else { continue }
                    XCTAssertEqual(r.sites(of: e).count, e.sites, "\(Self.key(p)): \(e.heading)")
                    if e.sites > 1 { declaredSites["\(Self.key(p)): \(e.directive(sites: 1))"] = e.sites }
                }
            }
        }
        XCTAssertEqual(declaredSites, multiSite)
        // One violation per declared mechanism (791 of them: each cs/ss selector SYSRET
        // drops is one), plus the further sites of the multi-site ones.
        XCTAssertEqual(multiSite.values.reduce(0) { $0 + $1 - 1 }, counts.expectedViolations - 791)
        for p in report.paths {
            for r in p.results {
                for v in r.violations {
                    XCTAssertNotNil(v.acceptedBy, "\(Self.key(p)): unexpected \(v.mechanism)")
                    XCTAssertTrue(v.acceptedBy?.kind != .limit || !(v.acceptedBy?.reason ?? "").isEmpty)
                }
            }
        }

        // Every expectation the specs state holds: an expected violation is still violated
        // (status pass), and nothing the specs do not expect is violated or stale.
        for p in report.paths {
            for r in p.results {
                if r.expectedViolation {
                    XCTAssertEqual(r.status, .pass, "\(Self.key(p)) \(r.invariant.rawValue): expected violation is \(r.verdict.name)")
                } else {
                    XCTAssertNotEqual(r.status, .fail, "\(Self.key(p)) \(r.invariant.rawValue): violated without an expectation")
                    XCTAssertNotEqual(r.status, .stale, "\(Self.key(p)) \(r.invariant.rawValue): stale expectation")
                }
            }
        }
    }
}
