import DiskImportCore

/// Which library inflates gzip members. ISA-L's igzip is about 4x as fast as zlib on this machine (issue 17); zlib
/// stays selectable (`DISKIMPORT_GZIP_INFLATER=zlib`) to measure one against the other, and the tests run every gzip
/// case through both.
public enum GzipInflater: String, Sendable, CaseIterable {
    case isal, zlib

    /// ISA-L unless `DISKIMPORT_GZIP_INFLATER` names another.
    public static var preferred: GzipInflater { MeasurementKnob.choice("DISKIMPORT_GZIP_INFLATER") ?? .isal }

    func makeMemberInflater() throws -> GzipMemberInflater {
        switch self {
        case .isal: return IsalGzipInflater()
        case .zlib: return try ZlibGzipInflater()
        }
    }
}

/// What one call of a member inflater did.
struct GzipInflateStep {
    var consumed = 0
    var produced = 0
    /// The member's trailer has been read and its CRC-32 and length matched.
    var memberEnded = false
    /// Set when the member is bad; `produced` bytes before the fault are still valid output.
    var failure: DiskImportError?
}

/// Decodes one gzip member after another, from its header through its trailer: GzipStream drives it and owns
/// everything between members (trailing zeros, garbage, truncation).
protocol GzipMemberInflater: AnyObject {
    /// Forgets the previous member: the next input byte is the first of a new member's header.
    func startMember()
    /// Decodes from `input` into `output`. No progress (nothing consumed or produced, member not ended) means it
    /// needs more input than it was given.
    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> GzipInflateStep
}

extension DiskImportError {
    /// A gzip member that does not decode, in the words the stream has always used ("gzip: corrupt data (REASON)").
    static func gzipCorrupt(_ reason: String) -> DiskImportError {
        .corrupt("gzip: corrupt data (\(reason))")
    }
}
