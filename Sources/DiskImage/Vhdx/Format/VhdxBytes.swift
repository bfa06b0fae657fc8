/// Little-endian fields of VHDX structures (every multi-byte field is little-endian: block/vhdx-endian.c converts
/// each one with le*_to_cpu).
extension UnsafeRawBufferPointer {
    func le16(at offset: Int) -> UInt16 { UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
    func le32(at offset: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    func le64(at offset: Int) -> UInt64 { UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }

    /// Whether the bytes at `offset` spell `ascii` ("head", "regi", "metadata", …).
    func hasSignature(_ ascii: String, at offset: Int = 0) -> Bool {
        let expected = Array(ascii.utf8)
        guard offset + expected.count <= count else { return false }
        return expected.indices.allSatisfy { self[offset + $0] == expected[$0] }
    }
}

extension Array where Element == UInt8 {
    func le16(at offset: Int) -> UInt16 { withUnsafeBytes { $0.le16(at: offset) } }
    func le32(at offset: Int) -> UInt32 { withUnsafeBytes { $0.le32(at: offset) } }
    func le64(at offset: Int) -> UInt64 { withUnsafeBytes { $0.le64(at: offset) } }
}

/// `0x…` for file offsets in messages.
func vhdxHex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
