import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `cron run` keeps its registry clients from poll to poll (issue 18 §4): polls of a registry go over the connection
/// the first one opened (a client per poll opened one connection each: 11 in this test).
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct CronClientReuseTests {
    /// Runs `cron run` on a 60-times clock (a once-a-minute schedule polls every second) for `seconds`, then stops it.
    static func runFor(_ world: CronWorld, seconds: Double) throws {
        let controller = try startProcess(Harness.binary, ["cron", "run", "--config", world.configPath, "--storage", world.storage,
                                                           "--secrets", world.secrets, "--clock-scale", "60"])
        Thread.sleep(forTimeInterval: seconds)
        kill(controller.processIdentifier, SIGTERM)
        controller.waitUntilExit()
    }

    @Test func pollsOfOneRegistryShareAConnection() throws {
        let world = try CronWorld("reuse")
        try world.push("v1", disk: try world.makeDisk("v1"))
        let proxy = try FaultProxy(world.registry.fixtures, target: try world.registry.fixtures["REG_BASIC_PORT"], [])
        let yaml = world.cronYAML(url: try world.url(port: String(proxy.port)))
            .replacingOccurrences(of: #"schedule: "0 */12 * * *""#, with: #"schedule: "* * * * *""#)
        try world.writeConfig(yaml)
        try Self.runFor(world, seconds: 8)
        let requests = try world.registryRequests()
        let polls = requests.filter { $0.method == "HEAD" && $0.uri.contains("/manifests/") }.count
        #expect(polls >= 4, "\(requests)")
        // The import pulls over its own client; the polls add at most one more connection (a keep-alive the
        // registry closed), not one each.
        #expect(proxy.connections.count <= 3, "\(polls) polls over \(proxy.connections.count) connections")
    }
}
