// swift-tools-version:6.0
import PackageDescription

// Layering (see DESIGN.md): each target knows only the targets below it.
//
//   medledger, medledger-inspect   (executables)
//   MedLedgerInspect               (inspector library)
//   MedLedgerWire                  (frames, messages, canonical codec)
//   MedLedgerCrypto                (typed Swift over OpenSSL)
//   CZlib, COpenSSL                (system libraries)

let package = Package(
    name: "MedLedger",
    products: [
        .executable(name: "medledger", targets: ["medledger"]),
        .executable(name: "medledger-inspect", targets: ["medledger-inspect"]),
        .library(name: "MedLedgerCrypto", targets: ["MedLedgerCrypto"]),
        .library(name: "MedLedgerWire", targets: ["MedLedgerWire"]),
        .library(name: "MedLedgerLedger", targets: ["MedLedgerLedger"]),
        .library(name: "MedLedgerConsensus", targets: ["MedLedgerConsensus"]),
        .library(name: "MedLedgerStore", targets: ["MedLedgerStore"]),
        .library(name: "MedLedgerInspect", targets: ["MedLedgerInspect"]),
        .library(name: "MedLedgerNet", targets: ["MedLedgerNet"]),
        .library(name: "MedLedgerNode", targets: ["MedLedgerNode"]),
        .library(name: "MedLedgerClient", targets: ["MedLedgerClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        // The node's metrics (README, Design decisions: metrics): the swift-metrics API, and
        // swift-prometheus's registry for the Prometheus text format.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // MARK: System libraries

        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),

        // MARK: Libraries

        .target(
            name: "MedLedgerCrypto",
            dependencies: ["COpenSSL"]
        ),
        .target(
            name: "MedLedgerWire",
            dependencies: ["MedLedgerCrypto", "CZlib"]
        ),
        .target(
            name: "MedLedgerLedger",
            dependencies: [
                "MedLedgerWire", "MedLedgerCrypto",
                // Persistent hash maps for the ledger state: a block applied to a copy of the
                // state shares every untouched entry instead of copying whole maps.
                .product(name: "HashTreeCollections", package: "swift-collections"),
            ]
        ),
        .target(
            name: "MedLedgerConsensus",
            dependencies: ["MedLedgerLedger", "MedLedgerWire", "MedLedgerCrypto"]
        ),
        .target(
            name: "MedLedgerStore",
            dependencies: ["MedLedgerLedger", "MedLedgerWire", "MedLedgerCrypto", "CZlib"]
        ),
        .target(
            name: "MedLedgerInspect",
            dependencies: ["MedLedgerWire", "MedLedgerCrypto", "MedLedgerStore", "MedLedgerLedger"]
        ),

        .target(
            name: "MedLedgerNet",
            dependencies: ["MedLedgerWire", "MedLedgerCrypto", .product(name: "Logging", package: "swift-log")]
        ),

        // The node runtime: mempool, consensus over the network, block sync, lifecycle.
        .target(
            name: "MedLedgerNode",
            dependencies: [
                "MedLedgerConsensus", "MedLedgerStore", "MedLedgerLedger", "MedLedgerNet", "MedLedgerWire", "MedLedgerCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // The queue of peer transactions waiting for their relay (Protocol/NODE.md 3).
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),

        // The client library for apps: connect with failover, sign and submit, query with proofs,
        // store, fetch and decrypt records, subscribe (Protocol/CLIENT.md).
        .target(
            name: "MedLedgerClient",
            dependencies: [
                "MedLedgerNet", "MedLedgerLedger", "MedLedgerCrypto", "MedLedgerWire",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The deterministic consensus simulator: the tests' sweeps and `medledger-sim` (long sweeps).
        .target(
            name: "MedLedgerSimulation",
            dependencies: ["MedLedgerConsensus", "MedLedgerLedger", "MedLedgerWire", "MedLedgerCrypto"]
        ),

        // Shared by the test targets only (vector files, paths); never part of a product.
        .target(
            name: "MedLedgerTestSupport",
            dependencies: ["MedLedgerWire"]
        ),

        // MARK: Executables

        .executableTarget(
            name: "medledger",
            dependencies: [
                "MedLedgerNode",
                "MedLedgerClient",
                "MedLedgerNet",
                "MedLedgerCrypto",
                "MedLedgerWire",
                "MedLedgerLedger",
                "MedLedgerStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "medledger-sim",
            dependencies: [
                "MedLedgerSimulation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "medledger-inspect",
            dependencies: [
                "MedLedgerInspect",
                "MedLedgerStore",
                "MedLedgerCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests

        .testTarget(
            name: "MedLedgerCryptoTests",
            dependencies: ["MedLedgerCrypto"],
            exclude: ["Vectors"]
        ),
        .testTarget(
            name: "MedLedgerWireTests",
            dependencies: ["MedLedgerWire", "MedLedgerTestSupport"]
        ),
        .testTarget(
            name: "MedLedgerLedgerTests",
            dependencies: ["MedLedgerLedger", "MedLedgerTestSupport"]
        ),
        .testTarget(
            name: "MedLedgerConsensusTests",
            dependencies: ["MedLedgerConsensus", "MedLedgerSimulation", "MedLedgerStore", "MedLedgerTestSupport"]
        ),
        .testTarget(
            name: "MedLedgerNodeTests",
            dependencies: ["MedLedgerNode", "MedLedgerNet", "MedLedgerLedger", "MedLedgerWire", "MedLedgerCrypto"]
        ),
        .testTarget(
            name: "MedLedgerStoreTests",
            dependencies: ["MedLedgerStore", "MedLedgerTestSupport"]
        ),
        .testTarget(
            name: "MedLedgerInspectTests",
            dependencies: ["MedLedgerInspect", "MedLedgerTestSupport"],
            exclude: ["Golden", "Fixtures"]
        ),
        .testTarget(
            name: "MedLedgerClientTests",
            dependencies: [
                "MedLedgerClient", "MedLedgerNode", "MedLedgerNet", "MedLedgerLedger", "MedLedgerWire", "MedLedgerCrypto",
                "medledger", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "MedLedgerNetTests",
            dependencies: [
                "MedLedgerNet", "MedLedgerWire", "MedLedgerCrypto", .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
