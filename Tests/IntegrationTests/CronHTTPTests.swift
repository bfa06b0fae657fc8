import Foundation
import Testing

/// DataImportCron with an HTTP source against the fixture nginx: a conditional HEAD per poll (ETag, else
/// Last-Modified), a new volume per new version of the file, a checksums file, Basic credentials from a Secret, and
/// the registry sources' rules (conditions, garbage collection, a broken image changes nothing). Body bytes are
/// counted in nginx's access log.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct CronHTTPTests {
    static let times = CronRegistryTests.times
    static let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func anUnchangedFileMovesNoBodyByteAndAChangedOneImports() throws {
        let world = try CronHTTPWorld("etag")
        let diskA = try world.makeDisk("A")
        try world.serve(diskA, as: "disk.img", modified: Self.t0)
        try world.writeConfig(world.cronYAML(url: try world.url("disk.img"), importsToKeep: 1))

        var tick = try world.tick(Self.times[0])
        #expect(tick.status == 0, "\(tick.stdout) \(tick.stderr)")
        var status = try world.status()
        let a = try #require(status.cron(world.cron)?["desiredDigest"] as? String)
        #expect(a.hasPrefix("etag:\"") && a.hasSuffix("\""), "\(a)")
        let volumeA = try world.volume(a)
        #expect(tick.stdout.contains("\(world.cron): polled \(a), imported \(volumeA)"), "\(tick.stdout)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: world.disk(volumeA))).prefix(diskA.count) == diskA)
        #expect(try FileManager.default.attributesOfItem(atPath: world.disk(volumeA))[.size] as? Int == 8 << 20)
        #expect(status.dataSource(world.dataSource)?["volume"] as? String == volumeA)
        #expect(status.dataSource(world.dataSource)?["ready"] as? Bool == true)
        #expect(status.condition(world.cron, "UpToDate")?.status == "True")
        #expect(status.cron(world.cron)?["outdated"] as? Int == 0)

        // Unchanged: one HEAD answered 304, not one body byte of the image.
        var before = try world.requests().count
        tick = try world.tick(Self.times[1])
        #expect(tick.status == 0, "\(tick.stderr)")
        #expect(tick.stdout.contains("\(world.cron): polled \(a), up to date"), "\(tick.stdout)")
        var during = try world.requests().dropFirst(before)
        #expect(during.map(\.method) == ["HEAD"], "\(during)")
        #expect(during.map(\.status) == [304], "\(during)")
        #expect(during.map(\.bodyBytes).reduce(0, +) == 0, "\(during)")

        // Changed (a new mtime, so a new ETag): imported, the DataSource moves, the old volume is collected.
        let diskB = try world.makeDisk("B")
        try world.serve(diskB, as: "disk.img", modified: Self.t0.addingTimeInterval(60))
        before = try world.requests().count
        tick = try world.tick(Self.times[2])
        #expect(tick.status == 0, "\(tick.stderr)")
        status = try world.status()
        let b = try #require(status.cron(world.cron)?["desiredDigest"] as? String)
        #expect(b != a)
        let volumeB = try world.volume(b)
        #expect(tick.stdout.contains("\(world.cron): polled \(b), imported \(volumeB)"), "\(tick.stdout)")
        during = try world.requests().dropFirst(before)
        #expect(during.map(\.method) == ["HEAD", "GET"], "\(during)")
        #expect(during.map(\.bodyBytes) == [0, diskB.count], "\(during)")
        #expect(status.dataSource(world.dataSource)?["volume"] as? String == volumeB)
        #expect(status.volumeNames == [volumeB])
        #expect(try world.volumeDirectories() == [volumeB])
        #expect(try Data(contentsOf: URL(fileURLWithPath: world.disk(volumeB))).prefix(diskB.count) == diskB)
    }

    @Test func withoutAnETagLastModifiedAndTheLengthAreTheIdentity() throws {
        let world = try CronHTTPWorld("lastmod")
        let diskA = try world.makeDisk("A")
        try world.serve(diskA, as: "disk.img", modified: Self.t0)
        try world.writeConfig(world.cronYAML(url: try world.url("disk.img", location: "scratch-noetag")))
        var tick = try world.tick(Self.times[0])
        #expect(tick.status == 0, "\(tick.stdout) \(tick.stderr)")
        let a = try #require(try world.status().cron(world.cron)?["desiredDigest"] as? String)
        #expect(a == "last-modified:Mon, 21 Sep 2026 14:13:20 GMT;length:\(diskA.count)", "\(a)")
        #expect(tick.stdout.contains("imported \(try world.volume(a))"), "\(tick.stdout)")

        var before = try world.requests().count
        tick = try world.tick(Self.times[1])
        #expect(tick.stdout.contains("\(world.cron): polled \(a), up to date"), "\(tick.stdout) \(tick.stderr)")
        let during = try world.requests().dropFirst(before)
        #expect(during.map(\.description) == ["HEAD \(world.urlPath("disk.img", location: "scratch-noetag")) 304 0"], "\(during)")

        try world.serve(try world.makeDisk("B"), as: "disk.img", modified: Self.t0.addingTimeInterval(3600))
        before = try world.requests().count
        tick = try world.tick(Self.times[2])
        let b = try #require(try world.status().cron(world.cron)?["desiredDigest"] as? String)
        #expect(b == "last-modified:Mon, 21 Sep 2026 15:13:20 GMT;length:\(diskA.count)", "\(b)")
        #expect(tick.stdout.contains("imported \(try world.volume(b))"), "\(tick.stdout) \(tick.stderr)")
        #expect(try world.status().volumeNames == [try world.volume(a), try world.volume(b)].sorted())
    }

    @Test func aChecksumThatDoesNotMatchRefusesTheImport() throws {
        let world = try CronHTTPWorld("sums")
        let disk = try world.makeDisk("A")
        try world.serve(disk, as: "disk.img", modified: Self.t0)
        let wrong = String(repeating: "0", count: 64)
        try world.serve(Data("\(wrong)  disk.img\n\(wrong)  other.img\n".utf8), as: "SHA256SUMS", modified: Self.t0)
        try world.writeConfig(world.cronYAML(url: try world.url("disk.img"), checksumsUrl: "SHA256SUMS"))

        var tick = try world.tick(Self.times[0])
        #expect(tick.status == 1, "\(tick.stdout) \(tick.stderr)")
        #expect(tick.stdout.contains("\(world.cron): polled etag:"), "\(tick.stdout)")
        #expect(tick.stdout.contains("failed: ") && tick.stdout.contains("checksum"), "\(tick.stdout)")
        var status = try world.status()
        #expect(status.cron(world.cron)?["desiredChecksum"] as? String == "sha256:\(wrong)")
        #expect(status.condition(world.cron, "Progressing")?.reason == "ImportFailed")
        #expect(status.condition(world.cron, "UpToDate")?.status == "False")
        #expect(status.cron(world.cron)?["outdated"] as? Int == 1)
        #expect(status.dataSource(world.dataSource)?["ready"] as? Bool == false)
        #expect(status.volumeNames.isEmpty)
        #expect(try world.volumeDirectories().isEmpty)

        // A checksums file without the image's line: the poll says so.
        try world.serve(Data("\(wrong)  other.img\n".utf8), as: "SHA256SUMS", modified: Self.t0)
        tick = try world.tick(Self.times[1])
        #expect(tick.status == 1)
        #expect(tick.stdout.contains("has no line for disk.img"), "\(tick.stdout)")

        // The right checksum (Fedora's tagged format): the file, unchanged on the server, imports.
        let sha = try Harness.run("sha256sum", [try world.servedPath("disk.img")]).stdout.prefix(64)
        try world.serve(Data("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n# disk.img: \(disk.count) bytes\nSHA256 (disk.img) = \(sha)\n".utf8),
                        as: "SHA256SUMS", modified: Self.t0)
        tick = try world.tick(Self.times[2])
        #expect(tick.status == 0, "\(tick.stdout) \(tick.stderr)")
        status = try world.status()
        let identity = try #require(status.cron(world.cron)?["desiredDigest"] as? String)
        #expect(tick.stdout.contains("imported \(try world.volume(identity))"), "\(tick.stdout)")
        #expect(status.dataSource(world.dataSource)?["ready"] as? Bool == true)
    }

    @Test func credentialsFromASecretABrokenImageAndARefusedLogin() throws {
        let world = try CronHTTPWorld("private")
        let diskA = try world.makeDisk("A")
        try world.serve(diskA, as: "disk.img", modified: Self.t0)
        try world.writeConfig(world.cronYAML(url: try world.url("disk.img", location: "scratch-private"), secretRef: "files-creds"))
        var tick = try world.tick(Self.times[0])
        #expect(tick.status == 0, "\(tick.stdout) \(tick.stderr)")
        let a = try #require(try world.status().cron(world.cron)?["desiredDigest"] as? String)
        let volumeA = try world.volume(a)
        #expect(try world.status().dataSource(world.dataSource)?["volume"] as? String == volumeA)
        world.http.expectNoCredentials(tick, user: try world.http.fixtures["FILES_USER"], password: try world.http.password)

        // A broken image (a qcow2 header over a file too short for its tables): the import fails, nothing of it
        // remains, the DataSource stays.
        try Harness.tool("qemu-img", "create", "-q", "-f", "qcow2", world.http.directory.file("broken.qcow2"), "64M")
        let broken = try Data(contentsOf: URL(fileURLWithPath: world.http.directory.file("broken.qcow2"))).prefix(300)
        try world.serve(broken, as: "disk.img", modified: Self.t0.addingTimeInterval(60))
        tick = try world.tick(Self.times[1])
        #expect(tick.status == 1)
        #expect(tick.stdout.contains("\(world.cron): polled etag:") && tick.stdout.contains("failed:"), "\(tick.stdout)")
        var status = try world.status()
        #expect(status.dataSource(world.dataSource)?["volume"] as? String == volumeA)
        #expect(status.dataSource(world.dataSource)?["ready"] as? Bool == true)
        #expect(status.condition(world.cron, "Progressing")?.reason == "ImportFailed")
        #expect(try world.volumeDirectories() == [volumeA])
        #expect(try Data(contentsOf: URL(fileURLWithPath: world.disk(volumeA))).prefix(diskA.count) == diskA)

        // A wrong password: NotAuthorized, nothing removed, no credential printed.
        try world.writeSecret("files-creds", ["accessKeyId": try world.http.fixtures["FILES_USER"], "secretKey": "not-the-password"])
        tick = try world.tick(Self.times[2])
        #expect(tick.status == 1)
        status = try world.status()
        let upToDate = try #require(status.condition(world.cron, "UpToDate"))
        #expect(upToDate.status == "False" && upToDate.reason == "NotAuthorized", "\(upToDate)")
        #expect(upToDate.message.contains("authentication failed (401)"), "\(upToDate.message)")
        #expect(!tick.stdout.contains("not-the-password") && !tick.stderr.contains("not-the-password"))
        #expect(status.dataSource(world.dataSource)?["volume"] as? String == volumeA)
    }

    @Test func aControllerKilledDuringAnHTTPImportIsCleanedUpAndFinishedByTheNextTick() throws {
        let world = try CronHTTPWorld("killed")
        let disk = try world.makeDisk("K", size: 3 << 20)
        try world.serve(disk, as: "disk.img", modified: Self.t0)
        // Through a proxy that stalls each connection after 256 KiB from nginx: the HEAD passes, the body hangs.
        let proxy = try FaultProxy(world.http.fixtures, target: try world.http.fixtures["FILES_PORT"], ["--stall-after", "262144", "--stalls", "1000"])
        defer { withExtendedLifetime(proxy) {} }
        try world.writeConfig(world.cronYAML(url: try world.url("disk.img", port: String(proxy.port))))
        let identity = "etag:" + (try Harness.run("curl", ["-sI", "--cacert", try world.http.fixtures["CA_FILE"], try world.url("disk.img")])
            .stdout.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") }.map { String($0.dropFirst(5)).trimmingCharacters(in: .whitespaces) } ?? "")
        let volume = try world.volume(identity)
        try killTickMidImport(world, volume: volume)

        // Killed mid-import: the DataSource never moved, no volume is listed.
        var status = try world.status()
        #expect(status.cron(world.cron)?["desiredDigest"] as? String == identity)
        #expect(status.dataSource(world.dataSource)?["ready"] as? Bool != true)
        #expect(status.volumeNames.isEmpty)

        // The next tick, straight to nginx: the half-written volume goes, the same version imports whole.
        try world.writeConfig(world.cronYAML(url: try world.url("disk.img")))
        let tick = try world.tick("2026-11-23T00:00:00Z")
        #expect(tick.status == 0, "\(tick.stdout) \(tick.stderr)")
        #expect(tick.stderr.contains("removing half-written volume \(volume)"), "\(tick.stderr)")
        #expect(tick.stdout.contains("\(world.cron): imported \(volume)"), "\(tick.stdout)")
        status = try world.status()
        #expect(status.dataSource(world.dataSource)?["volume"] as? String == volume)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(world.storage)/volumes/\(volume)") == ["disk.img"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: world.disk(volume))).prefix(disk.count) == disk)
    }
}
