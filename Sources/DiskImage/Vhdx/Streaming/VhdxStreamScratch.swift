import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Where the streaming VHDX reader keeps the bytes it passes on its way to the BAT and metadata regions, when a
/// scratch directory was given: blocks that lie there (before their table, in an image whose regions come late)
/// are read back from it. The file is unlinked as soon as it is created, so nothing is left behind.
final class VhdxStreamScratch {
    private struct Run {
        var file: Range<UInt64>
        var scratch: UInt64
    }

    private let descriptor: FileDescriptor
    private let directory: String
    private var runs: [Run] = []
    private(set) var bytesWritten: UInt64 = 0

    init(directory: String) throws {
        self.directory = directory
        let path = directory + "/.diskimport-scratch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            descriptor = try FileDescriptor.open(path, .readWrite, options: [.create, .exclusiveCreate, .closeOnExec],
                                                 permissions: [.ownerReadWrite])
        } catch let errno as Errno {
            throw DiskImportError.io("create scratch file in", directory, errno)
        }
        unlink(path)
    }

    deinit { try? descriptor.close() }

    /// Keeps `bytes`, the file's bytes at `fileOffset` (called in file order).
    func keep(_ bytes: UnsafeRawBufferPointer, at fileOffset: UInt64) throws {
        try descriptor.writeAll(bytes, at: bytesWritten, path: "scratch file in \(directory)")
        let end = fileOffset + UInt64(bytes.count)
        if let last = runs.last, last.file.upperBound == fileOffset, last.scratch + UInt64(last.file.count) == bytesWritten {
            runs[runs.count - 1].file = last.file.lowerBound..<end
        } else {
            runs.append(Run(file: fileOffset..<end, scratch: bytesWritten))
        }
        bytesWritten += UInt64(bytes.count)
    }

    /// The scratch offset of the file bytes `range`, when they were all kept in one run.
    func scratchOffset(of range: Range<UInt64>) -> UInt64? {
        guard let run = runs.first(where: { $0.file.lowerBound <= range.lowerBound && range.upperBound <= $0.file.upperBound }) else { return nil }
        return run.scratch + range.lowerBound - run.file.lowerBound
    }

    /// Reads `buffer.count` kept bytes at scratch offset `offset`.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let n: Int
            do {
                n = try descriptor.read(fromAbsoluteOffset: Int64(offset) + Int64(done),
                                        into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), retryOnInterrupt: true)
            } catch let errno as Errno {
                throw DiskImportError.io("read scratch file in", directory, errno)
            }
            if n == 0 { throw DiskImportError(.io, "scratch file in \(directory): ended early") }
            done += n
        }
    }
}
