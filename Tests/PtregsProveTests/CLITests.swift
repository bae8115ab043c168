import Foundation
import PtregsProve
import SpecElaboration
import XCTest

/// The command line as README.md and docs/cli.md document it: exit codes 0/1/2/3, `file:line:col: kind:`
/// lines, the filters, and colour only when asked for.
final class CLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        _ = try PtregsProveBinary.require()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func write(_ name: String, _ text: String) throws {
        let url = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    func run(_ args: [String], env: [String: String] = [:]) throws -> PtregsProveBinary.Run {
        let r = try PtregsProveBinary.run(args, in: dir, environment: env)
        PtregsProveBinary.assertNoCrash(r, args.joined(separator: " "))
        return r
    }

    static let proving = """
    .extern schedule
    .path f entry=function
    f:
    \tpushq %rbx
    \tcall schedule
    \tpopq %rbx
    \tret
    """

    /// The trace docs/traces.md shows: a restore from a never-written slot exits 1 and blames line 7.
    static let violating = """
    .extern preempt_schedule
    .path bad_restore entry=function
    bad_restore:
    \tsubq $16, %rsp
    \tmovq %rbx, 8(%rsp)
    \tcall preempt_schedule
    \tmovq (%rsp), %rbx
    \taddq $16, %rsp
    \tret
    """

    static let twoPaths = """
    .path good entry=function
    good:
    \tret
    .path leaky entry=function
    leaky:
    \tpushq %rax
    \tret
    """

