// swift-tools-version: 6.0
import PackageDescription

/// A system library reached through pkg-config, with its module map and shim header in Sources/<name>.
func systemLibrary(_ name: String, pkgConfig: String, apt: String) -> Target {
    .systemLibrary(name: name, pkgConfig: pkgConfig, providers: [.apt([apt])])
}

let package = Package(
    name: "diskimport",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "diskimport", targets: ["diskimport"]),
        // The parsers, for the libFuzzer targets in Fuzzing/ (a package of its own, depending on this one by path).
        .library(name: "DiskImportParsers", targets: ["DiskImportCore", "Codecs", "DiskImage", "Fetch", "CronController", "ImporterPod"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // The pod mode's metrics endpoint (HTTPS, Prometheus text format): only MetricsEndpoint depends on these.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries and shims.
        systemLibrary("CZlib", pkgConfig: "zlib", apt: "zlib1g-dev"),
        systemLibrary("CLzma", pkgConfig: "liblzma", apt: "liblzma-dev"),
        systemLibrary("CZstd", pkgConfig: "libzstd", apt: "libzstd-dev"),
        systemLibrary("CDeflate", pkgConfig: "libdeflate", apt: "libdeflate-dev"),
        systemLibrary("CIsal", pkgConfig: "libisal", apt: "libisal-dev"),
        // libarchive's and libcurl's headers only: CDelayLoad opens the libraries on first use (no pkg-config, whose
        // --libs would link them).
        .systemLibrary(name: "CArchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "CDelayLoad", dependencies: ["CArchive", "CCurl"], linkerSettings: [.linkedLibrary("dl")]),
        systemLibrary("COpenSSL", pkgConfig: "libcrypto", apt: "libssl-dev"),
        // XXH3-128, the block hash of `--reference` (Target's ReferenceIndex).
        systemLibrary("CXxhash", pkgConfig: "libxxhash", apt: "libxxhash-dev"),
        .target(name: "CLinux", cSettings: [.define("_GNU_SOURCE")]),
        // A self-signed P-256 certificate made with the system's libcrypto, for the metrics endpoint.
        .target(name: "CSelfSignedCertificate", linkerSettings: [.linkedLibrary("crypto")]),

        // Layers, bottom up: see DESIGN.md section 2.
        .target(name: "DiskImportCore", dependencies: [
            "CLinux",
            .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Codecs", dependencies: ["DiskImportCore", "CZlib", "CIsal", "CLzma", "CZstd", "CArchive", "CDelayLoad"]),
        .target(name: "Fetch", dependencies: ["DiskImportCore", "Codecs", "CCurl", "CDelayLoad", "COpenSSL"]),
        .target(name: "DiskImage", dependencies: ["DiskImportCore", "Codecs", "CLinux", "CZlib", "CZstd", "CDeflate"]),
        .target(name: "Target", dependencies: ["DiskImportCore", "CLinux", "CXxhash"]),
        .target(name: "Importer", dependencies: ["DiskImportCore", "Fetch", "Codecs", "DiskImage", "Target"]),
        .target(name: "CronController", dependencies: [
            "CLinux", "DiskImportCore", "Importer", "Fetch", "Target", "MetricsEndpoint",
            .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // An HTTPS server of a Prometheus registry (the importer's progress, the cron controller's gauge).
        .target(name: "MetricsEndpoint", dependencies: [
            "CSelfSignedCertificate", "DiskImportCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // `diskimport upload-server`: CDI's upload server (HTTPS, client certificates, tus resume) streaming the request
        // body into the same import pipeline.
        .target(name: "UploadServer", dependencies: [
            "COpenSSL", "CronController", "DiskImportCore", "Importer", "ImporterPod", "Fetch", "Target",
            .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // `diskimport import`: CDI's importer pod contract on top of the Importer.
        .target(name: "ImporterPod", dependencies: [
            "DiskImportCore", "Importer", "Target", "Codecs", "Fetch", "MetricsEndpoint",
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        .executableTarget(name: "diskimport", dependencies: [
            "CLinux",
            "DiskImage",
            "Importer",
            "Fetch",
            "Target",
            "CronController",
            "ImporterPod",
            "MetricsEndpoint",
            "UploadServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // What the test targets share: the Debian package to name when an oracle program is missing.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "DiskImportCoreTests", dependencies: ["DiskImportCore"]),
        .testTarget(name: "FetchTests", dependencies: ["Fetch"]),
        .testTarget(name: "DiskImageTests", dependencies: ["DiskImage", "DiskImportCore", "CZlib", "CZstd", "TestSupport"]),
        .testTarget(name: "CronControllerTests", dependencies: [
            "CronController", "DiskImportCore", "Target", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ImporterPodTests", dependencies: [
            "ImporterPod", "MetricsEndpoint", "DiskImportCore", "Fetch",
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .testTarget(name: "IntegrationTests", dependencies: ["TestSupport"]),
        .testTarget(name: "UploadServerTests", dependencies: [
            "UploadServer", "DiskImportCore", "Fetch",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .testTarget(name: "CodecsTests", dependencies: ["Codecs", "DiskImportCore", "TestSupport"]),
        .testTarget(name: "ImporterTests", dependencies: ["Importer", "Fetch", "DiskImportCore"]),
        .testTarget(name: "TargetTests", dependencies: ["Target", "DiskImage", "DiskImportCore", "CLinux", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
