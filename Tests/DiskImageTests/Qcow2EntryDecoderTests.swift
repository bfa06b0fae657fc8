import Testing
@testable import DiskImage

@Suite struct Qcow2EntryDecoderTests {
    func decoder(version: UInt32 = 3, clusterBits: UInt32 = 16, extendedL2: Bool = false) throws -> Qcow2EntryDecoder {
        var h = HeaderBytes(version: version, clusterBits: clusterBits)
        if extendedL2 { h.put64(72, Qcow2Header.IncompatibleFeature.extendedL2) }
        return Qcow2EntryDecoder(header: try h.parse(), name: "t")
    }

    @Test(arguments: [UInt32(9), 16, 21])
    func compressedDescriptorGivesOffsetAndLength(clusterBits: UInt32) throws {
        let d = try decoder(clusterBits: clusterBits)
        let shift = 62 - UInt64(clusterBits - 8)
        let host: UInt64 = 0x12_3456_7a1  // not sector-aligned
        let sectors: UInt64 = clusterBits == 9 ? 2 : 3
        let entry = 1 << 62 | (sectors - 1) << shift | host
        let cluster = try d.decode(entry, bitmap: 0, where: "e")
        #expect(cluster == .compressed(Qcow2CompressedCluster(hostOffset: host, length: Int(sectors * 512 - (host & 511)))))
    }

    @Test func zeroFlagReadsAsZerosInVersion3AndIsRefusedInVersion2() throws {
        #expect(try decoder().decode(0x50000 | 1, bitmap: 0, where: "e") == .zero)
        #expect(try decoder().decode(1, bitmap: 0, where: "e") == .zero)
        #expect(errorMessage { _ = try decoder(version: 2).decode(1, bitmap: 0, where: "e") }?.contains("version 2") == true)
    }

    @Test func standardClustersAndAlignment() throws {
        let d = try decoder()
        #expect(try d.decode(0, bitmap: 0, where: "e") == .unallocated)
        #expect(try d.decode(1 << 63 | 0x70000, bitmap: 0, where: "e") == .data(host: 0x70000))
        #expect(errorMessage { _ = try d.decode(0x70200, bitmap: 0, where: "entry 5") } ==
                "t: qcow2: entry 5: cluster offset 0x70200 is not aligned to the cluster size")
        // 512-byte clusters: every offset the mask keeps is aligned.
        #expect(try decoder(clusterBits: 9).decode(0x70200, bitmap: 0, where: "e") == .data(host: 0x70200))
    }

    @Test func extendedL2Bitmaps() throws {
        let d = try decoder(extendedL2: true)
        let host: UInt64 = 0x30000
        #expect(try d.decode(host, bitmap: 0xffff_ffff, where: "e") == .data(host: host))
        #expect(try d.decode(host, bitmap: 0xffff_ffff << 32, where: "e") == .zero)
        #expect(try d.decode(host, bitmap: 0, where: "e") == .unallocated)
        #expect(try d.decode(host, bitmap: 0x0000_00f0_0000_000f, where: "e") == .subclusters(host: host, allocated: 0xf, zero: 0xf0))
        #expect(try d.decode(0, bitmap: 0x0000_0001 << 32, where: "e") == .subclusters(host: 0, allocated: 0, zero: 1))
        #expect(try d.decode(0, bitmap: 0xffff_ffff << 32, where: "e") == .zero)
        // Bit 0 of the descriptor is not a zero flag with extended L2.
        #expect(try d.decode(1, bitmap: 0, where: "e") == .unallocated)
        #expect(errorMessage { _ = try d.decode(host, bitmap: 1 << 32 | 1, where: "e") }?.contains("both allocated and zero") == true)
        #expect(errorMessage { _ = try d.decode(0, bitmap: 2, where: "e") }?.contains("allocated in an unallocated cluster") == true)
    }
}
