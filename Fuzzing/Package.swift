// swift-tools-version: 6.0
import PackageDescription

// libFuzzer targets for diskimport's parsers (issue #18 section 1), apart from the main package so that its normal
// build and tests stay free of sanitizers. One executable holds every target (DISKIMPORT_FUZZ_TARGET picks one): the
// ASan+fuzzer build of the main sources is the slow part, and one binary builds and links it once.
// Build and run it with scripts/fuzz, which passes -sanitize=fuzzer,address to every Swift module (coverage is
// needed in the parsers, not only here).
let package = Package(
    name: "diskimport-fuzz",
    dependencies: [
        .package(name: "diskimport", path: ".."),
    ],
    targets: [
        .executableTarget(name: "diskimport-fuzz", dependencies: [
            .product(name: "DiskImportParsers", package: "diskimport"),
        ], swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ],
    swiftLanguageModes: [.v6]
)
