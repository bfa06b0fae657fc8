import Foundation
import Testing

/// Dropped and stalled connections (scripts/fault-proxy between diskimport and nginx): resumed with ranges,
/// restarted on servers without them, and a clear error when the file changed or the server went silent.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct HTTPResumeTests {
    @Test(arguments: [[], ["--reset"]])
    func threeCutsGiveIdenticalOutput(cut: [String]) throws {
        let http = try HTTPFixture()
        let proxy = try FaultProxy(http.fixtures, target: try http.fixtures["FILES_PORT"], ["--cut-after", "1000000", "--cuts", "3"] + cut)
        let result = try http.convert(try http.files("private/disk.raw", port: String(proxy.port)), try http.trust + http.login + ["-v"])
        try http.expectIdentical(result)
        // Three cut downloads, the one that finishes, and the ranged read of the raw image's last sector (the DMG check),
        // whose kept-alive connection a resumed download may take over.
        let faults = proxy.connections.map { $0["fault"] as? String }
        #expect(faults.compactMap { $0 } == ["cut", "cut", "cut"], "\(proxy.connections)")
        #expect((4...5).contains(faults.count), "\(proxy.connections)")
    }

    @Test func aCompressedSourceResumesToo() throws {
        let http = try HTTPFixture()
        let proxy = try FaultProxy(http.fixtures, target: try http.fixtures["FILES_PORT"], ["--cut-after", "300000", "--cuts", "2"])
        try http.expectIdentical(try http.convert(try http.files("disk.raw.gz", port: String(proxy.port)), try http.trust))
        #expect(proxy.connections.count == 3)
    }

    /// nginx with `max_ranges 0` answers 200 to a Range request: the stream re-reads from the start and drops
    /// what it already delivered, proven unchanged by the ETag, or by a SHA-256 of the prefix when there is none.
    @Test(arguments: ["noranges", "noranges-noetag"])
    func aServerWithoutRangesIsRestartedFromZero(location: String) throws {
        let http = try HTTPFixture()
        let proxy = try FaultProxy(http.fixtures, target: try http.fixtures["FILES_PORT"], ["--cut-after", "1500000", "--cuts", "2"])
        let result = try http.convert(try http.files("\(location)/disk.raw", port: String(proxy.port)), try http.trust + ["-v"])
        try http.expectIdentical(result)
        #expect(result.stderr.contains("does not resume ranges"))
    }

    @Test(arguments: ["scratch", "noranges-noetag/scratch"])
    func aFileChangedDuringTheDownloadIsAnError(location: String) throws {
        let http = try HTTPFixture()
        let copy = try http.servedCopy("changing.raw")
        defer { try? FileManager.default.removeItem(atPath: copy.path) }
        // After the cut: new bytes past the cut point and in the delivered prefix, and a new mtime (a new ETag).
        let change = "printf XXXX | dd of=\(copy.path) bs=1 seek=3500000 conv=notrunc status=none; "
            + "printf YYYY | dd of=\(copy.path) bs=1 seek=100 conv=notrunc status=none; touch -d 2001-01-01 \(copy.path)"
        let proxy = try FaultProxy(http.fixtures, target: try http.fixtures["FILES_PORT"],
                                   ["--cut-after", "1500000", "--cuts", "1", "--on-cut", change])
        let name = (copy.path as NSString).lastPathComponent
        let result = try http.convert(try http.files("\(location)/\(name)", port: String(proxy.port)), try http.trust)
        try http.expectFailure(result, containing: "changed on the server during the download")
    }

    @Test func aStalledConnectionIsResumed() throws {
        let http = try HTTPFixture()
        let proxy = try FaultProxy(http.fixtures, target: try http.fixtures["FILES_PORT"], ["--stall-after", "1200000", "--stalls", "1"])
        let result = try http.convert(try http.files("disk.raw", port: String(proxy.port)), try http.trust + ["--stall-timeout", "1"])
        try http.expectIdentical(result)
    }

    /// A server that accepts the connection and never answers: the first-byte timeout, not the stall timeout, and
    /// each retry said on stderr.
    @Test func aServerThatStaysSilentTimesOut() throws {
        let http = try HTTPFixture()
        let proxy = try FaultProxy(http.fixtures, target: try http.fixtures["HTTP_PORT"], ["--stall-after", "1", "--stalls", "100"])
        let started = Date()
        let result = try http.convert("http://127.0.0.1:\(proxy.port)/disk.raw", ["--first-byte-timeout", "1", "--retries", "2"])
        try http.expectFailure(result, containing: "no response from 127.0.0.1:\(proxy.port) within 1 s of the request "
            + "(--first-byte-timeout) (gave up after 2 retries)")
        #expect(result.stderr.contains("retry 1 of 2 in ") && result.stderr.contains("retry 2 of 2 in "), "\(result.stderr)")
        #expect(Date().timeIntervalSince(started) < 15)
        #expect(proxy.connections.count == 3)
    }

    /// A TLS handshake that never completes is the connect timeout's.
    @Test func aHandshakeThatNeverEndsIsTheConnectTimeouts() throws {
        let http = try HTTPFixture()
        let proxy = try FaultProxy(http.fixtures, target: try http.fixtures["FILES_PORT"], ["--stall-after", "1", "--stalls", "100"])
        let started = Date()
        let result = try http.convert(try http.files("disk.raw", port: String(proxy.port)),
                                      try http.trust + ["--connect-timeout", "1", "--retries", "1"])
        try http.expectFailure(result, containing: "cannot connect to 127.0.0.1:\(proxy.port): no connection within 1 s (--connect-timeout)")
        #expect(Date().timeIntervalSince(started) < 15)
    }
}
