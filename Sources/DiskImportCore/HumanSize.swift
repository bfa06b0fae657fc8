#if canImport(Glibc)
import Glibc
#endif

/// Sizes as qemu prints them for people (`qemu-img info`'s "virtual size", "disk size", a snapshot's "VM SIZE").
public enum HumanSize {
    /// qemu's `size_to_str` (util/cutils.c): the binary unit that keeps the number under 1000 (frexp of
    /// `value * 1024 / 1000`), then printf `%0.3g`: three significant digits, trailing zeros dropped, rounded as the
    /// C library rounds the exact binary value (35913728 bytes, 34.25 MiB, is "34.2 MiB"). Formatted with the C
    /// library's own vsnprintf so every boundary matches.
    public static func text(_ value: UInt64) -> String {
        let suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
        var exponent: Int32 = 0
        _ = frexp(Double(value) / (1000.0 / 1024.0), &exponent)
        let unit = Int((exponent - 1) / 10)   // C division: (0 - 1) / 10 is 0 for a zero size
        let divisor = Double(UInt64(1) << UInt64(unit * 10))
        var buffer = [CChar](repeating: 0, count: 32)
        _ = withVaList([Double(value) / divisor]) { arguments in
            buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, $0.count, "%0.3g", arguments) }
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + " \(suffixes[unit])B"
    }
}
