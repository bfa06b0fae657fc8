import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Extracts a tar (plain, or gzip/xz/zstd-compressed, sniffed by magic) into a directory without ever writing
/// outside it: CDI's `IMPORTER_CONTENTTYPE=archive`.
///
/// Refused, with a clear error naming the entry: absolute paths, `..` components, device nodes, fifos and sockets,
/// symlinks whose target is absolute or climbs above the directory, hard links to paths that would, and writing
/// through a symlink an earlier entry planted (every name is resolved component by component with O_NOFOLLOW from the
/// directory's descriptor, and files are created with O_EXCL, so a link is never followed). The total data is bounded.
/// Set-id and sticky bits are dropped; owners are not restored. Zero runs in file data become holes.
public struct SafeArchiveExtractor {
    public var maximumTotalBytes: UInt64
    public var maximumEntries: Int

    public init(maximumTotalBytes: UInt64, maximumEntries: Int = 1_000_000) {
        self.maximumTotalBytes = maximumTotalBytes
        self.maximumEntries = maximumEntries
    }

    public struct Summary: Sendable, Equatable {
        public var entries = 0
        public var dataBytes: UInt64 = 0
    }

    /// Extracts every entry of `stream` into the existing directory `directory`.
    @discardableResult
    public func extract(_ stream: ByteStream, into directory: String) throws -> Summary {
        let root = try DirectoryHandle.open(path: directory)
        let layers = LayerStack(stream, length: nil)
        try layers.peelCompression()
        let reader = try TarReader(layers.stream)
        var summary = Summary()
        while let entry = try reader.nextEntry() {
            summary.entries += 1
            if summary.entries > maximumEntries {
                throw DiskImportError(.limit, "tar: more than \(maximumEntries) entries")
            }
            try extract(entry, from: reader, into: root, summary: &summary)
        }
        return summary
    }

    private func extract(_ entry: TarReader.Entry, from reader: TarReader, into root: DirectoryHandle,
                         summary: inout Summary) throws {
        let path = try checked(entry.path, what: "path")
        guard let name = path.components.last else {
            // "./" or "/": the directory itself.
            if entry.fileType == UInt32(S_IFDIR) { return }
            throw DiskImportError.corrupt("tar: entry with an empty name")
        }
        let parent = try directory(path.components.dropLast(), under: root, create: true)
        if let target = entry.hardlinkTarget {
            let targetPath = try checked(target, what: "hard link target of \(entry.displayPath):")
            guard let targetName = targetPath.components.last else {
                throw DiskImportError.corrupt("tar: hard link \(entry.displayPath) points at the directory itself")
            }
            let targetParent = try directory(targetPath.components.dropLast(), under: root, create: false)
            try parent.removeFile(name)
            try parent.createHardlink(name, to: targetName, in: targetParent)
            return
        }
        switch mode_t(entry.fileType) {
        case S_IFDIR:
            _ = try parent.subdirectory(name, create: true, permissions: mode_t(entry.permissions & 0o777) | 0o700)
        case S_IFREG:
            try parent.removeFile(name)
            let fd = try parent.createFile(name, permissions: mode_t(entry.permissions & 0o777))
            defer { close(fd) }
            try writeData(of: entry, from: reader, to: fd, summary: &summary)
        case S_IFLNK:
            let target = entry.symlinkTarget ?? []
            try checkSymlink(target, at: path, display: entry.displayPath)
            try parent.removeFile(name)
            try parent.createSymlink(name, target: target)
        case S_IFCHR, S_IFBLK:
            throw DiskImportError.corrupt("tar: \(entry.displayPath) is a device node; refused")
        case S_IFIFO:
            throw DiskImportError.corrupt("tar: \(entry.displayPath) is a fifo; refused")
        case S_IFSOCK:
            throw DiskImportError.corrupt("tar: \(entry.displayPath) is a socket; refused")
        default:
            throw DiskImportError.corrupt("tar: \(entry.displayPath) has an unknown file type \(String(entry.fileType, radix: 8))")
        }
    }

    /// A path from the archive, refused when absolute or when it has a `..` component.
    private func checked(_ bytes: [UInt8], what: String) throws -> ArchivePath {
        let path = ArchivePath(bytes)
        if path.isAbsolute {
            throw DiskImportError.corrupt("tar: absolute \(what) \(ArchivePath.display(bytes)) refused")
        }
        if path.climbsOut {
            throw DiskImportError.corrupt("tar: \(what) \(ArchivePath.display(bytes)) has a '..' component; refused")
        }
        return path
    }

    /// Opens (creating when asked) each directory of `components` below `root`, never through a symlink.
    private func directory(_ components: ArraySlice<[UInt8]>, under root: DirectoryHandle, create: Bool) throws -> DirectoryHandle {
        var current = root
        for component in components {
            current = try current.subdirectory(component, create: create)
        }
        return current
    }

    /// A symlink may point only inside the directory: relative, and any `..` components only at the start and no
    /// more of them than the link is deep. The directories it climbs through are real ones this extractor made
    /// (never links, never replaced), so the kernel's resolution agrees with this lexical one; a target such as
    /// `a/../..` is refused, because `a` could later become a link.
    private func checkSymlink(_ target: [UInt8], at path: ArchivePath, display: String) throws {
        let refuse = { (why: String) in
            DiskImportError.corrupt("tar: symlink \(display) -> \(ArchivePath.display(target)) \(why); refused")
        }
        if target.isEmpty { throw refuse("has an empty target") }
        if target.first == UInt8(ascii: "/") { throw refuse("is absolute") }
        let dotdot: [UInt8] = [UInt8(ascii: "."), UInt8(ascii: ".")]
        var depth = path.components.count - 1
        var descended = false
        for component in target.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if component.elementsEqual([UInt8(ascii: ".")]) { continue }
            if component.elementsEqual(dotdot) {
                if descended { throw refuse("climbs back up after descending") }
                depth -= 1
                if depth < 0 { throw refuse("leaves the directory") }
            } else {
                descended = true
            }
        }
    }

    /// Writes the entry's data blocks at their offsets (pwrite), zero runs left as holes, then sets the length.
    /// The declared size counts against the bound (a sparse entry may declare petabytes and carry no data).
    private func writeData(of entry: TarReader.Entry, from reader: TarReader, to fd: Int32, summary: inout Summary) throws {
        let (sum, overflow) = summary.dataBytes.addingReportingOverflow(entry.size)
        if overflow || sum > maximumTotalBytes {
            throw DiskImportError(.limit, "tar: archive data exceeds \(maximumTotalBytes) bytes (at \(entry.displayPath))")
        }
        summary.dataBytes = sum
        while let block = try reader.readBlock() {
            let (end, overflow) = block.offset.addingReportingOverflow(UInt64(block.bytes.count))
            if overflow || end > entry.size {
                throw DiskImportError.corrupt("tar: \(entry.displayPath) has data past its declared size")
            }
            try ZeroScan.forEachRun(in: block.bytes, offset: block.offset) { range, isZero in
                guard !isZero else { return }
                try FileDescriptor(rawValue: fd).writeAll(UnsafeRawBufferPointer(rebasing: block.bytes[range]),
                                                          at: block.offset + UInt64(range.lowerBound), path: entry.displayPath)
            }
        }
        if ftruncate(fd, off_t(clamping: entry.size)) != 0 {
            throw DiskImportError.io("truncate", entry.displayPath, Errno(rawValue: errno))
        }
    }
}
