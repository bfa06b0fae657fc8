import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Storage classes (`--storage-classes FILE`), HyperConverged filesystem overhead and snapshot-format DataSources,
/// against the real loopback registry with temporary directories as class roots.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct CronStorageClassTests {
    static let times = CronRegistryTests.times

    /// A storage-classes file: (name, annotation or nil, source format or nil).
    static func classesYAML(_ world: CronWorld, _ classes: [(String, String?, String?)]) -> String {
        classes.map { name, annotation, format in
            """
            - metadata:
                name: \(name)
                annotations: {\(annotation.map { "\($0): \"true\"" } ?? "")}
              root: \(world.registry.directory.file("class-" + name))
            \(format.map { "  dataImportCronSourceFormat: \($0)" } ?? "")
            """
        }.joined(separator: "\n")
    }

    static let virt = "storageclass.kubevirt.io/is-default-virt-class"
    static let cluster = "storageclass.kubernetes.io/is-default-class"

    @Test func virtDefaultBeatsClusterDefaultAndADefaultChangeReimportsIntoTheNewClass() throws {
        let world = try CronWorld("classes")
        try world.writeConfig(world.cronYAML(url: try world.url()))
        let classes = world.registry.directory.file("classes.yaml")
        try Self.classesYAML(world, [("standard", Self.cluster, nil), ("fast", Self.virt, nil)])
            .write(toFile: classes, atomically: true, encoding: .utf8)
        let a = try world.push("a", disk: try world.makeDisk("A"))
        let volume = world.volume(a)
        let fastDisk = world.registry.directory.file("class-fast/volumes/\(volume)/disk.img")
        let standardDisk = world.registry.directory.file("class-standard/volumes/\(volume)/disk.img")

        var tick = try world.tick(Self.times[0], ["--storage-classes", classes])
        #expect(tick.stdout.contains("imported \(volume)"), "\(tick.stdout) \(tick.stderr)")
        var status = try world.status()
        #expect(status.volume(volume)?["storageClass"] as? String == "fast")
        #expect(status.volume(volume)?["path"] as? String == fastDisk)
        #expect(status.dataSource(world.dataSource)?["path"] as? String == fastDisk)
        #expect(status.dataSource(world.dataSource)?["sourceFormat"] as? String == "pvc")
        #expect(FileManager.default.fileExists(atPath: fastDisk))

        // The virt default moves to standard: the next tick re-imports there, without a new digest, and the copy
        // in fast goes once the DataSource points at the new one.
        try Self.classesYAML(world, [("standard", Self.virt, nil), ("fast", nil, nil)]).write(toFile: classes, atomically: true, encoding: .utf8)
        tick = try world.tick(Self.times[0], ["--storage-classes", classes])
        #expect(tick.stdout.contains("imported \(volume)"), "\(tick.stdout) \(tick.stderr)")
        status = try world.status()
        #expect(status.volume(volume)?["storageClass"] as? String == "standard")
        #expect(status.dataSource(world.dataSource)?["path"] as? String == standardDisk)
        #expect(FileManager.default.fileExists(atPath: standardDisk))
        #expect(!FileManager.default.fileExists(atPath: fastDisk))
        #expect(status.condition(world.cron, "UpToDate")?.status == "True")

        // Two virt defaults: a warning naming both, and the first by name wins, every time.
        try Self.classesYAML(world, [("standard", Self.virt, nil), ("fast", Self.virt, nil)]).write(toFile: classes, atomically: true, encoding: .utf8)
        tick = try world.tick(Self.times[0], ["--storage-classes", classes])
        #expect(tick.stderr.contains("2 storage classes are marked virt-default (\(Self.virt)): fast, standard; using fast, the first by name"),
                "\(tick.stderr)")
        #expect(try world.status().volume(volume)?["storageClass"] as? String == "fast")
    }

    @Test func withoutAnyClassImportsWaitWithACondition() throws {
        let world = try CronWorld("noclass")
        try world.writeConfig(world.cronYAML(url: try world.url()))
        let classes = world.registry.directory.file("classes.yaml")
        try Self.classesYAML(world, [("plain", nil, nil)]).write(toFile: classes, atomically: true, encoding: .utf8)
        let a = try world.push("a", disk: try world.makeDisk("A"))
        let tick = try world.tick(Self.times[0], ["--storage-classes", classes])
        #expect(tick.status == 0, "\(tick.stderr)")
        #expect(tick.stdout.contains("\(world.cron): polled \(a), waiting: no storage class is given"), "\(tick.stdout)")
        let status = try world.status()
        let upToDate = try #require(status.condition(world.cron, "UpToDate"))
        #expect(upToDate.status == "False" && upToDate.reason == "NoStorageClass", "\(upToDate)")
        #expect(status.volumeNames.isEmpty)
        #expect(status.dataSource(world.dataSource)?["ready"] as? Bool == false)

        // Naming the class in the template is enough.
        try world.writeConfig(world.cronYAML(url: try world.url()).replacingOccurrences(
            of: "      storage:\n", with: "      storage:\n        storageClassName: plain\n"))
        let named = try world.tick(Self.times[0], ["--storage-classes", classes])
        #expect(named.stdout.contains("imported \(world.volume(a))"), "\(named.stdout) \(named.stderr)")
    }

    /// DESIGN.md section 5: a `storage:` request gets capacity required(size, o) and a disk of the request; a `pvc:`
    /// request is the capacity, and the disk is usable(size, o) = roundDown(ceil(size / (1 + o)), 1 MiB). With
    /// `--overhead-arithmetic v1.62`, CDI v1.62.0's: required = ceil(size / (1 - o)), usable = ceil((1 - o) × size).
    @Test(arguments: [false, true]) func perClassAndGlobalOverheadSizeVolumesExactly(legacy: Bool) throws {
        let world = try CronWorld(legacy ? "overhead-v162" : "overhead")
        let a = try world.push("a", disk: try world.makeDisk("A"))
        let classes = world.registry.directory.file("classes.yaml")
        try Self.classesYAML(world, [("fast", Self.virt, nil), ("standard", nil, nil)]).write(toFile: classes, atomically: true, encoding: .utf8)
        let url = try world.url()
        func template(_ name: String, api: String, storageClass: String) -> String {
            """
              - metadata: {name: \(name)-cron}
                spec:
                  schedule: "0 */12 * * *"
                  managedDataSource: \(name)
                  template:
                    spec:
                      source: {registry: {url: "\(url)", secretRef: regcreds, certConfigMap: registry-ca}}
                      \(api): {storageClassName: \(storageClass), resources: {requests: {storage: 64Mi}}}
            """
        }
        try world.writeConfig("""
            apiVersion: hco.kubevirt.io/v1beta1
            kind: HyperConverged
            metadata: {name: kubevirt-hyperconverged}
            spec:
              featureGates: {enableCommonBootImageImport: false}
              filesystemOverhead:
                global: "0.07"
                storageClass: {fast: "0.1"}
              dataImportCronTemplates:
            \(template("fast-storage", api: "storage", storageClass: "fast"))
            \(template("fast-pvc", api: "pvc", storageClass: "fast"))
            \(template("standard-storage", api: "storage", storageClass: "standard"))
            \(template("standard-pvc", api: "pvc", storageClass: "standard"))
            """)
        let arithmetic = legacy ? ["--overhead-arithmetic", "v1.62"] : []
        let tick = try world.tick(Self.times[0], ["--storage-classes", classes, "--parallel", "2"] + arithmetic)
        #expect(tick.status == 0, "\(tick.stderr)")
        let status = try world.status()
        let hex = a.dropFirst("sha256:".count).prefix(12)
        // (volume, capacity, disk size)
        let expected: [(String, Int, Int)] = legacy ? [
            ("fast-storage", 74_565_405, 64 << 20),       // ceil(64 MiB / 0.9)
            ("fast-pvc", 64 << 20, 57 << 20),             // roundDown(ceil(0.9 × 67108864) = 60397978, 1 MiB)
            ("standard-storage", 72_160_069, 64 << 20),   // ceil(64 MiB / 0.93)
            ("standard-pvc", 64 << 20, 59 << 20),         // roundDown(ceil(0.93 × 67108864) = 62411244, 1 MiB)
        ] : [
            ("fast-storage", 73_819_751, 64 << 20),       // ceil(64 MiB × 1.1); the disk is the request
            ("fast-pvc", 64 << 20, 58 << 20),             // roundDown(ceil(67108864 / 1.1) = 61008059, 1 MiB)
            ("standard-storage", 71_806_485, 64 << 20),   // ceil(64 MiB × 1.07)
            ("standard-pvc", 64 << 20, 59 << 20),         // roundDown(ceil(67108864 / 1.07) = 62718565, 1 MiB)
        ]
        for (name, capacity, size) in expected {
            let volume = try #require(status.volume("\(name)-\(hex)"), "no volume for \(name): \(tick.stdout) \(tick.stderr)")
            #expect(volume["capacity"] as? Int == capacity, "\(name)")
            #expect(volume["size"] as? Int == size, "\(name)")
            let path = try #require(volume["path"] as? String)
            #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == size, "\(name)")
        }
    }

    @Test func snapshotFormatOnStorageWithoutReflinksIsAClearCondition() throws {
        let world = try CronWorld("nosnap")
        let classes = world.registry.directory.file("classes.yaml")
        try Self.classesYAML(world, [("local", Self.virt, "snapshot")]).write(toFile: classes, atomically: true, encoding: .utf8)
        let root = world.registry.directory.file("class-local")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let type = try Harness.tool("stat", "-f", "-c", "%T", root).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(!["xfs", "btrfs"].contains(type), "the temporary directory is on \(type), which may make reflinks")
        try world.writeConfig(world.cronYAML(url: try world.url()))
        try world.push("a", disk: try world.makeDisk("A"))
        let tick = try world.tick(Self.times[0], ["--storage-classes", classes])
        #expect(tick.stdout.contains("failed: snapshots not supported on this storage: storage class local"), "\(tick.stdout) \(tick.stderr)")
        let status = try world.status()
        let upToDate = try #require(status.condition(world.cron, "UpToDate"))
        #expect(upToDate.reason == "SnapshotsNotSupported" && upToDate.message.contains("snapshots not supported on this storage"))
        #expect(status.volumeNames.isEmpty, "no import is wasted on storage that cannot snapshot")
        #expect(status.dataSource(world.dataSource)?["ready"] as? Bool == false)
    }

    @Test(.enabled(if: XFSMount.available, XFSMount.reason))
    func snapshotFormatOnXFSPointsTheDataSourceAtASharedExtentClone() throws {
        let world = try CronWorld("snapshot")
        let xfs = try XFSMount()
        let classes = world.registry.directory.file("classes.yaml")
        try """
            - metadata: {name: xfs, annotations: {\(Self.virt): "true"}}
              root: \(xfs.path)
              dataImportCronSourceFormat: snapshot
            """.write(toFile: classes, atomically: true, encoding: .utf8)
        try world.writeConfig(world.cronYAML(url: try world.url(), importsToKeep: 1))
        let diskA = try world.makeDisk("A")
        let a = try world.push("a", disk: diskA)
        var tick = try world.tick(Self.times[0], ["--storage-classes", classes])
        #expect(tick.stdout.contains("imported \(world.volume(a))"), "\(tick.stdout) \(tick.stderr)")
        var status = try world.status()
        let snapshot = "\(xfs.path)/snapshots/\(world.volume(a))/disk.img"
        #expect(status.dataSource(world.dataSource)?["sourceFormat"] as? String == "snapshot")
        #expect(status.dataSource(world.dataSource)?["path"] as? String == snapshot)
        #expect(status.volume(world.volume(a))?["snapshotPath"] as? String == snapshot)
        #expect(try Files.identical(snapshot, "\(xfs.path)/volumes/\(world.volume(a))/disk.img"))
        // FIEMAP (filefrag -v): the snapshot's data extents are shared with the volume's.
        let extents = try Harness.tool("filefrag", "-v", snapshot).stdout
        #expect(extents.contains("shared"), "\(extents)")

        // Garbage collection takes snapshots with their volumes (importsToKeep 1).
        let b = try world.push("b", disk: try world.makeDisk("B"))
        tick = try world.tick(Self.times[1], ["--storage-classes", classes])
        #expect(tick.stdout.contains("imported \(world.volume(b))"), "\(tick.stdout) \(tick.stderr)")
        status = try world.status()
        #expect(status.volumeNames == [world.volume(b)])
        #expect(!FileManager.default.fileExists(atPath: snapshot))
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(xfs.path)/snapshots") == [world.volume(b)])
    }
}

