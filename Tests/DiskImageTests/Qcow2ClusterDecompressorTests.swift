import CZlib
import CZstd
import Testing
@testable import DiskImage

/// Compressed clusters made the way qemu makes them, to check the decoder accepts what qemu accepts.
enum ClusterCompression {
    /// Raw deflate with a 4 KiB window (qemu: deflateInit2 with window bits -12), finished with Z_FINISH.
    static func deflateRaw(_ data: [UInt8]) -> [UInt8] {
        var z = z_stream()
        precondition(czlib_deflate_init2(&z, Z_DEFAULT_COMPRESSION, -12) == Z_OK)
        defer { deflateEnd(&z) }
        var out = [UInt8](repeating: 0, count: data.count + data.count / 10 + 1024)
        var input = data
        let produced = input.withUnsafeMutableBufferPointer { inBuf in
            out.withUnsafeMutableBufferPointer { outBuf in
                z.next_in = inBuf.baseAddress
                z.avail_in = UInt32(inBuf.count)
                z.next_out = outBuf.baseAddress
                z.avail_out = UInt32(outBuf.count)
                precondition(deflate(&z, Z_FINISH) == Z_STREAM_END)
                return outBuf.count - Int(z.avail_out)
            }
        }
        return Array(out[..<produced])
    }

    static func zstdFrame(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(data.count))
        let n = out.withUnsafeMutableBytes { o in data.withUnsafeBytes { i in ZSTD_compress(o.baseAddress, o.count, i.baseAddress, i.count, 3) } }
        precondition(ZSTD_isError(n) == 0)
        return Array(out[..<n])
    }

    /// Compressible but not trivial data.
    static func sample(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
        (0..<count).map { i in UInt8(truncatingIfNeeded: (i / 7) &* 31 &+ Int(seed) &* (i % 13)) }
    }
}

@Suite struct Qcow2ClusterDecompressorTests {
    let cluster = 65536

    func decode(_ input: [UInt8], _ type: Qcow2CompressionType) -> [UInt8]? {
        var out = [UInt8](repeating: 0xee, count: cluster)
        let ok = input.withUnsafeBytes { i in out.withUnsafeMutableBytes { Qcow2ClusterDecompressor().decompress(i, into: $0, type: type) } }
        return ok ? out : nil
    }

    @Test func zlibClusterWithTrailingBytesDecodes() {
        let data = ClusterCompression.sample(cluster)
        // qemu reads whole sectors: the stream is followed by bytes of the next cluster.
        let input = ClusterCompression.deflateRaw(data) + [UInt8](repeating: 0x5a, count: 700)
        #expect(decode(input, .zlib) == data)
    }

    @Test func zlibStreamLongerThanOneClusterIsAcceptedLikeQemu() {
        // qemu accepts Z_BUF_ERROR with the output full: the first cluster of a longer stream.
        let data = ClusterCompression.sample(cluster + 5000)
        #expect(decode(ClusterCompression.deflateRaw(data), .zlib) == Array(data[..<cluster]))
    }

    @Test func zlibShortOrBrokenStreamsAreRefused() {
        #expect(decode(ClusterCompression.deflateRaw(ClusterCompression.sample(cluster - 1)), .zlib) == nil)
        let full = ClusterCompression.deflateRaw(ClusterCompression.sample(cluster))
        #expect(decode(Array(full[..<(full.count / 2)]), .zlib) == nil)
        #expect(decode([UInt8](repeating: 0xff, count: 4096), .zlib) == nil)
        #expect(decode([UInt8](repeating: 0, count: 4096), .zlib) == nil)
    }

    @Test func zstdFramesTrailingBytesAndSizes() {
        let data = ClusterCompression.sample(cluster, seed: 3)
        #expect(decode(ClusterCompression.zstdFrame(data), .zstd) == data)
        #expect(decode(ClusterCompression.zstdFrame(data) + [1, 2, 3, 4, 5, 6, 7, 8], .zstd) == data)
        let halves = ClusterCompression.zstdFrame(Array(data[..<20000])) + ClusterCompression.zstdFrame(Array(data[20000...]))
        #expect(decode(halves, .zstd) == data)
        #expect(decode(ClusterCompression.zstdFrame(Array(data[..<60000])), .zstd) == nil)
        #expect(decode(ClusterCompression.zstdFrame(ClusterCompression.sample(cluster + 1)), .zstd) == nil)
        #expect(decode([UInt8](repeating: 0, count: 100), .zstd) == nil)
    }

    @Test func oneDecompressorDecodesManyClustersOfBothKinds() {
        let d = Qcow2ClusterDecompressor()
        for seed in UInt8(1)...6 {
            let data = ClusterCompression.sample(cluster, seed: seed)
            let input = seed % 2 == 0 ? ClusterCompression.zstdFrame(data) : ClusterCompression.deflateRaw(data)
            var out = [UInt8](repeating: 0, count: cluster)
            let ok = input.withUnsafeBytes { i in out.withUnsafeMutableBytes { d.decompress(i, into: $0, type: seed % 2 == 0 ? .zstd : .zlib) } }
            #expect(ok && out == data)
            // A failure in between must not poison the contexts.
            _ = [UInt8](repeating: 0xff, count: 64).withUnsafeBytes { i in out.withUnsafeMutableBytes { d.decompress(i, into: $0, type: .zlib) } }
        }
    }
}
