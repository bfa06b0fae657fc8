import Foundation

/// The SigV4 signing region of an S3 endpoint, as CDI derives it (pkg/importer/s3-datasource.go, extractRegion):
/// `s3.REGION.amazonaws.com` gives REGION, any other host its first DNS label ("minio:9000" → "minio",
/// "127.0.0.1:9000" → "127"), and a host that yields no DNS label (IPv6, an underscore, nothing) us-east-1.
public enum S3Region {
    public static let fallback = "us-east-1"

    /// `host` is the endpoint's authority: a host name or address, with or without a port.
    public static func derived(fromHost host: String) -> String {
        var name = Substring(host)
        // net.SplitHostPort: "[v6]:port" or "name:port" (a bare IPv6 address has several colons and no port).
        if name.hasPrefix("["), let close = name.firstIndex(of: "]") {
            name = name[name.index(after: name.startIndex)..<close]
        } else if name.filter({ $0 == ":" }).count == 1, let colon = name.firstIndex(of: ":") {
            name = name[..<colon]
        }
        let region: Substring
        if let match = amazonRegion(name) {
            region = match
        } else {
            region = name.split(separator: ".", omittingEmptySubsequences: false).first ?? ""
        }
        return isDNSName(region) ? String(region) : fallback
    }

    /// The region of an AWS endpoint host `s3.REGION.amazonaws.com` (the regexp `s3\.(.+)\.amazonaws\.com`).
    static func amazonRegion(_ host: Substring) -> Substring? {
        guard let start = host.range(of: "s3."), let end = host.range(of: ".amazonaws.com", options: .backwards),
              start.upperBound < end.lowerBound else { return nil }
        return host[start.upperBound..<end.lowerBound]
    }

    /// Dot-separated labels of letters, digits and hyphens, 1-63 long, not starting or ending with a hyphen (the
    /// check aws-sdk-go-v2 makes of a signing region, which CDI mirrors).
    static func isDNSName(_ text: Substring) -> Bool {
        guard !text.isEmpty else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            label.count >= 1 && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || $0 == 0x2d }
        }
    }
}
