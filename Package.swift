// swift-tools-version: 6.2
import PackageDescription

// The folder tree shows the layers; imports flow one way (the README's Layout has the table):
// Shims (C) -> Wrappers (safe Swift over each C library) -> Engine (kernels, tensors) -> Models -> Generator/Alignment
// -> Store (LMDB) -> Ingest (Kafka) / Serving / Learning -> Daemon (services) -> onerec (executable: command wiring).
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "onerec",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "onerec", targets: ["onerec"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // MARK: C shims
        .systemLibrary(
            name: "CLMDB", path: "Sources/Shims/CLMDB", pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(
            name: "CRdKafka", path: "Sources/Shims/CRdKafka", pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]),
        // Headers only: OpenBLAS is loaded with dlopen after the kernel is chosen (see BLAS/Loader.swift).
        .systemLibrary(
            name: "COpenBLAS", path: "Sources/Shims/COpenBLAS",
            providers: [.apt(["libopenblas-dev"])]),

        // MARK: Safe wrappers
        .target(name: "LMDB", dependencies: ["CLMDB"], path: "Sources/Wrappers/LMDB", swiftSettings: strict),
        .target(
            name: "Kafka",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Wrappers/Kafka", swiftSettings: strict),
        .target(name: "BLAS", dependencies: ["COpenBLAS"], path: "Sources/Wrappers/BLAS", swiftSettings: strict),

        // MARK: Engine (kernels, tensors, autograd, optimiser, checkpoints)
        .target(
            name: "CKernels", path: "Sources/Kernels/CKernels",
            // Reassociation lets sums and maxima vectorise; infinities and NaN keep their meaning.
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno", "-fassociative-math", "-fno-signed-zeros", "-fno-trapping-math"])]),
        .target(name: "Engine", dependencies: ["CKernels", "BLAS"], path: "Sources/Engine", swiftSettings: strict),

        // MARK: Events (the schema every entry point validates against)
        .target(name: "Events", path: "Sources/Events", swiftSettings: strict),

        // MARK: Simulator (hidden tastes, true utility, logs and load)
        .target(name: "Simulator", dependencies: ["Events", "Engine"], path: "Sources/Simulator", swiftSettings: strict),

        // MARK: Data sets (public data for offline evaluation)
        .target(name: "Datasets", path: "Sources/Datasets", swiftSettings: strict),

        // MARK: Semantic IDs
        .target(name: "SemanticIDs", dependencies: ["Engine"], path: "Sources/SemanticIDs", swiftSettings: strict),

        // MARK: Models
        .target(name: "Models", dependencies: ["Engine"], path: "Sources/Models", swiftSettings: strict),

        // MARK: Generator (OneRec's model at work: tokens, training, constrained decoding)
        .target(name: "Generator", dependencies: ["Engine", "Models", "SemanticIDs"], path: "Sources/Generator", swiftSettings: strict),

        // MARK: Alignment (preference objectives, reward model, IPA)
        .target(name: "Alignment", dependencies: ["Engine", "Models", "Generator", "Events"], path: "Sources/Alignment", swiftSettings: strict),

        // MARK: Offline evaluation
        .target(
            name: "Evaluation", dependencies: ["Engine", "Models", "SemanticIDs", "Generator", "Datasets", "Alignment", "Simulator", "Events"],
            path: "Sources/Evaluation", swiftSettings: strict),

        // MARK: Store (everything the daemon keeps in LMDB, each part behind a typed facade)
        .target(name: "Store", dependencies: ["LMDB", "Events", "SemanticIDs", "Models", "Alignment"], path: "Sources/Store", swiftSettings: strict),

        // MARK: Ingest (Kafka -> validation -> Store)
        .target(name: "Ingest", dependencies: ["Store", "Events", "Kafka", "Engine", .product(name: "Logging", package: "swift-log"),
                                               .product(name: "Metrics", package: "swift-metrics"),
                                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                path: "Sources/Ingest", swiftSettings: strict),

        // MARK: Serving and learning (model store, hot swap, recommendations; the background trainer and IPA)
        .target(name: "Serving", dependencies: ["Engine", "Models", "SemanticIDs", "Generator", "Alignment", "Store", "Events",
                                                .product(name: "Logging", package: "swift-log")],
                path: "Sources/Serving", swiftSettings: strict),
        .target(name: "Learning", dependencies: ["Engine", "Models", "SemanticIDs", "Generator", "Alignment", "Serving", "Store", "Events",
                                                 .product(name: "Logging", package: "swift-log"),
                                                 .product(name: "Metrics", package: "swift-metrics"),
                                                 .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                path: "Sources/Learning", swiftSettings: strict),

        // MARK: Daemon (services)
        .target(
            name: "RequestParameters", dependencies: [.product(name: "HummingbirdCore", package: "hummingbird")], swiftSettings: strict),
        .target(
            name: "OneRecDaemon",
            dependencies: [
                "Kafka", "BLAS", "Engine", "Store", "Ingest", "Events", "Simulator", "Serving", "Learning", "Models", "Alignment", "SemanticIDs", "Generator",
                "RequestParameters",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Sources/Daemon", swiftSettings: strict),

        // MARK: Clients (the daemon's HTTP API: operator requests, open-loop load) and benchmarks
        .target(name: "Client", path: "Sources/Client", swiftSettings: strict),
        .target(
            name: "Benchmarks",
            dependencies: [
                "Client", "Datasets", "BLAS", "Kafka", "Engine", "Models", "SemanticIDs", "Generator", "Events", "Simulator", "Store", "Ingest",
                "Learning",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Benchmarks", swiftSettings: strict),

        // MARK: Executable (command wiring)
        .executableTarget(
            name: "onerec",
            dependencies: [
                "OneRecDaemon", "Benchmarks", "Client", "BLAS", "Kafka", "Engine", "Models", "SemanticIDs", "Datasets", "Generator", "Evaluation",
                "Events", "Simulator", "Alignment", "Store", "Ingest", "Learning",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/onerec", swiftSettings: strict),

        // MARK: Tests (one target per module)
        .target(name: "TestSupport", dependencies: ["Events"], path: "Tests/Support", swiftSettings: strict),
        .target(name: "ModelSupport", dependencies: ["Serving", "Store", "SemanticIDs", "Models", "Engine", "TestSupport",
                                                     .product(name: "Logging", package: "swift-log")],
                path: "Tests/ModelSupport", swiftSettings: strict),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "CLMDB", "TestSupport", "lmdb-test-helper"], swiftSettings: strict),
        .target(name: "FuzzSupport", path: "Tests/Fuzz/Support", swiftSettings: strict),
        .executableTarget(
            name: "event-decoder-fuzz", dependencies: ["Events", "FuzzSupport"], path: "Tests/Fuzz/EventDecoderFuzz",
            swiftSettings: strict + [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(
            name: "http-query-fuzz", dependencies: ["RequestParameters", "FuzzSupport", .product(name: "HummingbirdCore", package: "hummingbird")],
            path: "Tests/Fuzz/HTTPQueryFuzz", swiftSettings: strict + [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(
            name: "lmdb-test-helper", dependencies: ["LMDB"], path: "Tests/Helpers/LMDBTestHelper", swiftSettings: strict),
        .testTarget(
            name: "KafkaTests",
            dependencies: [
                "Kafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .testTarget(name: "BLASTests", dependencies: ["BLAS"], swiftSettings: strict),
        .target(name: "EngineSupport", dependencies: ["Engine"], path: "Tests/EngineSupport", swiftSettings: strict),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "BLAS", "EngineSupport"], swiftSettings: strict),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Engine"], swiftSettings: strict),
        .testTarget(name: "GeneratorTests", dependencies: ["Generator", "Models", "SemanticIDs", "Engine"], swiftSettings: strict),
        .testTarget(name: "AlignmentTests", dependencies: ["Alignment", "Engine", "EngineSupport", "Events", "Simulator", "Models", "Generator", "SemanticIDs"], swiftSettings: strict),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Models", "Engine", "Datasets", "Alignment", "Simulator"], swiftSettings: strict),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Alignment", "LMDB", "Events", "SemanticIDs", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "IngestTests", dependencies: ["Ingest", "Store", "LMDB", "Events", "Kafka", "Models", "Engine", "TestSupport",
                                                        .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .testTarget(name: "ServingTests", dependencies: ["Serving", "Alignment", "Generator", "Store", "Events", "Models", "SemanticIDs", "Engine", "TestSupport", "ModelSupport",
                                                         .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .testTarget(name: "LearningTests", dependencies: ["Learning", "Serving", "Store", "Events", "Models", "Generator", "Alignment",
                                                          "Simulator", "Engine", "TestSupport", "ModelSupport", "SemanticIDs", .product(name: "Logging", package: "swift-log")],
                    swiftSettings: strict),
        .testTarget(name: "EventsTests", dependencies: ["Events", "Engine"], swiftSettings: strict),
        .testTarget(name: "SimulatorTests", dependencies: ["Simulator", "Events"], swiftSettings: strict),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SemanticIDsTests", dependencies: ["SemanticIDs", "Engine", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "OneRecDaemon", "TestSupport", "Alignment", "Serving", "Store", "Events", "Models", "SemanticIDs", "Engine",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            swiftSettings: strict),
        // The real `onerec` binary, driven as an operator would: real processes, signals, HTTP, broker.
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["onerec", "TestSupport", "Kafka", "Events", "Store", "Simulator", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
    ]
)
