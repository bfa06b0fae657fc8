import Foundation
import Testing

/// One memory budget per import (issue 17 §4), under a real memory cgroup limited to the importer pod's 128 MiB.
@Suite(.enabled(if: MemoryCgroup.isAvailable, "needs a writable cgroup memory controller (v1 or v2), as root"))
struct MemoryBudgetTests {
    /// The worst layout for the xz path: every cluster arrives before the table that maps it (the L1 table moved to
    /// the end of the file), so the qcow2 reader's memory tier fills, while the data compresses little (base64 of
    /// random bytes) in the 24 MiB blocks of `xz -T2 -6`, so the compressed-block buffers fill too. With separate
    /// budgets the tier (32 MiB), the buffers (48 MiB) and the decoders took 131.7 MiB; drawn from one budget the
    /// tier gets what the xz stage left.
    @Test func aQcow2XzWithDataBeforeItsTablesStaysInside128MiB() throws {
        let dir = try TemporaryDirectory()
        let raw = dir.file("disk.raw"), image = dir.file("disk.qcow2")
        try Harness.tool("sh", "-c", """
            truncate -s 100M \(raw) && head -c 75M /dev/urandom | base64 -w0 | head -c 100M | \
              dd of=\(raw) bs=1M conv=notrunc status=none && \
            qemu-img convert -O qcow2 \(raw) \(image) && qemu-img resize \(image) 1G >/dev/null && \
            xz -T2 --lzma2=dict=8MiB,mf=hc3,mode=fast,nice=3,depth=1 --block-size=24MiB -c \(image) > \(image).xz
            """)
        let scratch = dir.file("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
        let cgroup = try MemoryCgroup(limit: 128 << 20)
        let (result, maxRSSKiB) = try Harness.diskimportMeasured(
            ["convert", image + ".xz", dir.file("out.raw"), "--scratch", scratch, "--json"], inside: cgroup)
        #expect(result.status == 0, "exit \(result.status) (137: killed by the cgroup's OOM killer): \(result.stderr)")
        #expect(maxRSSKiB < 128 << 10, "peak RSS \(maxRSSKiB) KiB")
        #expect(cgroup.oomKills == 0)
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(json?["scratch-bytes"] as? Int ?? 0 > 0, "the image was meant to need scratch: \(result.stdout)")
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.raw")))
    }
}

/// A memory cgroup of its own, removed when released: v2 (`memory.max`) where the unified hierarchy has the memory
/// controller, else v1 (`memory.limit_in_bytes`, swap included), beside the cgroup this process is in.
final class MemoryCgroup {
    let path: String
    private let version: Int

    static var isAvailable: Bool { getuid() == 0 && base() != nil }

    /// The directory to create cgroups in, and the hierarchy's version.
    static func base() -> (String, Int)? {
        let v2 = "/sys/fs/cgroup"
        if let controllers = try? String(contentsOfFile: v2 + "/cgroup.controllers", encoding: .utf8), controllers.contains("memory") {
            return (v2, 2)
        }
        let v1 = "/sys/fs/cgroup/memory"
        guard FileManager.default.fileExists(atPath: v1 + "/memory.limit_in_bytes") else { return nil }
        let own = ((try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? "").split(separator: "\n")
            .first { $0.split(separator: ":").dropFirst().first == "memory" }
            .map { String($0.split(separator: ":", maxSplits: 2).last ?? "") } ?? ""
        let parent = own.isEmpty || own == "/" ? v1 : v1 + own
        return FileManager.default.isWritableFile(atPath: parent) ? (parent, 1) : (v1, 1)
    }

    init(limit: Int) throws {
        guard let (base, version) = Self.base() else { throw HarnessError("no memory cgroup controller") }
        self.version = version
        path = base + "/diskimport-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        if version == 2 {
            try write("memory.max", limit)
            try? write("memory.swap.max", 0)
        } else {
            try write("memory.limit_in_bytes", limit)
            try? write("memory.memsw.limit_in_bytes", limit)
        }
    }

    private func write(_ file: String, _ value: Int) throws {
        try String(value).write(toFile: path + "/" + file, atomically: false, encoding: .utf8)
    }

    /// Processes the cgroup's OOM killer killed.
    var oomKills: Int {
        let file = version == 2 ? "/memory.events" : "/memory.oom_control"
        let text = (try? String(contentsOfFile: path + file, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line -> Int? in
            let fields = line.split(separator: " ")
            return fields.count == 2 && fields[0] == "oom_kill" ? Int(fields[1]) : nil
        }.first ?? 0
    }

    /// `command` wrapped so that it runs inside the cgroup: a shell joins it, then execs the command.
    func wrap(_ command: [String]) -> [String] {
        ["sh", "-c", "echo $$ > \"$0\"/cgroup.procs && exec \"$@\"", path] + command
    }

    deinit { rmdir(path) }
}
