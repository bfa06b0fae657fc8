import Codecs
import DiskImportCore
import Foundation
import Testing

@Suite struct TarDiskEntryTests {
    static let disk = sampleData(1 << 20, seed: 4)

    /// What a containerDisk layer looks like, with the distractions a real layer can carry before the disk.
    static let layer: [TarEntrySpec] = [
        .directory("disk"),
        .file("etc/hostname", Array("not the disk".utf8)),
        .file("disk/.wh.old.img", []),
        .file("disk/.wh..wh..opq", []),
        .symlink("disk/link.img", to: "/etc/passwd"),
        .directory("disk/sub"),
        .file("diskette/x.img", Array("a neighbour".utf8)),
        .file("disk/disk.qcow2", disk),
        .file("disk/second.img", Array("second".utf8)),
        .hardlink("disk/hard.img", to: "disk/disk.qcow2"),
    ]

    @Test(arguments: [nil, "gzip", "xz", "zstd"], ["PAX_FORMAT", "GNU_FORMAT", "USTAR_FORMAT"])
    func findsTheFirstRegularFileUnderDisk(_ compressor: String?, _ format: String) throws {
        let scratch = try Scratch()
        let tar = try makeTar(Self.layer, at: scratch.file("layer"), format: format, compressor: compressor)
        let entry = try TarDiskEntry.open(MemoryStream(try contents(tar), maximumRead: 10_000)).stream
        #expect(entry.expectedLength == UInt64(Self.disk.count))
        #expect(try drain(entry) == Self.disk)
    }

    @Test func aDotSlashPrefixIsTheSamePath() throws {
        let scratch = try Scratch()
        let tar = try makeTar([.directory("./"), .file("./disk/disk.img", Self.disk)], at: scratch.file("layer.tar"))
        #expect(try drain(TarDiskEntry.open(MemoryStream(try contents(tar))).stream) == Self.disk)
    }

    @Test func aLayerWithoutADiskGivesNilOrAClearError() throws {
        let scratch = try Scratch()
        let tar = try contents(try makeTar([
            .directory("disk"), .file("disk/.wh.disk.img", []), .symlink("disk/disk.img", to: "x"),
            .file("usr/disk/disk.img", Self.disk), .file("disk", Array("a file named disk".utf8)),
        ], at: scratch.file("layer.tar")))
        #expect(try TarDiskEntry.find(in: MemoryStream(tar)) == nil)
        let error = diskImportError { _ = try TarDiskEntry.open(MemoryStream(tar)).stream }
        #expect(error == DiskImportError.corrupt("tar: no disk image found under disk/"))
    }

    @Test func aTruncatedLayerIsAClearError() throws {
        let scratch = try Scratch()
        let tar = try contents(try makeTar([.file("disk/disk.img", Self.disk)], at: scratch.file("layer.tar")))
        let error = diskImportError { _ = try drain(try TarDiskEntry.open(MemoryStream(Array(tar[..<(tar.count / 2)]))).stream) }
        #expect(error?.kind == .corrupt)
        #expect(error?.message.contains("truncated") == true, "\(String(describing: error))")
    }

    @Test func aTruncatedCompressedLayerReportsTheCodecsError() throws {
        let scratch = try Scratch()
        let tgz = try contents(try makeTar([.file("disk/disk.img", Self.disk)], at: scratch.file("layer.tgz"), compressor: "gzip"))
        let error = diskImportError { _ = try drain(try TarDiskEntry.open(MemoryStream(Array(tgz[..<(tgz.count * 3 / 4)]))).stream) }
        #expect(error?.message == "gzip: the data ends in the middle of a member (truncated file)")
    }

    @Test func garbageIsNotATar() throws {
        let error = diskImportError { _ = try TarDiskEntry.open(MemoryStream(sampleData(10_000))).stream }
        #expect(error?.kind == .corrupt)
        #expect(error?.message.hasPrefix("tar: ") == true, "\(String(describing: error))")
    }
}
