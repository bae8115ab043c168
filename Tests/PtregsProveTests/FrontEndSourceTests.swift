import Foundation
import PtregsProve
import SpecElaboration
import SpecSyntax
import XCTest

/// Issue 16: a sidecar spec checks a real assembly file (`.source`), read through the
/// system C preprocessor, with every location on the original `.S` or header line.
final class FrontEndSourceTests: XCTestCase {
    /// The test tree `Fixtures/kernel-tree` (files written for these tests in the
    /// kernel's style) copied to a fresh directory, with `extra` files (path → text)
    /// added; `body` runs with that directory as the current one.
    static func withTree<T>(_ extra: [String: String] = [:], _ body: (URL) throws -> T) throws -> T {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/kernel-tree")
        guard FileManager.default.fileExists(atPath: source.path) else { throw XCTSkip("Fixtures/kernel-tree not found") }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-tree-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: root)
        defer { try? FileManager.default.removeItem(at: root) }
        for (name, text) in extra {
            let url = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let cwd = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(root.path)
        defer { FileManager.default.changeCurrentDirectoryPath(cwd) }
        return try body(root)
    }

    /// Checks `unit` in the tree (the tree is the current directory, so `--tree` is its
    /// default).
    static func check(_ unit: String, _ extra: [String: String] = [:], parseOnly: Bool = false,
                      configure: (inout ElaborationOptions) -> Void = { _ in }) throws -> CheckReport {
        try withTree(extra) { _ in
            var checker = Checker()
            checker.parseOnly = parseOnly
            configure(&checker.elaboration)
            return checker.check([unit])
        }
    }

