import Codecs
import DiskImportCore
import Foundation
import Testing

/// The one layer stack every path peels with: wrappers in any stacking, one bound on nesting, lengths through tar.
@Suite struct LayerStackTests {
    static let data = sampleData(300_000, seed: 7)

    /// Compresses `bytes` with each tool in turn (the first is the innermost wrapper).
    func wrapped(_ bytes: [UInt8], _ tools: [String]) throws -> [UInt8] {
        try tools.reduce(bytes) { try compressed($0, $1, ["-c"]) }
    }

    @Test(arguments: [LayerStack.DecoderPlacement.threaded, .inline])
    func peelsEveryCompressionInAnyStacking(_ placement: LayerStack.DecoderPlacement) throws {
        let stack = LayerStack(MemoryStream(try wrapped(Self.data, ["zstd", "xz", "gzip"])), length: nil, placement: placement)
        try stack.peelCompression()
        #expect(stack.layers == ["gzip", "xz", "zstd"])
        #expect(stack.inside == " inside zstd inside xz inside gzip")
        #expect(stack.length == nil)
        #expect(try drain(stack.stream) == Self.data)
    }

    @Test func fiveWrappersAreAHostileStack() throws {
        let stack = LayerStack(MemoryStream(try wrapped(Self.data, Array(repeating: "gzip", count: 5))), length: nil)
        let error = diskImportError { try stack.peelCompression() }
        #expect(error?.kind == .unsupported)
        #expect(error?.message == "more than 4 nested compression or tar layers (gzip, gzip, gzip, gzip, …): refusing a hostile stack")
    }

    @Test func wrappersTheTransportPeeledCountTowardsTheBound() throws {
        let stack = LayerStack(MemoryStream(try wrapped(Self.data, ["gzip", "gzip"])), length: nil, peeled: ["zstd", "tar", "gzip"])
        let error = diskImportError { try stack.peelCompression() }
        #expect(error?.message.hasPrefix("more than 4 nested compression or tar layers (zstd, tar, gzip, gzip, …)") == true,
                "\(String(describing: error))")
    }

    @Test func aTarLayerGivesItsDiskEntryAndItsLength() throws {
        let scratch = try Scratch()
        let tar = try makeTar([.file("disk/disk.img", Self.data)], at: scratch.file("layer.tar.gz"), compressor: "gzip")
        let stack = LayerStack(MemoryStream(try contents(tar)), length: nil)
        try stack.peelCompression()
        #expect(Wrapper.isTar(head: try stack.peek(512)))
        try stack.peel(.tar)
        #expect(stack.layers == ["gzip", "tar"])
        #expect(stack.length == UInt64(Self.data.count))
        #expect(try drain(stack.stream) == Self.data)
    }

    @Test func aHandedOverWrapperIsCountedButNotDecoded() throws {
        let xz = try wrapped(Self.data, ["xz"])
        let stack = LayerStack(MemoryStream(xz), length: UInt64(xz.count))
        let handed = try stack.handOver(.compressed(.xz))
        #expect(stack.layers == ["xz"])
        #expect(try drain(handed) == xz)
    }
}
