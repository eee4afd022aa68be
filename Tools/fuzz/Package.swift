// swift-tools-version:5.4
import PackageDescription

// The wire-protocol fuzzer: one libFuzzer target, `wire-fuzz`, over the root package's
// MedLedgerWire library. It is a separate package so that the root's `swift build` and
// `swift test` never build it. Build and run it with Tools/fuzz/run (see README.md).
//
// Why tools version 5.4: from 5.5 on, SwiftPM renames an executable's entry point on Linux and
// links it with `--defsym main=wire_fuzz_main`; a libFuzzer target has no Swift `main`
// (`-parse-as-library`, libFuzzer brings its own), so that link fails with
// "undefined symbol 'wire_fuzz_main'" (swiftlang/swift-package-manager#4522, #8731).
// 5.4 is the last tools version without the rename and already has `executableTarget`.
// The code is compiled in Swift 6 mode all the same (see swiftSettings).

let package = Package(
    name: "MedLedgerFuzz",
    dependencies: [
        .package(name: "MedLedger", path: "../..")
    ],
    targets: [
        .executableTarget(
            name: "wire-fuzz",
            dependencies: [.product(name: "MedLedgerWire", package: "MedLedger")],
            swiftSettings: [.unsafeFlags(["-swift-version", "6"])]
        )
    ]
)
