import DiskImportCore
import Foundation
import Testing

/// An upstream that counts what it hands out and when it is released.
private final class NumberedStream: ByteStream {
    let total: Int?
    let failAfter: Int?
    let delay: useconds_t
    private(set) var position = 0
    let onRelease: @Sendable () -> Void

    init(total: Int?, failAfter: Int? = nil, delay: useconds_t = 0, onRelease: @escaping @Sendable () -> Void = {}) {
        self.total = total
        self.failAfter = failAfter
        self.delay = delay
        self.onRelease = onRelease
    }

    deinit { onRelease() }

    var expectedLength: UInt64? { total.map { UInt64($0) } }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if delay > 0 { usleep(delay) }
        if let failAfter, position >= failAfter { throw DiskImportError.corrupt("upstream failed at \(position)") }
        let n = min(buffer.count, (total ?? .max) - position, 3000, (failAfter ?? .max) - position)
        for i in 0..<n { buffer[i] = UInt8(truncatingIfNeeded: (position + i) % 251) }
        position += n
        return n
    }
}

private func expected(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 % 251) } }

private func readAll(_ stream: ByteStream, bufferSize: Int) throws -> [UInt8] {
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: bufferSize)
    while true {
        let n = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
        if n == 0 { return out }
        out += buffer[..<n]
    }
}

/// Set from the producer thread when an upstream is released.
private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

@Suite struct PrefetchingStreamTests {
    @Test(arguments: [(1, 1, 7), (4096, 2, 4096), (10_000, 4, 65536), (1 << 20, 3, 1000), (65536, 1, 1 << 20)])
    func passesEveryByteInOrder(_ chunkSize: Int, _ depth: Int, _ consumerBuffer: Int) throws {
        for total in [0, 1, chunkSize, 3 * chunkSize + 17, 300_001] {
            let stream = try PrefetchingStream(NumberedStream(total: total), chunkSize: chunkSize, depth: depth)
            #expect(stream.expectedLength == UInt64(total))
            #expect(try readAll(stream, bufferSize: consumerBuffer) == expected(total))
            #expect(try readAll(stream, bufferSize: 10).isEmpty, "reads after the end return 0")
        }
    }

    @Test func anErrorArrivesAfterTheBytesBeforeIt() throws {
        let stream = try PrefetchingStream(NumberedStream(total: nil, failAfter: 100_000), chunkSize: 8192, depth: 3)
        var got: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 5000)
        var failure: DiskImportError?
        do {
            while true {
                let n = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
                #expect(n > 0)
                got += buffer[..<n]
            }
        } catch let error as DiskImportError {
            failure = error
        }
        #expect(got == expected(100_000))
        #expect(failure == DiskImportError.corrupt("upstream failed at 100000"))
        #expect(throws: DiskImportError.self) { try buffer.withUnsafeMutableBytes { try stream.read(into: $0) } }
    }

    @Test func releasingStopsAndJoinsTheProducerWhereverItIs() throws {
        // Never read (the producer blocks on a full ring), read a little, and read from a slow upstream.
        for (readBytes, delay) in [(0, useconds_t(0)), (50_000, 0), (10, 20_000)] {
            let released = Flag()
            var stream: PrefetchingStream? = try PrefetchingStream(
                NumberedStream(total: nil, delay: delay, onRelease: { released.set() }), chunkSize: 4096, depth: 2)
            if readBytes > 0 {
                var buffer = [UInt8](repeating: 0, count: readBytes)
                _ = try buffer.withUnsafeMutableBytes { try stream!.readFully(into: $0) }
            }
            usleep(20_000)
            stream = nil
            // deinit joined the producer, which released the upstream on its way out.
            #expect(released.isSet)
        }
        // Many short-lived stages: each one's producer is gone (joined, upstream released) when the stage is.
        for _ in 0..<50 {
            let released = Flag()
            _ = try PrefetchingStream(NumberedStream(total: 1 << 20, onRelease: { released.set() }), chunkSize: 4096, depth: 2)
            #expect(released.isSet)
        }
    }
}
