/// CRC-32C (Castagnoli), the checksum of every VHDX header, region table and log entry.
///
/// zlib and libdeflate compute only CRC-32 (the IEEE polynomial) and OpenSSL neither; ISA-L's `crc32_iscsi` is
/// CRC-32C but is not a dependency of this target. What VHDX checksums is small (4 KiB headers, a 64 KiB region
/// table, log entries of a few sectors), so a table-driven loop costs nothing measurable.
enum VhdxChecksum {
    /// The reflected Castagnoli polynomial 0x1EDC6F41.
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    /// The CRC-32C of `bytes` continuing from `crc` (a finished value; 0 to start), as qemu's crc32c(0xffffffff, …)
    /// computes it.
    static func crc32c(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var value = ~crc
        table.withUnsafeBufferPointer { table in
            for byte in bytes { value = table[Int((value ^ UInt32(byte)) & 0xff)] ^ (value >> 8) }
        }
        return ~value
    }

    /// Whether the little-endian checksum stored at `field` matches the CRC-32C of `bytes` with that field taken as
    /// zero (qemu's vhdx_checksum_is_valid, block/vhdx.c).
    static func isValid(_ bytes: UnsafeRawBufferPointer, checksumAt field: Int) -> Bool {
        var copy = Array(bytes)
        copy.replaceSubrange(field..<field + 4, with: [0, 0, 0, 0])
        return copy.withUnsafeBytes { crc32c($0) } == bytes.le32(at: field)
    }
}
