import Foundation
import Testing

/// Scratch space for cron imports: a containerDisk whose qcow2 puts 40 MiB of data before the L1 table that leads
/// to it (scripts/make-qcow2-matrix `needs-scratch`), more than the streaming reader keeps in memory, so the import
/// must spill. The spill goes under `scratchSpaceStorageClass`'s root when the HyperConverged names one, else under
/// the target class's root; strace(1) shows where the scratch file was really created.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct CronScratchTests {
    @Test(arguments: [true, false])
    func aSpillingImportUsesTheScratchClassOrElseTheTargetClass(scratchClass: Bool) throws {
        let world = try CronWorld("scratch")
        let image = try Qcow2Matrix.make("needs-scratch", in: world.registry.directory)
        let digest = try world.push("a", disk: try Data(contentsOf: URL(fileURLWithPath: image)))
        let classes = world.registry.directory.file("classes.yaml")
        try CronStorageClassTests.classesYAML(world, [("target", CronStorageClassTests.virt, nil), ("spill", nil, nil)])
            .write(toFile: classes, atomically: true, encoding: .utf8)
        let targetRoot = world.registry.directory.file("class-target"), spillRoot = world.registry.directory.file("class-spill")
        try world.writeConfig("""
            apiVersion: hco.kubevirt.io/v1beta1
            kind: HyperConverged
            metadata: {name: kubevirt-hyperconverged}
            spec:
              featureGates: {enableCommonBootImageImport: false}
              \(scratchClass ? "scratchSpaceStorageClass: spill" : "")
              dataImportCronTemplates:
              - metadata: {name: \(world.cron)}
                spec:
                  schedule: "0 */12 * * *"
                  managedDataSource: \(world.dataSource)
                  template:
                    spec:
                      source: {registry: {url: "\(try world.url())", secretRef: regcreds, certConfigMap: registry-ca}}
                      storage: {resources: {requests: {storage: 1Gi}}}
            """)

        let trace = world.registry.directory.file("openat.trace")
        let tick = try Harness.run("strace", ["-f", "-qq", "-e", "trace=openat", "-o", trace, Harness.binary,
                                              "cron", "tick", "--config", world.configPath, "--storage", world.storage,
                                              "--secrets", world.secrets, "--now", CronStorageClassTests.times[0],
                                              "--storage-classes", classes, "-v"])
        let volume = world.volume(digest)
        #expect(tick.status == 0, "\(tick.stderr)")
        #expect(tick.stdout.contains("imported \(volume)"), "\(tick.stdout) \(tick.stderr)")

        let scratch = (scratchClass ? spillRoot : targetRoot) + "/scratch"
        #expect(tick.stderr.contains(" bytes went through scratch space in \(scratch)"), "\(tick.stderr)")
        // Every scratch file the import created (then unlinked at once) is in that directory, and there was one.
        let created = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
            .filter { $0.contains("/.diskimport-scratch-") && $0.contains("O_CREAT") }
        #expect(!created.isEmpty, "no scratch file was created")
        for line in created { #expect(line.contains("\"\(scratch)/.diskimport-scratch-"), "\(line)") }
        // Cleaned up: nothing left in the scratch directory, none made in the other class.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
        let other = (scratchClass ? targetRoot : spillRoot) + "/scratch"
        #expect(!FileManager.default.fileExists(atPath: other))

        // The volume is in the target class, byte-identical with qemu-img's conversion.
        let status = try world.status()
        #expect(status.volume(volume)?["storageClass"] as? String == "target")
        let disk = "\(targetRoot)/volumes/\(volume)/disk.img"
        #expect(status.dataSource(world.dataSource)?["path"] as? String == disk)
        let oracle = world.registry.directory.file("qemu.raw")
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, oracle)
        #expect(try Files.identical(oracle, disk))
    }
}
