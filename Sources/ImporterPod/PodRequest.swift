import DiskImportCore
import Importer
import Target

/// Turns CDI's environment into the `ConvertRequest` that `diskimport convert` also runs.
enum PodRequest {
    /// A disk image import: remote images never follow a backing file, the target is fsynced before success.
    static func convertRequest(_ env: ImporterEnvironment, endpoint: String, paths: PodPaths, block: Bool) throws -> ConvertRequest {
        var request = ConvertRequest(source: endpoint, target: block ? paths.blockDevice : paths.diskImage)
        try applyCommon(env, paths: paths, to: &request)
        request.followBacking = false
        return request
    }

    /// A blank disk: a file sized by the space rules, or a block volume zeroed over min(its size, IMPORTER_IMAGE_SIZE).
    static func blankRequest(_ env: ImporterEnvironment, paths: PodPaths, block: Bool) throws -> ConvertRequest {
        var request = ConvertRequest(source: "", target: block ? paths.blockDevice : paths.diskImage)
        try applyCommon(env, paths: paths, to: &request)
        if block {
            let deviceSize = try LocalFile(path: paths.blockDevice).length
            request.blankLength = min(deviceSize, env.imageSize ?? deviceSize)
        } else {
            request.blankLength = 0
        }
        return request
    }

    private static func applyCommon(_ env: ImporterEnvironment, paths: PodPaths, to request: inout ConvertRequest) throws {
        request.requestedSize = env.imageSize
        request.filesystemOverhead = env.filesystemOverhead
        // CDI's PREALLOCATION=true is qemu-img's preallocation=falloc.
        request.preallocation = env.preallocation ? .falloc : .off
        request.sync = true
    }
}
