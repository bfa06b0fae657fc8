import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Where the streaming qcow2 reader keeps clusters that pass before it knows what they are, so that an L2 table
/// arriving later can still place them. Without a scratch directory nothing is kept, and a later reference to
/// such a cluster fails with "scratch space required" instead of losing data.
///
/// The scratch file is unlinked as soon as it is created: nothing is left behind, whatever happens.
final class Qcow2StreamScratch {
    private struct Run {
        var host: UInt64
        var length: UInt64
        var scratch: UInt64
    }

    private let file: FileDescriptor?
    private let directory: String?
    private var spilled: [Run] = []
    private(set) var bytesWritten: UInt64 = 0

    var isAvailable: Bool { file != nil }

    init(directory: String?) throws {
        self.directory = directory
        guard let directory else {
            file = nil
            return
        }
        let path = directory + "/.diskimport-scratch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            file = try FileDescriptor.open(path, .readWrite, options: [.create, .exclusiveCreate, .closeOnExec],
                                           permissions: [.ownerReadWrite])
        } catch let errno as Errno {
            throw DiskImportError.io("create scratch file in", directory, errno)
        }
        unlink(path)
    }

    deinit { try? file?.close() }

    /// Keeps `bytes` (image offsets `host...`) in the scratch file, when there is one.
    func keep(_ bytes: UnsafeRawBufferPointer, host: UInt64) throws {
        let length = UInt64(bytes.count)
        guard let file else { return }
        try file.writeAll(bytes, at: bytesWritten, path: "scratch file in \(directory ?? "")")
        if let last = spilled.last, last.host + last.length == host, last.scratch + last.length == bytesWritten {
            spilled[spilled.count - 1].length += length
        } else {
            spilled.append(Run(host: host, length: length, scratch: bytesWritten))
        }
        bytesWritten += length
    }

    /// Reads image bytes `range` back into `destination`; false when some of them were never kept.
    func read(_ range: Range<UInt64>, into destination: UnsafeMutableRawBufferPointer) throws -> Bool {
        guard let file else { return false }
        var position = range.lowerBound
        while position < range.upperBound {
            // The last run starting at or before `position` (runs are in image order).
            var low = 0, high = spilled.count
            while low < high {
                let mid = (low + high) / 2
                if spilled[mid].host <= position { low = mid + 1 } else { high = mid }
            }
            guard low > 0 else { return false }
            let run = spilled[low - 1]
            guard position < run.host + run.length else { return false }
            let count = min(range.upperBound, run.host + run.length) - position
            let target = UnsafeMutableRawBufferPointer(rebasing: destination[Int(position - range.lowerBound)..<Int(position - range.lowerBound + count)])
            var done = 0
            while done < target.count {
                let n: Int
                do {
                    n = try file.read(fromAbsoluteOffset: Int64(run.scratch + position - run.host) + Int64(done),
                                      into: UnsafeMutableRawBufferPointer(rebasing: target[done...]), retryOnInterrupt: true)
                } catch let errno as Errno {
                    throw DiskImportError.io("read scratch file in", directory ?? "", errno)
                }
                if n == 0 { throw DiskImportError(.io, "scratch file in \(directory ?? ""): ended early") }
                done += n
            }
            position += count
        }
        return true
    }
}
