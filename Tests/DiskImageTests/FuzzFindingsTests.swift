import DiskImportCore
import Foundation
import SystemPackage
import Testing
@testable import DiskImage

/// Inputs the fuzz targets (Fuzzing/) crashed on, replayed through the same readers: each must now be refused with a
/// DiskImportError whose message names the problem.
struct FuzzFindingsTests {
    /// The bytes of a reproducer in Tests/FuzzFindings.
    static func reproducer(_ name: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FuzzFindings").appendingPathComponent(name)
        return Array(try Data(contentsOf: url))
    }

    /// An image held in memory, read at any offset as a ranged HTTP source would be.
    final class BytesSource: RandomAccessSource, @unchecked Sendable {
        let bytes: [UInt8]
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var length: UInt64 { UInt64(bytes.count) }
        var displayName: String { "fuzz-finding" }
        func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            guard offset < length else { return 0 }
            let n = min(buffer.count, bytes.count - Int(offset))
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + Int(offset), byteCount: n) }
            return n
        }
    }

    /// The bytes as a stream, in one piece per read.
    final class BytesStream: ByteStream {
        let bytes: [UInt8]
        var position = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            let n = min(buffer.count, bytes.count - position)
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + position, byteCount: n) }
            position += n
            return n
        }
    }

    /// A sink that keeps nothing: the findings are about refusing, not about the bytes written.
    final class DiscardingSink: ExtentSink, @unchecked Sendable {
        func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {}
        func writeZeros(at offset: UInt64, length: UInt64) throws {}
        func copy(from file: FileDescriptor, sourceOffset: UInt64, to offset: UInt64, length: UInt64) throws {}
    }

    /// The message `open` fails with; records an issue when it succeeds or fails otherwise.
    static func refusal(_ open: () throws -> Any) -> String? {
        do {
            _ = try open()
            Issue.record("the reproducer was accepted")
        } catch let error as DiskImportError {
            return error.message
        } catch {
            Issue.record("not a DiskImportError: \(error)")
        }
        return nil
    }

    /// A sparse vmdk header whose grain offset (0x27ffffffffffff80 sectors) times 512 passes 64 bits: the
    /// "file truncated" message computed the product and trapped.
    @Test func vmdkGrainOffsetPast64BitsIsRefused() throws {
        let bytes = try Self.reproducer("vmdk-grain-offset-overflow")
        let message = Self.refusal {
            try VmdkFormat.randomAccessReader(BytesSource(bytes), options: ReaderOptions(name: "d.vmdk"))
        }
        #expect(message == "fuzz-finding: vmdk: file truncated, expecting at least 2882303761517117312 sectors")
    }

    /// A sparse vmdk read from a stream whose grain directory offset (0xffffffff00800000 sectors) times 512 passes 64
    /// bits: the stream reader's check that the directory lies before the grains computed the product and trapped.
    @Test func vmdkStreamWithGrainDirectoryPast64BitsNeedsRandomAccess() throws {
        let bytes = try Self.reproducer("vmdk-stream-gd-offset-overflow")
        let message = Self.refusal {
            let reader = try VmdkFormat.streamingReader(PeekableStream(BytesStream(bytes)), length: nil,
                                                        options: ReaderOptions(name: "d.vmdk"))
            return try reader.convert(to: DiscardingSink(), progress: TransferProgress())
        }
        #expect(message?.hasPrefix("scratch space required: d.vmdk: the vmdk grain directory comes after the grains") == true,
                "\(message ?? "")")
    }

    /// A sparse vmdk header (in a file of the reproducer's 84248 bytes) whose descriptor offset is 0xffffffffffffff80
    /// sectors: the sectors it claims (offset * 512) were computed before checking it lies in the file.
    @Test func vmdkDescriptorPastTheFileIsNotClaimed() throws {
        let bytes = try Self.reproducer("vmdk-descriptor-offset-overflow") + [UInt8](repeating: 0, count: 84248 - 512)
        let message = Self.refusal {
            try VmdkFormat.randomAccessReader(BytesSource(bytes), options: ReaderOptions(name: "d.vmdk"))
        }
        #expect(message == "fuzz-finding: vmdk: the grain directory (1 entries at 0x170000) is larger than the file (84248 bytes)")
    }

    /// A 403-byte qcow2 whose backing file name (at offset 528) starts past the bytes of the head that were read: the
    /// copy of its bytes made a reversed range and trapped. Now its bytes read as zeros, as qemu's read past the end
    /// of a file does, so the name is empty (no backing file) and the image converts.
    @Test func qcow2BackingNamePastTheHeadReadsAsZeros() throws {
        let bytes = try Self.reproducer("qcow2-backing-name-past-head")
        let header = try Qcow2Header.read(from: BytesSource(bytes))
        #expect(header.extensions.backingFileName == "")
        let reader = try Qcow2Format.randomAccessReader(BytesSource(bytes), options: ReaderOptions(name: "d.qcow2"))
        #expect(try reader.convert(to: DiscardingSink(), progress: TransferProgress()) == 4 << 20)
    }

    /// A dynamic vhd read from a stream whose block allocation table offset plus its length passes 2^64: the
    /// stream's position arithmetic trapped.
    @Test func vpcStreamTableOffsetPast64BitsIsRefused() throws {
        let bytes = try Self.reproducer("vpc-stream-table-offset-overflow")
        let message = Self.refusal {
            let reader = try VpcFormat.streamingReader(PeekableStream(BytesStream(bytes)), length: nil,
                                                       options: ReaderOptions(name: "d.vhd"))
            return try reader.convert(to: DiscardingSink(), progress: TransferProgress())
        }
        #expect(message == "d.vhd: vpc: the block allocation table at offset 0xffffffffffffffff ends past 2^64 bytes")
    }

    /// A stream-optimized vmdk header claiming 1099494850696 sectors of 64 KiB grains: the stream reader allocated a
    /// bitmap of every grain the header claims (1 GiB here, petabytes at the format's limit) before reading one.
    @Test func vmdkStreamBitmapFollowsTheGrainsNotTheClaimedCapacity() throws {
        let bytes = try Self.reproducer("vmdk-stream-capacity-bitmap")
        let message = Self.refusal {
            let reader = try VmdkFormat.streamingReader(PeekableStream(BytesStream(bytes)), length: nil,
                                                        options: ReaderOptions(name: "d.vmdk"))
            return try reader.convert(to: DiscardingSink(), progress: TransferProgress())
        }
        #expect(message == "d.vmdk: vmdk: the stream is truncated at offset 4096, inside the header's overhead")
        var bitmap = VmdkGrainBitmap(count: 1 << 54)
        let inserted = [3, 64, 65, (1 << 54) - 1].map { bitmap.insert($0) }
        #expect(inserted == [true, true, true, true])
        let again = bitmap.insert(64)
        #expect(!again)
        #expect(bitmap.gaps() == [0..<3, 4..<64, 66..<(1 << 54) - 1])
        var full = VmdkGrainBitmap(count: 130)
        for grain in 0..<130 { _ = full.insert(UInt64(grain)) }
        #expect(full.gaps().isEmpty)
    }

    /// A stream-optimized vmdk read from a stream whose grain offset is 9314212027503214976 sectors: without a file
    /// length nothing bounded it, and skipping the header's overhead (offset * 512) trapped.
    @Test func vmdkStreamGrainOffsetPast64BitsIsRefused() throws {
        let bytes = try Self.reproducer("vmdk-stream-grain-offset-overflow")
        let message = Self.refusal {
            let reader = try VmdkFormat.streamingReader(PeekableStream(BytesStream(bytes)), length: nil,
                                                        options: ReaderOptions(name: "d.vmdk"))
            return try reader.convert(to: DiscardingSink(), progress: TransferProgress())
        }
        #expect(message == "d.vmdk: vmdk: grain offset of 9314212027503214976 sectors is too large")
    }
}
