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
