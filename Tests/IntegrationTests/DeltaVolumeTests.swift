import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `convert --reference OLD` (issue 21) on a real loop-mounted XFS with reflink=1: the new version of a disk shares
/// the blocks it has in common with the old one wherever they lie, stays byte-identical to qemu-img's conversion,
/// survives the deletion of the old volume, and never takes a block on its hash alone.
@Suite(.enabled(if: XFSMount.available, XFSMount.reason), .serialized)
struct DeltaVolumeTests {
    /// ~16 MiB of old data in files of 1-32 blocks; the new version adds ~10% and changes a block in every fifth file.
    static let files = 256, newFiles = 26

    /// Free bytes of the filesystem at `path`, after a sync so delayed allocation has happened.
    static func freeBytes(_ path: String) throws -> UInt64 {
        try Harness.tool("sync", "-f", path)
        var fs = statvfs()
        try #require(statvfs(path, &fs) == 0)
        return UInt64(fs.f_bfree) * UInt64(fs.f_frsize)
    }

    static func summary(_ stdout: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
    }

    @Test func sharesTheOldBlocksAtOtherOffsetsAndOutlivesTheReference() throws {
        let xfs = try XFSMount()
        let work = try TemporaryDirectory()
        let pair = try DeltaImagePair(oldRaw: xfs.path + "/old.raw", work: work, files: Self.files, newFiles: Self.newFiles)
        let target = xfs.path + "/new.raw"
        let before = try Self.freeBytes(xfs.path)
        let run = try Harness.diskimport("convert", "--json", pair.newQcow2, target, "--reference", pair.oldRaw)
        #expect(run.status == 0, "\(run.stderr)")
        let grown = before - (try Self.freeBytes(xfs.path))
        #expect(try Files.identical(target, pair.expected))
        let shared = try #require(try Self.summary(run.stdout)["bytes-shared-with-reference"] as? Double)
        #expect(UInt64(shared) >= pair.sharedBytes, "shared \(shared) of \(pair.sharedBytes) in common")
        #expect(UInt64(shared) <= pair.sharedBytes + pair.newBytes)
        // The filesystem stored about the new data only: the new blocks, plus XFS's refcount and extent btrees (a few
        // blocks per shared extent) — far from the 16 MiB of a full copy.
        let data = pair.sharedBytes + pair.newBytes
        #expect(grown <= pair.newBytes + data / 8, "grew \(grown) for \(pair.newBytes) new of \(data) bytes of data")
        #expect(try Harness.tool("filefrag", "-v", target).stdout.contains("shared"))

        // Deleting the old volume leaves the new one as it was.
        try FileManager.default.removeItem(atPath: pair.oldRaw)
        try Harness.tool("sync", "-f", xfs.path)
        try Harness.tool("sh", "-c", "echo 3 > /proc/sys/vm/drop_caches")
        #expect(try Files.identical(target, pair.expected))
        #expect(Interrupt.leftovers(in: xfs.path).isEmpty, "\(Interrupt.leftovers(in: xfs.path))")
    }

    /// A test knob keeps 4 bits of each hash, so nearly every lookup finds an unrelated block: the comparison of the
    /// bytes must reject each one, and the result is still qemu-img's.
    @Test func aHashCollisionNeverCorrupts() throws {
        let xfs = try XFSMount()
        let work = try TemporaryDirectory()
        let pair = try DeltaImagePair(oldRaw: xfs.path + "/old.raw", work: work, files: 64, newFiles: 8)
        let target = xfs.path + "/new.raw"
        var environment = ProcessInfo.processInfo.environment
        environment["DISKIMPORT_TEST_REFERENCE_HASH_BITS"] = "4"
        let run = try Harness.run(Harness.binary, ["convert", "--json", pair.newQcow2, target, "--reference", pair.oldRaw],
                                  environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Files.identical(target, pair.expected))
        let shared = try #require(try Self.summary(run.stdout)["bytes-shared-with-reference"] as? Double)
        #expect(UInt64(shared) < pair.sharedBytes, "with 16 hash values most candidates are wrong and must not be taken")
    }

    @Test func anotherFilesystemOrNoReflinkIsOneLineBeforeWriting() throws {
        let work = try TemporaryDirectory()
        let xfs = try XFSMount()
        let pair = try DeltaImagePair(oldRaw: work.file("old.raw"), work: work, files: 8, newFiles: 1)
        let elsewhere = try Harness.diskimport("convert", pair.newQcow2, xfs.path + "/new.raw", "--reference", pair.oldRaw)
        #expect(elsewhere.status != 0)
        #expect(elsewhere.stderr.contains("is on another filesystem than the target"), "\(elsewhere.stderr)")
        #expect(elsewhere.stderr.split(separator: "\n").count == 1, "\(elsewhere.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: xfs.path).isEmpty)

        let plain = try XFSMount(reflink: false)
        try Harness.tool("cp", pair.oldRaw, plain.path + "/old.raw")
        let noReflink = try Harness.diskimport("convert", pair.newQcow2, plain.path + "/new.raw", "--reference", plain.path + "/old.raw")
        #expect(noReflink.status != 0)
        #expect(noReflink.stderr.contains("cannot share blocks"), "\(noReflink.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: plain.path) == ["old.raw"])

        let directory = try Harness.diskimport("convert", pair.newQcow2, work.file("x.raw"), "--reference", work.path)
        #expect(directory.stderr.contains("not a regular file"), "\(directory.stderr)")
    }

    /// SIGKILL at points through a delta import: never a target under its final name unless whole, the reference
    /// untouched, and the next run succeeds, leaving no temporary behind.
    @Test func killedDuringADeltaImportLeavesNoTarget() throws {
        let xfs = try XFSMount()
        let work = try TemporaryDirectory()
        let pair = try DeltaImagePair(oldRaw: xfs.path + "/old.raw", work: work, files: Self.files, newFiles: Self.newFiles)
        try Harness.tool("cp", "--reflink=never", pair.oldRaw, work.file("old.copy"))
        let target = xfs.path + "/new.raw"
        let arguments = ["convert", "--no-sync", pair.newQcow2, target, "--reference", pair.oldRaw]
        let started = Date()
        try Harness.run(Harness.binary, arguments)
        let took = Date().timeIntervalSince(started)
        try FileManager.default.removeItem(atPath: target)
        var random = FaultRandom()
        for point in 0..<6 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Harness.binary)
            process.arguments = arguments
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32(Double.random(in: 0...took, using: &random) * 1_000_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if FileManager.default.fileExists(atPath: target) {
                #expect(try Files.identical(target, pair.expected), "point \(point) (seed \(random.seed)): a partial target")
                try FileManager.default.removeItem(atPath: target)
            }
            #expect(try Files.identical(pair.oldRaw, work.file("old.copy")), "point \(point): the reference changed")
        }
        let last = try Harness.run(Harness.binary, arguments)
        #expect(last.status == 0, "\(last.stderr)")
        #expect(try Files.identical(target, pair.expected))
        #expect(Interrupt.leftovers(in: xfs.path).isEmpty, "\(Interrupt.leftovers(in: xfs.path))")
    }
}
