import DiskImportCore
import Testing
@testable import DiskImage

/// The vmdk header and descriptor parsers on buffers in memory (the fuzzing entry point `VmdkFormat.details(head:)`):
/// qemu's readings of descriptor text, and any byte pattern either parsing or throwing a DiskImportError.
@Suite struct VmdkParserTests {
    static func descriptor(_ extents: [String], extra: String = "") -> [UInt8] {
        Array(("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n" + extra
            + "\n# Extent description\n" + extents.joined(separator: "\n") + "\n").utf8)
    }

    /// A hosted sparse header (VMDK4Header, little-endian) followed by an embedded descriptor at 0x200.
    static func sparseHead(capacity: UInt64 = 8192, granularity: UInt64 = 128, gtes: UInt32 = 512, grainOffset: UInt64 = 128) -> [UInt8] {
        var head = Array("KDMV".utf8)
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { head += $0 } }
        put(UInt32(1)); put(UInt32(3)); put(capacity); put(granularity); put(UInt64(1)); put(UInt64(20)); put(gtes)
        put(UInt64(21)); put(UInt64(60)); put(grainOffset)
        head += [0, 0x0a, 0x20, 0x0d, 0x0a]
        put(UInt16(0))
        head += [UInt8](repeating: 0, count: 512 - head.count)
        return head + Array("# Disk DescriptorFile\nversion=1\nCID=1234abcd\nparentCID=ffffffff\ncreateType=\"monolithicSparse\"\n".utf8)
    }

    @Test func probeFollowsQemu() {
        #expect(VmdkDescriptor.probe(Array("# Disk DescriptorFile\n   \nversion=1\n".utf8)))
        #expect(VmdkDescriptor.probe(Array("version=3\r\n".utf8)))
        #expect(!VmdkDescriptor.probe(Array("version=4\n".utf8)))
        #expect(!VmdkDescriptor.probe(Array("  x\nversion=1\n".utf8)))
        #expect(VmdkFormat.probe(Self.sparseHead()))
    }

    @Test func cidsAndHintsAreReadAsQemuReadsThem() throws {
        let text = VmdkDescriptor(Self.descriptor([], extra: "parentFileNameHint=\"base.vmdk\""))
        #expect(text.cid(parent: false) == 0xffff_fffe)
        #expect(text.cid(parent: true) == 0xffff_ffff)
        #expect(text.createType() == "monolithicFlat")
        #expect(try text.parentFileNameHint(name: "d") == "base.vmdk")
        // strstr finds "CID" inside "parentCID" when that comes first (vmdk_read_cid).
        let swapped = VmdkDescriptor(Array("parentCID=0000000a\nCID=0000000b\n".utf8))
        #expect(swapped.cid(parent: false) == 0xa)
        #expect(throws: DiskImportError.self) { try VmdkDescriptor(Array("parentFileNameHint=\"base.vmdk".utf8)).parentFileNameHint(name: "d") }
    }

    @Test func extentLinesAreReadAsQemuReadsThem() throws {
        let lines = try VmdkExtentLine.parse(VmdkDescriptor(Self.descriptor([
            "RW 2048 FLAT \"disk-flat.vmdk\" 8", "RW 100 VMFS \"disk-flat.vmdk\"", "RW 4096 SPARSE \"disk-s001.vmdk\"",
            "RDONLY 100 FLAT \"ignored.vmdk\" 0", "RW 8 ZERO", "NOACCESS 5 FLAT \"x.vmdk\" 0",
        ])), name: "d")
        #expect(lines == [
            VmdkExtentLine(sectors: 2048, kind: .flat, fileName: "disk-flat.vmdk", flatOffset: 8),
            VmdkExtentLine(sectors: 100, kind: .vmfs, fileName: "disk-flat.vmdk", flatOffset: 0),
            VmdkExtentLine(sectors: 4096, kind: .sparse, fileName: "disk-s001.vmdk", flatOffset: 0),
        ])
        #expect(throws: DiskImportError.self) { try VmdkExtentLine.parse(VmdkDescriptor(Self.descriptor(["RW 8 FLAT \"f.vmdk\""])), name: "d") }
        #expect(throws: DiskImportError.self) { try VmdkExtentLine.parse(VmdkDescriptor(Self.descriptor(["RW 8 SPARSE \"s.vmdk\" 3"])), name: "d") }
    }

    @Test func sparseHeadDescribesTheImage() throws {
        let details = try VmdkFormat.details(head: Self.sparseHead(), name: "disk.vmdk")
        #expect(details.createType == "monolithicSparse")
        #expect(details.cid == 0x1234_abcd)
        #expect(details.clusterSize == 65536)
        #expect(details.extents.map(\.virtualSize) == [8192 * 512])
    }

    @Test(arguments: [(UInt64(128), UInt32(0), "L1 entry size is invalid"), (0, 512, "L1 entry size is invalid"),
                      (1 << 22, 512, "invalid granularity"), (128, 513, "L2 table size too big"),
                      (1 << 55, 512, "L1 entry size is invalid")])
    func headerChecksFollowQemu(granularity: UInt64, gtes: UInt32, message: String) {
        do {
            _ = try VmdkFormat.details(head: Self.sparseHead(granularity: granularity, gtes: gtes), name: "d")
            Issue.record("accepted granularity \(granularity), \(gtes) entries per table")
        } catch let error as DiskImportError {
            #expect(error.message.contains(message), "\(error.message)")
        } catch {
            Issue.record("not a DiskImportError: \(error)")
        }
    }

    /// Mutated headers and descriptors (random bytes over the fields, extreme integers, huge extent lines): each
    /// parses or throws a DiskImportError, never traps.
    @Test func mutatedHeadsParseOrThrow() {
        var rng = SystemRandomNumberGenerator()
        let seeds = [Self.sparseHead(), Self.descriptor(["RW 2048 FLAT \"a.vmdk\" 0", "RW 9223372036854775807 SPARSE \"b.vmdk\""])
            + Self.descriptor(["RW 18014398509481983 FLAT \"c.vmdk\" 18014398509481983"])]
        for _ in 0..<3000 {
            var head = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let at = Int.random(in: 0..<min(head.count, 128), using: &rng)
                let width = Int.random(in: 1...8, using: &rng)
                let value: UInt8 = [0x00, 0xff, 0x7f, 0x80, UInt8.random(in: 0...255, using: &rng)].randomElement(using: &rng)!
                for i in at..<min(head.count, at + width) { head[i] = value }
            }
            if Bool.random(using: &rng) { head = Array(head.prefix(Int.random(in: 0...head.count, using: &rng))) }
            do {
                _ = try VmdkFormat.details(head: head, name: "fuzz")
            } catch is DiskImportError {
            } catch {
                Issue.record("not a DiskImportError: \(error)")
            }
        }
    }
}
