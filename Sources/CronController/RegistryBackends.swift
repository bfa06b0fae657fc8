import DiskImportCore

/// The registry-backed `DigestSource` (manifest HEAD) and `VolumeImporter` (the import pipeline) that `cron tick`
/// and `cron run` use: the one place they are wired in.
///
/// diskimport has no registry client yet, so this says so instead of pretending to poll.
public enum RegistryBackends {
    public static func make() throws -> (DigestSource, VolumeImporter) {
        throw DiskImportError.unsupported(
            "registry polling is not available yet: this build of diskimport has no registry client, so cron tick and cron run cannot poll digests or import (cron status works)")
    }
}
