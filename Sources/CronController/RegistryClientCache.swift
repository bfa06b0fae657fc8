import Fetch
import Synchronization

/// The registry clients of one controller, kept from poll to poll (issue 18 §4): a client keeps its connections
/// alive and its bearer tokens until they expire, so `cron run` polling fifty crons on two registries opens a few
/// connections and asks the token server again only when a token runs out, instead of a TLS handshake, a ping and a
/// token per poll.
///
/// A client is shared by the crons that reach one registry with the same trust as the same user. A changed password
/// replaces that client (its connections close, and no token the old password earned is used again); another user,
/// CA or proxy is another client. At most `limit` clients are kept, the least recently used dropped first. (The soak
/// found the first version keeping every replaced client, and its keep-alive connections, until the limit.)
final class RegistryClientCache: Sendable {
    static let limit = 64

    private struct Entry {
        var client: RegistryClient
        var password: String
        var lastUse: UInt64
    }
    private struct State {
        var entries: [String: Entry] = [:]
        var uses: UInt64 = 0
    }
    private let state = Mutex(State())

    /// The client for `registry` reached with `options`, made by `make` the first time.
    func client(for registry: String, options: HTTPOptions, make: () throws -> RegistryClient) throws -> RegistryClient {
        let key = Self.key(registry, options)
        let password = options.credentials?.password ?? ""
        if let client = state.withLock({ state -> RegistryClient? in
            state.uses += 1
            guard let entry = state.entries[key], entry.password == password else { return nil }
            state.entries[key]?.lastUse = state.uses
            return entry.client
        }) {
            return client
        }
        let client = try make()
        state.withLock { state in
            state.uses += 1
            if state.entries[key] == nil, state.entries.count >= Self.limit, let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
                state.entries[oldest] = nil
            }
            state.entries[key] = Entry(client: client, password: password, lastUse: state.uses)
        }
        return client
    }

    /// What a client is shared by: everything it depends on but the password (kept beside it, in memory only).
    private static func key(_ registry: String, _ options: HTTPOptions) -> String {
        [registry, options.caFiles.joined(separator: "\u{0}"), options.insecure ? "insecure" : "verify",
         options.credentials?.user ?? "", options.proxy ?? ""]
            .joined(separator: "\u{1}")
    }
}
