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

    /// qemu-img's sizes (10K, 10G as GiB, 10g) are not quantities: the message names the suffixes that are.
    @Test(arguments: ["10K", "10GB", "10g", ""])
    func anInvalidSuffixListsTheValidOnes(text: String) throws {
        let error = try #require(throws: DiskImportError.self) { try Quantity.bytes(text) }
        #expect(error.kind == .usage)
        #expect(error.message.hasPrefix("invalid quantity \"\(text)\""), "\(error.message)")
        #expect(error.message.contains("Ki Mi Gi Ti Pi Ei (powers of 1024)") && error.message.contains("k M G T P E (powers of 1000)"),
                "\(error.message)")
    }

    @Test func describesSizes() {
        #expect(Quantity.describe(512) == "512 B")
        #expect(Quantity.describe(10 << 30) == "10 GiB")
        #expect(Quantity.describe(3 << 19) == "1.5 MiB")
    }
}
