import Foundation
import Testing

/// `diskimport cron tick` against the real loopback registry (docker-registry with TLS and htpasswd), with images
/// pushed by skopeo into a repository of each test's own, credentials from a Secret directory and the CA from a
/// ConfigMap directory. `--now` makes every schedule evaluation deterministic: the cron polls at 00:00 and 12:00.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct CronRegistryTests {
    static let times = ["2026-11-23T00:00:00Z", "2026-11-23T12:00:00Z", "2026-11-24T00:00:00Z", "2026-11-24T12:00:00Z",
                        "2026-11-25T00:00:00Z", "2026-11-25T12:00:00Z", "2026-11-26T00:00:00Z"]

    @Test func digestsImportMoveTheDataSourceCollectGarbageAndABrokenImageChangesNothing() throws {
        let world = try CronWorld("life")
        try world.writeConfig(world.cronYAML(url: try world.url()))

        // A: the first tick polls at once (CDI's initial job), imports, points the DataSource at the volume.
        let diskA = try world.makeDisk("A")
        let a = try world.push("a", disk: diskA)
        var tick = try world.tick(Self.times[0])
        #expect(tick.status == 0, "\(tick.stderr)")
        #expect(tick.stdout.contains("\(world.cron): polled \(a), imported \(world.volume(a))"), "\(tick.stdout)")
        // Sized by the 8Mi request (storage API: the capacity is required(8Mi, 0.055), the disk the request).
        let attributes = try FileManager.default.attributesOfItem(atPath: world.disk(world.volume(a)))
        #expect(attributes[.size] as? Int == 8 << 20)
        #expect(try Data(contentsOf: URL(fileURLWithPath: world.disk(world.volume(a)))).prefix(diskA.count) == diskA)
        var status = try world.status()
        #expect(status.dataSource(world.dataSource)?["volume"] as? String == world.volume(a))
        #expect(status.dataSource(world.dataSource)?["ready"] as? Bool == true)
        #expect(status.condition(world.cron, "UpToDate")?.status == "True")
        #expect(status.condition(world.cron, "UpToDate")?.reason == "UpToDate")
        #expect(status.cron(world.cron)?["desiredDigest"] as? String == a)
        #expect(status.cron(world.cron)?["lastImportedVolume"] as? String == world.volume(a))
        #expect(status.volume(world.volume(a))?["digest"] as? String == a)

        // No change: a manifest HEAD, no new import, not one blob or manifest body downloaded.
        let before = try world.registryRequests()
        tick = try world.tick(Self.times[1])
        #expect(tick.status == 0, "\(tick.stderr)")
        #expect(tick.stdout.contains("\(world.cron): polled \(a), up to date"), "\(tick.stdout)")
        let during = try world.registryRequests().dropFirst(before.count)
        #expect(during.contains { $0.method == "HEAD" && $0.uri.hasSuffix("/manifests/latest") }, "\(during)")
        #expect(!during.contains { $0.method == "GET" }, "downloaded during an unchanged poll: \(during)")
        #expect(try world.volumeDirectories() == [world.volume(a)])

        // B: a new volume, and the DataSource moves.
        let b = try world.push("b", disk: try world.makeDisk("B"))
        tick = try world.tick(Self.times[2])
        #expect(tick.stdout.contains("imported \(world.volume(b))"), "\(tick.stdout) \(tick.stderr)")
        status = try world.status()
        #expect(status.dataSource(world.dataSource)?["volume"] as? String == world.volume(b))
        #expect(status.volumeNames == [world.volume(a), world.volume(b)].sorted())

        // C, D: after D only the three most recently used remain; A, the oldest, is gone.
        let c = try world.push("c", disk: try world.makeDisk("C"))
        tick = try world.tick(Self.times[3])
        #expect(tick.stdout.contains("imported \(world.volume(c))"), "\(tick.stdout) \(tick.stderr)")
        let diskD = try world.makeDisk("D")
        let d = try world.push("d", disk: diskD)
        tick = try world.tick(Self.times[4])
        #expect(tick.stdout.contains("imported \(world.volume(d))"), "\(tick.stdout) \(tick.stderr)")
        let kept = [b, c, d].map(world.volume).sorted()
        status = try world.status()
        #expect(status.volumeNames == kept)
        #expect(try world.volumeDirectories() == kept)
        #expect(status.dataSource(world.dataSource)?["volume"] as? String == world.volume(d))

        // E has no disk: its import fails, the DataSource stays at D, the condition says why, nothing of E remains.
        let e = try world.push("e", disk: nil)
        tick = try world.tick(Self.times[5])
        #expect(tick.status == 1, "a failed import fails the tick: \(tick.stderr)")
        #expect(tick.stdout.contains("\(world.cron): polled \(e), failed:"), "\(tick.stdout)")
        status = try world.status()
        #expect(status.dataSource(world.dataSource)?["volume"] as? String == world.volume(d))
        #expect(status.dataSource(world.dataSource)?["ready"] as? Bool == true)
        let upToDate = try #require(status.condition(world.cron, "UpToDate"))
        #expect(upToDate.status == "False" && upToDate.reason == "Outdated")
        #expect(upToDate.message.contains("has no disk image: none of its 1 layers holds a file under disk/"), "\(upToDate.message)")
        #expect(status.condition(world.cron, "Progressing")?.reason == "ImportFailed")
        #expect(try world.volumeDirectories() == kept)
        #expect(try Data(contentsOf: URL(fileURLWithPath: world.disk(world.volume(d)))).prefix(diskD.count) == diskD)
        try world.registry.expectNoCredentials(tick)
    }

    @Test func aMultiArchImagePollsTheIndexDigestAndImportsThisMachinesDisk() throws {
        let world = try CronWorld("multiarch")
        let url = "docker://127.0.0.1:\(try world.registry.fixtures["REG_BASIC_PORT"])/containerdisks/test:latest"
        try world.writeConfig(world.cronYAML(url: url, extra: "      # the fixtures' index: arm64 and amd64"))
        let tick = try world.tick(Self.times[0])
        let index = try world.registry.fixtures["DIGEST_INDEX"]
        #expect(tick.stdout.contains("polled \(index), imported \(world.volume(index))"), "\(tick.stdout) \(tick.stderr)")
        // The disk is the amd64 one (this machine's platform), grown to the 8Mi request.
        let oracle = try world.registry.oracle("amd64")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: oracle)[.size] as? Int)
        #expect(try Harness.run("cmp", ["-n", String(size), oracle, world.disk(world.volume(index))]).status == 0)
        #expect(try FileManager.default.attributesOfItem(atPath: world.disk(world.volume(index)))[.size] as? Int == 8 << 20)
    }

    @Test func aRefusedOrUnreachableRegistryMarksTheCronAndLeavesVolumesAlone() throws {
        let world = try CronWorld("down")
        try world.writeConfig(world.cronYAML(url: try world.url()))
        let diskA = try world.makeDisk("A")
        let a = try world.push("a", disk: diskA)
        #expect(try world.tick(Self.times[0]).status == 0)
        try world.push("b", disk: try world.makeDisk("B"))

        // A rotated password the Secret does not have yet: NotAuthorized, nothing imported, nothing removed.
        try world.writeSecret(password: "not-the-password")
        var tick = try world.tick(Self.times[1])
        #expect(tick.stdout.contains("\(world.cron): failed: "), "\(tick.stdout)")
        var status = try world.status()
        var upToDate = try #require(status.condition(world.cron, "UpToDate"))
        #expect(upToDate.status == "False" && upToDate.reason == "NotAuthorized", "\(upToDate)")
        #expect(upToDate.message.contains("authentication failed (401)"), "\(upToDate.message)")
        #expect(!tick.stdout.contains("not-the-password") && !tick.stderr.contains("not-the-password"))
        #expect(status.dataSource(world.dataSource)?["volume"] as? String == world.volume(a))
        #expect(try world.volumeDirectories() == [world.volume(a)])
        #expect(try Data(contentsOf: URL(fileURLWithPath: world.disk(world.volume(a)))).prefix(diskA.count) == diskA)

        // The registry down (nothing listens on the port): not up to date, retried on the next tick.
        try world.writeSecret(password: try world.registry.password)
        try world.writeConfig(world.cronYAML(url: try world.url(port: String(try freeLoopbackPort()))))
        tick = try world.tick(Self.times[2])
        status = try world.status()
        upToDate = try #require(status.condition(world.cron, "UpToDate"))
        #expect(upToDate.status == "False" && upToDate.reason == "NoDigest", "\(upToDate)")
        #expect(upToDate.message.contains("Polling"), "\(upToDate.message)")
        #expect(status.dataSource(world.dataSource)?["volume"] as? String == world.volume(a))
        #expect(status.dataSource(world.dataSource)?["ready"] as? Bool == true)
        #expect(try world.volumeDirectories() == [world.volume(a)])

        // Back up: the overdue poll is retried at the next tick, even before the schedule's next time.
        try world.writeConfig(world.cronYAML(url: try world.url()))
        tick = try world.tick("2026-11-24T00:05:00Z")
        #expect(tick.stdout.contains("imported"), "\(tick.stdout) \(tick.stderr)")
        #expect(try world.status().condition(world.cron, "UpToDate")?.status == "True")
    }

    @Test func aRelativeStorageDirectoryIsStoredAsAnAbsolutePath() throws {
        let world = try CronWorld("relative")
        try world.writeConfig(world.cronYAML(url: try world.url()))
        let a = try world.push("a", disk: try world.makeDisk("A"))
        // Ticked from the directory that holds STORAGE, naming it relatively (env -C: the working directory).
        let tick = try Harness.run("env", ["-C", world.registry.directory.path, Harness.binary, "cron", "tick", "--config", "crons.yaml",
                                           "--storage", "./storage/", "--secrets", "secrets", "--now", Self.times[0]])
        #expect(tick.status == 0, "\(tick.stdout) \(tick.stderr)")
        #expect(tick.stdout.contains("imported \(world.volume(a))"), "\(tick.stdout)")
        // Read from elsewhere: every path names the real file.
        let status = try world.status()
        let path = try #require(status.dataSource(world.dataSource)?["path"] as? String)
        #expect(path == world.disk(world.volume(a)))
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(status.volume(world.volume(a))?["path"] as? String == world.disk(world.volume(a)))
    }
}
