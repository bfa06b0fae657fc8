import DiskImportCore

extension RandomAccessSource {
    /// Exactly `count` bytes at `offset`, or a `.corrupt` error naming `what` (a header, a table) when the source
    /// ends first.
    func bytes(at offset: UInt64, count: Int, what: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try readExactly(at: offset, into: $0, what: what) }
        return bytes
    }
}
