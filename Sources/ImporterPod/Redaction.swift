/// Keeps credentials out of logs and messages.
enum Redaction {
    /// The endpoint without any `user:password@` part: `https://user:pw@host/x` prints as `https://<redacted>@host/x`.
    static func endpoint(_ text: String) -> String {
        let characters = Array(text)
        guard let schemeEnd = (0..<max(0, characters.count - 2)).first(where: {
            characters[$0] == ":" && characters[$0 + 1] == "/" && characters[$0 + 2] == "/"
        }) else { return text }
        let authorityStart = schemeEnd + 3
        let authorityEnd = characters[authorityStart...].firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" })
            ?? characters.count
        guard let at = characters[authorityStart..<authorityEnd].lastIndex(of: "@") else { return text }
        return String(characters[..<authorityStart]) + "<redacted>" + String(characters[at...])
    }
}
