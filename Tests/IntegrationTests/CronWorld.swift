import Foundation
import Testing

/// The directories and files one `diskimport cron` setup runs with, and the commands on them.
protocol CronDirectories {
    /// Holds STORAGE, the secrets and the config file.
    var directory: TemporaryDirectory { get }
    /// The DataSource (`managedDataSource`); the cron is `NAME-cron`.
    var name: String { get }
}

extension CronDirectories {
    /// `--storage`.
    var storage: String { directory.file("storage") }
    /// `--secrets`: Secrets and ConfigMaps laid out as Kubernetes mounts them.
    var secrets: String { directory.file("secrets") }
    /// `--config`.
    var configPath: String { directory.file("crons.yaml") }
    var dataSource: String { name }
    var cron: String { name + "-cron" }

    func writeConfig(_ yaml: String) throws {
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// `diskimport cron tick` at `now`.
    func tick(_ now: String, _ extra: [String] = []) throws -> Harness.Result {
        try Harness.run(Harness.binary, ["cron", "tick", "--config", configPath, "--storage", storage, "--secrets", secrets, "--now", now] + extra)
    }

    /// `cron status --output json`, parsed.
    func status(_ extra: [String] = []) throws -> CronStatusJSON {
        let result = try Harness.run(Harness.binary, ["cron", "status", "--config", configPath, "--storage", storage, "--output", "json"] + extra)
        guard result.status == 0 else { throw HarnessError("cron status failed: \(result.stderr)") }
        return try CronStatusJSON(result.stdout)
    }

    func disk(_ volume: String) -> String { "\(storage)/volumes/\(volume)/disk.img" }

    /// The volume directories under STORAGE/volumes.
    func volumeDirectories() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: storage + "/volumes").sorted()
    }

    /// A raw disk of `size` bytes whose content depends on `seed`: random bytes then text, so versions differ.
    func makeDisk(_ seed: String, size: Int = 1 << 20) throws -> Data {
        var data = Data((0..<(size / 4)).map { _ in UInt8.random(in: 0...255) })
        var line = 0
        while data.count < size {
            data.append(contentsOf: Array("\(seed) \(line)\n".utf8))
            line += 1
        }
        return data.prefix(size)
    }

    /// A Secret (or ConfigMap) NAME with `keys`, each file ending with a newline as files written by hand do.
    func writeSecret(_ name: String, _ keys: [String: String]) throws {
        let dir = secrets + "/" + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (key, value) in keys { try (value + "\n").write(toFile: dir + "/" + key, atomically: true, encoding: .utf8) }
    }
}

/// One `diskimport cron` setup against the fixture registry with htpasswd: a repository of its own
/// (`containerdisks/cron-NAME-RANDOM`), a `--secrets` directory laid out as Kubernetes mounts Secrets and ConfigMaps
/// (`regcreds/{accessKeyId,secretKey}`, `registry-ca/ca.crt`), a STORAGE directory and a config file.
struct CronWorld: CronDirectories {
    let registry: RegistryFixture
    let name: String
    let repository: String
    var directory: TemporaryDirectory { registry.directory }

    init(_ name: String) throws {
        registry = try RegistryFixture()
        self.name = name
        repository = "containerdisks/cron-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        try writeSecret(password: try registry.password)
        let ca = secrets + "/registry-ca"
        try FileManager.default.createDirectory(atPath: ca, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try registry.fixtures["CA_FILE"], toPath: ca + "/ca.crt")
    }

    /// `secrets/regcreds`, with a trailing newline as files written by hand have.
    func writeSecret(password: String) throws {
        try writeSecret("regcreds", ["accessKeyId": try registry.user, "secretKey": password])
    }

    /// `docker://127.0.0.1:PORT/REPOSITORY:latest` on the htpasswd registry (or on `port`, a proxy in front of it).
    func url(port: String? = nil) throws -> String {
        "docker://127.0.0.1:\(try port ?? registry.fixtures["REG_BASIC_PORT"])/\(repository):latest"
    }