    func testTheSidecarProvesAPathOfTheRealFile() throws {
        let report = try Self.check("checks/entry_64.pts")
        SpecHarness.assertProved(report, path: "irq_entry_demo", .restoreMatchesSave)
        SpecHarness.assertProved(report, path: "irq_entry_demo", .frameBalance)
        SpecHarness.assertProved(report, path: "irq_entry_demo", .ptraceConsistency)
        SpecHarness.assertProved(report, path: "irq_entry_demo", .returnStack)
        XCTAssertEqual(report.exitCode, 0, "\(report.diagnostics)")
        // The system call keeps the user's rsp in a per-CPU field, PER_CPU_VAR(cpu_tss_rw + TSS_sp2).
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "syscall_entry_demo", inv) }
    }

    /// The counterexample blames the `.S` line, and its trace steps are `.S` lines too
    /// (the macro's instructions on the line that invokes it).
    func testAViolationIsBlamedOnTheSourceLine() throws {
        let report = try Self.check("checks/entry_64.pts")
        guard let r = SpecHarness.result(report, path: "irq_entry_clobber", .restoreMatchesSave),
              case .violated(let cx) = r.verdict else {
            return XCTFail("expected a violation: \(report.paths.map { ($0.name, $0.results.map { SpecHarness.describe($0.verdict) }) })")
        }
        XCTAssertEqual(cx.location.description, "arch/x86/entry/entry_64.S:50:2")
        XCTAssertEqual(cx.instruction, "xorl %ecx, %ecx")
        XCTAssertTrue(cx.steps.allSatisfy { $0.sourceLocation.file == "arch/x86/entry/entry_64.S" }, "\(cx.steps.map(\.sourceLocation))")
        // POP_REGS, the macro of calling.h, shows at the line that invokes it.
        XCTAssertTrue(cx.steps.contains { $0.text == "popq %rcx" && $0.sourceLocation.line == 49 }, "\(cx.steps.map { ($0.text, $0.sourceLocation) })")
    }

    func testSARIFLocationsAreOnTheSourceLines() throws {
        let report = try Self.check("checks/entry_64.pts")
        let sarif = SARIFReport.render(report)
        XCTAssertTrue(sarif.contains("\"uri\" : \"arch/x86/entry/entry_64.S\"") || sarif.contains("\"uri\":\"arch/x86/entry/entry_64.S\""), sarif)
        let data = try XCTUnwrap(sarif.data(using: .utf8))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let results = ((json["runs"] as? [[String: Any]])?.first?["results"] as? [[String: Any]]) ?? []
        let lines = results.compactMap { r -> String? in
            guard let loc = (r["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any],
                  let uri = (loc["artifactLocation"] as? [String: Any])?["uri"] as? String,
                  let line = (loc["region"] as? [String: Any])?["startLine"] as? Int else { return nil }
            return "\(uri):\(line)"
        }
        XCTAssertTrue(lines.contains("arch/x86/entry/entry_64.S:50"), "\(lines)")
    }

    /// A directive nothing reads, in a gas macro of a header: the diagnostic is on the
    /// header's line, with the invocation in the `.S` file and the `.source` line as notes.
    func testADiagnosticOnAHeaderLine() throws {
        let header = """
        /* A header whose macro uses a directive gas does not have. */
        .macro LOAD_SEGMENT_DEMO
        \t.frobnicate 1
        .endm
        """
        let code = """
        #include "bad.h"
        broken_demo:
        \tLOAD_SEGMENT_DEMO
        \tret
        """
        let sidecar = ".source \"arch/x86/entry/broken.S\"\n.path broken_demo entry=function\n"
        let report = try Self.check("checks/broken.pts", ["arch/x86/entry/bad.h": header, "arch/x86/entry/broken.S": code, "checks/broken.pts": sidecar])
        FrontEnd.assertError(report, "arch/x86/entry/bad.h:3:2", "unknown directive '.frobnicate'")
        let notes = report.diagnostics.first?.notes.map { "\($0.location): \($0.message)" } ?? []
        XCTAssertEqual(notes, ["arch/x86/entry/broken.S:3:2: in expansion of macro 'LOAD_SEGMENT_DEMO'", "checks/broken.pts:1:1: read by .source here"])
    }

    /// An instruction outside the model in the real file makes the paths that reach it
    /// unknown (with why, and the header line it came from); the others are checked, and
    /// code after an exit (`ret; int3`) is no error there.
    func testAnInstructionOutsideTheModelMakesOnlyItsPathsUnknown() throws {
        let header = ".macro LOAD_SEGMENT_DEMO\n\tframbozq %rax\n.endm\n"
        let code = """
        #include "bad.h"
        broken_demo:
        \tLOAD_SEGMENT_DEMO
        \tret
        fine_demo:
        \tret
        \tint3
        """
        let sidecar = ".source \"arch/x86/entry/broken.S\"\n.path broken_demo entry=function\n.path fine_demo entry=function\n"
        let report = try Self.check("checks/broken.pts", ["arch/x86/entry/bad.h": header, "arch/x86/entry/broken.S": code, "checks/broken.pts": sidecar])
        XCTAssertEqual(report.diagnostics, [])
        XCTAssertEqual(report.exitCode, 3)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "fine_demo", inv) }
        guard let r = SpecHarness.result(report, path: "broken_demo", .frameBalance), case .unknown(let why) = r.verdict else {
            return XCTFail("expected unknown")
        }
        XCTAssertTrue(why.hasPrefix("unsupported: unknown mnemonic 'frambozq'"), why)
        XCTAssertTrue(why.contains("(arch/x86/entry/bad.h:2:2) at arch/x86/entry/broken.S:3:2 (`frambozq %rax`)"), why)
    }

    /// gas assembles the `.S` without the sidecar: a name its text leaves (cpp did not
    /// replace it) is a symbol for the linker, not the sidecar's `#define`, `.equ` or a
    /// pt_regs offset — which once gave `OFF(%rsp)` the spec's value.
    func testTheSidecarsConstantsDoNotReachTheAssembly() throws {
        let code = "f_demo:\n\tpushq %rbx\n\tmovq %rbx, OFF(%rsp)\n\tpopq %rbx\n\tret\ng_demo:\n\tmovq $0, RBX(%rsp)\n\tret\n"
        let sidecar = ".source \"arch/x86/entry/leak.S\"\n#define OFF 8\n.path f_demo entry=function\n.path g_demo entry=function\n"
        let report = try Self.check("checks/leak.pts", ["arch/x86/entry/leak.S": code, "checks/leak.pts": sidecar])
        XCTAssertEqual(report.diagnostics, [])
        for (path, name, spec) in [("f_demo", "OFF", true), ("g_demo", "RBX", false)] {
            guard let r = SpecHarness.result(report, path: path, .restoreMatchesSave), case .unknown(let why) = r.verdict else {
                XCTFail("\(path): expected unknown"); continue
            }
            XCTAssertTrue(why.contains("'\(name)' is not defined in the assembly read by .source: gas leaves it to the linker"), why)
            XCTAssertTrue(why.contains(spec ? "the spec defines it at checks/leak.pts:2" : "the model's pt_regs offset"), why)
        }
        // Defined in the assembly itself (as gas would see it), the name is a constant.
        let equ = try Self.check("checks/leak.pts", ["arch/x86/entry/leak.S": "\t.set OFF, 0\n" + code.replacingOccurrences(of: "\tmovq $0, RBX(%rsp)\n", with: ""),
                                                    "checks/leak.pts": sidecar.replacingOccurrences(of: "#define OFF 8\n", with: "")])
        XCTAssertEqual(equ.diagnostics, [])
        for inv in Invariant.allCases { SpecHarness.assertProved(equ, path: "f_demo", inv) }
    }

    /// cpp's own errors keep cpp's file:line:col.
    func testAPreprocessorErrorIsOnItsLine() throws {
        let code = "/* x */\n#include <asm/missing.h>\nf:\n\tret\n"
        let report = try Self.check("checks/x.pts", ["arch/x86/entry/x.S": code,
                                                      "checks/x.pts": ".source \"arch/x86/entry/x.S\" -I arch/x86/include\n.path f entry=function\n"])
        FrontEnd.assertError(report, "arch/x86/entry/x.S:2:10", "cpp: asm/missing.h: No such file or directory")
    }

    /// `#error` in the real file stops the unit, at its line.
    func testPoundErrorInTheSource() throws {
        let code = "#ifndef CONFIG_DEMO\n#error \"needs CONFIG_DEMO\"\n#endif\nf:\n\tret\n"
        let files = ["arch/x86/entry/e.S": code, "checks/e.pts": ".source \"arch/x86/entry/e.S\"\n.path f entry=function\n"]
        FrontEnd.assertError(try Self.check("checks/e.pts", files), "arch/x86/entry/e.S:2:2", "cpp: #error \"needs CONFIG_DEMO\"")
        // -D on the .source line, and on the command line, reach cpp.
        var withFlag = files
        withFlag["checks/e.pts"] = ".source \"arch/x86/entry/e.S\" -D CONFIG_DEMO\n.path f entry=function\n"
        FrontEnd.assertProves(try Self.check("checks/e.pts", withFlag))
        let define = try ElaborationOptions.Definition(parsing: "CONFIG_DEMO", index: 1)
        FrontEnd.assertProves(try Self.check("checks/e.pts", files) { $0.defines = [define] })
    }

    /// Untrusted input: cpp may read nothing outside the tree.
    func testAnIncludeOutsideTheTreeIsRefused() throws {
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-outside-\(UUID().uuidString).h")
        try "/* outside */\n".write(to: outside, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: outside) }
        let code = "#include \"\(outside.path)\"\nf:\n\tret\n"
        let report = try Self.check("checks/o.pts", ["arch/x86/entry/o.S": code, "checks/o.pts": ".source \"arch/x86/entry/o.S\"\n.path f entry=function\n"])
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertEqual(report.diagnostics.first?.location.description, "checks/o.pts:1:9")
        XCTAssertTrue(report.diagnostics.first?.message.contains("outside the source tree") == true, "\(report.diagnostics)")
    }

    func testASourceOrIncludeDirectoryOutsideTheTreeIsRefused() throws {
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-outside-\(UUID().uuidString).s")
        try "f:\n\tret\n".write(to: outside, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: outside) }
        let report = try Self.check("checks/o.pts", ["checks/o.pts": ".source \"\(outside.path)\"\n.path f entry=function\n"])
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertEqual(report.diagnostics.first?.location.description, "checks/o.pts:1:9")
        XCTAssertTrue(report.diagnostics.first?.message.contains("outside the source tree") == true, "\(report.diagnostics)")
        let dir = try Self.check("checks/o.pts", ["checks/o.pts": ".source \"arch/x86/entry/entry_64.S\" -I /usr/include\n.path f entry=function\n"])
        FrontEnd.assertError(dir, "checks/o.pts:1:40", "-I /usr/include is /usr/include, outside the source tree \(dir.diagnostics.first?.message.components(separatedBy: "outside the source tree ").last ?? "")")
    }

    /// A device as an include would never end: cpp is stopped, the unit is bad input.
    func testARunawayPreprocessorIsStopped() throws {
        let code = "#include \"/dev/zero\"\nf:\n\tret\n"
        let start = Date()
        let report = try Self.check("checks/z.pts", ["arch/x86/entry/z.S": code, "checks/z.pts": ".source \"arch/x86/entry/z.S\"\n.path f entry=function\n"]) {
            $0.preprocessorTimeoutSeconds = 1
        }
        XCTAssertEqual(report.exitCode, 2)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
        XCTAssertTrue(report.diagnostics.first?.message.contains("stopped") == true || report.diagnostics.first?.message.contains("outside") == true, "\(report.diagnostics)")
    }

    /// A preprocessed `.s` is read as it is; its line markers still lead back.
    func testAPreprocessedFileFollowsItsLineMarkers() throws {
        let text = "# 1 \"arch/x86/entry/orig.S\"\nf:\n# 40 \"arch/x86/entry/orig.S\"\n\tpushq %rbx\n\tfrobq %rax\n\tret\n"
        let report = try Self.check("checks/s.pts", ["arch/x86/entry/orig.s": text, "checks/s.pts": ".source \"arch/x86/entry/orig.s\"\n.path f entry=function\n"])
        XCTAssertEqual(report.diagnostics, [])
        guard let r = SpecHarness.result(report, path: "f", .frameBalance), case .unknown(let why) = r.verdict else { return XCTFail("expected unknown") }
        XCTAssertTrue(why.hasSuffix("at arch/x86/entry/orig.S:41:2 (`frobq %rax`)"), why)
    }

    func testALineMarkerOutsideTheTreeIsRefused() throws {
        let text = "# 1 \"/etc/passwd\"\nf:\n\tret\n"
        let report = try Self.check("checks/s.pts", ["arch/x86/entry/m.s": text, "checks/s.pts": ".source \"arch/x86/entry/m.s\"\n.path f entry=function\n"])
        FrontEnd.assertError(report, "arch/x86/entry/m.s:1:1", "line marker names /etc/passwd, outside the source tree")
    }

    /// A `#word` cpp left alone would be a comment to gas: never dropped silently.
    func testADirectiveCppLeftIsAnError() throws {
        let text = "f:\n#frob 1\n\tret\n"
        let report = try Self.check("checks/s.pts", ["arch/x86/entry/d.s": text, "checks/s.pts": ".source \"arch/x86/entry/d.s\"\n.path f entry=function\n"])
        XCTAssertEqual(report.diagnostics.first?.location.description, "arch/x86/entry/d.s:2:1", "\(report.diagnostics)")
    }

    /// The `.cfi_*` directives of the real file are kept, each before its instruction.
    func testFrameAnnotationsAreRecorded() throws {
        try Self.withTree { _ in
            let (programs, _, report) = Checker().elaborateUnits(["checks/entry_64.pts"])
            XCTAssertEqual(report.diagnostics, [])
            guard let program = programs.first else { return XCTFail("no program") }
            let shown = program.frameAnnotations.filter { $0.location.file == "arch/x86/entry/entry_64.S" }.map { a -> String in
                let at = a.instruction.map { program.instructions[$0].text } ?? "end"
                return "\(a.location.line) \(a.directive) \(a.operands.joined(separator: ",")) @ \(at)"
            }
            XCTAssertEqual(shown, [
                "18 .cfi_startproc simple @ pushq $-1",
                "19 .cfi_def_cfa rsp,5*8 @ pushq $-1",
                "21 .cfi_adjust_cfa_offset 8 @ pushq %rdi",
                "27 .cfi_adjust_cfa_offset -8 @ iretq",
                "29 .cfi_endproc  @ pushq $-1",
            ])
            // PUSH_REGS cfi=1 and POP_REGS cfi=1: one adjustment after each push and pop.
            let fromMacros = program.frameAnnotations.filter { $0.location.file == "arch/x86/entry/calling.h" }
            XCTAssertEqual(fromMacros.map(\.offset), Array(repeating: 8, count: 15) + Array(repeating: -8, count: 15))
            XCTAssertTrue(program.frameAnnotations.allSatisfy { $0.section == ".entry.text" })
        }
    }

    /// An ALTERNATIVE site (a `.altinstructions` entry naming the original code and its
    /// replacement): each arm is a run of the path, chosen by the CPU's feature. The
    /// replacement's bug is found in the runs that take it, with the choice in the trace;
    /// the original arm proves on its own.
    func testEachArmOfAnAlternativeIsChecked() throws {
        let report = try Self.check("checks/alternative.pts")
        XCTAssertEqual(report.diagnostics, [])
        XCTAssertEqual(report.exitCode, 0)
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "irq_entry_demo", inv) }
        for inv in Invariant.allCases where inv != .restoreMatchesSave { SpecHarness.assertProved(report, path: "irq_entry_patched", inv) }
        guard let r = SpecHarness.result(report, path: "irq_entry_patched", .restoreMatchesSave), case .violated = r.verdict else {
            return XCTFail("the replacement's missing r11 restore must be found")
        }
        XCTAssertEqual(r.violations.map(\.mechanism.description), ["restore r11 at iretq"])
        let steps = r.violations[0].counterexample.steps.map(\.text)
        XCTAssertTrue(steps.contains { $0.hasPrefix("ALTERNATIVE (arch/x86/include/asm/alternative.h:") && $0.hasSuffix("feature 0x71 set: the replacement runs") }, "\(steps)")
        // The original arm alone: without the table entry the site is plain code.
        try Self.withTree { _ in
            let (programs, _, _) = Checker().elaborateUnits(["checks/alternative.pts"])
            let program = try XCTUnwrap(programs.first)
            let pops = ["r15", "r14", "r13", "r12", "rbp", "rbx"].map { "popq %\($0)" } + ["addq $8, %rsp"]
                + ["r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi"].map { "popq %\($0)" }
            XCTAssertEqual(program.instructions.filter { $0.section == ".altinstr_replacement" }.map(\.text), pops)
            XCTAssertEqual(program.alternatives.count, 1)
            XCTAssertEqual(program.alternatives.values.first?.first?.feature, "0x71")
            XCTAssertFalse(program.instructions.contains { if case .unsupported(let why) = $0.operation { return why.contains("patch") }; return false })
        }
    }

    /// 3.x's form of the table (altinstruction_entry, with the padding length), and
    /// ALTERNATIVE_2: two entries for one site, the later patching over the earlier.
    static let alternativeMacros = """
    .macro altinstruction_entry orig alt feature orig_len alt_len pad_len
    \t.long \\orig - .
    \t.long \\alt - .
    \t.word \\feature
    \t.byte \\orig_len
    \t.byte \\alt_len
    \t.byte \\pad_len
    .endm
    .macro ALTERNATIVE oldinstr, newinstr, feature
    140:
    \t\\oldinstr
    141:
    \t.skip -(((144f-143f)-(141b-140b)) > 0) * ((144f-143f)-(141b-140b)),0x90
    142:
    \t.pushsection .altinstructions,"a"
    \taltinstruction_entry 140b,143f,\\feature,142b-140b,144f-143f,142b-141b
    \t.popsection
    \t.pushsection .altinstr_replacement,"ax"
    143:
    \t\\newinstr
    144:
    \t.popsection
    .endm
    .macro ALTERNATIVE_2 oldinstr, newinstr1, feature1, newinstr2, feature2
    140:
    \t\\oldinstr
    141:
    \t.skip 0,0x90
    142:
    \t.pushsection .altinstructions,"a"
    \taltinstruction_entry 140b,143f,\\feature1,142b-140b,144f-143f,142b-141b
    \taltinstruction_entry 140b,144f,\\feature2,142b-140b,145f-144f,142b-141b
    \t.popsection
    \t.pushsection .altinstr_replacement,"ax"
    143:
    \t\\newinstr1
    144:
    \t\\newinstr2
    145:
    \t.popsection
    .endm
    """

    /// Two sites patched on one feature are patched together: a push in one and its pop
    /// in the other balance on every CPU. On two features they need not.
    func testSitesOnOneFeatureArePatchedTogether() throws {
        func check(_ second: String) throws -> CheckReport {
            let code = Self.alternativeMacros + "\n" + """
            f:
            \tALTERNATIVE "nop", "pushq %rax", 7
            \tmovq $1, %rax
            \tALTERNATIVE "nop", "popq %rax", \(second)
            \tret
            """
            return try Self.check("checks/alt.pts", ["arch/x86/entry/alt.S": code + "\n",
                                                     "checks/alt.pts": ".source \"arch/x86/entry/alt.S\"\n.path f entry=function\n"])
        }
        let together = try check("7")
        XCTAssertEqual(together.diagnostics, [])
        for inv in Invariant.allCases { SpecHarness.assertProved(together, path: "f", inv) }
        let apart = try check("8")
        // The ret, after 45 lines of macros and the three above.
        // The ret's rsp, and (on the runs that pop without the push) its read of the
        // caller's frame above the return address.
        let r = SpecHarness.result(apart, path: "f", .frameBalance)
        XCTAssertEqual(Set(r?.violations.map(\.mechanism.description) ?? []), ["frame rsp at ret", "frame outside-frame at ret"])
        let cx = r?.violations.first { $0.mechanism.subject == "rsp" }?.counterexample
        XCTAssertEqual(cx?.location.line, 46)
        XCTAssertTrue(cx?.requirement.contains("rsp must be the caller's") == true, cx?.requirement ?? "")
        XCTAssertEqual(cx?.steps.filter { $0.text.hasPrefix("ALTERNATIVE") }.count, 2)
    }

    /// ALTERNATIVE_2: the second entry patches over the first. Only the second
    /// replacement forgets to restore rbx, and only its runs are reported.
    func testALaterEntryPatchesOverAnEarlierOne() throws {
        let code = Self.alternativeMacros + "\n" + """
        f:
        \tpushq %rbx
        \tmovq $1, %rbx
        \tALTERNATIVE_2 "popq %rbx", "popq %rbx", 3, "addq $8, %rsp", 5
        \tret
        """
        let report = try Self.check("checks/alt2.pts", ["arch/x86/entry/alt2.S": code + "\n",
                                                          "checks/alt2.pts": ".source \"arch/x86/entry/alt2.S\"\n.path f entry=function\n"])
        XCTAssertEqual(report.diagnostics, [])
        guard let r = SpecHarness.result(report, path: "f", .restoreMatchesSave), case .violated = r.verdict else {
            return XCTFail("the second replacement loses rbx")
        }
        let steps = r.violations[0].counterexample.steps.map(\.text)
        XCTAssertTrue(steps.contains { $0.hasSuffix("feature 0x5 set: the replacement runs") }, "\(steps)")
        XCTAssertTrue(steps.contains("addq $8, %rsp"), "\(steps)")
    }

    /// int3 padding between functions (`.align 64, 0xcc` after a ret): no path falls
    /// into it; one that does is unknown (the padding may be empty at that address).
    func testInt3PaddingIsUnknownOnlyWhereARunFallsIntoIt() throws {
        let code = "f:\n\tret\n\t.align 64, 0xcc\ng:\n\tnop\n\t.align 16, 0xcc\n\tret\n"
        let report = try Self.check("checks/pad.pts", ["arch/x86/entry/pad.S": code,
                                                         "checks/pad.pts": ".source \"arch/x86/entry/pad.S\"\n.path f entry=function\n.path g entry=function\n"])
        XCTAssertEqual(report.diagnostics, [])
        for inv in Invariant.allCases { SpecHarness.assertProved(report, path: "f", inv) }
        guard let r = SpecHarness.result(report, path: "g", .frameBalance), case .unknown(let why) = r.verdict else { return XCTFail("expected unknown") }
        XCTAssertTrue(why.contains("int3 (0xcc)"), why)
    }

    /// A real file's calls that nest without returning (6.x's clear_bhb_loop stuffs the
    /// return stack on purpose): with a bounded count the path is followed to its ret;
    /// with a count the model does not know, past 16 levels it is unknown (in a spec's
    /// own code that depth stays an error).
    func testCallsNestedTooDeepInARealFileAreUnknown() throws {
        let code = "f:\n\tmovl $5, %ecx\n\tcall 1f\n\tjmp 5f\n1:\tcall 2f\n\tret\n2:\tsubl $1, %ecx\n\tjnz 1b\n\tret\n5:\tret\n"
        func check(_ code: String) throws -> CheckReport {
            try Self.check("checks/bhb.pts", ["arch/x86/entry/bhb.S": code,
                                               "checks/bhb.pts": ".source \"arch/x86/entry/bhb.S\"\n.path f entry=function\n"])
        }
        let bounded = try check(code)
        XCTAssertEqual(bounded.diagnostics, [])
        for inv in Invariant.allCases { SpecHarness.assertProved(bounded, path: "f", inv) }
        let unbounded = try check(code.replacingOccurrences(of: "\tmovl $5, %ecx\n", with: ""))
        XCTAssertEqual(unbounded.diagnostics, [])
        guard case .unknown(let why)? = unbounded.paths.first?.results.first?.verdict else { return XCTFail("expected unknown") }
        XCTAssertTrue(why.contains("calls nested deeper than 16"), why)
    }

    /// Bytes among a real file's instructions are code the model cannot decode: the
    /// paths that run into them are unknown (in a spec they stay an error).
    func testDataAmongRealInstructionsMakesItsPathsUnknown() throws {
        let code = "f:\n\t.byte 0x0f, 0x01, 0xf8\n\tret\ng:\n\tret\n"
        let report = try Self.check("checks/b.pts", ["arch/x86/entry/b.S": code, "checks/b.pts": ".source \"arch/x86/entry/b.S\"\n.path f entry=function\n.path g entry=function\n"])
        XCTAssertEqual(report.diagnostics, [])
        SpecHarness.assertProved(report, path: "g", .frameBalance)
        guard let r = SpecHarness.result(report, path: "f", .frameBalance), case .unknown(let why) = r.verdict else { return XCTFail("expected unknown") }
        XCTAssertEqual(why, "unsupported: '.byte' in the code section .text: data among instructions is not modelled at arch/x86/entry/b.S:2:2 (`.byte 0x0f, 0x01, 0xf8`)")
    }

    /// Every file cpp read belongs to the unit: a CI gate re-checks it when one changes.
    func testTheUnitListsEveryFileThePreprocessorRead() throws {
        try Self.withTree { root in
            let (programs, _, report) = Checker().elaborateUnits(["checks/entry_64.pts"])
            XCTAssertEqual(report.diagnostics, [])
            let files = Set(programs.first?.files ?? [])
            let real = root.resolvingSymlinksInPath().path
            for f in ["checks/entry_64.pts", "arch/x86/entry/entry_64.S", "arch/x86/entry/calling.h", "arch/x86/include/generated/asm-offsets.h"] {
                XCTAssertTrue(files.contains("\(real)/\(f)"), "\(f) not in \(files.sorted())")
            }
        }
    }
}

extension FrontEndSourceTests {
    /// A named file that is no regular file (a pipe would block the read forever).
    func testASourceThatIsNoRegularFileIsRefused() throws {
        let report = try Self.withTree { root -> CheckReport in
            let fifo = root.appendingPathComponent("arch/x86/entry/pipe.s")
            guard mkfifo(fifo.path, 0o600) == 0 else { return CheckReport() }
            try ".source \"arch/x86/entry/pipe.s\"\n.path f entry=function\n".write(to: root.appendingPathComponent("checks/p.pts"), atomically: true, encoding: .utf8)
            return Checker().check(["checks/p.pts"])
        }
        guard !report.diagnostics.isEmpty else { throw XCTSkip("mkfifo is not available") }
        FrontEnd.assertError(report, "checks/p.pts:1:9", "source file 'arch/x86/entry/pipe.s' is not a regular file")
    }
}
