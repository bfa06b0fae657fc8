import Foundation
import Testing

/// Network failures are retried with jittered back-off, each retry said on stderr, within a time bound.
@Suite struct HTTPRetryTests {
    /// A loopback port nothing listens on (bound once to pick it, then closed).
    private func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The waits announced on stderr ("retry N of M in X s"), in order.
    private func waits(_ stderr: String) -> [Double] {
        stderr.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: " in ", options: .backwards), line.hasSuffix(" s"), line.contains("; retry ") else { return nil }
            return Double(line[range.upperBound...].dropLast(2))
        }
    }

    @Test func aClosedPortIsRetriedWithBackoffEachRetrySaid() throws {
        let dir = try TemporaryDirectory()
        let port = try closedPort()
        let started = Date()
        let result = try Harness.diskimport("convert", "http://127.0.0.1:\(port)/disk.raw", dir.file("out.img"), "--retries", "3")
        let elapsed = Date().timeIntervalSince(started)
        try Harness.expectFailure(result, containing: "cannot connect to 127.0.0.1:\(port): Connection refused (gave up after 3 retries)",
                                  leavingNothingNamed: "out.img", in: dir)
        for attempt in 1...3 {
            #expect(result.stderr.contains("warning: cannot connect to 127.0.0.1:\(port): Connection refused; retry \(attempt) of 3 in "),
                    "\(result.stderr)")
        }
        #expect(!result.stderr.contains("after 0 ms"), "libcurl's connect time is not a retry delay: \(result.stderr)")
        // 0.5 s doubled, each from 50% to 150% (printed to a tenth).
        let announced = waits(result.stderr)
        #expect(announced.count == 3)
        for (wait, base) in zip(announced, [0.5, 1.0, 2.0]) {
            #expect(wait >= base * 0.5 - 0.05 && wait <= base * 1.5 + 0.05, "\(announced)")
        }
        #expect(elapsed >= announced.reduce(0, +) - 0.2 && elapsed < announced.reduce(0, +) + 5, "\(elapsed) s for \(announced)")
    }

    /// A proxy that is down is named as the proxy, not as the host it was to reach.
    @Test func aProxyThatIsDownIsNamed() throws {
        let dir = try TemporaryDirectory()
        let proxyPort = try closedPort()
        let result = try Harness.diskimport("convert", "http://127.0.0.1:9/disk.raw", dir.file("out.img"),
                                            "--proxy", "http://127.0.0.1:\(proxyPort)", "--retries", "0")
        try Harness.expectFailure(result, containing: "cannot connect to the proxy 127.0.0.1:\(proxyPort) (for 127.0.0.1:9): Connection refused",
                                  leavingNothingNamed: "out.img", in: dir)
    }

    @Test func retriesStopAtTheRetryTimeLimit() throws {
        let dir = try TemporaryDirectory()
        let port = try closedPort()
        let started = Date()
        let result = try Harness.diskimport("convert", "http://127.0.0.1:\(port)/disk.raw", dir.file("out.img"),
                                            "--retries", "100", "--retry-max-time", "3")
        #expect(result.status == 1)
        #expect(result.stderr.contains("failed attempts in ") && result.stderr.contains("s: --retry-max-time 3)"), "\(result.stderr)")
        #expect(Date().timeIntervalSince(started) < 8)
    }
}
