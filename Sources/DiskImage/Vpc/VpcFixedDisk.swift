import Codecs
import DiskImportCore

/// A fixed vhd: the guest bytes as they are, then the 512-byte footer, which is the only header (there is no copy at
/// the head). qemu-img's probe calls it raw; `-f vpc` reads it as vpc (block/vpc.c vpc_open: without "conectix" at
/// offset 0 the footer is read from the end of the file), sized by the footer's rule (`VpcFooter.sectors`).
enum VpcFixedDisk {
    /// The footer at the end of `source`, which must describe a fixed disk that the file holds whole.
    static func footer(of source: RandomAccessSource, name: String) throws -> VpcFooter {
        guard source.length >= UInt64(VpcFooter.length) else {
            throw DiskImportError.corrupt("\(name): vpc: File too small for a VHD header (\(source.length) bytes)")
        }
        let dataLength = source.length - UInt64(VpcFooter.length)
        let bytes = try source.bytes(at: dataLength, count: VpcFooter.length, what: "the vpc footer")
        return try checked(try VpcFooter(bytes: bytes, name: name), dataLength: dataLength, name: name)
    }

    /// `footer`, found at the end after `dataLength` bytes, checked: a fixed disk whose data is all there. qemu reads
    /// past the data of a truncated one as zeros (and the footer as data); a truncated image is refused here instead.
    static func checked(_ footer: VpcFooter, dataLength: UInt64, name: String) throws -> VpcFooter {
        guard footer.diskType == VpcFooter.DiskType.fixed.rawValue else {
            throw DiskImportError.corrupt("\(name): vpc: invalid VPC image: the footer at the end has disk type \(footer.diskType), not fixed (2), and there is none at the head")
        }
        guard footer.virtualSize <= dataLength else {
            throw DiskImportError.corrupt("\(name): vpc: the fixed image holds \(dataLength) bytes, fewer than its \(footer.virtualSize): the image is truncated")
        }
        return footer
    }
}

/// A fixed vhd read front to back (inside a wrapper, over HTTP without ranges, from a pipe) under `-f vpc`: its size
/// is in the footer, which arrives last, so every byte but the last 512 goes to the target as it comes, and the
/// footer then says how many of them are the guest's. A file target is cut to that size when it is finished; on a
/// block device the bytes past it (Virtual PC's CHS size rounds down) stay, outside the guest's size.
final class VpcFixedStreamReader: DiskImageReader, DecodedSizeLimit {
    let virtualSize: UInt64? = nil
    private let stream: ByteStream
    private let options: ReaderOptions
    private var limit: UInt64
    private var limitReason: String?
    private let chunkSize: Int

    init(stream: ByteStream, options: ReaderOptions, chunkSize: Int = 1 << 20) {
        self.stream = stream
        self.options = options
        limit = options.decodedLimit
        limitReason = options.decodedLimitReason
        self.chunkSize = chunkSize
    }

    var decodedSizeLimit: (any DecodedSizeLimit)? { self }

    func tighten(to newLimit: UInt64, reason: String?) {
        if newLimit < limit {
            limit = newLimit
            limitReason = reason
        }
    }

    func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        let footerLength = VpcFooter.length
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize + footerLength, alignment: 4096)
        defer { buffer.deallocate() }
        var held = 0             // bytes at the buffer's start not yet written: the last ones read, maybe the footer
        var offset: UInt64 = 0   // guest bytes written
        while true {
            let n = try stream.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer[held...]))
            let total = held + n
            if total > footerLength {
                let count = total - footerLength
                guard offset + UInt64(count) <= limit else {
                    throw DiskImportError(.limit, "\(options.name): vpc: the fixed image's data exceeds \(limit) bytes"
                        + (limitReason.map { " (\($0))" } ?? ""))
                }
                try sink.write(UnsafeRawBufferPointer(rebasing: buffer[..<count]), at: offset)
                progress.addGuestBytes(UInt64(count))
                offset += UInt64(count)
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[count..<total]))
                held = footerLength
            } else {
                held = total
            }
            if n == 0 || total < buffer.count { break }
        }
        guard held == footerLength else {
            throw DiskImportError.corrupt("\(options.name): vpc: File too small for a VHD header (\(held) bytes)" + options.inside)
        }
        let footer = try VpcFooter(bytes: Array(UnsafeRawBufferPointer(rebasing: buffer[..<footerLength])), name: options.name)
        return try VpcFixedDisk.checked(footer, dataLength: offset, name: options.name).virtualSize
    }
}
