import Foundation
import Testing

/// The loopback servers scripts/fixtures/start runs for the suite, read from `$DISKIMPORT_FIXTURES/fixtures.env`
/// (shell `KEY=VALUE` lines: ports, CA and credential file paths, image digests).
///
/// Tests that need them carry `.enabled(if: Fixtures.available, Fixtures.absentReason)` so a run without the
/// servers (a plain `swift test`) skips them with the reason, instead of failing.
struct Fixtures: Sendable {
    let values: [String: String]

    /// The running fixtures, or nil when DISKIMPORT_FIXTURES is unset or its fixtures.env is missing.
    static let current: Fixtures? = {
        guard let base = ProcessInfo.processInfo.environment["DISKIMPORT_FIXTURES"],
              let text = try? String(contentsOfFile: base + "/fixtures.env", encoding: .utf8) else { return nil }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "="), !line.hasPrefix("#") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return Fixtures(values: values)
    }()

    static var available: Bool { current != nil }
    static let absentReason: Comment =
        "needs the loopback servers: run scripts/test, or scripts/fixtures/start DIR and set DISKIMPORT_FIXTURES=DIR"

    /// The fixtures, for tests gated on `available`.
    static func get() throws -> Fixtures {
        guard let current else { throw HarnessError("DISKIMPORT_FIXTURES is not set") }
        return current
    }

    /// A value from fixtures.env; a missing key is a broken fixture script, so the test fails naming it.
    subscript(_ key: String) -> String {
        get throws {
            guard let value = values[key] else { throw HarnessError("fixtures.env has no \(key)") }
            return value
        }
    }

    /// The contents of a file named by a key (a password file).
    func contents(of key: String) throws -> String {
        try String(contentsOfFile: try self[key], encoding: .utf8)
    }
}
