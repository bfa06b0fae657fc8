import Foundation
import Testing

/// Issue 18 §5: no credential the suite uses may appear in anything diskimport prints, logs or writes as a
/// termination message. `Harness.run` scans every run of the binary; the harnesses that start it in the background
/// (pods, upload servers) scan their logs and termination messages; scripts/test scans the whole test log too.
///
/// The credentials are the fixtures' own: the registry and file-server passwords (and their basic-auth encodings),
/// the S3 secret keys and session tokens, the GCS service accounts' private keys, and every bearer token the token
/// servers issued during the run (they append each to a file as they issue it).
enum SecretScan {
    /// fixtures.env keys naming files whose whole content is a credential.
    static let credentialFiles = [
        "REG_PASSWORD_FILE", "FILES_PASSWORD_FILE", "S3_SECRET_KEY_FILE", "S3_NOBODY_SECRET_KEY_FILE",
        "S3_SESSION_SECRET_KEY_FILE", "S3_SESSION_TOKEN_FILE", "S3_EXPIRED_SECRET_KEY_FILE", "S3_EXPIRED_TOKEN_FILE",
    ]
    /// fixtures.env keys naming files of issued tokens, one per line, which grow while the suite runs.
    static let issuedTokenFiles = ["GCS_ISSUED_TOKENS", "REGISTRY_ISSUED_TOKENS"]
    /// fixtures.env keys naming service-account JSON files whose `private_key` is a credential.
    static let serviceAccountFiles = ["GCS_KEY_FILE", "GCS_SHORT_KEY_FILE", "GCS_UNKNOWN_KEY_FILE"]

    /// The fixed credentials, each with the name to report instead of its value (read once).
    static let fixed: [(name: String, value: String)] = {
        guard let fixtures = Fixtures.current else { return [] }
        var found: [(String, String)] = []
        for key in credentialFiles {
            if let value = try? fixtures.contents(of: key), !value.isEmpty { found.append((key, value)) }
        }
        for (user, passwordKey) in [("REG_USER", "REG_PASSWORD_FILE"), ("FILES_USER", "FILES_PASSWORD_FILE")] {
            if let name = fixtures.values[user], let password = try? fixtures.contents(of: passwordKey) {
                found.append(("basic auth of \(name)", Data("\(name):\(password)".utf8).base64EncodedString()))
            }
        }
        for key in serviceAccountFiles {
            if let key = privateKeyBody(of: key, in: fixtures) { found.append(key) }
        }
        return found
    }()

    /// A long line from the middle of the account's PEM private key: any printed copy of the key contains it.
    static func privateKeyBody(of key: String, in fixtures: Fixtures) -> (name: String, value: String)? {
        guard let data = try? fixtures.contents(of: key).data(using: .utf8),
              let account = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let pem = account["private_key"] as? String else { return nil }
        let lines = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") && $0.count >= 40 }
        return lines.isEmpty ? nil : ("private key of \(key)", String(lines[lines.count / 2]))
    }

    /// The tokens issued so far (read each time: the files grow).
    static var issued: [(name: String, value: String)] {
        guard let fixtures = Fixtures.current else { return [] }
        return issuedTokenFiles.flatMap { key in
            ((try? fixtures.contents(of: key)) ?? "").split(separator: "\n").filter { $0.count >= 16 }
                .map { ("a token from \(key)", String($0)) }
        }
    }

    /// The names of the credentials `text` contains (never their values).
    static func leaks(in text: String) -> [String] {
        guard !text.isEmpty else { return [] }
        return (fixed + issued).filter { text.contains($0.value) }.map(\.name)
    }

    /// Records a test failure for every credential found in one of `outputs` (what: output).
    static func expectNone(in outputs: [(what: String, text: String?)], sourceLocation: SourceLocation = #_sourceLocation) {
        for (what, text) in outputs {
            let names = leaks(in: text ?? "")
            if !names.isEmpty {
                Issue.record("a credential appears in diskimport's \(what): \(Set(names).sorted().joined(separator: ", "))",
                             sourceLocation: sourceLocation)
            }
        }
    }
}

@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct SecretScanTests {
    /// The scanner knows every kind of credential the fixtures hold, and finds each inside other text.
    @Test func theScannerFindsEachKindOfCredential() throws {
        let names = SecretScan.fixed.map(\.name)
        for key in SecretScan.credentialFiles { #expect(names.contains(key), "\(key) is not scanned for") }
        #expect(names.filter { $0.hasPrefix("basic auth of") }.count == 2)
        #expect(names.filter { $0.hasPrefix("private key of") }.count == SecretScan.serviceAccountFiles.count)
        for (name, value) in SecretScan.fixed {
            #expect(SecretScan.leaks(in: "diskimport: error: x \(value) y\n").contains(name))
        }
        #expect(SecretScan.leaks(in: "diskimport: error: authentication failed (401) for https://127.0.0.1/x\n").isEmpty)
    }

    /// A registry pull through the token server records the tokens it was given, so the scan covers them.
    @Test func tokensTheRegistryIssuedAreScannedFor() throws {
        let registry = try RegistryFixture()
        let before = SecretScan.issued.count
        let target = "token.img"
        let result = try registry.convert("docker://127.0.0.1:\(try registry.fixtures["REG_TOKEN_PORT"])/private/disk:latest",
                                          try registry.trust + registry.login + ["--arch", "amd64"], target: target)
        #expect(result.status == 0, "\(result.stderr)")
        let issued = SecretScan.issued
        #expect(issued.count > before, "the token server recorded no token")
        if let token = issued.last { #expect(SecretScan.leaks(in: "Bearer \(token.value)") == ["a token from REGISTRY_ISSUED_TOKENS"]) }
    }
}
