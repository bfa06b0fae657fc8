/// Whether a response is an HTML page rather than the file asked for: a server's directory listing, a login or error
/// page served with 200. Such a body would otherwise be copied as a raw disk.
public enum HTMLPage {
    /// Whether a Content-Type value is `text/html` (parameters such as a charset aside).
    public static func isHTMLType(_ contentType: String?) -> Bool {
        contentType?.split(separator: ";").first?.filter({ $0 != " " && $0 != "\t" }).lowercased() == "text/html"
    }

    /// Whether a body starts as HTML does, by the HTML signatures of the WHATWG MIME Sniffing Standard (section 7.1,
    /// "rules for identifying an unknown MIME type"): after whitespace, one of these tags, case-insensitive, followed
    /// by a space or `>`; or `<!--`.
    public static func startsLikeHTML(_ head: [UInt8]) -> Bool {
        var body = head[...]
        if body.starts(with: [0xef, 0xbb, 0xbf]) { body = body.dropFirst(3) }
        body = body.drop { [0x09, 0x0a, 0x0c, 0x0d, 0x20].contains($0) }
        let text = body.prefix(16).map { $0 >= 0x41 && $0 <= 0x5a ? $0 + 0x20 : $0 }
        if text.starts(with: Array("<!--".utf8)) { return true }
        for tag in tags {
            let pattern = Array(tag.utf8)
            if text.starts(with: pattern), text.count > pattern.count, [0x20, 0x3e].contains(text[pattern.count]) { return true }
        }
        return false
    }

    /// The bytes of the head that `startsLikeHTML` looks at.
    public static let headLength = 64

    private static let tags = ["<!doctype html", "<html", "<head", "<script", "<iframe", "<h1", "<div", "<font", "<table",
                               "<a", "<style", "<title", "<b", "<body", "<br", "<p"]
}
