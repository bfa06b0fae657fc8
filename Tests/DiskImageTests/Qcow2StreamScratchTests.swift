import Foundation
import Testing
@testable import DiskImage

@Suite struct Qcow2StreamScratchTests {
    static let clusterSize = 2 << 20
    /// Memory holds 16 clusters of 2 MiB; 20 are kept, so the 4 oldest leave memory.
    static let kept = Qcow2StreamScratch.memoryBytes / clusterSize + 4

    func keepClusters(_ scratch: Qcow2StreamScratch) throws {
        var cluster = [UInt8](repeating: 0, count: Self.clusterSize)
        for n in 0..<Self.kept {
            for i in stride(from: 0, to: cluster.count, by: 4096) { cluster[i] = UInt8(n) }
            try cluster.withUnsafeBytes { try scratch.keep($0, host: UInt64(n + 10) * UInt64(Self.clusterSize)) }
        }
    }

    func read(_ scratch: Qcow2StreamScratch, cluster n: Int) throws -> [UInt8]? {
        var out = [UInt8](repeating: 0xff, count: 8192)
        let start = UInt64(n + 10) * UInt64(Self.clusterSize) + 4096
        let ok = try out.withUnsafeMutableBytes { try scratch.read(start..<start + 8192, into: $0) }
        return ok ? out : nil
    }

    @Test func oldestClustersMoveToTheScratchFile() throws {
        let dir = NSTemporaryDirectory() + "scratch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let scratch = try Qcow2StreamScratch(directory: dir, clusterSize: Self.clusterSize)
        try keepClusters(scratch)
        #expect(scratch.bytesWritten == 4 * UInt64(Self.clusterSize))
        for n in 0..<Self.kept {
            let bytes = try #require(try read(scratch, cluster: n))
            #expect(bytes[0] == UInt8(n) && bytes[4096] == UInt8(n) && bytes[1] == 0)
        }
        #expect(try read(scratch, cluster: Self.kept) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "the scratch file is unlinked at once")
    }

    @Test func withoutAScratchFileTheOldestAreDropped() throws {
        let scratch = try Qcow2StreamScratch(directory: nil, clusterSize: Self.clusterSize)
        try keepClusters(scratch)
        #expect(scratch.bytesWritten == 0)
        for n in 0..<4 { #expect(try read(scratch, cluster: n) == nil) }
        for n in 4..<Self.kept { #expect(try read(scratch, cluster: n)?[0] == UInt8(n)) }
    }
}
