import Codecs
import DiskImportCore

/// What the first bytes of a stream say it is. Formats are recognised by magic, never by file name.
public enum DetectedFormat: Equatable, Sendable {
    /// A compression wrapper to peel off.
    case compressed(Compression)
    /// A tar archive (registry layers, archive imports).
    case tar
    /// A disk image format diskimport reads.
    case image(ImageFormat)
    /// A recognised format that diskimport does not read; the associated value names it for the error.
    case unsupported(String)
}

/// Names what a stream holds by its first bytes: a wrapper to peel, a format diskimport reads, or one it refuses by
/// name. A format diskimport reads is one line here and one folder (`Raw/`, `Qcow2/`) declaring its `ImageFormat`.
public enum FormatSniffer {
    /// Bytes of the head that `detect` looks at; shorter heads are fine (a short stream is raw).
    public static let headLength = 1024

    /// Classifies a stream by its first bytes. Anything without a known magic (ISO included) is raw.
    public static func detect(head: [UInt8]) -> DetectedFormat {
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            head.count >= offset + magic.count && Array(head[offset..<offset + magic.count]) == magic
        }
        func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }
        func bigEndian32(at offset: Int) -> UInt32? {
            guard head.count >= offset + 4 else { return nil }
            return head[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }

        if let compression = Compression.detect(head: head) { return .compressed(compression) }
        if starts(ascii("QFI") + [0xfb]) {
            switch bigEndian32(at: 4) {
            case 2, 3: return .image(.qcow2)
            case 1: return .unsupported("qcow (version 1)")
            case let v?: return .unsupported("qcow2 version \(v)")
            case nil: return .unsupported("qcow2 with a truncated header")
            }
        }
        if starts(ascii("BZh")) && starts([0x31, 0x41, 0x59, 0x26, 0x53, 0x59], at: 4) { return .unsupported("bzip2") }
        if starts(ascii("KDMV")) || starts(ascii("# Disk DescriptorFile")) || starts(ascii("COWD")) { return .unsupported("vmdk") }
        if starts([0x7f, 0x10, 0xda, 0xbe], at: 0x40) { return .unsupported("vdi") }
        if starts(ascii("vhdxfile")) { return .unsupported("vhdx") }
        if starts(ascii("conectix")) { return .unsupported("vpc (vhd)") }
        if starts(ascii("QED") + [0]) { return .unsupported("qed") }
        if starts(ascii("LUKS") + [0xba, 0xbe]) { return .unsupported("luks") }
        if starts(ascii("WithoutFreeSpace")) || starts(ascii("WithouFreSpacExt")) { return .unsupported("parallels") }
        // Other formats qemu-img probes by magic (block/bochs.c, block/cloop.c).
        if starts(ascii("Bochs Virtual HD Image")) { return .unsupported("bochs") }
        if starts(ascii("#!/bin/sh\n#V2.0 Format\nmodprobe cloop")) { return .unsupported("cloop") }
        // Compressors and archives diskimport does not unpack: copying their bytes as a raw disk would be silent garbage.
        if starts([0x04, 0x22, 0x4d, 0x18]) { return .unsupported("lz4") }
        if starts(ascii("LZIP")) { return .unsupported("lzip") }
        if starts(ascii("PK") + [0x03, 0x04]) { return .unsupported("zip") }
        if starts(ascii("7z") + [0xbc, 0xaf, 0x27, 0x1c]) { return .unsupported("7z") }
        if Wrapper.isTar(head: head) { return .tar }
        return .image(.raw)
    }

    /// Bytes of the end that `detect(trailer:)` looks at.
    public static let trailerLength = 512

    /// A format that a raw-looking image's last bytes name, or nil. Apple's UDIF (.dmg) ends in a 512-byte `koly`
    /// block (signature, version 4, header size 512, big-endian) and starts with whatever its first partition holds:
    /// qemu-img probes it by the `.dmg` name only, and as a raw disk it would be copied as garbage.
    public static func detect(trailer: [UInt8]) -> DetectedFormat? {
        guard trailer.count == trailerLength else { return nil }
        let udif: [UInt8] = Array("koly".utf8) + [0, 0, 0, 4, 0, 0, 2, 0]
        if trailer.starts(with: udif) { return .unsupported("dmg") }
        return nil
    }

    /// Refuses an image whose trailer names another format (`detect(trailer:)`), read from the end of `source`;
    /// `inside` names the wrappers around it for the message (" inside gzip").
    public static func refuse(trailer: [UInt8], inside: String = "") throws {
        if case .unsupported(let name)? = detect(trailer: trailer) {
            throw DiskImportError.unsupported("unsupported format \(name)" + inside)
        }
    }

    /// The last `trailerLength` bytes of `source`; nil when it is shorter.
    public static func trailer(of source: RandomAccessSource) throws -> [UInt8]? {
        guard source.length >= UInt64(trailerLength) else { return nil }
        var trailer = [UInt8](repeating: 0, count: trailerLength)
        try trailer.withUnsafeMutableBytes {
            try source.readExactly(at: source.length - UInt64(trailerLength), into: $0, what: "the image's last sector")
        }
        return trailer
    }
}
