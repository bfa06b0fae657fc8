import Glibc
import DiskImportCore
import SystemPackage

/// The fuzzer's bytes as a random-access source, as a local file or a ranged HTTP resource would serve them.
final class MemorySource: RandomAccessSource, @unchecked Sendable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var length: UInt64 { UInt64(bytes.count) }
    var displayName: String { "fuzz-input" }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < length else { return 0 }
        let n = min(buffer.count, bytes.count - Int(offset))
        bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + Int(offset), byteCount: n) }
        return n
    }
}

/// The fuzzer's bytes as a stream that arrives in pieces of changing sizes, as a network body does: a reader must
/// not depend on how its input is cut. The sizes come from `seed`, so a reproducer replays the same cuts.
final class ChunkedStream: ByteStream {
    private let bytes: [UInt8]
    private var position = 0
    private var random: SplitMix
    let expectedLength: UInt64?

    init(_ bytes: [UInt8], seed: UInt64, announceLength: Bool) {
        self.bytes = bytes
        random = SplitMix(seed: seed)
        expectedLength = announceLength ? UInt64(bytes.count) : nil
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard position < bytes.count, !buffer.isEmpty else { return 0 }
        // Mostly small pieces (1..64 bytes: header fields split across reads), sometimes large ones.
        let roll = random.next()
        let piece = roll & 3 == 0 ? Int((roll >> 8) % 65536) + 1 : Int((roll >> 8) % 64) + 1
        let n = min(piece, buffer.count, bytes.count - position)
        bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + position, byteCount: n) }
        position += n
        return n
    }
}

/// A small deterministic generator (SplitMix64) for chunk sizes and choices derived from the input.
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// FNV-1a of the input's length and first and last 4 KiB (all of it would cost a multi-MiB vhdx seed more than its
/// parsing): the seed of its chunk sizes and choices, so every input has its own and replays the same.
func inputHash(_ bytes: [UInt8]) -> UInt64 {
    let ends = bytes.count <= 8192 ? bytes[...] : bytes[..<4096] + bytes[(bytes.count - 4096)...]
    return ends.reduce(0xcbf2_9ce4_8422_2325 ^ UInt64(bytes.count)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
}

/// Where readers put guest bytes: touches every byte (so ASan sees a reader hand out memory it does not own) and
/// stops an input whose guest data passes `cap`. A small file may legitimately describe terabytes of guest data
/// (every table entry naming the same cluster); converting it is the target's business, not a parser bug, and the
/// fuzzer's time bound would call it a hang.
final class CheckingSink: ExtentSink, @unchecked Sendable {
    static let cap: UInt64 = 64 << 20
    private let lock = Mutex()
    private var written: UInt64 = 0
    private(set) var checksum: UInt8 = 0

    struct CapReached: Error {}

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var sum: UInt8 = 0
        for byte in bytes { sum &+= byte }
        try lock.with {
            checksum &+= sum
            written += UInt64(bytes.count)
            if written > Self.cap { throw CapReached() }
        }
    }

    func writeZeros(at offset: UInt64, length: UInt64) throws {}

    func copy(from file: FileDescriptor, sourceOffset: UInt64, to offset: UInt64, length: UInt64) throws {
        preconditionFailure("an in-memory source has no local file to copy from")
    }
}

/// A pthread mutex for the sink, which readers call from several threads.
final class Mutex: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(mutex, nil) }
    deinit { pthread_mutex_destroy(mutex); mutex.deallocate() }
    func with<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
