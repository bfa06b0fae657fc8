import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Bytes an ordered stream passed before its tables were all read (`OrderedStreamReader`), kept in case the tables
/// then map data there: the first `memoryBytes` in memory, the rest in a scratch file when there is a scratch
/// directory, and only remembered as passed otherwise, so that data mapped there fails with "scratch space
/// required" instead of being lost. The layouts qemu-img writes put every table before the data: nothing is kept.
///
/// The scratch file is unlinked as soon as it is created: nothing is left behind, whatever happens.
final class StreamSpool {
    private enum Place { case memory(Int), file(UInt64), dropped }
    private struct Run {
        var start: UInt64
        var length: UInt64
        var place: Place
    }

    static let memoryBytes = 16 << 20

    private let memoryLimit: Int
    private var memory: [UInt8] = []
    private var runs: [Run] = []
    private let directory: String?
    private var file: FileDescriptor?
    /// Bytes written to the scratch file.
    private(set) var scratchBytes: UInt64 = 0

    init(directory: String?, memoryBytes: Int = StreamSpool.memoryBytes) {
        self.directory = directory
        memoryLimit = memoryBytes
    }

    deinit { try? file?.close() }

    /// Keeps `bytes`, which lie at image offset `start`.
    func keep(_ bytes: UnsafeRawBufferPointer, at start: UInt64) throws {
        guard !bytes.isEmpty else { return }
        let inMemory = min(bytes.count, max(0, memoryLimit - memory.count))
        if inMemory > 0 {
            runs.append(Run(start: start, length: UInt64(inMemory), place: .memory(memory.count)))
            memory.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[..<inMemory]))
        }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[inMemory...])
        guard !rest.isEmpty else { return }
        let restStart = start + UInt64(inMemory)
        guard let file = try scratchFile() else {
            runs.append(Run(start: restStart, length: UInt64(rest.count), place: .dropped))
            return
        }
        try file.writeAll(rest, at: scratchBytes, path: "scratch file in \(directory ?? "")")
        runs.append(Run(start: restStart, length: UInt64(rest.count), place: .file(scratchBytes)))
        scratchBytes += UInt64(rest.count)
    }

    /// Copies image bytes `range` into `destination`; false when some of them were passed without being kept.
    func read(_ range: Range<UInt64>, into destination: UnsafeMutableRawBufferPointer) throws -> Bool {
        var position = range.lowerBound
        while position < range.upperBound {
            guard let run = runs.first(where: { $0.start <= position && position < $0.start + $0.length }) else { return false }
            let end = min(range.upperBound, run.start + run.length)
            let target = UnsafeMutableRawBufferPointer(rebasing: destination[Int(position - range.lowerBound)..<Int(end - range.lowerBound)])
            let offsetInRun = position - run.start
            switch run.place {
            case .dropped:
                return false
            case .memory(let base):
                memory.withUnsafeBytes { target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[(base + Int(offsetInRun))...].prefix(target.count))) }
            case .file(let base):
                try readScratch(at: base + offsetInRun, into: target)
            }
            position = end
        }
        return true
    }

    private func scratchFile() throws -> FileDescriptor? {
        if let file { return file }
        guard let directory else { return nil }
        let path = directory + "/.diskimport-scratch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            file = try FileDescriptor.open(path, .readWrite, options: [.create, .exclusiveCreate, .closeOnExec],
                                           permissions: [.ownerReadWrite])
        } catch let errno as Errno {
            throw DiskImportError.io("create scratch file in", directory, errno)
        }
        unlink(path)
        return file
    }

    private func readScratch(at offset: UInt64, into target: UnsafeMutableRawBufferPointer) throws {
        guard let file else { return }
        var done = 0
        while done < target.count {
            let n: Int
            do {
                n = try file.read(fromAbsoluteOffset: Int64(offset) + Int64(done),
                                  into: UnsafeMutableRawBufferPointer(rebasing: target[done...]), retryOnInterrupt: true)
            } catch let errno as Errno {
                throw DiskImportError.io("read scratch file in", directory ?? "", errno)
            }
            if n == 0 { throw DiskImportError(.io, "scratch file in \(directory ?? ""): ended early") }
            done += n
        }
    }
}
