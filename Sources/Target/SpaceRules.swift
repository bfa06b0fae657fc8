import DiskImportCore

/// CDI's filesystem-overhead arithmetic, computed as CDI computes it: in float64, operation for operation, so that
/// every result is CDI's to the byte, at the boundaries too (pkg/util/util.go `GetUsableSpace`, `GetRequiredSpace`,
/// `RoundUp`, `RoundDown`).
///
/// By default both divide or multiply by `1 + o`, as CDI v1.63.0 and later (v1.66 included) do; CDI v1.62.0 and
/// earlier computed `(1 - o) × avail` and `size / (1 - o)`, which an overhead's `arithmetic` of `.legacy` selects
/// (see `OverheadArithmetic`).
public enum SpaceRules {
    /// `util.DefaultAlignBlockSize`.
    public static let mebibyte: UInt64 = 1 << 20

    /// `GetUsableSpace`: `RoundDown(int64(math.Ceil(float64(avail) / (1 + o))), 1 MiB)` (v1.63.0 and later) or
    /// `RoundDown(int64(math.Ceil((1 - o) * float64(avail))), 1 MiB)` (v1.62.0 and earlier), the largest disk CDI
    /// makes on a filesystem with `available` bytes (the importer's and the upload server's resize target).
    public static func usable(available: UInt64, overhead o: FilesystemOverhead) -> UInt64 {
        let avail = Double(Int64(clamping: available))
        let quotient: Double
        switch o.arithmetic {
        case .current: quotient = (avail / (1 + o.value)).rounded(.up)
        case .legacy: quotient = ((1 - o.value) * avail).rounded(.up)
        }
        // float64 → int64 is exact below 2⁶³; at or above it (an `available` within 512 bytes of 2⁶³, overhead 0)
        // Go's conversion is not defined, and this saturates.
        let space = quotient < 0x1p63 ? UInt64(quotient) : UInt64(Int64.max)
        return space / mebibyte * mebibyte
    }

    /// `GetRequiredSpace`: `int64(math.Ceil(float64(RoundUp(size, 1 MiB)) * (1 + o)))` (v1.63.0 and later) or
    /// `int64(math.Ceil(float64(RoundUp(size, 1 MiB)) / (1 - o)))` (v1.62.0 and earlier), the claim CDI's
    /// `storage:` API requests so that a disk of `size` fits (`InflateSizeWithOverhead`). Nil when it exceeds int64
    /// (legacy arithmetic with an overhead of 1 divides by zero).
    public static func required(size: UInt64, overhead o: FilesystemOverhead) -> UInt64? {
        guard let aligned = roundUp(size, mebibyte) else { return nil }
        let space: Double
        switch o.arithmetic {
        case .current: space = (Double(aligned) * (1 + o.value)).rounded(.up)
        case .legacy: space = (Double(aligned) / (1 - o.value)).rounded(.up)
        }
        return space < 0x1p63 ? UInt64(space) : nil
    }

    /// `RoundUp`: `int64(math.Ceil(float64(number) / float64(multiple))) * multiple`, in float64 as CDI has it (so
    /// a number past 2⁵³ rounds first). Nil when it exceeds int64.
    static func roundUp(_ number: UInt64, _ multiple: UInt64) -> UInt64? {
        let partitions = (Double(Int64(clamping: number)) / Double(multiple)).rounded(.up)
        guard partitions < 0x1p63 else { return nil }
        let (product, overflow) = UInt64(partitions).multipliedReportingOverflow(by: multiple)
        return overflow || product > UInt64(Int64.max) ? nil : product
    }

    /// The refusal of an image too large for its volume, in CDI's words (pkg/image/qemu.go `checkIfURLIsValid`:
    /// `virtual image size %d is larger than the reported available storage %d. %w` with `ErrLargerPVCRequired`).
    /// CDI's controller recognizes "is larger than the reported available" and reports the DataVolume too small.
    public static func largerThanAvailable(virtualSize: UInt64, available: UInt64) -> DiskImportError {
        DiskImportError(.space, "virtual image size \(virtualSize) is larger than the reported available storage \(available). \(largerPVCRequired)")
    }

    /// Whether `error` is that refusal (CDI's `errors.Is(err, image.ErrLargerPVCRequired)`).
    public static func isLargerPVCRequired(_ error: DiskImportError) -> Bool {
        error.kind == .space && error.message.hasSuffix(". " + largerPVCRequired)
    }

    /// `image.ErrLargerPVCRequired`.
    private static let largerPVCRequired = "A larger PVC is required"
}
