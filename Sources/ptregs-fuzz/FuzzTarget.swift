import Foundation
import PtregsProve

// A libFuzzer target for the parser and elaborator (and, for inputs that elaborate, the
// prover): spec files reach CI from untrusted pull requests, so no input may crash,
// hang or trap. Build and run (see docs/internals.md, "Keeping the prover honest"):
//   swift build --product ptregs-fuzz --scratch-path .build-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
//   .build-fuzz/debug/ptregs-fuzz -max_total_time=60 Tests/FuzzCorpus
// Without FUZZING it is a plain program that runs the same entry on files given as
// arguments (to replay a crash input, or to smoke-test the corpus in CI).

/// The per-input work: check the text as a spec unit, with short solver timeouts.
func fuzzOne(_ bytes: UnsafeBufferPointer<UInt8>) {
    let text = String(decoding: bytes, as: UTF8.self)
    var options = ProverOptions()
    options.timeoutMilliseconds = 200
    var checker = Checker(options: options)
    checker.jobs = 1
    _ = checker.check(source: text, name: "fuzz.pts")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzOne(UnsafeBufferPointer(start: data, count: size))
    return 0
}

#if FUZZING
// libFuzzer's own driver, entered from our main (SwiftPM owns the program's main symbol).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt
#endif

@main
struct FuzzMain {
    static func main() {
        #if FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzerTestOneInput(data, size) })
        #else
        replay()
        #endif
    }

    static func replay() {
        var files: [String] = []
        for arg in CommandLine.arguments.dropFirst() {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: arg, isDirectory: &isDir), isDir.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: arg)) ?? []
                files += names.sorted().map { arg + "/" + $0 }
            } else {
                files.append(arg)
            }
        }
        for f in files {
            guard let data = FileManager.default.contents(atPath: f) else { continue }
            data.withUnsafeBytes { raw in fuzzOne(raw.bindMemory(to: UInt8.self)) }
        }
        print("ptregs-fuzz: ran \(files.count) input(s) without a crash")
    }
}
