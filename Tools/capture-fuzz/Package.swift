// swift-tools-version:5.4
import PackageDescription

// The capture fuzzer: one libFuzzer target, `capture-fuzz`, over the root package's
// MedLedgerInspect capture reader (pcap/pcapng, link layers, IP, TCP reassembly, framing,
// decryption). Like Tools/fuzz, a separate package so the root's `swift build` and `swift test`
// never build it, and tools version 5.4 for the same reason (no Swift `main`; see
// Tools/fuzz/Package.swift). Build and run it with Tools/capture-fuzz/run.

let package = Package(
    name: "MedLedgerCaptureFuzz",
    dependencies: [
        .package(name: "MedLedger", path: "../..")
    ],
    targets: [
        .executableTarget(
            name: "capture-fuzz",
            dependencies: [
                .product(name: "MedLedgerInspect", package: "MedLedger"),
                .product(name: "MedLedgerWire", package: "MedLedger"),
            ],
            swiftSettings: [.unsafeFlags(["-swift-version", "6"])]
        )
    ]
)
