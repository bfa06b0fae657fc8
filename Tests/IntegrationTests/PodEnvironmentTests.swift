import Foundation
import Testing

/// `diskimport import` refusing environments as CDI's importer does: exit 1, the message in the termination log,
/// nothing written to the volume.
@Suite struct PodEnvironmentTests {
    @Test func badPreallocationIsCDIsMessage() throws {
        let pod = try PodWorld()
        let outcome = try pod.run(["IMPORTER_SOURCE": "none", "IMPORTER_IMAGE_SIZE": "64Mi", "PREALLOCATION": "yes"])
        #expect(outcome.status == 1)
        #expect(outcome.termination == #"the PREALLOCATION environment variable is with a wrong value "yes"; should be "true" or "false""#)
        #expect(try pod.dataEntries() == [])
    }

    @Test(arguments: [("ftp", "Unknown data source: ftp"), ("", "Unknown data source: "),
                      ("imageio", "source imageio is not supported by diskimport (supported: http, registry, s3, gcs, none)"),
                      ("vddk", "source vddk is not supported by diskimport (supported: http, registry, s3, gcs, none)")])
    func unknownAndUnsupportedSources(_ source: String, _ message: String) throws {
        let pod = try PodWorld()
        let outcome = try pod.run(["IMPORTER_SOURCE": source, "IMPORTER_ENDPOINT": "https://127.0.0.1:1/disk.img",
                                   "IMPORTER_CONTENTTYPE": "kubevirt", "PREALLOCATION": "false"])
        #expect(outcome.status == 1)
        #expect(outcome.termination == message)
        #expect(try pod.dataEntries() == [])
    }

    @Test func archiveFromARegistryAndBlankArchiveAreCDIsMessages() throws {
        let pod = try PodWorld()
        let registry = try pod.run(["IMPORTER_SOURCE": "registry", "IMPORTER_ENDPOINT": "docker://127.0.0.1:1/disk:1",
                                    "IMPORTER_CONTENTTYPE": "archive"])
        #expect(registry.status == 1)
        #expect(registry.termination == "Unsupported content type archive when importing from registry")
        let blank = try pod.run(["IMPORTER_SOURCE": "none", "IMPORTER_IMAGE_SIZE": "1Mi", "IMPORTER_CONTENTTYPE": "archive"])
        #expect(blank.status == 1)
        #expect(blank.termination == "Cannot create empty disk with content type archive")
    }

    @Test func credentialsNeverReachTheLogOrTheTerminationMessage() throws {
        let pod = try PodWorld()
        let outcome = try pod.run(["IMPORTER_SOURCE": "http", "IMPORTER_ENDPOINT": "https://user:hunter2@127.0.0.1:1/disk.img",
                                   "IMPORTER_ACCESS_KEY_ID": "alice", "IMPORTER_SECRET_KEY": "hunter2",
                                   "IMPORTER_EXTRA_HEADER_0": "Authorization Bearer hunter2"])
        #expect(outcome.status == 1)
        #expect(outcome.termination?.contains("IMPORTER_EXTRA_HEADER_0") == true)
        #expect(!outcome.stderr.contains("hunter2"))
        #expect(outcome.termination?.contains("hunter2") == false)
    }

    @Test func importWaitsForTheReadyFile() throws {
        // CDI's sidecar protocol: nothing is fetched before IMPORTER_READY_FILE exists (CDI waits up to 60 s).
        let pod = try PodWorld()
        let ready = pod.dir.file("ready")
        let writer = Thread {
            Thread.sleep(forTimeInterval: 1.5)
            _ = FileManager.default.createFile(atPath: ready, contents: Data())
        }
        let start = Date()
        writer.start()
        let outcome = try pod.run(["IMPORTER_SOURCE": "http", "IMPORTER_ENDPOINT": "http://127.0.0.1:1/disk.img",
                                   "IMPORTER_READY_FILE": ready])
        #expect(Date().timeIntervalSince(start) >= 1.4)
        #expect(FileManager.default.fileExists(atPath: ready))
        // The endpoint has no server: the import ran, after the wait, and failed CDI's way.
        #expect(outcome.status == 1)
        #expect(outcome.termination?.hasPrefix("Unable to process data: ") == true)
    }
}
