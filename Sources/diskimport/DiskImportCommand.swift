import ArgumentParser
import CLinux

/// The release this build is. Bumped with each tagged release; `diskimport --version` prints it.
let diskimportVersion = "0.1.0"

@main
struct DiskImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diskimport",
        abstract: "Import disk images (qcow2 or raw, plain or gz/xz/zstd) from a path, an http(s):// URL, a docker:// reference "
            + "or an s3:// or gs:// object into a sparse file or a block device.",
        version: "diskimport version \(diskimportVersion)",
        subcommands: [ConvertCommand.self, InfoCommand.self, ImportCommand.self, CronCommand.self, UploadServerCommand.self, UploadCommand.self]
    )

    static func main() {
        // The threaded xz decoder allocates a buffer per block (24 MiB for `xz -T` output) and frees it. By default
        // glibc then raises its mmap threshold past that size, serves the next blocks from its heaps, and keeps the
        // freed memory: peak RSS measured 150-205 MiB on a 4 GiB qcow2.xz, 124-130 MiB with buffers of 4 MiB and
        // more mapped on their own (about 0.6 s more system time per GiB, a few percent of the wall time). The
        // streaming budget is 128 MiB.
        clinux_map_allocations_from(4 << 20)
        // Before any thread: SIGTERM/SIGINT/SIGHUP/SIGQUIT run the temporary-file cleanup from the start, even when a
        // parent handed them to us blocked (`cron run` blocks SIGTERM and SIGINT again for its sigwait thread).
        clinux_cleanup_install()
        Self.main(nil)
    }
}
