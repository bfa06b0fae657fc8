import DiskImportCore
import Foundation
import Testing
@testable import Fetch

/// The fixture servers of scripts/fixtures/start (DISKIMPORT_FIXTURES), for library-level tests.
enum FetchFixtures {
    static let values: [String: String]? = {
        guard let base = ProcessInfo.processInfo.environment["DISKIMPORT_FIXTURES"],
              let text = try? String(contentsOfFile: base + "/fixtures.env", encoding: .utf8) else { return nil }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }()
    static var available: Bool { values != nil }

    static func client() throws -> HTTPClient {
        var options = HTTPOptions()
        options.caFiles = [values?["CA_FILE"] ?? ""]
        options.retryDelay = 0.05
        return try HTTPClient(options: options)
    }

    static func url(_ path: String) -> String { "https://127.0.0.1:\(values?["FILES_PORT"] ?? "0")/\(path)" }
}

@Suite(.enabled(if: FetchFixtures.available, "needs DISKIMPORT_FIXTURES (scripts/test starts the servers)"))
struct HTTPRangeSourceTests {
    @Test func concurrentRangedReadsMatchTheFile() async throws {
        let source = try #require(try HTTPRangeSource.open(client: FetchFixtures.client(), url: FetchFixtures.url("disk.qcow2")))
        let local = try LocalFile(path: (FetchFixtures.values?["WWW_DIR"] ?? "") + "/disk.qcow2")
        #expect(source.length == local.length)
        // Unaligned reads anywhere, including across the end, from several tasks at once.
        let reads: [(UInt64, Int)] = (0..<48).map { i in (UInt64(i) * 52_711 % local.length, [1, 512, 65_536, 300_001][i % 4]) } + [(local.length - 10, 100)]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (offset, count) in reads {
                group.addTask {
                    var remote = [UInt8](repeating: 0, count: count), expected = [UInt8](repeating: 0, count: count)
                    let got = try remote.withUnsafeMutableBytes { try source.readFully(at: offset, into: $0) }
                    let want = try expected.withUnsafeMutableBytes { try local.readFully(at: offset, into: $0) }
                    #expect(got == want && remote == expected, "read of \(count) at \(offset)")
                }
            }
            try await group.waitForAll()
        }
        var past = [UInt8](repeating: 0, count: 10)
        #expect(try past.withUnsafeMutableBytes { try source.read(at: local.length, into: $0) } == 0)
    }

    @Test func aServerWithoutRangesGivesNoSource() throws {
        #expect(try HTTPRangeSource.open(client: FetchFixtures.client(), url: FetchFixtures.url("noranges/disk.qcow2")) == nil)
    }

    @Test func errorsAreThrownAtOpen() throws {
        #expect(throws: DiskImportError(.auth, "authentication failed (401) for \(FetchFixtures.url("private/disk.qcow2"))")) {
            _ = try HTTPRangeSource.open(client: FetchFixtures.client(), url: FetchFixtures.url("private/disk.qcow2"))
        }
    }

    @Test func aFileChangedAfterOpeningIsAnError() throws {
        let scratch = try #require(FetchFixtures.values?["SCRATCH_WWW_DIR"])
        let name = UUID().uuidString + ".raw"
        let path = scratch + "/" + name
        try Data(repeating: 7, count: 100_000).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let source = try #require(try HTTPRangeSource.open(client: FetchFixtures.client(), url: FetchFixtures.url("scratch/" + name)))
        try Data(repeating: 8, count: 100_000).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000_000)], ofItemAtPath: path)
        var buffer = [UInt8](repeating: 0, count: 4096)
        #expect {
            _ = try buffer.withUnsafeMutableBytes { try source.read(at: 1000, into: $0) }
        } throws: { error in
            (error as? DiskImportError)?.message.contains("changed on the server during the import") == true
        }
    }
}

@Suite(.enabled(if: FetchFixtures.available, "needs DISKIMPORT_FIXTURES (scripts/test starts the servers)"))
struct HTTPFetchTests {
    @Test func smallResponsesComeBackWithAnyStatus() throws {
        let client = try FetchFixtures.client()
        let ok = try client.fetch(FetchFixtures.url("disk.raw"), method: .head)
        #expect(ok.head.status == 200 && ok.body.isEmpty && ok.head.contentLength == 4_259_840)
        let denied = try client.fetch(FetchFixtures.url("private/disk.raw"))
        #expect(denied.head.status == 401 && denied.head["www-authenticate"]?.hasPrefix("Basic") == true)
        let registry = try client.fetch("https://127.0.0.1:\(FetchFixtures.values?["REG_BASIC_PORT"] ?? "0")/v2/")
        #expect(registry.head.status == 401 && registry.head["www-authenticate"] != nil)
    }

    @Test func aBodyOverTheLimitIsRefused() throws {
        #expect(throws: DiskImportError.self) {
            _ = try FetchFixtures.client().fetch(FetchFixtures.url("disk.raw"), limit: 1 << 20)
        }
    }
}
