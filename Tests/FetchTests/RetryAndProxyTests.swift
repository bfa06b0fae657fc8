import DiskImportCore
import Testing
@testable import Fetch

/// The retry back-off's bounds and spread, and which `--proxy` values are refused before any request.
@Suite struct RetryAndProxyTests {
    @Test(arguments: [(1, 0.25, 0.75), (2, 0.5, 1.5), (3, 1.0, 3.0), (5, 4.0, 12.0), (9, 4.0, 12.0)])
    func backoffDoublesAndIsJittered(failures: Int, low: Double, high: Double) {
        var random = SystemRandomNumberGenerator()
        let waits = (0..<200).map { _ in RetryBudget.backoff(failures: failures, options: HTTPOptions(), using: &random) }
        #expect(waits.allSatisfy { $0 >= low && $0 <= high }, "\(waits.min()!)...\(waits.max()!)")
        // Jitter: the waits spread over most of the range instead of repeating one value.
        #expect(waits.max()! - waits.min()! > (high - low) * 0.6)
    }

    @Test func secondsArePrintedShort() {
        #expect(RetryBudget.seconds(0.6) == "0.6")
        #expect(RetryBudget.seconds(2) == "2")
        #expect(RetryBudget.seconds(11.4) == "11")
    }

    @Test func theConnectPeerOfLibcurlsMessageIsFound() {
        let peer = TransferFailure.connectPeer("Failed to connect to proxy.example port 3128 after 0 ms: Couldn't connect to server")
        #expect(peer?.name == "proxy.example" && peer?.shown == "proxy.example:3128")
        #expect(TransferFailure.connectPeer("Failed to connect to ::1 port 80 after 1 ms: Couldn't connect to server")?.shown == "[::1]:80")
        #expect(TransferFailure.connectPeer("Connection timed out after 1001 milliseconds") == nil)
        #expect(TransferFailure.endpoint(of: "https://example.com/x") == "example.com:443")
        #expect(TransferFailure.endpoint(of: "http://[::1]:8080/x") == "[::1]:8080")
        #expect(TransferFailure.endpoint(of: "http://u:p@host/x?q") == "host:80")
    }

    @Test(arguments: ["http://proxy.example:3128", "https://127.0.0.1:8443/", "socks5h://user:secret@[::1]:1080", "proxy:3128",
                      "http://proxy"])
    func proxyURLsAreAccepted(text: String) throws {
        #expect(try HTTPOptions.checkedProxy(text) == text)
    }

    @Test(arguments: [("notaurl", "no scheme and no port"), ("ftp://proxy:21", "the scheme ftp"),
                      ("http://proxy:99999", "the port 99999"), ("http://", "it has no host"), ("http://proxy/path", "it has a path after the host"),
                      ("http://pro xy:80", "pro xy is not a host name")])
    func proxyValuesThatAreNotURLsSayWhy(text: String, why: String) throws {
        let error = try #require(throws: DiskImportError.self) { try HTTPOptions.checkedProxy(text) }
        #expect(error.kind == .usage)
        #expect(error.message.contains("--proxy \(text) is not a proxy URL: \(why)"), "\(error.message)")
    }
}
