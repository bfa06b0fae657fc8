import Foundation
import Testing

/// Delta volumes in the cron controller (issue 21): on a class whose root is a reflink XFS, a new digest is imported
/// with the cron's newest volume as its reference, `cron status` shows its own and shared bytes, garbage collection of
/// the old volume leaves the new one whole, and `deltaVolumes: false` imports a full copy.
@Suite(.enabled(if: Fixtures.available && XFSMount.available, "needs the fixtures and \(XFSMount.reason)"))
struct CronDeltaTests {
    static let times = CronRegistryTests.times
    static let block = 4096

    /// Version B of a 1 MiB disk: A's blocks in another order, every eighth replaced by new bytes.
    static func nextVersion(of a: Data) -> (disk: Data, newBlocks: Int) {
        var blocks = stride(from: 0, to: a.count, by: block).map { a.subdata(in: $0..<$0 + block) }
        blocks.shuffle()
        var changed = 0
        for i in blocks.indices where i % 8 == 0 {
            blocks[i] = Data((0..<block).map { _ in UInt8.random(in: 0...255) })
            changed += 1
        }
        return (blocks.reduce(Data(), +), changed)
    }

    func classesFile(_ world: CronWorld, root: String, delta: Bool?) throws -> String {
        let classes = world.registry.directory.file("classes.yaml")
        try """
            - metadata: {name: xfs, annotations: {\(CronStorageClassTests.virt): "true"}}
              root: \(root)
            \(delta.map { "  deltaVolumes: \($0)" } ?? "")
            """.write(toFile: classes, atomically: true, encoding: .utf8)
        return classes
    }

    @Test func aNewDigestSharesTheNewestVolumesBlocksAndOutlivesIt() throws {
        let world = try CronWorld("delta")
        let xfs = try XFSMount()
        let classes = try classesFile(world, root: xfs.path, delta: nil)
        try world.writeConfig(world.cronYAML(url: try world.url(), importsToKeep: 1))
        let diskA = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255) })
        let a = try world.push("a", disk: diskA)
        var tick = try world.tick(Self.times[0], ["--storage-classes", classes])
        #expect(tick.stdout.contains("imported \(world.volume(a))"), "\(tick.stdout) \(tick.stderr)")
        #expect(try world.status().volume(world.volume(a))?["sharedBytes"] is NSNull, "the first volume has no reference")

        let (diskB, newBlocks) = Self.nextVersion(of: diskA)
        let b = try world.push("b", disk: diskB)
        tick = try world.tick(Self.times[1], ["--storage-classes", classes])
        #expect(tick.stdout.contains("imported \(world.volume(b))"), "\(tick.stdout) \(tick.stderr)")
        let status = try world.status()
        let volume = try #require(status.volume(world.volume(b)))
        #expect(volume["referenceVolume"] as? String == world.volume(a))
        let shared = try #require(volume["sharedBytes"] as? Double), own = try #require(volume["ownBytes"] as? Double)
        #expect(Int(shared) == diskB.count - newBlocks * Self.block, "shared \(shared)")
        #expect(Int(own) == newBlocks * Self.block, "own \(own)")
        let text = try Harness.run(Harness.binary, ["cron", "status", "--config", world.configPath, "--storage", world.storage])
        #expect(text.stdout.contains("OWN") && text.stdout.contains("SHARED"), "\(text.stdout)")

        // importsToKeep 1: garbage collection removed A; B reads as pushed.
        #expect(status.volumeNames == [world.volume(b)])
        #expect(!FileManager.default.fileExists(atPath: "\(xfs.path)/volumes/\(world.volume(a))"))
        try Harness.tool("sh", "-c", "sync && echo 3 > /proc/sys/vm/drop_caches")
        // The volume is B grown with zeros to its capacity.
        let disk = "\(xfs.path)/volumes/\(world.volume(b))/disk.img", expected = world.registry.directory.file("b.raw")
        try diskB.write(to: URL(fileURLWithPath: expected))
        try Harness.tool("truncate", "-r", disk, expected)
        #expect(try Files.identical(disk, expected))
    }

    @Test func deltaVolumesFalseImportsAFullCopy() throws {
        let world = try CronWorld("nodelta")
        let xfs = try XFSMount()
        let classes = try classesFile(world, root: xfs.path, delta: false)
        try world.writeConfig(world.cronYAML(url: try world.url()))
        let diskA = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255) })
        try world.push("a", disk: diskA)
        _ = try world.tick(Self.times[0], ["--storage-classes", classes])
        let b = try world.push("b", disk: Self.nextVersion(of: diskA).disk)
        let tick = try world.tick(Self.times[1], ["--storage-classes", classes])
        #expect(tick.stdout.contains("imported \(world.volume(b))"), "\(tick.stdout) \(tick.stderr)")
        let volume = try #require(try world.status().volume(world.volume(b)))
        #expect(volume["sharedBytes"] is NSNull && volume["referenceVolume"] is NSNull)
    }
}
