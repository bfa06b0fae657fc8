import Foundation
import Testing

/// Scratch space the CDI way: without a scratch volume, an image whose bytes need one ends with exit 0 and
/// `scratchSpaceRequired: true` (CDI's controller then re-runs the pod with a scratch volume); with one, it imports.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason)) struct PodScratchTests {
    /// The test images are 1 GiB virtual (sparse: they take a few MiB on disk).
    static func environment(_ url: String) -> [String: String] {
        ["IMPORTER_SOURCE": "http", "IMPORTER_ENDPOINT": url, "IMPORTER_CONTENTTYPE": "kubevirt",
         "IMPORTER_IMAGE_SIZE": "2Gi", "PREALLOCATION": "false", "FILESYSTEM_OVERHEAD": "0.055"]
    }

    @Test func imageWhoseDataPrecedesItsTablesAsksForScratchThenImportsWithIt() throws {
        let fixtures = try Fixtures.get()
        let pod = try PodWorld()
        let image = try Qcow2Matrix.make("needs-scratch", in: pod.dir)
        try Harness.tool("gzip", "-k", image)
        let url = try PodArchiveTests.serve(image + ".gz", fixtures)

        let first = try pod.run(Self.environment(url))
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.termination == #"{"scratchSpaceRequired":true,"preallocationApplied":false,"message":"Import Complete"}"#)
        #expect(try pod.dataEntries() == [])

        try FileManager.default.createDirectory(atPath: pod.scratchDirectory, withIntermediateDirectories: false)
        let second = try pod.run(Self.environment(url))
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.termination == #"{"scratchSpaceRequired":false,"preallocationApplied":false,"message":"Import Complete"}"#)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, pod.dir.file("qemu.raw"))
        let size = try #require(FileManager.default.attributesOfItem(atPath: pod.dir.file("qemu.raw"))[.size] as? Int)
        #expect(try Harness.tool("cmp", "-n", String(size), pod.dir.file("qemu.raw"), pod.diskImage).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: pod.scratchDirectory).isEmpty)
    }

    @Test func aRemoteImageWithABackingFileIsRefused() throws {
        let fixtures = try Fixtures.get()
        let pod = try PodWorld()
        try Harness.tool("qemu-img", "create", "-q", "-f", "qcow2", pod.dir.file("base.qcow2"), "4M")
        try Harness.tool("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", "base.qcow2", pod.dir.file("top.qcow2"))
        try Harness.tool("gzip", "-k", pod.dir.file("top.qcow2"))
        let outcome = try pod.run(Self.environment(try PodArchiveTests.serve(pod.dir.file("top.qcow2.gz"), fixtures)))
        #expect(outcome.status == 1)
        #expect(outcome.termination?.hasPrefix("Unable to process data: ") == true)
        #expect(outcome.termination?.contains("backing file (base.qcow2)") == true, "\(outcome.termination ?? "")")
        #expect(try pod.dataEntries() == [])
    }
}
