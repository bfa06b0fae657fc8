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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C libraries and shims.
        systemLibrary("CZlib", pkgConfig: "zlib", apt: "zlib1g-dev"),
        systemLibrary("CLzma", pkgConfig: "liblzma", apt: "liblzma-dev"),
        systemLibrary("CZstd", pkgConfig: "libzstd", apt: "libzstd-dev"),
        systemLibrary("CDeflate", pkgConfig: "libdeflate", apt: "libdeflate-dev"),
        systemLibrary("CArchive", pkgConfig: "libarchive", apt: "libarchive-dev"),
        systemLibrary("CCurl", pkgConfig: "libcurl", apt: "libcurl4-openssl-dev"),
        systemLibrary("COpenSSL", pkgConfig: "libcrypto", apt: "libssl-dev"),
        .target(name: "CLinux", cSettings: [.define("_GNU_SOURCE")]),

        // Layers, bottom up: see DESIGN.md section 2.
        .target(name: "DiskImportCore", dependencies: [
            "CLinux",
            .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Codecs", dependencies: ["DiskImportCore", "CZlib", "CLzma", "CZstd", "CDeflate", "CArchive"]),
        .target(name: "Fetch", dependencies: ["DiskImportCore", "Codecs", "CCurl", "COpenSSL"]),
        .target(name: "DiskImage", dependencies: ["DiskImportCore", "Codecs", "CLinux", "CZlib", "CZstd", "CDeflate"]),
        .target(name: "Target", dependencies: ["DiskImportCore", "CLinux"]),
        .target(name: "Importer", dependencies: ["DiskImportCore", "Fetch", "Codecs", "DiskImage", "Target"]),
        .target(name: "CronController", dependencies: [
            "DiskImportCore", "Importer", "Fetch",
            .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .executableTarget(name: "diskimport", dependencies: [
            "Importer",
            "Fetch",
            "Target",
            "CronController",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "DiskImportCoreTests", dependencies: ["DiskImportCore"]),
        .testTarget(name: "FetchTests", dependencies: ["Fetch"]),
        .testTarget(name: "DiskImageTests", dependencies: ["DiskImage", "DiskImportCore", "CZlib", "CZstd"]),
        .testTarget(name: "CronControllerTests", dependencies: [
            "CronController", "DiskImportCore", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "IntegrationTests", dependencies: ["DiskImportCore"]),
        .testTarget(name: "CodecsTests", dependencies: ["Codecs", "DiskImportCore"]),
        .testTarget(name: "TargetTests", dependencies: ["Target", "DiskImage", "DiskImportCore", "CLinux"]),
    ],
    swiftLanguageModes: [.v6]
)
