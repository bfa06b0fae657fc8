import DiskImportCore
import Foundation
import Testing
@testable import Fetch

@Suite(.enabled(if: FetchFixtures.available, "needs DISKIMPORT_FIXTURES (scripts/test starts the servers)"))
struct HTTPStreamTests {
    /// Two 64 KiB buffers for a 4 MiB body: the download thread must wait for the reader, and every byte arrive in order.
    @Test func aSmallQueueAppliesBackPressureAndKeepsOrder() throws {
        let stream = try HTTPStream(client: FetchFixtures.client(), url: FetchFixtures.url("disk.raw"), bufferCount: 2, bufferSize: 65_536)
        let expected = try Data(contentsOf: URL(fileURLWithPath: (FetchFixtures.values?["WWW_DIR"] ?? "") + "/disk.raw"))
        #expect(stream.expectedLength == UInt64(expected.count))
        var received = Data()
        var chunk = [UInt8](repeating: 0, count: 12_345)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try stream.read(into: $0) }
            if n == 0 { break }
            received.append(contentsOf: chunk[..<n])
            if received.count % 7 == 0 { usleep(100) }
        }
        #expect(received == expected)
    }

    /// A reader that stops early (a decoder that has what it needs) releases the stream: the download thread
    /// must stop rather than wait forever for buffers nobody will return.
    @Test func releasingTheStreamEarlyStopsTheDownload() throws {
        let started = Date()
        for _ in 0..<5 {
            let stream = try HTTPStream(client: FetchFixtures.client(), url: FetchFixtures.url("disk.raw"), bufferCount: 2, bufferSize: 65_536)
            var one = [UInt8](repeating: 0, count: 1)
            #expect(try one.withUnsafeMutableBytes { try stream.read(into: $0) } == 1)
        }
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test func openingThrowsTheServersAnswer() throws {
        #expect(throws: DiskImportError(.network, "not found (404): \(FetchFixtures.url("missing.raw"))")) {
            _ = try HTTPStream(client: FetchFixtures.client(), url: FetchFixtures.url("missing.raw"))
        }
    }
}
