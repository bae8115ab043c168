// swift-tools-version:6.3
import PackageDescription

// -static-stdlib for an executable whose modules were compiled for the shared runtime:
// the libraries the static Foundation needs beyond what the modules' autolink entries name.
let staticRuntime = ["-static-stdlib", "-Xlinker", "--start-group", "-lFoundation", "-lFoundationEssentials",
                     "-lFoundationInternationalization", "-lCoreFoundation", "-l_FoundationICU", "-l_FoundationCShims",
                     "-l_FoundationCollections", "-lswiftSynchronization", "-Xlinker", "--end-group"]

let package = Package(
    name: "ptregs-prove",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "ptregs-prove", targets: ["ptregs-prove"]),
        .library(name: "PtregsProve", targets: ["PtregsProve"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/pointfreeco/swift-snapshot-testing", from: "1.17.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
    ],
    targets: [
        // Z3 from Debian's libz3-dev; only Z3Kit imports it.
        .systemLibrary(name: "CZ3", pkgConfig: "z3", providers: [.apt(["libz3-dev"])]),
        .target(name: "Z3Kit", dependencies: ["CZ3"]),
        // parse: source text -> statements with source locations.
        .target(name: "SpecSyntax"),
        // real assembly source: .S files through the system C preprocessor, line markers
        // mapped back to the original files.
        .target(name: "AssemblySource", dependencies: ["SpecSyntax"]),
        // elaborate: includes, constants, macros, layouts, instruction decoding, CFG.
        .target(name: "SpecElaboration", dependencies: ["SpecSyntax", "AssemblySource"]),
        // execute: one interpreter over an abstract value domain, the invariants.
        .target(name: "StackSemantics", dependencies: ["SpecElaboration"]),
        // prove + report: Z3 queries, verdicts, replay, output formats.
        .target(name: "PtregsProve", dependencies: ["StackSemantics", "Z3Kit"]),
        // The Swift runtime and Foundation linked in (-static-stdlib): a one-path check
        // starts in about two thirds of the time (docs/performance.md, "Start-up").
        .executableTarget(name: "ptregs-prove", dependencies: [
            "PtregsProve",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], linkerSettings: [.unsafeFlags(staticRuntime, .when(platforms: [.linux]))]),
        // Benchmarks: figures and ratios, never a pass/fail (swift run -c release ptregs-bench).
        .executableTarget(name: "ptregs-bench", dependencies: ["PtregsProve"]),
        // The CPU as an oracle: random programs run natively and on the interpreter.
        .target(name: "CPUOracle", dependencies: ["PtregsProve"]),
        .executableTarget(name: "ptregs-oracle", dependencies: ["CPUOracle"]),
        // libFuzzer target for parser and elaborator (-Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING).
        .executableTarget(name: "ptregs-fuzz", dependencies: ["PtregsProve"]),
        .testTarget(name: "Z3KitTests", dependencies: ["Z3Kit"]),
        .testTarget(name: "PtregsProveTests", dependencies: [
            "PtregsProve", "StackSemantics", "Z3Kit", "CPUOracle",
            .product(name: "SnapshotTesting", package: "swift-snapshot-testing"),
            .product(name: "PropertyBased", package: "swift-property-based"),
        ], exclude: ["__Snapshots__"], resources: [.copy("Fixtures")]),
    ]
)
