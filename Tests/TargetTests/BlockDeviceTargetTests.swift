import DiskImportCore
import Foundation
import SystemPackage
import Target
import Testing

/// Block-device targets on real loop devices filled with garbage first: whatever the reader did not store as data
/// must read as zeros afterwards, and nothing past the image is touched.
@Suite(.enabled(if: Privileges.loopDevices, Privileges.reason))
struct BlockDeviceTargetTests {
    static let MiB: UInt64 = 1 << 20
    static let garbage: UInt8 = 0xA5

    /// A loop device of `size` bytes whose every byte is 0xA5, written through the device and synced.
    private func garbageDevice(size: UInt64) throws -> LoopDevice {
        let device = try LoopDevice(size: size)
        try FileFacts.write([UInt8](repeating: Self.garbage, count: Int(size)), to: device.path)
        try sh("blockdev", "--flushbufs", device.path)
        return device
    }

    private func deviceBytes(_ device: LoopDevice) throws -> [UInt8] {
        // Read past the page cache's view of what we wrote: drop it first so the bytes come from the device.
        try sh("blockdev", "--flushbufs", device.path)
        return try FileFacts.bytes(device.path)
    }

    @Test func rangesNeverWrittenAsDataReadAsZerosAndTheRestOfTheDeviceIsLeftAlone() throws {
        let device = try garbageDevice(size: 8 * Self.MiB)
        let progress = TransferProgress()
        let target = try TargetOpener.open(path: device.path, options: TargetOptions(virtualSize: 6 * Self.MiB), progress: progress)
        #expect(target.kind == .blockDevice)
        // Data at 1 MiB with a long zero run inside it, explicit zeros at 3 MiB, nothing said about the rest.
        var data = pattern(Int(2 * Self.MiB), seed: 5)
        data.replaceSubrange(Int(Self.MiB) / 2..<Int(Self.MiB) + Int(Self.MiB) / 2, with: [UInt8](repeating: 0, count: Int(Self.MiB)))
        data.replaceSubrange(8192..<12288, with: [UInt8](repeating: 0, count: 4096))
        try data.withUnsafeBytes { try target.write($0, at: Self.MiB) }
        try target.writeZeros(at: 3 * Self.MiB, length: Self.MiB)
        let outcome = try target.finish(guestSize: 6 * Self.MiB)
        try target.commit(sync: true)

        #expect(outcome.kind == .blockDevice && outcome.length == 6 * Self.MiB)
        var expected = [UInt8](repeating: 0, count: Int(6 * Self.MiB))
        expected.replaceSubrange(Int(Self.MiB)..<Int(3 * Self.MiB), with: data)
        let bytes = try deviceBytes(device)
        #expect(firstDifference(Array(bytes[..<Int(6 * Self.MiB)]), expected) == nil)
        #expect(bytes[Int(6 * Self.MiB)...].allSatisfy { $0 == Self.garbage }, "the device past the image was touched")
        // The 1 MiB zero run, the explicit 1 MiB and the 3 MiB nobody mentioned were zeroed without writes;
        // the 4 KiB zero block inside data was written with its neighbours.
        #expect(progress.holeBytes == 5 * Self.MiB)
        #expect(progress.writtenBytes == Self.MiB)
    }

    @Test func aLocalCopyIsScannedAndUnalignedZeroEdgesAreWritten() throws {
        let device = try garbageDevice(size: 4 * Self.MiB)
        let dir = try ScratchDirectory()
        let source = dir.file("source.bin")
        var data = pattern(Int(3 * Self.MiB), seed: 8)
        data.replaceSubrange(Int(Self.MiB)..<Int(2 * Self.MiB) + 100, with: [UInt8](repeating: 0, count: Int(Self.MiB) + 100))
        try FileFacts.write(data, to: source)
        let progress = TransferProgress()
        let target = try BlockDeviceTarget(path: device.path, virtualSize: nil, preallocation: .full, progress: progress)
        let file = try FileDescriptor.open(source, .readOnly)
        defer { try? file.close() }
        try target.copy(from: file, sourceOffset: 0, to: 512, length: UInt64(data.count))
        try target.writeZeros(at: 3 * Self.MiB + 512, length: 1000)
        let outcome = try target.finish(guestSize: 4 * Self.MiB)
        try target.commit(sync: true)
        #expect(outcome.preallocation.method == .device && outcome.preallocation.applied)
        var expected = [UInt8](repeating: 0, count: Int(4 * Self.MiB))
        expected.replaceSubrange(512..<512 + data.count, with: data)
        #expect(firstDifference(try deviceBytes(device), expected) == nil)
        #expect(progress.holeBytes > 0)
    }

    @Test func anImageLargerThanTheDeviceIsRefusedBeforeAnyWrite() throws {
        let device = try garbageDevice(size: 4 * Self.MiB)
        let error = try #require(throws: DiskImportError.self) {
            _ = try TargetOpener.open(path: device.path, options: TargetOptions(virtualSize: 4 * Self.MiB + 512), progress: TransferProgress())
        }
        #expect(error.kind == .space)
        #expect(error.message.contains("4194816") && error.message.contains("4194304") && error.message.contains(device.path))
        #expect(try deviceBytes(device).allSatisfy { $0 == Self.garbage })

        // A stream of unknown size is stopped at the device's end.
        let target = try BlockDeviceTarget(path: device.path, virtualSize: nil, preallocation: .off, progress: TransferProgress())
        let stream = try #require(throws: DiskImportError.self) {
            try pattern(8192, seed: 1).withUnsafeBytes { try target.write($0, at: 4 * Self.MiB - 4096) }
        }
        #expect(stream.kind == .space && stream.message.contains("4194304"))
    }

    @Test func aMountedDeviceIsRefused() throws {
        let fs = try MountedFilesystem(size: 16 * Self.MiB, mkfs: ["mkfs.ext2", "-q"])
        let error = try #require(throws: DiskImportError.self) {
            _ = try BlockDeviceTarget(path: fs.device.path, virtualSize: Self.MiB, preallocation: .off, progress: TransferProgress())
        }
        #expect(error.message.contains("in use") && error.message.contains(fs.device.path))
    }
}
