import DiskImportCore
import Foundation
import Target
import Testing

@Suite struct TargetOpenerTests {
    private func open(_ path: String, virtualSize: UInt64? = 4096, requested: UInt64? = nil,
                      overhead: FilesystemOverhead? = nil) throws -> DiskTarget {
        try TargetOpener.open(path: path, options: TargetOptions(virtualSize: virtualSize, requestedSize: requested, overhead: overhead),
                              progress: TransferProgress())
    }

    private func usageError(_ path: String) throws -> DiskImportError {
        try #require(throws: DiskImportError.self) { _ = try open(path) }
    }

    @Test func aPathInAMissingDirectoryIsAClearError() throws {
        let dir = try ScratchDirectory()
        let error = try usageError(dir.file("missing/disk.img"))
        #expect(error.message == "target directory \(dir.file("missing")) does not exist")
        try FileFacts.write([1], to: dir.file("plain"))
        #expect(try usageError(dir.file("plain/disk.img")).message == "target directory \(dir.file("plain")) is not a directory")
    }

    @Test func aDirectoryIsNotATarget() throws {
        let dir = try ScratchDirectory()
        let error = try usageError(dir.path)
        #expect(error.kind == .usage)
        #expect(error.message.hasPrefix("target \(dir.path) is a directory"))
        #expect(try dir.entries().isEmpty)
    }

    @Test(arguments: ["/dev/null", "fifo"])
    func otherKindsOfFileAreRefused(name: String) throws {
        let dir = try ScratchDirectory()
        var path = name
        if name == "fifo" {
            path = dir.file("fifo")
            #expect(mkfifo(path, 0o600) == 0)
        }
        let error = try usageError(path)
        #expect(error.message.contains(path))
        #expect(error.message.contains(name == "fifo" ? "a FIFO" : "a character device"))
        #expect(error.message.contains("expected a regular file or a block device"))
    }

    @Test func aSymbolicLinkIsWrittenThroughAndKept() throws {
        let dir = try ScratchDirectory()
        try FileFacts.write([9, 9, 9], to: dir.file("real.img"))
        try FileManager.default.createSymbolicLink(atPath: dir.file("link.img"), withDestinationPath: "real.img")
        let target = try open(dir.file("link.img"), virtualSize: 8192)
        try pattern(4096, seed: 4).withUnsafeBytes { try target.write($0, at: 4096) }
        _ = try target.finish(guestSize: 8192)
        try target.commit(sync: false)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.file("link.img")) == "real.img")
        #expect(try FileFacts.bytes(dir.file("real.img"), offset: 4096, count: 4096) == pattern(4096, seed: 4))

        try FileManager.default.createSymbolicLink(atPath: dir.file("dangling"), withDestinationPath: "nowhere")
        #expect(try usageError(dir.file("dangling")).message.contains("symbolic link to nothing"))
    }

    /// CDI's rules compare the virtual size with min(free, requested), not with the usable size, and refuse in
    /// CDI's words before any file exists.
    @Test func underCDIsRulesAnImageLargerThanTheAvailableSpaceIsRefusedBeforeAnyFileExists() throws {
        let dir = try ScratchDirectory()
        let error = try #require(throws: DiskImportError.self) {
            _ = try open(dir.file("disk.img"), virtualSize: (64 << 20) + 512, requested: 64 << 20, overhead: .standard)
        }
        #expect(error.kind == .space)
        #expect(error.message == "virtual image size 67109376 is larger than the reported available storage 67108864. A larger PVC is required")
        #expect(try dir.entries().isEmpty)
        // Larger than usable(64 MiB, 0.055) = 60 MiB but not than the available 64 MiB: CDI imports it, unresized.
        let fits = try open(dir.file("disk.img"), virtualSize: 64 << 20, requested: 64 << 20, overhead: .standard)
        #expect(fits.kind == .file)
        #expect(try fits.finish(guestSize: 64 << 20).length == 64 << 20)
        fits.abort()
    }

    /// qemu-img's rules (the CLI's default): a sparse disk larger than the free space and than `--size` opens.
    @Test func underQemuImgsRulesAVirtualSizeIsNeverRefusedForAFile() throws {
        let dir = try ScratchDirectory()
        let target = try open(dir.file("disk.img"), virtualSize: 1 << 40, requested: 64 << 20)
        #expect(target.kind == .file)
        target.abort()
        #expect(try dir.entries().isEmpty)
    }
}
