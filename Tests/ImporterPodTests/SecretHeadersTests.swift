import Foundation
import Testing
@testable import ImporterPod

@Suite struct SecretHeadersTests {
    @Test func secretHeaderFilesAreReadAsCDIMountsThem() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("secret-headers-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // /extraheaders/0/token with the kubelet's ..data indirection, /extraheaders/1/other.
        try FileManager.default.createDirectory(atPath: dir + "/0/..2026_11_24", withIntermediateDirectories: true)
        try "Authorization: Bearer abc\n".write(toFile: dir + "/0/..2026_11_24/token", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/0/..data", withDestinationPath: "..2026_11_24")
        try FileManager.default.createSymbolicLink(atPath: dir + "/0/token", withDestinationPath: "..data/token")
        try FileManager.default.createDirectory(atPath: dir + "/1", withIntermediateDirectories: true)
        try "X-Other: 1".write(toFile: dir + "/1/other", atomically: true, encoding: .utf8)

        let headers = try HeaderLine.fromSecretDirectory(dir)
        #expect(headers.map(\.line) == ["Authorization: Bearer abc", "X-Other: 1"])
        #expect(headers.allSatisfy { $0.isSecret })
        #expect(!"\(headers)".contains("abc"))
        #expect(try HeaderLine.fromSecretDirectory(dir + "/missing").isEmpty)
    }
}
