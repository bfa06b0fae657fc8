import DiskImportCore

/// Which volume a cron's new import shares blocks with (issue 21): the cron's newest complete volume in the same
/// class, when the class allows delta volumes (`deltaVolumes`, default true) and its root makes reflinks.
///
/// CDI imports each new digest of a boot source as a full copy. A new version of a golden image mostly holds the
/// old one's blocks at other offsets (a rebuilt filesystem moves files), so `convert --reference` clones them from
/// the newest volume and stores only what is new. Garbage collection is unchanged: deleting the old volume leaves
/// the shared extents to the new one (the filesystem counts references).
enum DeltaReference {
    static func newestVolume(of cron: String, in storageClass: StorageClass, besides volume: String,
                             store: StateStore) throws -> VolumeRecord? {
        guard storageClass.deltaVolumes else { return nil }
        let candidates = try store.volumes().filter {
            $0.cron == cron && $0.name != volume && $0.className == storageClass.name && FileSystem.isRegularFile($0.path)
        }
        guard let newest = candidates.max(by: { ($0.created, $0.name) < ($1.created, $1.name) }) else { return nil }
        // Storage without reflinks keeps full copies, as before: convert --reference would refuse it.
        do {
            try ReflinkSnapshot.probe("\(storageClass.root)/volumes", storageClass: storageClass.name)
        } catch {
            return nil
        }
        return newest
    }
}
