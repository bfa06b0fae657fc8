import Foundation

/// scripts/fault-proxy running for one test: cuts or stalls connections to a fixture server, or acts as a forward
/// proxy. Stopped (by its PID) when released.
final class FaultProxy {
    private let script: LoopbackScript
    var port: Int { script.port }
    var logPath: String { script.logPath }

    /// Starts the proxy with `arguments` (after --port-file and --log) and waits until it listens.
    init(_ fixtures: Fixtures, _ arguments: [String]) throws {
        script = try LoopbackScript(try fixtures["FAULT_PROXY"], arguments)
    }

    /// A proxy in front of 127.0.0.1:`targetPort`.
    convenience init(_ fixtures: Fixtures, target targetPort: String, _ faults: [String]) throws {
        try self.init(fixtures, ["--target", "127.0.0.1:\(targetPort)"] + faults)
    }

    /// One JSON object per connection the proxy handled.
    var connections: [[String: Any]] { script.entries }
}
