import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `diskimport convert` into files: sparseness against qemu-img, the space rules, preallocation, the JSON summary,
/// progress, and that no temporary file survives a failure or a signal.
@Suite struct TargetConvertTests {
    static let MiB = 1 << 20

    /// A raw image: 1 MiB of random data with every fourth 4 KiB block zero, a hole, then 512 KiB of data.
    private func makeRaw(_ path: String, holeMiB: Int = 2) throws {
        try Harness.tool("dd", "if=/dev/urandom", "of=\(path)", "bs=1M", "count=1", "status=none")
        for block in stride(from: 0, to: 256, by: 4) {
            try Harness.tool("dd", "if=/dev/zero", "of=\(path)", "bs=4096", "count=1", "seek=\(block)", "conv=notrunc", "status=none")
        }
        try Harness.tool("dd", "if=/dev/urandom", "of=\(path)", "bs=512K", "count=1", "seek=\((1 + holeMiB) * 2)", "status=none")
    }

    private func summary(_ result: Harness.Result) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        return try #require(object as? [String: Any])
    }

    @Test func theOutputIsByteIdenticalAndNoMoreAllocatedThanQemuImgs() throws {
        let dir = try TemporaryDirectory()
        let raw = dir.file("disk.raw")
        try makeRaw(raw)
        try Harness.tool("qemu-img", "convert", "-f", "raw", "-O", "raw", raw, dir.file("qemu.img"))
        let result = try Harness.diskimport("convert", raw, dir.file("out.img"), "--json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(raw, dir.file("out.img")))
        #expect(try Files.identical(dir.file("qemu.img"), dir.file("out.img")))
        _ = try Harness.tool("sync")
        #expect(try Files.allocatedBytes(dir.file("out.img")) <= Files.allocatedBytes(dir.file("qemu.img")))
        let json = try summary(result)
        #expect(json["bytes-written"] as? Int == 768 * 1024 + 512 * 1024)
        #expect(json["hole-bytes"] as? Int == 2 * Self.MiB + 256 * 1024)
    }

    @Test func theJSONSummaryHasEveryDocumentedKey() throws {
        let dir = try TemporaryDirectory()
        let raw = dir.file("disk.raw")
        try makeRaw(raw)
        let result = try Harness.diskimport("convert", raw, dir.file("out.img"), "--json", "--preallocation", "falloc")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("{\"format\":\"raw\",\"layers\":[\"raw\"],\"virtual-size\":3670016,"))
        let json = try summary(result)
        for key in ["format", "layers", "virtual-size", "bytes-read", "bytes-written", "bytes-cloned", "hole-bytes",
                    "scratch-bytes", "seconds", "target-kind", "target-size", "preallocation", "preallocation-applied",
                    "preallocation-method"] {
            #expect(json[key] != nil, "missing key \(key)")
        }
        #expect(json["target-kind"] as? String == "file")
        #expect(json["target-size"] as? Int == 3_670_016)
        #expect(json["bytes-read"] as? Int == 3_670_016)
        #expect(json["preallocation"] as? String == "falloc")
        #expect(json["preallocation-applied"] as? Bool == true)
        #expect(json["preallocation-method"] as? String == "fallocate")
        #expect(try Files.allocatedBytes(dir.file("out.img")) >= 3_670_016)
        #expect(try Files.identical(raw, dir.file("out.img")))
        #expect(result.stderr.isEmpty)
    }

    @Test func theFileGrowsToTheRequestedSizeOrUnderCDIsRulesToItsUsablePart() throws {
        let dir = try TemporaryDirectory()
        let raw = dir.file("disk.raw")
        try makeRaw(raw)
        // qemu-img's rules (no --filesystem-overhead): the whole 64 MiB. CDI's: usable(64 MiB, 0.055) = 60 MiB, and
        // at overhead 0 the whole 64 MiB.
        for (overhead, expected) in [(nil, 67_108_864), ("0.055", 62_914_560), ("0", 67_108_864)] as [(String?, Int)] {
            let out = dir.file("out-\(overhead ?? "none").img")
            let result = try Harness.run(Harness.binary, ["convert", raw, out, "--size", "64Mi", "--json"]
                                         + (overhead.map { ["--filesystem-overhead", $0] } ?? []))
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int == expected)
            #expect(try summary(result)["target-size"] as? Int == expected)
            #expect(try Harness.tool("cmp", "-n", "3670016", raw, out).status == 0)
        }
    }

    /// `--size` below the image: qemu-img's rules keep the image's size; CDI's refuse it in CDI's words, since the
    /// requested size is the volume.
    @Test func aRequestedSizeBelowTheImage() throws {
        let dir = try TemporaryDirectory()
        let raw = dir.file("disk.raw")
        try makeRaw(raw)  // 3.5 MiB
        let kept = try Harness.diskimport("convert", raw, dir.file("kept.img"), "--size", "3Mi")
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(try Files.identical(raw, dir.file("kept.img")))
        let result = try Harness.diskimport("convert", raw, dir.file("out.img"), "--size", "3Mi", "--filesystem-overhead", "0.055")
        #expect(result.status == 1)
        #expect(result.stderr == "diskimport: error: virtual image size 3670016 is larger than the reported available storage 3145728. A larger PVC is required\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["disk.raw", "kept.img"])
    }

    @Test(arguments: [["--filesystem-overhead", "0.5.5"], ["--filesystem-overhead", "2"], ["--preallocation", "sometimes"]])
    func badOptionsAreOneLineErrors(arguments: [String]) throws {
        let dir = try TemporaryDirectory()
        try makeRaw(dir.file("disk.raw"))
        let result = try Harness.run(Harness.binary, ["convert", dir.file("disk.raw"), dir.file("out.img")] + arguments)
        #expect(result.status != 0)
        #expect(result.stderr.contains(arguments[1]))
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.img")))
    }

    @Test func targetsThatCannotBeFilesAreClearErrors() throws {
        let dir = try TemporaryDirectory()
        try makeRaw(dir.file("disk.raw"))
        for (target, message) in [(dir.path, "is a directory"), (dir.file("no/such/disk.img"), "does not exist"),
                                  ("/dev/null", "is a character device")] {
            let result = try Harness.diskimport("convert", dir.file("disk.raw"), target)
            #expect(result.status == 1)
            #expect(result.stderr.contains(message), "\(result.stderr)")
        }
    }

    @Test func aSourceThatFailsMidwayLeavesNoFileBehind() throws {
        let dir = try TemporaryDirectory()
        try Harness.tool("dd", "if=/dev/urandom", "of=\(dir.file("disk.raw"))", "bs=1M", "count=4", "status=none")
        try Harness.tool("gzip", dir.file("disk.raw"))
        // Cut the gzip stream in half: the decoder fails after writing part of the disk.
        let size = try #require(FileManager.default.attributesOfItem(atPath: dir.file("disk.raw.gz"))[.size] as? Int)
        #expect(truncate(dir.file("disk.raw.gz"), off_t(size / 2)) == 0)
        let result = try Harness.diskimport("convert", dir.file("disk.raw.gz"), dir.file("out.img"))
        #expect(result.status == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["disk.raw.gz"])
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalRemovesTheTemporaryFile(signal: Int32) throws {
        let dir = try TemporaryDirectory()
        let source = try SlowConversion.source(in: dir, mebibytes: 4096)
        let process = try SlowConversion.start(Harness.binary, ["convert", source, dir.file("out.img")], until: dir)
        usleep(100_000)
        #expect(process.isRunning, "the conversion finished before it could be interrupted")
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(process.terminationStatus == signal)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["zeros.gz"])
    }

    @Test func replacingAFileKeepsItsPermissions() throws {
        let dir = try TemporaryDirectory()
        try Harness.tool("dd", "if=/dev/urandom", "of=\(dir.file("disk.raw"))", "bs=64K", "count=4", "status=none")
        try Harness.tool("sh", "-c", "echo old > \(dir.file("out.img")) && chmod 0604 \(dir.file("out.img"))")
        let result = try Harness.diskimport("convert", dir.file("disk.raw"), dir.file("out.img"))
        #expect(result.status == 0, "\(result.stderr)")
        var info = stat()
        #expect(stat(dir.file("out.img"), &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o604)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("out.img"))) == Data(contentsOf: URL(fileURLWithPath: dir.file("disk.raw"))))
    }

    /// As a container's PID 1 (the importer pod), the kernel drops a default-action signal that init sends itself:
    /// the handler must still end the process after removing the temporary file.
    @Test func aSignalStopsTheImportAsPIDOne() throws {
        let dir = try TemporaryDirectory()
        let source = try SlowConversion.source(in: dir, mebibytes: 4096)
        let process = try SlowConversion.start("/usr/bin/unshare", ["--pid", "--fork", Harness.binary, "convert", source, dir.file("out.img")],
                                          until: dir)
        // The converter as this namespace sees it: unshare's only child.
        let children = try String(contentsOfFile: "/proc/\(process.processIdentifier)/task/\(process.processIdentifier)/children",
                                  encoding: .utf8)
        let converter = try #require(children.split(separator: " ").first.flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        kill(converter, SIGTERM)
        // Without the handler's exit, PID 1 would go on converting 4 GiB.
        var waited = 0
        while process.isRunning && waited < 100 { usleep(50_000); waited += 1 }
        #expect(!process.isRunning, "diskimport as PID 1 ignored SIGTERM")
        if process.isRunning { kill(converter, SIGKILL) }
        process.waitUntilExit()
        #expect(process.terminationStatus == 128 + SIGTERM)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["zeros.gz"])
    }
}
