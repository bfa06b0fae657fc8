import DiskImportCore

/// How big a cron's volume is: the storage request, the filesystem overhead of its class, and the capacity a
/// volume for that request gets, by the space rules of DESIGN.md section 5.
///
/// This is the one place the controller applies those rules; the importer then makes the disk
/// `min(usable(min(free, capacity), overhead), capacity)`, which for a capacity computed here is the request
/// itself, as on a cluster where CDI's storage API inflates the PVC by the overhead.
public struct VolumeSizing: Sendable, Equatable {
    /// `resources.requests.storage`; nil means the image's virtual size.
    public var requestedSize: UInt64?
    public var filesystemOverhead: Double
    /// `required(requestedSize, overhead)`: what a filesystem volume for the request is given.
    public var capacity: UInt64?

    public init(requestedSize: UInt64?, filesystemOverhead: Double) throws {
        self.requestedSize = requestedSize
        self.filesystemOverhead = filesystemOverhead
        capacity = try requestedSize.map { size in
            guard let bytes = VolumeSizing.required(size: size, overhead: filesystemOverhead) else {
                throw DiskImportError.usage("storage request \(size) bytes with overhead \(filesystemOverhead) is too large")
            }
            return bytes
        }
    }

    /// `required(size, o) = ceil(roundUp(size, 1 MiB) × (1 + o))`, in integers: the overhead is taken to
    /// nanounits (0.055 → 55_000_000 / 10⁹), which is exact for every fraction written with up to 9 decimals.
    /// nil when the result does not fit in 64 bits.
    static func required(size: UInt64, overhead: Double) -> UInt64? {
        let mib: UInt64 = 1 << 20
        let (padded, o1) = size.addingReportingOverflow(mib - 1)
        guard !o1, overhead >= 0, overhead < 1 else { return nil }
        let rounded = padded / mib * mib
        let scale: UInt64 = 1_000_000_000
        let factor = scale + UInt64((overhead * Double(scale)).rounded())
        let (high, low) = rounded.multipliedFullWidth(by: factor)
        guard high < scale else { return nil }
        let (quotient, remainder) = scale.dividingFullWidth((high, low))
        return remainder == 0 ? quotient : quotient.addingReportingOverflow(1).overflow ? nil : quotient + 1
    }
}
