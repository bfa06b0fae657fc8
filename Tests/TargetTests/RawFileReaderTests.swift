import DiskImage
import DiskImportCore
import Foundation
import Target
import Testing

@Suite struct RawFileReaderTests {
    static let MiB: UInt64 = 1 << 20

    /// Converts `source` with RawFileReader into a new file target; returns the target path and the progress.
    private func convert(_ source: String, in dir: ScratchDirectory) throws -> (String, TransferProgress, UInt64) {
        let progress = TransferProgress()
        let reader = RawFileReader(file: try LocalFile(path: source), pieceSize: 1 << 20)
        let path = dir.file("out.img")
        let target = try TargetOpener.open(path: path, options: TargetOptions(virtualSize: reader.virtualSize), progress: progress)
        let size = try reader.convert(to: target, progress: progress)
        _ = try target.finish(guestSize: size)
        try target.commit(sync: false)
        return (path, progress, size)
    }

    @Test func holesAndZeroBlocksStayHolesAndDataIsCopied() throws {
        let dir = try ScratchDirectory()
        let source = dir.file("disk.raw")
        // Data at 0 (with a zero block inside), a 5 MiB hole, data at 6 MiB, a hole to 9 MiB.
        var head = pattern(Int(Self.MiB), seed: 1)
        head.replaceSubrange(8192..<12288, with: [UInt8](repeating: 0, count: 4096))
        try FileFacts.write(head, to: source)
        try FileFacts.write(pattern(Int(Self.MiB), seed: 2), to: source, at: 6 * Self.MiB)
        #expect(truncate(source, off_t(9 * Self.MiB)) == 0)

        let (out, progress, size) = try convert(source, in: dir)
        #expect(size == 9 * Self.MiB)
        #expect(firstDifference(try FileFacts.bytes(out), try FileFacts.bytes(source)) == nil)
        #expect(try FileFacts.dataRanges(out) == [0..<8192, 12288..<Self.MiB, 6 * Self.MiB..<7 * Self.MiB])
        #expect(progress.writtenBytes == 2 * Self.MiB - 4096)
        #expect(progress.holeBytes == 7 * Self.MiB + 4096)
        #expect(progress.sourceBytes == 9 * Self.MiB)
        #expect(progress.guestBytes == 9 * Self.MiB)
    }

    /// qemu sizes raw images in whole 512-byte sectors: a 1000-byte file converts to 1024 bytes.
    @Test func theSizeRoundsUpToASector() throws {
        let dir = try ScratchDirectory()
        let source = dir.file("odd.raw")
        try FileFacts.write(pattern(1000, seed: 3), to: source)
        let (out, _, size) = try convert(source, in: dir)
        #expect(size == 1024)
        let bytes = try FileFacts.bytes(out)
        #expect(bytes.count == 1024)
        #expect(Array(bytes[..<1000]) == pattern(1000, seed: 3))
        #expect(bytes[1000...].allSatisfy { $0 == 0 })
    }

    @Test func anEmptyFileIsAnEmptyDisk() throws {
        let dir = try ScratchDirectory()
        let source = dir.file("empty.raw")
        try FileFacts.write([], to: source)
        let (out, _, size) = try convert(source, in: dir)
        #expect(size == 0)
        #expect(try FileFacts.bytes(out).isEmpty)
    }
}
