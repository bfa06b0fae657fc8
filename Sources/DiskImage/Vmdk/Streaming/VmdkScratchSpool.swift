import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A whole vmdk stream copied to a file in the scratch directory, for an image that can only be read with random
/// access (its tables come after its grains). The file is unlinked once open: nothing is left behind.
struct VmdkScratchSpool {
    let path: String
    let name: String

    init(directory: String, name: String) throws {
        path = directory + "/.diskimport-vmdk-scratch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        self.name = name
    }

    /// Writes `head` (what was read already) and the rest of `rest`, and opens the result read-only.
    func fill(head: [UInt8], rest: ByteStream) throws -> LocalFile {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec], permissions: [.ownerReadWrite])
        } catch let errno as Errno {
            throw DiskImportError.io("create scratch file", path, errno)
        }
        var ok = false
        defer {
            try? fd.close()
            if !ok { unlink(path) }
        }
        try head.withUnsafeBytes { try fd.writeAll($0, at: 0, path: path) }
        var offset = UInt64(head.count)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        while true {
            let n = try rest.readFully(into: buffer)
            if n == 0 { break }
            try fd.writeAll(UnsafeRawBufferPointer(rebasing: buffer[..<n]), at: offset, path: path)
            offset += UInt64(n)
        }
        let file = try LocalFile(path: path)
        unlink(path)
        ok = true
        return file
    }
}