    func testProvingSpecExits0WithOneLinePerInvariant() throws {
        try write("spec.pts", Self.proving)
        let r = try run(["spec.pts"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        for inv in Invariant.allCases {
            // The cfi proof of a path without annotations says it had nothing to check.
            let suffix = inv == .unwindAnnotations ? " (nothing annotated)" : ""
            XCTAssertTrue(r.stdout.contains("spec.pts:2:7: proved: f: \(inv.title)\(suffix)\n"), r.stdout)
        }
        XCTAssertTrue(r.stdout.contains("1 path in 1 file: \(Invariant.allCases.count) proved"), r.stdout)
    }

    func testViolatingSpecExits1AndBlamesTheLine() throws {
        try write("spec.pts", Self.violating)
        let r = try run(["spec.pts"])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("spec.pts:7:2: error: bad_restore: restore matches save violated: rbx must hold its value"), r.stdout)
        XCTAssertTrue(r.stdout.contains("counterexample (replayed on a concrete run):"), r.stdout)
        XCTAssertTrue(r.stdout.contains(">    7 movq (%rsp), %rbx"), r.stdout)
        XCTAssertTrue(r.stdout.contains("garbage"), r.stdout)
    }

    func testSyntaxErrorExits2WithFileLineColumn() throws {
        try write("spec.pts", ".path f entry=function\nf:\n\t@@@\n\tret\n")
        let r = try run(["spec.pts"])
        XCTAssertEqual(r.status, 2, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("spec.pts:3:2: error: expected a label, an instruction or a directive"), r.stdout)
    }

    func testMissingInputFileExits2() throws {
        let r = try run(["nothere.pts"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stdout.contains("nothere.pts:1:1: error: no such file or directory"), r.stdout)
    }

    /// A CI gate pointed at a directory with no unit (a moved tree, a typo) must not pass
    /// having checked nothing; a unit named twice is checked and counted once.
    func testAnEmptyDirectoryExits2AndADuplicateIsCheckedOnce() throws {
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("empty"), withIntermediateDirectories: true)
        let empty = try run(["empty"])
        XCTAssertEqual(empty.status, 2, empty.stdout + empty.stderr)
        XCTAssertTrue(empty.stdout.contains("empty:1:1: error: no spec units (*.pts) under empty: nothing would be checked"), empty.stdout)
        try write("spec.pts", Self.proving)
        let twice = try run(["spec.pts", "./spec.pts", "."])
        XCTAssertEqual(twice.status, 0, twice.stdout + twice.stderr)
        XCTAssertTrue(twice.stdout.contains("1 path in 1 file:"), twice.stdout)
    }

    func testUnknownOptionExits2WithUsage() throws {
        try write("spec.pts", Self.proving)
        let r = try run(["--bogus", "spec.pts"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--bogus"), r.stderr)
        XCTAssertTrue(r.stderr.contains("Usage: ptregs-prove"), r.stderr)
        XCTAssertEqual(r.stdout, "")
    }

    /// There is no verdict cache: its old options are usage errors, not silently accepted.
    func testRemovedCacheOptionsAreUsageErrors() throws {
        try write("spec.pts", Self.proving)
        for args in [["--no-cache", "spec.pts"], ["--cache-dir", "c", "spec.pts"]] {
            let r = try run(args)
            XCTAssertEqual(r.status, 2, args.joined(separator: " "))
            XCTAssertTrue(r.stderr.contains(args[0]), r.stderr)
            XCTAssertTrue(r.stderr.contains("Usage: ptregs-prove"), r.stderr)
            XCTAssertEqual(r.stdout, "")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent(".build").path), "nothing is written")
    }

    func testUnknownInvariantExits2() throws {
        try write("spec.pts", Self.proving)
        let r = try run(["--invariant", "stack", "spec.pts"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("unknown invariant 'stack'"), r.stderr)
    }

    func testBadColourValueExits2() throws {
        try write("spec.pts", Self.proving)
        let r = try run(["--color", "purple", "spec.pts"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--color"), r.stderr)
    }

    func testPathFilterChecksOnlyMatchingPaths() throws {
        try write("spec.pts", Self.twoPaths)
        let r = try run(["--path", "good", "spec.pts"])
        XCTAssertEqual(r.status, 0, r.stdout)
        XCTAssertTrue(r.stdout.contains("good: frame balanced"), r.stdout)
        XCTAssertFalse(r.stdout.contains("leaky"), r.stdout)
        XCTAssertTrue(r.stdout.contains("1 path in 1 file"), r.stdout)
        // Unfiltered, the leaky path fails the run.
        XCTAssertEqual(try run(["spec.pts"]).status, 1)
        // Repeatable.
        let both = try run(["--path", "good", "--path", "leaky", "spec.pts"])
        XCTAssertTrue(both.stdout.contains("2 paths in 1 file"), both.stdout)
    }

    func testPathFilterMatchingNothingExits2() throws {
        try write("spec.pts", Self.twoPaths)
        let r = try run(["--path", "nomatch", "spec.pts"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("no path matches nomatch"), r.stderr)
    }

    func testInvariantFilterChecksOnlyThoseInvariants() throws {
        try write("spec.pts", Self.twoPaths)
        // leaky breaks frame and return-stack; restore alone proves both paths.
        let restore = try run(["--invariant", "restore", "spec.pts"])
        XCTAssertEqual(restore.status, 0, restore.stdout)
        XCTAssertEqual(restore.stdout.components(separatedBy: ": proved: ").count - 1, 2, restore.stdout)
        XCTAssertFalse(restore.stdout.contains("frame balanced"), restore.stdout)
        let frame = try run(["--invariant", "frame", "--invariant", "restore", "spec.pts"])
        XCTAssertEqual(frame.status, 1, frame.stdout)
        XCTAssertTrue(frame.stdout.contains("spec.pts:7:2: error: leaky: frame balanced violated"), frame.stdout)
        XCTAssertFalse(frame.stdout.contains("return stack balanced"), frame.stdout)
    }

    func testUnknownVerdictExits3() throws {
        // A loop that grows the stack on every iteration: unknown: loop.
        try write("spec.pts", """
        .percpu thread_info pointer
        .extern schedule
        .path f entry=function
        f:
        \tpushq %rbx
        1:\tmovq PER_CPU_VAR(thread_info), %rcx
        \ttestl $8, 16(%rcx)
        \tjz 2f
        \tpushq %rdi
        \tcall schedule
        \tjmp 1b
        2:\tpopq %rbx
        \tret
        """)
        let r = try run(["spec.pts"])
        XCTAssertEqual(r.status, 3, r.stdout)
        XCTAssertTrue(r.stdout.contains("spec.pts:3:7: warning: f: frame balanced: unknown: loop"), r.stdout)
    }

    func testExpectedViolationPassesAndAStaleExpectationFails() throws {
        try write("expected.pts", Self.violating.replacingOccurrences(of: ".path bad_restore entry=function", with: ".path bad_restore entry=function\n.expect restore rbx at ret"))
        let ok = try run(["expected.pts"])
        XCTAssertEqual(ok.status, 0, ok.stdout)
        XCTAssertTrue(ok.stdout.contains("expected.pts:8:2: expected violation: bad_restore: restore matches save violated"), ok.stdout)
        try write("stale.pts", Self.proving.replacingOccurrences(of: ".path f entry=function", with: ".path f entry=function\n.expect frame rsp at ret"))
        let stale = try run(["stale.pts"])
        XCTAssertEqual(stale.status, 1, stale.stdout)
        XCTAssertTrue(stale.stdout.contains("stale.pts:3:15: error: f: frame balanced: `.expect frame rsp at ret` matches no violation: now proves — update the expectation"), stale.stdout)
    }

    func testDirectoryInputFindsUnitsButNotHeaders() throws {
        try write("specs/a.pts", ".include \"common.ptsh\"\n" + Self.proving)
        try write("specs/sub/b.pts", Self.twoPaths.replacingOccurrences(of: "leaky", with: "other").replacingOccurrences(of: "\tpushq %rax\n", with: ""))
        try write("specs/common.ptsh", ".extern never_a_unit\n")
        let r = try run(["specs"])
        XCTAssertEqual(r.status, 0, r.stdout)
        XCTAssertTrue(r.stdout.contains("3 paths in 2 files"), r.stdout)
        XCTAssertTrue(r.stdout.contains("specs/sub/b.pts:"), r.stdout)
        XCTAssertFalse(r.stdout.contains("never_a_unit"), r.stdout)
    }

    // MARK: colour

    func testNoEscapeCodesWithColorNever() throws {
        try write("spec.pts", Self.violating)
        let r = try run(["--color", "never", "spec.pts"])
        XCTAssertFalse(r.stdout.contains("\u{1B}["), r.stdout)
        XCTAssertTrue(r.stdout.contains("spec.pts:7:2: error:"), r.stdout)
    }

    func testNoEscapeCodesWithNO_COLOR() throws {
        try write("spec.pts", Self.violating)
        let r = try run(["spec.pts"], env: ["NO_COLOR": "1"])
        XCTAssertFalse(r.stdout.contains("\u{1B}["), r.stdout)
        let auto = try run(["--color", "auto", "spec.pts"], env: ["NO_COLOR": "1"])
        XCTAssertFalse(auto.stdout.contains("\u{1B}["), auto.stdout)
    }

    func testNoEscapeCodesWhenNotATerminal() throws {
        // stdout is a file here: auto means no colour.
        try write("spec.pts", Self.violating)
        XCTAssertFalse(try run(["spec.pts"]).stdout.contains("\u{1B}["))
    }

    func testColorAlwaysColours() throws {
        // The control for the tests above: escape codes do appear when asked for.
        try write("spec.pts", Self.violating)
        let r = try run(["--color", "always", "spec.pts"])
        XCTAssertTrue(r.stdout.contains("\u{1B}["), r.stdout)
    }

    // MARK: version and help

    /// `--version` prints the version certificates carry in their header.
    func testVersionIsTheCertificatesVersion() throws {
        let r = try run(["--version"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, JSONReport.toolVersion + "\n")
        try write("spec.pts", Self.proving)
        let certify = try run(["--certify", "certs", "spec.pts"])
        XCTAssertEqual(certify.status, 0, certify.stdout + certify.stderr)
        let certificates = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("certs").path)
        let first = try XCTUnwrap(certificates.sorted().first, "no certificate written")
        let text = try String(contentsOf: dir.appendingPathComponent("certs").appendingPathComponent(first), encoding: .utf8)
        XCTAssertTrue(text.contains("; ptregs-prove \(JSONReport.toolVersion) certificate"), String(text.prefix(300)))
    }

    /// Every option is in `--help`, the self-checks included.
    func testHelpListsEveryOption() throws {
        let r = try run(["--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for option in ["--path", "--invariant", "--timeout", "--memory-limit", "--rlimit", "--root", "-D", "--parse-only",
                       "--format", "--jobs", "--explain", "--emit-smt2", "--certify", "--changed-since", "--tree",
                       "--shard", "--no-merge", "--no-fast-path", "--no-probes", "--fingerprint", "--verbose",
                       "--color", "--version"] {
            XCTAssertTrue([" \(option) ", " \(option)\n"].contains { r.stdout.contains($0) },
                          "\(option) missing from --help:\n\(r.stdout)")
        }
    }

    // MARK: the spec root

    /// A tree of specs as the corpus lays them out: units two levels below a shared include.
    func writeSpecTree(under top: String) throws {
        try write("\(top)/include/common.ptsh", ".extern never_called\n")
        try write("\(top)/arch/x86/a.pts", ".include \"../../include/common.ptsh\"\n" + Self.proving)
    }

    /// Without a marker or a work tree, the root is the directory named: a subdirectory
    /// cannot include from its siblings (the failure the marker and the git rule fix).
    func testSubdirectoryWithoutAMarkerCannotIncludeFromAbove() throws {
        try writeSpecTree(under: "specs")
        let r = try run(["specs/arch"])
        XCTAssertEqual(r.status, 2, r.stdout)
        XCTAssertTrue(r.stdout.contains("escapes the spec root"), r.stdout)
    }

    /// A `.ptregs-root` file above the input makes its directory the root.
    func testSubdirectoryUnderARootMarker() throws {
        try writeSpecTree(under: "specs")
        try write("specs/.ptregs-root", "")
        for input in ["specs/arch", "specs/arch/x86", "specs/arch/x86/a.pts", "specs"] {
            let r = try run([input])
            XCTAssertEqual(r.status, 0, "\(input): \(r.stdout)")
            XCTAssertTrue(r.stdout.contains("1 path in 1 file: \(Invariant.allCases.count) proved"), "\(input): \(r.stdout)")
        }
    }

    /// The top of a git work tree is the root when no marker is on the way up (`.git` is
    /// a directory in a clone, a file in a worktree).
    func testSubdirectoryOfAGitWorkTree() throws {
        try writeSpecTree(under: "repo/specs")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("repo/.git"), withIntermediateDirectories: true)
        let clone = try run(["repo/specs/arch/x86"])
        XCTAssertEqual(clone.status, 0, clone.stdout)
        try write("worktree/.git", "gitdir: /elsewhere\n")
        try writeSpecTree(under: "worktree/specs")
        let r = try run(["worktree/specs/arch"])
        XCTAssertEqual(r.status, 0, r.stdout)
    }

    /// A marker is found only up to the work tree's top: one above the checkout (which a
    /// pull request cannot place) does not widen the root, and one a pull request adds
    /// inside the checkout makes the root smaller, never larger.
    func testMarkersNeverWidenTheRootBeyondTheWorkTree() throws {
        try write(".ptregs-root", "")
        try write("outside.ptsh", ".extern never_called\n")
        try write("repo/specs/a.pts", ".include \"../../outside.ptsh\"\n" + Self.proving)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("repo/.git"), withIntermediateDirectories: true)
        let above = try run(["repo/specs"])
        XCTAssertEqual(above.status, 2, above.stdout)
        XCTAssertTrue(above.stdout.contains("escapes the spec root \(dir.appendingPathComponent("repo").resolvingSymlinksInPath().path)"), above.stdout)

        try writeSpecTree(under: "repo/tree")
        try write("repo/tree/arch/.ptregs-root", "")
        let inside = try run(["repo/tree/arch/x86"])
        XCTAssertEqual(inside.status, 2, inside.stdout)
        XCTAssertTrue(inside.stdout.contains("escapes the spec root \(dir.appendingPathComponent("repo/tree/arch").resolvingSymlinksInPath().path)"), inside.stdout)
    }

    /// `--root DIR` names the root; every input must lie inside it.
    func testExplicitRoot() throws {
        try writeSpecTree(under: "specs")
        let r = try run(["--root", "specs", "specs/arch/x86"])
        XCTAssertEqual(r.status, 0, r.stdout)
        let outside = try run(["--root", "specs/arch", "specs/include"])
        XCTAssertEqual(outside.status, 2, outside.stdout)
        XCTAssertTrue(outside.stdout.contains("specs/include:1:1: error: specs/include lies outside the spec root"), outside.stdout)
        let missing = try run(["--root", "nothere", "specs"])
        XCTAssertEqual(missing.status, 2, missing.stdout)
        XCTAssertTrue(missing.stderr.contains("--root nothere: no such directory"), missing.stderr)
    }

    /// The root may be a whole checkout, so inside it a spec reads spec files only:
    /// nothing hidden (`.git/config` holds a checkout's token) and nothing but `.ptsh` /
    /// `.pts` (a credentials file an earlier CI step left in the work tree).
    func testOnlySpecFilesAreReadInsideTheRoot() throws {
        try write("repo/.git/config", "[http]\n\textraheader = AUTHORIZATION: basic c2VjcmV0\n")
        try write("repo/creds.json", "{\"private_key\": \"secret\"}\n")
        try write("repo/.hidden/h.ptsh", ".extern schedule\n")
        for (name, target) in [("git", "../.git/config"), ("json", "../creds.json"), ("hidden", "../.hidden/h.ptsh")] {
            try write("repo/specs/\(name).pts", ".include \"\(target)\"\n" + Self.proving)
            let r = try run(["repo/specs/\(name).pts"])
            XCTAssertEqual(r.status, 2, "\(name): \(r.stdout)")
            XCTAssertTrue(r.stdout.contains("repo/specs/\(name).pts:1:10: error: include of '\(target)' is not a spec file"), "\(name): \(r.stdout)")
            XCTAssertFalse(r.stdout.contains("secret") || r.stdout.contains("AUTHORIZATION"), r.stdout)
            try FileManager.default.removeItem(at: dir.appendingPathComponent("repo/specs/\(name).pts"))
        }
        // A unit that is itself in a hidden directory (a test's copy under .build) may
        // include its neighbours there.
        try write("repo/.hidden/u.pts", ".include \"h.ptsh\"\n" + Self.proving.replacingOccurrences(of: ".extern schedule\n", with: ""))
        let inHidden = try run(["repo/.hidden/u.pts"])
        XCTAssertEqual(inHidden.status, 0, inHidden.stdout)
        // A unit that is a link to such a file is refused the same way.
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("repo/specs"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("repo/specs/link.pts").path, withDestinationPath: "../.git/config")
        let link = try run(["repo/specs"])
        XCTAssertEqual(link.status, 2, link.stdout)
        XCTAssertTrue(link.stdout.contains("repo/specs/link.pts:1:1: error: spec unit 'repo/specs/link.pts' is"), link.stdout)
        XCTAssertFalse(link.stdout.contains("AUTHORIZATION"), link.stdout)
    }

    /// A directory walk skips hidden directories (`.git`, `.build` and its copies of specs).
    func testDirectoryWalkSkipsHiddenDirectories() throws {
        try write("specs/a.pts", Self.proving)
        try write("specs/.build/copy/a.pts", Self.twoPaths)
        let r = try run(["specs"])
        XCTAssertEqual(r.status, 0, r.stdout)
        XCTAssertTrue(r.stdout.contains("1 path in 1 file"), r.stdout)
    }
}
