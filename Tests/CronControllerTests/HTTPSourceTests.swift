import DiskImportCore
import Fetch
import Foundation
import Testing

@testable import CronController

@Suite struct HTTPSourceTests {
    @Test func anIdentityIsTheETagElseTheDateAndLength() throws {
        let tagged = try HTTPSourceIdentity(HTTPValidators(etag: "\"65f1-400000\"", lastModified: "Wed, 13 Mar 2026 10:00:00 GMT",
                                                          contentLength: 4_194_304), url: "https://h/x.img")
        #expect(tagged.description == "etag:\"65f1-400000\"")
        #expect(tagged.pinHeaders == ["If-Match: \"65f1-400000\""])
        let dated = try HTTPSourceIdentity(HTTPValidators(lastModified: "Wed, 13 Mar 2026 10:00:00 GMT", contentLength: 7), url: "https://h/x.img")
        #expect(dated.description == "last-modified:Wed, 13 Mar 2026 10:00:00 GMT;length:7")
        #expect(dated.pinHeaders == ["If-Unmodified-Since: Wed, 13 Mar 2026 10:00:00 GMT"])
        // A weak tag cannot pin (If-Match compares strongly).
        #expect(try HTTPSourceIdentity(HTTPValidators(etag: "W/\"1\""), url: "https://h/x").pinHeaders.isEmpty)
        // They read back as they were.
        for identity in [tagged, dated] { #expect(HTTPSourceIdentity(stored: identity.description) == identity) }
        #expect(HTTPSourceIdentity(stored: "sha256:" + String(repeating: "a", count: 64)) == nil)
        #expect(HTTPSourceIdentity(stored: "etag:\"a\nb\"") == nil)
    }

    @Test func aServerWithoutValidatorsIsRefused() {
        #expect(throws: DiskImportError.self) { _ = try HTTPSourceIdentity(HTTPValidators(contentLength: 9), url: "https://u:p@h/x.img") }
        do {
            _ = try HTTPSourceIdentity(HTTPValidators(contentLength: 9), url: "https://u:p@h/x.img")
        } catch let error as DiskImportError {
            #expect(error.message == "https://h/x.img has neither an ETag nor a Last-Modified header: its versions cannot be told apart")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func aVolumeIsNamedFromAHashOfTheIdentity() throws {
        var cron = makeCron("deb", dataSource: "debian")
        cron.source = .http(HTTPSource(url: "https://h/debian.qcow2"))
        // printf %s 'etag:"abc"' | sha256sum
        #expect(try CronReconciler.volumeName(cron, digest: "etag:\"abc\"") == "debian-7b46385c2455")
    }

    static let sha = String(repeating: "ab", count: 32)
    static let sha512 = String(repeating: "cd", count: 64)

    @Test func checksumsFilesInTheFormatsMirrorsPublish() throws {
        let gnu = "\(Self.sha)  debian-12.qcow2\n\(Self.sha512) *noble.img\n"
        #expect(try ChecksumsFile.checksum(for: "debian-12.qcow2", in: gnu, source: "S").description == "sha256:\(Self.sha)")
        #expect(try ChecksumsFile.checksum(for: "noble.img", in: gnu, source: "S").description == "sha512:\(Self.sha512)")
        let fedora = """
            -----BEGIN PGP SIGNED MESSAGE-----
            Hash: SHA256

            # Fedora-Cloud-Base-Generic-42-1.1.x86_64.qcow2: 536870912 bytes
            SHA256 (Fedora-Cloud-Base-Generic-42-1.1.x86_64.qcow2) = \(Self.sha.uppercased())
            -----BEGIN PGP SIGNATURE-----
            iQIzBAEBCAAdFiEE
            -----END PGP SIGNATURE-----
            """
        #expect(try ChecksumsFile.checksum(for: "Fedora-Cloud-Base-Generic-42-1.1.x86_64.qcow2", in: fedora, source: "S").description
            == "sha256:\(Self.sha)")
        let escaped = "\\\(Self.sha)  dir\\\\name\\nx.img\r\n"
        #expect(try ChecksumsFile.checksum(for: "dir\\name\nx.img", in: escaped, source: "S").hex == Self.sha)
    }

    @Test func aMissingOrAmbiguousLineIsAnError() {
        func message(_ text: String) -> String {
            do {
                _ = try ChecksumsFile.checksum(for: "disk.img", in: text, source: "https://h/SUMS")
                return "no error"
            } catch {
                return (error as? DiskImportError)?.message ?? "\(error)"
            }
        }
        #expect(message("\(Self.sha)  other.img\nnot a line\n") == "checksums file https://h/SUMS has no line for disk.img")
        let other = String(repeating: "ef", count: 32)
        #expect(message("\(Self.sha)  disk.img\n\(other)  disk.img\n").contains("lists disk.img with 2 different checksums"))
        // The same line twice is one checksum; a hex of no algorithm's length is not a line.
        #expect(message("\(Self.sha)  disk.img\n\(Self.sha)  disk.img\n") == "no error")
        #expect(message("abc  disk.img\n").contains("has no line"))
    }

    @Test func anHTTPCronPollsConditionallyAndImportsPinnedAndVerified() throws {
        let f = try Fixture()
        let url = "https://mirror.local/images/debian.qcow2"
        var cron = makeCron("debian-cron", dataSource: "debian")
        cron.source = .http(HTTPSource(url: url))
        let identity = "etag:\"65f1-400000\""
        f.registry.push(url, identity, checksum: "sha256:\(Self.sha)")
        let outcomes = try f.tick(configOf(cron), at: "2026-11-23T00:00:00Z")
        let volume = try CronReconciler.volumeName(cron, digest: identity)
        #expect(outcomes == [CronTickOutcome(cron: "debian-cron", polled: true, digest: identity, action: .imported(volume: volume))])
        let request = try #require(f.importer.requests.first)
        #expect(request.reference == url)
        #expect(request.pin == ["If-Match: \"65f1-400000\""])
        #expect(request.checksum == "sha256:\(Self.sha)")
        #expect(try f.store.volume(volume)?.source == url)
        // The next poll is told of the version it saw.
        try f.tick(configOf(cron), at: "2026-11-23T12:00:00Z")
        #expect(f.registry.previousVersions == [nil, identity])
        #expect(f.importer.count == 1)
        // Another URL: its first poll is unconditional, whatever the old file's tag was.
        cron.source = .http(HTTPSource(url: url + ".new"))
        f.registry.push(url + ".new", identity)
        try f.tick(configOf(cron), at: "2026-11-24T00:00:00Z")
        #expect(f.registry.previousVersions == [nil, identity, nil])
    }

    @Test func anHTTPIdentityThatIsNotOneIsAPollFailure() throws {
        let f = try Fixture()
        var cron = makeCron("c")
        cron.source = .http(HTTPSource(url: "https://h/x.img"))
        f.registry.push("https://h/x.img", "sha256:" + String(repeating: "a", count: 64))
        let outcomes = try f.tick(configOf(cron), at: "2026-11-23T00:00:00Z")
        guard case .failed(let message) = outcomes.first?.action else { Issue.record("expected a failure"); return }
        #expect(message.contains("is not an ETag or a Last-Modified date"))
        #expect(try f.condition("c", "UpToDate")?.reason == "NoDigest")
    }
}
