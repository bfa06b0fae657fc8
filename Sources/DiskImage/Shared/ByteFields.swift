/// Fixed-offset fields of an on-disk structure held in memory (a vhd footer, a vdi header): big- or little-endian
/// integers and raw byte strings. Offsets come from the format's layout, so a field past the end is a programming
/// error, not bad input (callers read whole structures first).
struct ByteFields {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func bigEndian16(_ offset: Int) -> UInt16 { UInt16(bigEndian: load(offset)) }
    func bigEndian32(_ offset: Int) -> UInt32 { UInt32(bigEndian: load(offset)) }
    func bigEndian64(_ offset: Int) -> UInt64 { UInt64(bigEndian: load(offset)) }
    func littleEndian32(_ offset: Int) -> UInt32 { UInt32(littleEndian: load(offset)) }
    func littleEndian64(_ offset: Int) -> UInt64 { UInt64(littleEndian: load(offset)) }

    func slice(_ offset: Int, _ count: Int) -> [UInt8] { Array(bytes[offset..<offset + count]) }

    private func load<T: FixedWidthInteger>(_ offset: Int) -> T {
        bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }
}

extension [UInt8] {
    /// Lowercase hexadecimal digits of the bytes, in order.
    var hexDigits: String { map { String($0, radix: 16).leftPadded(to: 2) }.joined() }

    /// The bytes as a UUID in the usual 8-4-4-4-12 form (16 bytes, in the order they are stored).
    var uuidText: String {
        let hex = hexDigits
        let cuts = [8, 12, 16, 20]
        var text = ""
        for (index, character) in hex.enumerated() {
            if cuts.contains(index) { text.append("-") }
            text.append(character)
        }
        return text
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
