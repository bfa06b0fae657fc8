import CArchive
import CDelayLoad
import DiskImportCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads a tar archive entry by entry from a `ByteStream`, with libarchive's tar reader (ustar, pax, GNU, v7).
///
/// libarchive pulls bytes through a read callback (`archive_read_open`); the callback is a plain C function that
/// finds its stream through an `Unmanaged` context pointer. Decompression is not libarchive's job here: wrappers are
/// peeled by our own decoders (`Compression`), so they get the same memory limits and threads as everywhere else.
final class TarReader {
    /// One header, as the tar says it. Nothing here is trusted: callers validate paths and types.
    struct Entry {
        /// The path bytes as stored (no NUL), or empty when the archive gives none.
        var path: [UInt8]
        /// S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK (libarchive's AE_IF* have the same values).
        var fileType: UInt32
        var permissions: UInt32
        /// Data bytes that follow the header (a hard link has none).
        var size: UInt64
        /// Set for a hard link: the archive path of the file it links to.
        var hardlinkTarget: [UInt8]?
        /// Set for a symbolic link: its target, as stored.
        var symlinkTarget: [UInt8]?

        var displayPath: String { ArchivePath.display(path) }
    }

    private let archive: OpaquePointer
    private let feed: TarFeed

    init(_ stream: ByteStream, bufferSize: Int = 1 << 20) throws {
        guard let archive = archive_read_new() else {
            throw DiskImportError(.io, "tar: " + (carchive_load_failure().map { String(cString: $0) } ?? "cannot allocate a reader"))
        }
        self.archive = archive
        feed = TarFeed(stream: stream, bufferSize: bufferSize)
        archive_read_support_format_tar(archive)
        let rc = archive_read_open(archive, Unmanaged.passUnretained(feed).toOpaque(), nil, tarFeedRead, nil)
        // Every property is set: throwing now runs deinit, which frees the archive.
        if rc != ARCHIVE_OK { throw failure("cannot open the archive") }
    }

    deinit { archive_read_free(archive) }

    /// The next header, or nil at the end of the archive (archive_read_next_header).
    func nextEntry() throws -> Entry? {
        var entryPointer: OpaquePointer?
        let rc = archive_read_next_header(archive, &entryPointer)
        if rc == ARCHIVE_EOF { return nil }
        guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN, let entry = entryPointer else {
            throw failure("cannot read the next header")
        }
        func bytes(_ pointer: UnsafePointer<CChar>?) -> [UInt8]? {
            pointer.map { Array(UnsafeRawBufferPointer(start: $0, count: strlen($0))) }
        }
        let size = archive_entry_size(entry)
        return Entry(
            path: bytes(archive_entry_pathname(entry)) ?? bytes(archive_entry_pathname_utf8(entry)) ?? [],
            fileType: UInt32(archive_entry_filetype(entry)),
            permissions: UInt32(archive_entry_perm(entry)),
            size: size > 0 ? UInt64(size) : 0,
            hardlinkTarget: bytes(archive_entry_hardlink(entry)),
            symlinkTarget: bytes(archive_entry_symlink(entry)))
    }

    /// Reads the current entry's data, holes of sparse entries as zeros (archive_read_data); 0 at its end.
    func readData(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let n = archive_read_data(archive, base, buffer.count)
        if n < 0 { throw failure("cannot read entry data") }
        return n
    }

    /// The current entry's next data block and its offset in the file, skipping holes (archive_read_data_block);
    /// nil at its end. The bytes stay valid until the next call.
    func readBlock() throws -> (bytes: UnsafeRawBufferPointer, offset: UInt64)? {
        var pointer: UnsafeRawPointer?
        var size = 0
        var offset: Int64 = 0
        let rc = archive_read_data_block(archive, &pointer, &size, &offset)
        if rc == ARCHIVE_EOF { return nil }
        guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN, offset >= 0 else { throw failure("cannot read entry data") }
        return (UnsafeRawBufferPointer(start: pointer, count: size), UInt64(offset))
    }

    /// The stream's own error when reading it failed (a truncated gzip …), else libarchive's message.
    private func failure(_ what: String) -> DiskImportError {
        if let error = feed.error { return error }
        let message = archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
        if message.contains("Truncated") || message.contains("truncated") {
            return .corrupt("tar: the archive ends in the middle of an entry (truncated)")
        }
        return .corrupt("tar: \(what): \(message)")
    }
}

/// What the read callback needs: the stream, a buffer libarchive reads from, and the stream's error.
private final class TarFeed {
    let stream: ByteStream
    let buffer: UnsafeMutableRawBufferPointer
    var error: DiskImportError?

    init(stream: ByteStream, bufferSize: Int) {
        self.stream = stream
        buffer = .allocate(byteCount: bufferSize, alignment: 64)
    }

    deinit { buffer.deallocate() }
}

/// libarchive's read callback: the next bytes of the stream, 0 at its end, -1 (ARCHIVE_FATAL) when it failed.
private func tarFeedRead(_ archive: OpaquePointer?, _ context: UnsafeMutableRawPointer?,
                         _ out: UnsafeMutablePointer<UnsafeRawPointer?>?) -> la_ssize_t {
    let feed = Unmanaged<TarFeed>.fromOpaque(context!).takeUnretainedValue()
    do {
        let n = try feed.stream.read(into: feed.buffer)
        out?.pointee = UnsafeRawPointer(feed.buffer.baseAddress)
        return la_ssize_t(n)
    } catch let error as DiskImportError {
        feed.error = error
    } catch {
        feed.error = DiskImportError(.io, "tar: \(error)")
    }
    return la_ssize_t(ARCHIVE_FATAL)
}
