import Foundation
import SpecElaboration
import SpecSyntax

/// The library's front door: spec files or directories in, a report out.
public struct Checker: Sendable {
    public var options: ProverOptions
    /// Only paths whose name contains one of these (empty: all).
    public var pathFilters: [String] = []
    /// Parse and elaborate only.
    public var parseOnly = false

    public init(options: ProverOptions = ProverOptions()) { self.options = options }

    /// Spec units under the inputs: `.pts` files (`.ptsh` files are include-only).
    public static func specFiles(_ inputs: [String]) -> (files: [(url: URL, root: String, display: String)], errors: [Diagnostic]) {
        var files: [(URL, String, String)] = []
        var errors: [Diagnostic] = []
        let fm = FileManager.default
        for input in inputs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: input, isDirectory: &isDir) else {
                errors.append(.error(SourceLocation(file: input, line: 1, column: 1), "no such file or directory"))
                continue
            }
            if isDir.boolValue {
                let root = URL(fileURLWithPath: input)
                guard let e = fm.enumerator(at: root, includingPropertiesForKeys: nil) else { continue }
                var found: [URL] = []
                for case let u as URL in e where u.pathExtension == "pts" { found.append(u) }
                for u in found.sorted(by: { $0.path < $1.path }) {
                    let rel = u.standardizedFileURL.path.replacingOccurrences(of: root.standardizedFileURL.path + "/", with: "")
                    let display = (input.hasSuffix("/") ? input : input + "/") + rel
                    files.append((u, input, display))
                }
            } else {
                let u = URL(fileURLWithPath: input)
                let cwd = fm.currentDirectoryPath
                let root = u.standardizedFileURL.path.hasPrefix(cwd + "/") ? cwd : u.deletingLastPathComponent().path
                files.append((u, root, input))
            }
        }
        return (files, errors)
    }

    public func check(_ inputs: [String]) -> CheckReport {
        var report = CheckReport()
        let (files, errors) = Self.specFiles(inputs)
        report.diagnostics += errors
        report.files = files.count
        for f in files {
            let program: Program
            do {
                program = try Elaborator(loader: SpecLoader(root: f.root)).elaborate(file: f.url, displayName: f.display)
            } catch let d as Diagnostic {
                report.diagnostics.append(d)
                continue
            } catch {
                report.diagnostics.append(.error(SourceLocation(file: f.display, line: 1, column: 1), "\(error)"))
                continue
            }
            if parseOnly {
                // Building each path's graph is part of elaboration (no exit, call depth).
                for p in program.paths {
                    do { _ = try PathGraph(program: program, path: p) } catch let d as Diagnostic { report.diagnostics.append(d) } catch {}
                }
                continue
            }
            for p in program.paths where pathFilters.isEmpty || pathFilters.contains(where: { p.name.contains($0) }) {
                do {
                    _ = try PathGraph(program: program, path: p)
                } catch let d as Diagnostic {
                    report.diagnostics.append(d)
                    continue
                } catch {}
                report.paths.append(PathProver.prove(program: program, path: p, options: options))
            }
        }
        return report
    }
}
