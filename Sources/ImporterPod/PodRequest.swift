import DiskImportCore
import Fetch
import Importer
import Target

/// Turns CDI's environment into the `ConvertRequest` that `diskimport convert` also runs.
enum PodRequest {
    /// A disk image import: remote images never follow a backing file, the target is fsynced before success.
    static func convertRequest(_ env: ImporterEnvironment, endpoint: String, paths: PodPaths, block: Bool) throws -> ConvertRequest {
        var request = ConvertRequest(source: endpoint, target: block ? paths.blockDevice : paths.diskImage)
        try applyCommon(env, paths: paths, to: &request)
        // Remote images never follow a backing file (the streaming qcow2 reader refuses one by name).
        request.followBacking = false
        // Scratch only when the volume is mounted; without it an image that needs scratch ends with CDI's
        // scratchSpaceRequired, and the controller re-runs the pod with one.
        request.scratchDirectory = paths.scratch
        request.network = try networkOptions(env, paths: paths)
        request.checksum = env.checksum
        request.platform = env.platform
        return request
    }

    /// How to reach the endpoint, as CDI's http and registry data sources do: the system CAs plus every certificate
    /// file in IMPORTER_CERT_DIR and IMPORTER_PROXY_CERT_DIR, basic auth when both keys are set, INSECURE_TLS for
    /// registries only, IMPORTER_EXTRA_HEADER_* then the secret headers; proxies come from the environment
    /// (libcurl reads http_proxy, https_proxy and no_proxy itself).
    static func networkOptions(_ env: ImporterEnvironment, paths: PodPaths) throws -> HTTPOptions {
        var options = HTTPOptions()
        if let directory = env.certificateDirectory { options.caFiles += try certificateFiles(in: directory, required: true) }
        if let directory = env.proxyCertificateDirectory { options.caFiles += try certificateFiles(in: directory, required: false) }
        options.insecure = env.source == .registry && env.insecureTLS
        options.credentials = env.credentials
        let secretHeaders = try HeaderLine.fromSecretDirectory(paths.secretHeadersDirectory)
        options.headers = (env.extraHeaders + secretHeaders).map { HTTPHeader(name: $0.name, value: $0.value) }
        return options
    }

    /// CDI reads every file of a certificate directory whose name does not start with a dot (ConfigMap keys such as
    /// `ca.pem`, `tls.crt`, or any other name); files without a PEM certificate are skipped, as CDI skips them.
    static func certificateFiles(in directory: String, required: Bool) throws -> [String] {
        if !DirectoryListing.isDirectory(directory) {
            if required { throw DiskImportError.usage("IMPORTER_CERT_DIR \(directory) is not a directory") }
            return []
        }
        return try DirectoryListing.entries(of: directory).compactMap { name in
            let path = directory + "/" + name
            guard !name.hasPrefix("."), !DirectoryListing.isDirectory(path) else { return nil }
            let text = try DirectoryListing.readSmallFile(path, limit: 16 << 20)
            return text.contains("-----BEGIN CERTIFICATE-----") ? path : nil
        }
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
