import Foundation
import XCTest

/// Runs the built `ptregs-prove` executable the way a user or CI does.
enum PtregsProveBinary {
    struct Run {
        var status: Int32
        /// True when the process was killed by a signal (a trap, a crash) rather than exiting.
        var crashed: Bool
        var timedOut: Bool
        var stdout: String
        var stderr: String
    }

    /// The executable in the products directory next to the test bundle, if it was built.
    static let url: URL? = {
        var candidates: [URL] = []
        let main = Bundle.main.bundleURL
        candidates.append(main.appendingPathComponent("ptregs-prove"))
        candidates.append(main.deletingLastPathComponent().appendingPathComponent("ptregs-prove"))
        if let exe = Bundle.main.executableURL {
            candidates.append(exe.deletingLastPathComponent().appendingPathComponent("ptregs-prove"))
        }
        for b in Bundle.allBundles where b.bundleURL.pathExtension == "xctest" {
            candidates.append(b.bundleURL.deletingLastPathComponent().appendingPathComponent("ptregs-prove"))
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    static func require() throws -> URL {
        guard let u = url else {
            throw XCTSkip("the ptregs-prove executable is not next to the test bundle (build it with `swift build --build-tests`)")
        }
        return u
    }

    /// Runs with `arguments` in `directory`; the environment is the test's minus colour
    /// hints, plus `environment`. Output goes through files, so no pipe can fill up.
    static func run(_ arguments: [String], in directory: URL, environment: [String: String] = [:],
                    timeout: TimeInterval = 60) throws -> Run {
        let exe = try require()
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("ptregs-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let outURL = tmp.appendingPathComponent("stdout"), errURL = tmp.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        let p = Process()
        p.executableURL = exe
        p.arguments = arguments
        p.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = nil
        env["TERM"] = "dumb"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while p.isRunning {
            if Date() > deadline {
                timedOut = true
                p.terminate()
                break
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        p.waitUntilExit()
        try out.close()
        try err.close()
        let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return Run(status: p.terminationStatus, crashed: p.terminationReason == .uncaughtSignal,
                   timedOut: timedOut, stdout: stdout, stderr: stderr)
    }

    /// Asserts the run ended on its own: no signal, no hang, no Swift runtime trap text.
    static func assertNoCrash(_ r: Run, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(r.timedOut, "\(what): ptregs-prove did not finish", file: file, line: line)
        XCTAssertFalse(r.crashed, "\(what): ptregs-prove died of signal \(r.status); stderr: \(r.stderr)", file: file, line: line)
        for marker in ["Fatal error", "Stack dump", "Backtrace", "💣", "Program crashed"] {
            XCTAssertFalse(r.stderr.contains(marker) || r.stdout.contains(marker),
                           "\(what): '\(marker)' in the output: \(r.stderr)", file: file, line: line)
        }
    }
}