    /// A DataImportCron as CDI writes it, polling twice a day.
    func cronYAML(url: String, storage: String = "8Mi", importsToKeep: Int = 3, extra: String = "") -> String {
        """
        apiVersion: cdi.kubevirt.io/v1beta1
        kind: DataImportCron
        metadata:
          name: \(cron)
          namespace: golden-images
        spec:
          schedule: "0 */12 * * *"
          managedDataSource: \(dataSource)
          importsToKeep: \(importsToKeep)
          garbageCollect: Outdated
          template:
            spec:
              source:
                registry:
                  url: \(url)
                  secretRef: regcreds
                  certConfigMap: registry-ca
              storage:
                resources:
                  requests:
                    storage: \(storage)
        \(extra)
        """
    }

    /// Builds an image whose only layer holds `disk/disk.img` (or, with `disk` nil, a layer with no disk: a broken
    /// containerDisk) and pushes it as `REPOSITORY:latest`; returns the manifest digest.
    @discardableResult
    func push(_ tag: String, disk: Data?) throws -> String {
        let entries: [(String, Data?)] = disk.map { [("disk/", nil), ("disk/disk.img", $0)] } ?? [("etc/", nil), ("etc/os-release", Data("ID=broken\n".utf8))]
        let tar = try registry.tar("\(name)-\(tag)", entries)
        let layout = registry.directory.file("\(name)-\(tag)-layout")
        let built = try Harness.tool(RegistryFixture.scripts + "/build-image-layout", [layout, tar + ":gzip"])
        let json = try JSONSerialization.jsonObject(with: Data(built.stdout.utf8)) as? [String: Any]
        let digest = try #require(json?["manifest"] as? String)
        try Harness.tool("skopeo", "copy", "-q", "--preserve-digests", "--dest-cert-dir", try registry.fixtures["CERT_DIR"],
                         "--dest-authfile", try registry.fixtures["FIXTURES_BASE"] + "/secrets/auth.json", "oci:\(layout):latest", try url())
        return digest
    }

    /// `<ds>-<first 12 hex>`.
    func volume(_ digest: String) -> String { "\(dataSource)-\(digest.dropFirst("sha256:".count).prefix(12))" }

    /// Requests the htpasswd registry logged for this world's repository: `(method, uri)` pairs.
    func registryRequests() throws -> [(method: String, uri: String)] {
        let log = try registry.fixtures["FIXTURES_BASE"] + "/logs/registry-basic.log"
        let text = try String(contentsOfFile: log, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line -> (String, String)? in
            guard line.contains("response completed"), let uri = Self.field("http.request.uri", in: line),
                  uri.hasPrefix("/v2/\(repository)/"), let method = Self.field("http.request.method", in: line) else { return nil }
            return (method, uri)
        }
    }

    /// `key=value` or `key="value"` in a logrus line.
    static func field(_ key: String, in line: Substring) -> String? {
        guard let range = line.range(of: " \(key)=") else { return nil }
        var rest = line[range.upperBound...]
        if rest.hasPrefix("\"") {
            rest = rest.dropFirst()
            return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
        }
        return String(rest.prefix { $0 != " " })
    }
}

/// `cron status --output json`, with lookups by name.
struct CronStatusJSON {
    let object: [String: Any]

    init(_ text: String) throws {
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw HarnessError("cron status printed no JSON object: \(text.prefix(200))")
        }
        self.object = object
    }

    private func list(_ key: String) -> [[String: Any]] { object[key] as? [[String: Any]] ?? [] }

    func cron(_ name: String) -> [String: Any]? { list("crons").first { $0["name"] as? String == name } }
    var cronNames: [String] { list("crons").compactMap { $0["name"] as? String } }
    func template(_ name: String) -> [String: Any]? { list("dataImportCronTemplates").first { $0["name"] as? String == name } }
    func dataSource(_ name: String) -> [String: Any]? { list("dataSources").first { $0["name"] as? String == name } }
    var volumes: [[String: Any]] { list("volumes") }
    var volumeNames: [String] { volumes.compactMap { $0["name"] as? String }.sorted() }
    func volume(_ name: String) -> [String: Any]? { volumes.first { $0["name"] as? String == name } }

    /// The cron's condition of `type`: (status, reason, message).
    func condition(_ cron: String, _ type: String) -> (status: String, reason: String, message: String)? {
        guard let c = (self.cron(cron)?["conditions"] as? [[String: Any]])?.first(where: { $0["type"] as? String == type }) else { return nil }
        return (c["status"] as? String ?? "", c["reason"] as? String ?? "", c["message"] as? String ?? "")
    }
}
