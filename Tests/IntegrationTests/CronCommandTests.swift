import Foundation
import Testing

/// `diskimport cron` as users run it without a registry: reading configurations, reporting stored state, and
/// refusing bad input clearly. Polling and importing are in CronRegistryTests, CronRunTests and CronStorageClassTests.
@Suite struct CronCommandTests {
    static let config = """
        apiVersion: cdi.kubevirt.io/v1beta1
        kind: DataImportCron
        metadata:
          name: fedora-cron
        spec:
          schedule: "55 8/12 * * *"
          managedDataSource: fedora
          template:
            spec:
              source:
                registry:
                  url: docker://localhost:5000/fedora:latest
              storage:
                resources:
                  requests:
                    storage: 1Gi
        """

    /// Writes the state a controller leaves after importing digest A, in the store's on-disk format.
    static func writeState(_ storage: String) throws {
        let digest = "sha256:" + String(repeating: "a", count: 64)
        let files = [
            "state/crons/fedora-cron.json": """
                {"name": "fedora-cron", "managedDataSource": "fedora", "retentionPolicy": "All", "commonTemplate": false,
                 "conditions": [
                   {"type": "UpToDate", "status": "True", "reason": "UpToDate", "message": "Latest import is up to date",
                    "lastTransitionTime": "2026-11-23T08:55:00Z", "lastHeartbeatTime": "2026-11-23T08:55:00Z"},
                   {"type": "Progressing", "status": "False", "reason": "NoImport", "message": "No current import",
                    "lastTransitionTime": "2026-11-23T08:55:00Z", "lastHeartbeatTime": "2026-11-23T08:55:00Z"}],
                 "lastImportedVolume": "fedora-aaaaaaaaaaaa", "lastImportedDigest": "\(digest)",
                 "lastExecutionTimestamp": "2026-11-23T08:55:00Z", "currentImports": [], "sourceDesiredDigest": "\(digest)",
                 "consecutiveFailures": 0}
                """,
            "state/datasources/fedora.json": """
                {"name": "fedora", "cron": "fedora-cron", "volume": "fedora-aaaaaaaaaaaa", "ready": true, "updated": "2026-11-23T08:55:00Z"}
                """,
            "state/volumes/fedora-aaaaaaaaaaaa.json": """
                {"name": "fedora-aaaaaaaaaaaa", "cron": "fedora-cron", "dataSource": "fedora", "digest": "\(digest)",
                 "source": "docker://localhost:5000/fedora@\(digest)", "created": "2026-11-23T08:55:00Z",
                 "lastUse": "2026-11-23T08:55:00Z", "path": "\(storage)/volumes/fedora-aaaaaaaaaaaa/disk.img", "size": 1073741824}
                """,
        ]
        for (path, text) in files {
            let full = "\(storage)/\(path)"
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
        }
    }

