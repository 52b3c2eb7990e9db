// swift-tools-version: 6.1
import PackageDescription

/// Reel's package. The module table is in ARCHITECTURE.md §2: four system-library targets wrap the C libraries
/// the product stands on; everything above them is Swift 6 with strict concurrency.
let package = Package(
    name: "Reel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "reel", targets: ["reel"]),
        .executable(name: "reel-worker", targets: ["reel-worker"]),
        .executable(name: "reel-operator", targets: ["reel-operator"]),
        .library(name: "ReelAPI", targets: ["ReelAPI"]),
        .library(name: "ReelYAML", targets: ["ReelYAML"]),
        .library(name: "ReelStore", targets: ["ReelStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
    ],
    targets: [
        // C libraries: module.modulemap + shim.h, found through pkg-config, installed by apt.
        .systemLibrary(
            name: "CPostgres", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]),
        .systemLibrary(
            name: "CYAML", pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        // FFmpeg's headers (Debian: libavformat-dev, libavcodec-dev, libavutil-dev, libswscale-dev,
        // libswresample-dev); the libraries are opened on first use, not linked (Sources/CFFmpeg/loader.c).
        .target(name: "CFFmpeg"),

        .target(name: "ReelSupport", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "ReelYAML", dependencies: ["CYAML"]),
        .target(name: "ReelAPI", dependencies: ["ReelYAML"]),
        .target(name: "ReelCore", dependencies: ["ReelAPI", "ReelSupport"]),
        .target(name: "ReelPostgres", dependencies: ["CPostgres", "ReelSupport"]),
        .target(name: "ReelMedia", dependencies: ["CFFmpeg", "ReelSupport"]),
        // Fuzz targets (hack/fuzz.sh builds reel-fuzz under libFuzzer and AddressSanitizer).
        .target(
            name: "ReelFuzzTargets", dependencies: ["ReelAPI", "ReelKube", "ReelMedia", "ReelSupport", "ReelYAML"]),
        .executableTarget(name: "reel-fuzz", dependencies: ["ReelFuzzTargets"]),
        .target(
            name: "ReelStore",
            dependencies: [
                "ReelPostgres", "ReelCore", "ReelAPI", "ReelSupport", .product(name: "Logging", package: "swift-log"),
            ]),
        .target(name: "ReelHTTP", dependencies: ["CCurl", "ReelSupport"]),
        .target(name: "ReelKube", dependencies: ["ReelHTTP", "ReelAPI", "ReelYAML", "ReelSupport"]),
        .target(
            name: "ReelStorage",
            dependencies: ["ReelHTTP", "ReelSupport", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "ReelAnalysis",
            dependencies: [
                "ReelAPI", "ReelMedia", "ReelHTTP", "ReelSupport", .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(
            name: "ReelPipeline",
            dependencies: [
                "ReelAPI", "ReelCore", "ReelStore", "ReelStorage", "ReelMedia", "ReelAnalysis", "ReelHTTP",
                "ReelSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(
            name: "ReelOperator",
            dependencies: [
                "ReelAPI", "ReelCore", "ReelYAML", "ReelStore", "ReelStorage", "ReelKube", "ReelSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // The operator's health and metrics endpoints, on SwiftNIO (Hummingbird would bring Foundation).
        .target(
            name: "ReelHealth",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(
            name: "ReelServer",
            dependencies: [
                "ReelHealth", "ReelAPI", "ReelCore", "ReelStore", "ReelStorage", "ReelMedia", "ReelAnalysis",
                "ReelSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The dashboard's files, compiled into the binary (`PackageResources`): nothing to install beside it.
            resources: [.embedInCode("Dashboard")]),
        // What a worker process needs and nothing more (no API server, no operator): `reel-worker` is built from
        // these, and none of the modules below them imports Foundation (FoundationEssentials only).
        .target(
            name: "ReelProcess",
            dependencies: [
                "ReelPipeline", "ReelStore", "ReelStorage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]),
        .target(
            name: "ReelWorkerCLI",
            dependencies: [
                "ReelAPI", "ReelCore", "ReelHTTP", "ReelKube", "ReelPipeline", "ReelProcess", "ReelSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "reel-worker",
            dependencies: [
                "ReelSupport", "ReelWorkerCLI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // What `reel operator` needs without the REST API (`reel-operator`), on FoundationEssentials too.
        .target(
            name: "ReelOperatorApp",
            dependencies: [
                "ReelAPI", "ReelCore", "ReelHealth", "ReelKube", "ReelOperator", "ReelProcess", "ReelStorage",
                "ReelStore", "ReelSupport", "ReelWorkerCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .executableTarget(
            name: "reel-operator",
            dependencies: [
                "ReelOperatorApp", "ReelSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .target(
            name: "ReelApp",
            dependencies: [
                "ReelOperatorApp", "ReelHealth", "ReelCore", "ReelOperator", "ReelPipeline", "ReelProcess",
                "ReelServer", "ReelKube", "ReelStore",
                "ReelStorage", "ReelSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]),
        .executableTarget(
            name: "reel",
            dependencies: [
                "ReelAPI", "ReelCore", "ReelYAML", "ReelStore", "ReelMedia", "ReelStorage", "ReelAnalysis",
                "ReelSupport",
                "ReelPipeline", "ReelOperator", "ReelKube", "ReelServer", "ReelApp", "ReelHTTP", "CCurl",
                "ReelProcess", "ReelWorkerCLI", "ReelOperatorApp", "ReelHealth",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(name: "ReelTestSupport", dependencies: ["ReelPostgres", "ReelStore", "ReelHTTP", "ReelSupport"]),

        .testTarget(name: "CLibrariesTests", dependencies: ["CPostgres", "CYAML", "CCurl", "CFFmpeg"]),
        .testTarget(name: "ReelYAMLTests", dependencies: ["ReelYAML"]),
        .testTarget(name: "ReelAPITests", dependencies: ["ReelAPI", "ReelYAML", "ReelTestSupport"]),
        .testTarget(name: "ReelPostgresTests", dependencies: ["ReelPostgres", "ReelSupport", "ReelTestSupport"]),
        .testTarget(name: "ReelSupportTests", dependencies: ["ReelSupport", "ReelTestSupport"]),
        .testTarget(
            name: "ReelCoreTests", dependencies: ["ReelCore", "ReelSupport", "ReelStorage", "ReelTestSupport"]),
        .testTarget(
            name: "ReelStoreTests",
            dependencies: ["ReelStore", "ReelAPI", "ReelCore", "ReelPostgres", "ReelSupport", "ReelTestSupport"]),
        .testTarget(name: "ReelMediaTests", dependencies: ["CFFmpeg", "ReelMedia", "ReelSupport", "ReelTestSupport"]),
        .testTarget(
            name: "ReelPipelineTests",
            dependencies: [
                "ReelPipeline", "ReelAPI", "ReelCore", "ReelMedia", "ReelStorage", "ReelAnalysis", "ReelHTTP",
                "ReelStore", "ReelPostgres", "ReelSupport", "ReelTestSupport",
            ]),
        .testTarget(name: "ReelHTTPTests", dependencies: ["ReelHTTP", "ReelTestSupport"]),
        .testTarget(name: "ReelStorageTests", dependencies: ["ReelStorage", "ReelSupport", "ReelTestSupport"]),
        .testTarget(
            name: "ReelServerTests",
            dependencies: [
                "ReelServer", "ReelHealth", "ReelOperatorApp", "ReelHTTP", "ReelTestSupport", "ReelAPI", "ReelCore",
                "ReelStore", "ReelStorage",
                "ReelSupport", "ReelPostgres", .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .testTarget(name: "ReelKubeTests", dependencies: ["ReelKube", "ReelAPI", "ReelHTTP", "ReelTestSupport"]),
        .testTarget(name: "ReelAnalysisTests", dependencies: ["ReelAnalysis", "ReelHTTP", "ReelTestSupport"]),
        .testTarget(
            name: "ReelOperatorTests",
            dependencies: [
                "ReelOperator", "ReelAPI", "ReelCore", "ReelStore", "ReelPostgres", "ReelKube", "ReelServer",
                "ReelHTTP", "ReelStorage", "ReelSupport", "ReelTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .testTarget(
            name: "ReelEndToEndTests",
            dependencies: [
                "reel", "ReelCore", "ReelStore", "ReelPostgres", "ReelHTTP", "ReelSupport", "ReelTestSupport",
            ]),
        .testTarget(
            name: "ReelAppTests",
            dependencies: [
                "ReelApp", "ReelCore", "ReelPostgres", "ReelPipeline", "ReelStore", "ReelTestSupport", "ReelHTTP",
                "ReelAPI", "ReelServer", "ReelProcess", "ReelOperatorApp", "ReelHealth", "reel",
            ]),
        .testTarget(name: "ReelFuzzTargetsTests", dependencies: ["ReelFuzzTargets", "ReelTestSupport"]),
        .testTarget(
            name: "ReelCLITests",
            dependencies: [
                "reel", "ReelAPI", "ReelCore", "ReelPostgres", "ReelStore", "ReelSupport", "ReelTestSupport",
                "ReelHTTP",
            ]),
    ],
    swiftLanguageModes: [.v6]
)
