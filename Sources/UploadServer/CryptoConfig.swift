import NIOSSL

/// TLS_CIPHERS and TLS_MIN_VERSION, as CDI's upload server reads them (cmd/cdi-uploadserver getCryptoConfig:
/// pkg/util/tls-crypto-watch CipherSuitesIDs and openshift/library-go crypto.TLSVersion).
struct CryptoConfig: Sendable, Equatable {
    /// The TLS 1.2 cipher suites allowed; empty: the TLS library's defaults. (TLS 1.3 suites are not configurable,
    /// in Go as in BoringSSL.)
    var cipherSuites: [NIOTLSCipher]
    var minimumVersion: TLSVersion
    /// Names in TLS_CIPHERS that mean nothing here (CDI drops them silently; they are logged).
    var unknownCiphers: [String]
    /// TLS_MIN_VERSION when it is not one of CDI's names (CDI then uses Go's default, TLS 1.2).
    var unknownVersion: String?

    /// Go's TLS versions by CDI's names; unset means TLS 1.2 (library-go's DefaultTLSVersion).
    static let versions: [String: TLSVersion] = [
        "VersionTLS10": .tlsv1, "VersionTLS11": .tlsv11, "VersionTLS12": .tlsv12, "VersionTLS13": .tlsv13,
    ]

    /// CDI's cipher table: OpenSSL names (CipherSuitesIDs' own map) and the IANA names Go's tls.CipherSuites()
    /// adds, each to the suite's code point; only suites BoringSSL implements are listed (the rest: unknown).
    static let ciphers: [String: NIOTLSCipher] = {
        let suites: [(openSSL: String?, iana: String, cipher: NIOTLSCipher)] = [
            ("ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
            ("ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
            ("ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
            ("ECDHE-RSA-AES256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
            ("ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
            ("ECDHE-RSA-CHACHA20-POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
            ("AES128-GCM-SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256", .TLS_RSA_WITH_AES_128_GCM_SHA256),
            ("AES256-GCM-SHA384", "TLS_RSA_WITH_AES_256_GCM_SHA384", .TLS_RSA_WITH_AES_256_GCM_SHA384),
            ("ECDHE-ECDSA-AES128-SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", .TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA),
            ("ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", .TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA),
            ("ECDHE-ECDSA-AES256-SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", .TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA),
            ("ECDHE-RSA-AES256-SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", .TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA),
            ("AES128-SHA", "TLS_RSA_WITH_AES_128_CBC_SHA", .TLS_RSA_WITH_AES_128_CBC_SHA),
            ("AES256-SHA", "TLS_RSA_WITH_AES_256_CBC_SHA", .TLS_RSA_WITH_AES_256_CBC_SHA),
        ]
        var table: [String: NIOTLSCipher] = [:]
        for suite in suites {
            if let name = suite.openSSL { table[name] = suite.cipher }
            table[suite.iana] = suite.cipher
        }
        return table
    }()

    /// TLS 1.3 suites, which Go accepts in TLS_CIPHERS and ignores, as BoringSSL cannot restrict them either.
    static let tls13Suites: Set<String> = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]

    init(ciphers text: String, minimumVersion versionText: String) {
        var suites: [NIOTLSCipher] = [], unknown: [String] = []
        for name in text.split(separator: ",").map({ $0.trimmedSpaces() }) where !name.isEmpty {
            if let suite = Self.ciphers[name] {
                if !suites.contains(suite) { suites.append(suite) }
            } else if !Self.tls13Suites.contains(name) {
                unknown.append(name)
            }
        }
        cipherSuites = suites
        unknownCiphers = unknown
        if versionText.isEmpty {
            minimumVersion = .tlsv12
            unknownVersion = nil
        } else if let version = Self.versions[versionText] {
            minimumVersion = version
            unknownVersion = nil
        } else {
            minimumVersion = .tlsv12
            unknownVersion = versionText
        }
    }
}
