import DiskImportCore
import NIOCore
import Synchronization
import Testing
@testable import UploadServer

/// The pipe between the event loop and the import thread: bytes in order, the producer told to pause at the high
/// mark and released at the low one, the end and failures delivered once.
struct BodyPipeTests {
    final class Events: Sendable {
        let spaces = Atomic<Int>(0)
        let ends = Atomic<Int>(0)
    }

    @Test func bytesComeOutInOrderWithBackPressure() throws {
        let events = Events()
        let pipe = BodyPipe(expectedLength: 1000, highWater: 300, lowWater: 100,
                            onSpace: { events.spaces.add(1, ordering: .relaxed) }, onEnd: { events.ends.add(1, ordering: .relaxed) })
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 31) }
        var accepted: [Bool] = []
        for start in stride(from: 0, to: 400, by: 100) { accepted.append(pipe.append(ByteBuffer(bytes: bytes[start..<start + 100]))) }
        // Full at 300 bytes: the third append and later ones ask the producer to pause.
        #expect(accepted == [true, true, false, false])
        #expect(pipe.isProducerPaused)
        var out: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
        defer { buffer.deallocate() }
        while out.count < 300 { out += buffer[..<(try pipe.read(into: buffer))] }
        // Drained to 100 bytes: released once.
        #expect(events.spaces.load(ordering: .relaxed) == 1 && !pipe.isProducerPaused)
        pipe.append(ByteBuffer(bytes: bytes[400...]))
        pipe.finish()
        while true {
            let n = try pipe.read(into: buffer)
            if n == 0 { break }
            out += buffer[..<n]
        }
        #expect(out == bytes)
        #expect(try pipe.read(into: buffer) == 0)
        #expect(events.ends.load(ordering: .relaxed) == 1)
    }

    @Test func failureReachesTheConsumerAndCloseReleasesTheProducer() throws {
        let events = Events()
        let pipe = BodyPipe(expectedLength: nil, highWater: 10, lowWater: 5,
                            onSpace: { events.spaces.add(1, ordering: .relaxed) }, onEnd: {})
        #expect(!pipe.append(ByteBuffer(bytes: [UInt8](repeating: 1, count: 20))))
        pipe.fail(DiskImportError(.network, "the connection closed after 20 bytes"))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 1)
        defer { buffer.deallocate() }
        #expect(throws: DiskImportError.self) { try pipe.read(into: buffer) }
        pipe.close()
        #expect(events.spaces.load(ordering: .relaxed) == 1)
        // After close, bytes are dropped and never pause the producer.
        #expect(pipe.append(ByteBuffer(bytes: [UInt8](repeating: 2, count: 50))))
    }
}
