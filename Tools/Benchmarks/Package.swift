// swift-tools-version:6.0
import PackageDescription

// medledger-benchmarks: the codec against swift-protobuf, state apply and state root, block
// signature verification, the segment log on the real file system, and the transport on loopback
// (see README.md). It is its
// own package so that the root's `swift build` and `swift test` never build it or fetch
// swift-protobuf; build it in release from this folder:
//
//     swift build -c release && .build/release/medledger-benchmarks
//
// MedLedgerBenchProto holds the code protoc generated from Proto/block.proto, committed so that a
// build needs neither protoc nor the protoc-gen-swift plugin (Proto/generate regenerates it).

let package = Package(
    name: "MedLedgerBenchmarks",
    dependencies: [
        .package(name: "MedLedger", path: "../.."),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .target(
            name: "MedLedgerBenchProto",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .executableTarget(
            name: "medledger-benchmarks",
            dependencies: [
                "MedLedgerBenchProto",
                .product(name: "MedLedgerLedger", package: "MedLedger"),
                .product(name: "MedLedgerWire", package: "MedLedger"),
                .product(name: "MedLedgerCrypto", package: "MedLedger"),
                .product(name: "MedLedgerStore", package: "MedLedger"),
                .product(name: "MedLedgerNet", package: "MedLedger"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
