import Foundation
import Testing

/// Conversions that run long enough to be interrupted, killed or watched.
enum SlowConversion {
    /// A source that takes a while to convert: `mebibytes` of zeros as a gzip stream of concatenated 16 MiB members.
    static func source(in dir: TemporaryDirectory, mebibytes: Int) throws -> String {
        let path = dir.file("zeros.gz")
        try Harness.tool("sh", "-c", """
            head -c 16777216 /dev/zero | gzip -1 > \(path).part && \
            for i in $(seq \(mebibytes / 16)); do cat \(path).part; done > \(path) && rm \(path).part
            """)
        return path
    }

    /// Starts a conversion to `dir/out.img` and returns once its temporary file exists (the moment to interrupt it).
    static func start(_ executable: String, _ arguments: [String], until dir: TemporaryDirectory) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        var sawTemporary = false
        for _ in 0..<400 where !sawTemporary {
            sawTemporary = try FileManager.default.contentsOfDirectory(atPath: dir.path).contains { $0.hasPrefix(".out.img.diskimport-") }
            if !sawTemporary { usleep(25_000) }
        }
        if !sawTemporary { process.terminate() }
        try #require(sawTemporary, "no temporary file appeared (\(executable) \(arguments.joined(separator: " ")))")
        return process
    }
}