    @Test func statusReportsStoredStateAsJsonAndTables() throws {
        let dir = try TemporaryDirectory()
        try Self.config.write(toFile: dir.file("crons.yaml"), atomically: true, encoding: .utf8)
        try Self.writeState(dir.file("storage"))

        let json = try Harness.diskimport("cron", "status", "--config", dir.file("crons.yaml"), "--storage", dir.file("storage"), "--output", "json")
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let cron = try #require((object["crons"] as? [[String: Any]])?.first)
        #expect(cron["name"] as? String == "fedora-cron")
        #expect(cron["lastImportedVolume"] as? String == "fedora-aaaaaaaaaaaa")
        #expect(cron["desiredDigest"] as? String == "sha256:" + String(repeating: "a", count: 64))
        #expect(cron["outdated"] as? Int == 0)
        let condition = try #require((cron["conditions"] as? [[String: Any]])?.first)
        #expect(condition["type"] as? String == "UpToDate" && condition["status"] as? String == "True")
        #expect(condition["reason"] as? String == "UpToDate" && condition["message"] as? String == "Latest import is up to date")
        let dataSource = try #require((object["dataSources"] as? [[String: Any]])?.first)
        #expect(dataSource["name"] as? String == "fedora" && dataSource["volume"] as? String == "fedora-aaaaaaaaaaaa")
        #expect(dataSource["ready"] as? Bool == true)
        let volume = try #require((object["volumes"] as? [[String: Any]])?.first)
        #expect(volume["name"] as? String == "fedora-aaaaaaaaaaaa" && volume["cron"] as? String == "fedora-cron")
        #expect(volume["lastUse"] as? String == "2026-11-23T08:55:00Z")

        let human = try Harness.diskimport("cron", "status", "--config", dir.file("crons.yaml"), "--storage", dir.file("storage"))
        #expect(human.status == 0, "\(human.stderr)")
        let lines = human.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("CRON") == true)
        #expect(lines.contains { $0.hasPrefix("fedora-cron") && $0.contains("True") && $0.contains("fedora-aaaaaaaaaaaa") })
        #expect(lines.contains { $0.hasPrefix("fedora ") && $0.contains("True") })
        #expect(lines.contains { $0.hasPrefix("fedora-aaaaaaaaaaaa") && $0.contains("1 GiB") })
    }

    @Test(arguments: [
        ("- metadata: {name: fast}\n", "storage class \"fast\": root is required"),
        ("- metadata: {name: fast}\n  root: relative/dir\n", "root must be an absolute path, not \"relative/dir\""),
        ("- metadata: {name: fast}\n  root: /x\n  dataImportCronSourceFormat: clone\n", "is \"clone\": expected pvc or snapshot"),
        ("- metadata: {name: fast}\n  root: /x\n- metadata: {name: fast}\n  root: /y\n", "fast is listed twice"),
    ])
    func aBadStorageClassesFileIsAOneLineError(_ yaml: String, _ message: String) throws {
        let dir = try TemporaryDirectory()
        try Self.config.write(toFile: dir.file("crons.yaml"), atomically: true, encoding: .utf8)
        try yaml.write(toFile: dir.file("classes.yaml"), atomically: true, encoding: .utf8)
        for command in [["tick", "--now", "2026-11-23T08:55:00Z"], ["run"]] {
            let result = try Harness.run(Harness.binary, ["cron"] + command + ["--config", dir.file("crons.yaml"), "--storage", dir.file("storage"),
                                                                               "--storage-classes", dir.file("classes.yaml")])
            #expect(result.status == 1)
            #expect(result.stderr.hasPrefix("diskimport: error: \(dir.file("classes.yaml"))"), "\(result.stderr)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test func configurationProblemsAreOneLineErrorsOrWarnings() throws {
        let dir = try TemporaryDirectory()
        try Self.writeState(dir.file("s"))
        let missing = Self.config.replacingOccurrences(of: "  managedDataSource: fedora\n", with: "")
        try missing.write(toFile: dir.file("missing.yaml"), atomically: true, encoding: .utf8)
        var result = try Harness.diskimport("cron", "status", "--config", dir.file("missing.yaml"), "--storage", dir.file("s"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("DataImportCron \"fedora-cron\": spec.managedDataSource is required"))
        #expect(result.stderr.split(separator: "\n").count == 1)

        let badSchedule = Self.config.replacingOccurrences(of: "55 8/12 * * *", with: "0 0 30 2 *")
        try badSchedule.write(toFile: dir.file("bad.yaml"), atomically: true, encoding: .utf8)
        result = try Harness.diskimport("cron", "tick", "--config", dir.file("bad.yaml"), "--storage", dir.file("s"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("spec.schedule is invalid: schedule \"0 0 30 2 *\": never fires"))

        let unknown = Self.config.replacingOccurrences(of: "  schedule:", with: "  colour: blue\n  schedule:")
        try unknown.write(toFile: dir.file("unknown.yaml"), atomically: true, encoding: .utf8)
        result = try Harness.diskimport("cron", "status", "--config", dir.file("unknown.yaml"), "--storage", dir.file("s"))
        #expect(result.status == 0)
        #expect(result.stderr.contains("diskimport: warning: \(dir.file("unknown.yaml")) line 6: DataImportCron \"fedora-cron\": unknown field spec.colour ignored"))

        try Self.config.write(toFile: dir.file("crons.yaml"), atomically: true, encoding: .utf8)
        result = try Harness.diskimport("cron", "tick", "--config", dir.file("crons.yaml"), "--storage", dir.file("s"), "--now", "yesterday")
        #expect(result.status == 1)
        #expect(result.stderr.contains("invalid time \"yesterday\": expected RFC 3339"))
    }

    /// `config` with the registry's Secret named: polling fails at once when --secrets lacks it.
    static let configWithSecret = config.replacingOccurrences(
        of: "          url: docker://localhost:5000/fedora:latest\n",
        with: "          url: docker://localhost:5000/fedora:latest\n          secretRef: fedora-pull\n")

    @Test func everyVerbTakesTheFlagsOfTick() throws {
        let dir = try TemporaryDirectory()
        try Self.config.write(toFile: dir.file("crons.yaml"), atomically: true, encoding: .utf8)
        try Self.writeState(dir.file("storage"))
        try FileManager.default.createDirectory(atPath: dir.file("secrets"), withIntermediateDirectories: true)
        try "- metadata: {name: standard}\n  root: \(dir.file("storage"))\n".write(toFile: dir.file("classes.yaml"), atomically: true, encoding: .utf8)
        let shared = ["--config", dir.file("crons.yaml"), "--storage", dir.file("storage"), "--secrets", dir.file("secrets"),
                      "--storage-classes", dir.file("classes.yaml")]
        let status = try Harness.run(Harness.binary, ["cron", "status"] + shared)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("fedora-aaaaaaaaaaaa"), "\(status.stdout)")
        for verb in ["tick", "run"] {
            let help = try Harness.run(Harness.binary, ["cron", verb, "--help"])
            for flag in ["--config", "--storage", "--secrets", "--storage-classes"] { #expect(help.stdout.contains(flag), "\(verb) \(flag)") }
        }
    }

    @Test func statusRefusesAStorageDirectoryWithoutState() throws {
        let dir = try TemporaryDirectory()
        try Self.config.write(toFile: dir.file("crons.yaml"), atomically: true, encoding: .utf8)
        var result = try Harness.diskimport("cron", "status", "--config", dir.file("crons.yaml"), "--storage", dir.file("typo"))
        #expect(result.status == 1)
        #expect(result.stderr == "diskimport: error: storage directory \(dir.file("typo")) does not exist (no cron has ticked there yet)\n")
        #expect(result.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir.file("typo")))

        try FileManager.default.createDirectory(atPath: dir.file("empty"), withIntermediateDirectories: true)
        result = try Harness.diskimport("cron", "status", "--config", dir.file("crons.yaml"), "--storage", dir.file("empty"), "--output", "json")
        #expect(result.status == 1)
        #expect(result.stderr.contains("storage directory \(dir.file("empty")) holds no cron state"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func tickCreatesStorageOnlyOnAFirstRun() throws {
        let dir = try TemporaryDirectory()
        let never = Self.config.replacingOccurrences(of: "55 8/12 * * *", with: "")
        try never.write(toFile: dir.file("crons.yaml"), atomically: true, encoding: .utf8)
        func tick(_ storage: String) throws -> Harness.Result {
            try Harness.diskimport("cron", "tick", "--config", dir.file("crons.yaml"), "--storage", storage, "--now", "2026-11-23T08:55:00Z")
        }
        // A missing parent: a typo, refused, nothing created.
        var result = try tick(dir.file("nonexistent/st"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("storage directory \(dir.file("nonexistent/st")) does not exist, nor does its parent"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("nonexistent")))

        // A directory of other files is not cron storage.
        try FileManager.default.createDirectory(atPath: dir.file("home"), withIntermediateDirectories: true)
        try "notes".write(toFile: dir.file("home/notes.txt"), atomically: true, encoding: .utf8)
        result = try tick(dir.file("home"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("holds no cron state (no \(dir.file("home"))/state) but is not empty (notes.txt)"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("home")) == ["notes.txt"])

        // New inside an existing directory: the first run, said on stderr; then an ordinary one.
        result = try tick(dir.file("storage"))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("diskimport: first run: cron state created in \(dir.file("storage"))"), "\(result.stderr)")
        result = try tick(dir.file("storage"))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("first run"), "\(result.stderr)")
        // An empty directory (a new mount) is a first run too.
        try FileManager.default.createDirectory(atPath: dir.file("mount/lost+found"), withIntermediateDirectories: true)
        result = try tick(dir.file("mount"))
        #expect(result.status == 0 && result.stderr.contains("first run"), "\(result.stderr)")
    }

    @Test func aFailedPollFailsTheTickAndIsPrintedOnce() throws {
        let dir = try TemporaryDirectory()
        try Self.configWithSecret.write(toFile: dir.file("crons.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir.file("secrets"), withIntermediateDirectories: true)
        let result = try Harness.diskimport("cron", "tick", "--config", dir.file("crons.yaml"), "--storage", dir.file("storage"),
                                            "--secrets", dir.file("secrets"), "--now", "2026-11-23T08:55:00Z")
        #expect(result.status == 1)
        let problem = "secret fedora-pull not found"
        #expect(result.stdout.hasPrefix("fedora-cron: failed: \(problem)"), "\(result.stdout)")
        let mentions = (result.stdout + result.stderr).components(separatedBy: problem).count - 1
        #expect(mentions == 1, "stdout: \(result.stdout) stderr: \(result.stderr)")
        #expect(result.stderr.hasSuffix("diskimport: error: 1 of 1 crons failed: fedora-cron\n"), "\(result.stderr)")
    }
}
