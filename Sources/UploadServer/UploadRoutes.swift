/// What an upload endpoint does with its body, by CDI's path lists (pkg/common/common.go: SyncUploadPaths,
/// AsyncUploadPaths, ArchiveUploadPaths, SyncUploadFormPaths, AsyncUploadFormPaths).
struct UploadKind: Sendable, Equatable, CustomStringConvertible {
    /// Answer once the bytes are in (CDI: once they are stored), not once the disk is complete.
    var async = false
    /// multipart/form-data with the image in part `file`.
    var form = false
    /// A tar extracted into the volume (CDI's archive content type) instead of a disk image.
    var archive = false

    var description: String {
        archive ? "archive" : (form ? "form" : "raw") + (async ? " async" : "")
    }

    /// The raw-body endpoints, which also speak tus.
    var acceptsTus: Bool { !form && !archive }
}

enum UploadRoute: Equatable {
    case healthz
    case upload(UploadKind)

    /// The route of a request target (its query, if any, ignored), or nil for CDI's 404.
    init?(target: String) {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        if path == "/healthz" {
            self = .healthz
            return
        }
        for version in ["/v1beta1/", "/v1alpha1/"] where path.hasPrefix(version) {
            switch path.dropFirst(version.count) {
            case "upload": self = .upload(UploadKind())
            case "upload-async": self = .upload(UploadKind(async: true))
            case "upload-archive": self = .upload(UploadKind(archive: true))
            case "upload-form": self = .upload(UploadKind(form: true))
            case "upload-form-async": self = .upload(UploadKind(async: true, form: true))
            default: return nil
            }
            return
        }
        return nil
    }
}
