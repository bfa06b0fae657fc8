import CLinux
import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// How much of a file target's space to reserve up front (`--preallocation`, CDI's `PREALLOCATION`).
public enum PreallocationMode: String, Sendable, CaseIterable {
    /// A sparse file: zero ranges stay holes.
    case off
    /// fallocate(2), falling back to posix_fallocate(3).
    case falloc
    /// fallocate(2) where the filesystem supports it, else zeros written into every hole.
    case full
}

/// What was done to reserve the space, as reported in `--json` and the termination message.
public enum PreallocationMethod: String, Sendable {
    /// Nothing: preallocation was off.
    case none
    /// fallocate(2) reserved every block.
    case fallocate
    /// posix_fallocate(3): glibc's emulation, one written byte per block, where fallocate(2) is unsupported.
    case posixFallocate = "posix_fallocate"
    /// Zeros were written into every hole.
    case zeros
    /// A block device: every block exists, and ranges without data were zeroed without unmapping (BLKZEROOUT).
    case device
}

public struct PreallocationOutcome: Sendable, Equatable {
    public var mode: PreallocationMode
    public var method: PreallocationMethod
    /// Whether the target's space is reserved (CDI's `preallocationApplied`).
    public var applied: Bool { method != .none }

    public init(mode: PreallocationMode, method: PreallocationMethod) {
        self.mode = mode
        self.method = method
    }
}

/// Reserves the blocks of an open file.
enum Preallocator {
    /// Reserves `[0, length)` of `fd` as `mode` asks, after the data is written (fallocate(2) only fills holes, and
    /// glibc's posix_fallocate emulation keeps non-zero bytes, so neither disturbs data). Zeros written by the `full`
    /// fallback count as written bytes in `progress`.
    static func apply(_ mode: PreallocationMode, fd: FileDescriptor, length: UInt64, path: String,
                      progress: TransferProgress) throws -> PreallocationOutcome {
        guard mode != .off, length > 0 else { return PreallocationOutcome(mode: mode, method: .none) }
        if clinux_fallocate(fd.rawValue, 0, 0, Int64(length)) == 0 {
            return PreallocationOutcome(mode: mode, method: .fallocate)
        }
        let e = Errno(rawValue: errno)
        guard e == .notSupported else { throw TargetIO.failure("fallocate", path: path, errno: e, offset: 0, length: length) }
        switch mode {
        case .off:
            return PreallocationOutcome(mode: mode, method: .none)
        case .falloc:
            let status = clinux_posix_fallocate(fd.rawValue, 0, Int64(length))
            if status != 0 {
                throw TargetIO.failure("posix_fallocate", path: path, errno: Errno(rawValue: status), offset: 0, length: length)
            }
            return PreallocationOutcome(mode: mode, method: .posixFallocate)
        case .full:
            try fillHoles(fd: fd, length: length, path: path, progress: progress)
            return PreallocationOutcome(mode: mode, method: .zeros)
        }
    }

    /// Writes zeros into every hole of `[0, length)`, found with lseek(2) SEEK_HOLE / SEEK_DATA.
    static func fillHoles(fd: FileDescriptor, length: UInt64, path: String, progress: TransferProgress) throws {
        var position: UInt64 = 0
        while position < length {
            let hole = clinux_seek_hole(fd.rawValue, Int64(position))
            if hole < 0 { throw DiskImportError.io("seek hole in", path, Errno(rawValue: errno)) }
            if UInt64(hole) >= length { break }
            let data = clinux_seek_data(fd.rawValue, hole)
            // ENXIO: no data after the hole, which then runs to the end of the file.
            let holeEnd = data < 0 ? length : min(length, UInt64(data))
            if data < 0 && errno != ENXIO { throw DiskImportError.io("seek data in", path, Errno(rawValue: errno)) }
            var offset = UInt64(hole)
            while offset < holeEnd {
                let count = Int(min(UInt64(ZeroPage.size), holeEnd - offset))
                try TargetIO.writeAll(fd, UnsafeRawBufferPointer(rebasing: ZeroPage.buffer[..<count]), at: offset, path: path)
                progress.addWrittenBytes(UInt64(count))
                offset += UInt64(count)
            }
            position = holeEnd
        }
    }
}
