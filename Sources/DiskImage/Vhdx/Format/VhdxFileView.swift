import DiskImportCore

/// The bytes of a VHDX file as its parser sees them: a random-access source, or the structures a stream buffered.
///
/// The parser reads only through this, so it runs the same on a file, a ranged HTTP resource, a stream's buffers and
/// an in-memory image (a fuzzer's input).
protocol VhdxFileView {
    /// The image in messages.
    var name: String { get }
    /// The file's length; nil for a stream whose length the layer under it does not know.
    var length: UInt64? { get }
    /// Exactly `count` bytes at `offset`; a read past the end is a `.corrupt` error naming `what`.
    func read(at offset: UInt64, count: Int, what: String) throws -> [UInt8]
}

extension VhdxFileView {
    func pastEnd(_ what: String, at offset: UInt64, count: Int) -> DiskImportError {
        .corrupt("\(name): vhdx: the \(what) at offset \(offset) (\(count) bytes) lies past the end of the file"
            + (length.map { " (\($0) bytes)" } ?? ""))
    }
}

/// A VHDX file read from a random-access source (a local file, ranged HTTP).
struct VhdxSourceView: VhdxFileView {
    let source: RandomAccessSource

    var name: String { source.displayName }
    var length: UInt64? { source.length }

    func read(at offset: UInt64, count: Int, what: String) throws -> [UInt8] {
        let (end, overflow) = offset.addingReportingOverflow(UInt64(count))
        guard !overflow, end <= source.length else { throw pastEnd(what, at: offset, count: count) }
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try source.readExactly(at: offset, into: $0, what: "vhdx \(what)") }
        return bytes
    }
}

/// Byte ranges of a VHDX file held in memory, each at its file offset: the structures a stream has buffered (the
/// header section, the metadata and BAT regions), or a whole file (a fuzzer's input). A read outside them is an
/// error: a stream has passed those bytes.
struct VhdxBufferedView: VhdxFileView {
    let name: String
    /// Buffered byte ranges by file offset; they do not overlap.
    var segments: [(offset: UInt64, bytes: [UInt8])]
    var length: UInt64?

    func read(at offset: UInt64, count: Int, what: String) throws -> [UInt8] {
        let (end, overflow) = offset.addingReportingOverflow(UInt64(count))
        if overflow { throw pastEnd(what, at: offset, count: count) }
        if let length, end > length { throw pastEnd(what, at: offset, count: count) }
        guard let segment = segments.first(where: { $0.offset <= offset && end <= $0.offset + UInt64($0.bytes.count) }) else {
            throw DiskImportError.unsupported("\(name): vhdx: the \(what) at offset \(offset) lies outside the structures the region table places, which a stream has already passed; convert a local copy")
        }
        let start = Int(offset - segment.offset)
        return Array(segment.bytes[start..<start + count])
    }
}