/// An XFS (reflink=1 unless told otherwise) on a loop device, mounted for one test; unmounted and detached when released.
final class XFSMount {
    static let available: Bool = {
        guard getuid() == 0, FileManager.default.fileExists(atPath: "/dev/loop-control") else { return false }
        return (try? Harness.tool("losetup", "-f")) != nil && (try? Harness.tool("which", "mkfs.xfs", "filefrag")) != nil
    }()
    static let reason: Comment = "needs root, loop devices (losetup), mkfs.xfs and filefrag to make an XFS with reflinks"

    let path: String
    private let backing: TemporaryDirectory
    private let device: String

    init(reflink: Bool = true) throws {
        backing = try TemporaryDirectory()
        let file = backing.file("xfs.img")
        try Harness.tool("truncate", "-s", "320M", file)
        try Harness.tool("mkfs.xfs", "-q", "-m", reflink ? "reflink=1" : "reflink=0", file)
        device = try Harness.tool("losetup", "-f", "--show", file).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        path = backing.file("mnt")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        do {
            try Harness.tool("mount", device, path)
        } catch {
            _ = try? Harness.tool("losetup", "-d", device)
            throw error
        }
    }

    deinit {
        _ = try? Harness.tool("umount", path)
        _ = try? Harness.tool("losetup", "-d", device)
    }
}
