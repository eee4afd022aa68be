// swift-tools-version:6.0
import PackageDescription

// capture-sender: the program Tools/capture-check runs under tcpdump. Two transports on one
// loopback port exchange messages whose payloads carry a marker string (sealed, as nodes send
// them), or, with --plain, the same messages as plain frames over a bare socket (the capture's
// positive control). Its own package so that the root package gains no product and a debug build
// compiles only what the transport needs.

let package = Package(
    name: "MedLedgerCaptureSender",
    dependencies: [
        .package(name: "MedLedger", path: "../.."),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .executableTarget(
            name: "capture-sender",
            dependencies: [
                .product(name: "MedLedgerNet", package: "MedLedger"),
                .product(name: "MedLedgerWire", package: "MedLedger"),
                .product(name: "MedLedgerCrypto", package: "MedLedger"),
                .product(name: "Logging", package: "swift-log"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
