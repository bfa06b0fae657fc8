import DiskImportCore
import Testing

@Suite struct QuantityTests {
    @Test(arguments: [
        ("10Gi", UInt64(10) << 30), ("1G", 1_000_000_000), ("1536000", 1_536_000), ("64Mi", 64 << 20),
        ("1.5Gi", 3 << 29), ("1e3", 1000), ("2k", 2000), ("0.5Ki", 512), (" 7Ti ", UInt64(7) << 40), ("1500m", 2),
    ])
    func parsesKubernetesQuantities(text: String, bytes: UInt64) throws {
        #expect(try Quantity.bytes(text) == bytes)
    }

    @Test(arguments: ["", "Gi", "-1Gi", "1.2.3", "12XB", "1e40", "99999999999Ei"])
    func rejectsInvalidQuantities(text: String) {
        #expect(throws: DiskImportError.self) { try Quantity.bytes(text) }
    }

    @Test func describesSizes() {
        #expect(Quantity.describe(512) == "512 B")
        #expect(Quantity.describe(10 << 30) == "10 GiB")
        #expect(Quantity.describe(3 << 19) == "1.5 MiB")
    }
}
