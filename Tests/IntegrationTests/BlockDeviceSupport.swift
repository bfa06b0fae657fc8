import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Loop devices for tests that write block devices; available to root on machines with /dev/loop-control.
final class TestLoopDevice {
    static let available: Bool = {
        guard getuid() == 0, FileManager.default.fileExists(atPath: "/dev/loop-control") else { return false }
        return (try? Harness.tool("losetup", "-f")) != nil
    }()
    static let reason: Comment = "needs root and loop devices (losetup -f) to test block-device targets"
    private static let setupLock = NSLock()

    let path: String
    private let backing: TemporaryDirectory

    /// A device of `size` bytes, every byte `fill`, flushed to the backing file.
    init(size: Int, fill: UInt8) throws {
        backing = try TemporaryDirectory()
        let file = backing.file("backing.img")
        try Data(repeating: fill, count: size).write(to: URL(fileURLWithPath: file))
        path = try Self.setupLock.withLock { try Harness.tool("losetup", "-f", "--show", file).stdout }
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The device's bytes as the device holds them (buffers flushed first).
    func bytes() throws -> Data {
        try Harness.tool("blockdev", "--flushbufs", path)
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        return try handle.readToEnd() ?? Data()
    }

    deinit { _ = try? Harness.tool("losetup", "-d", path) }
}
