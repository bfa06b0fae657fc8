/// Every environment variable of CDI's importer pod, and what `diskimport import` does with it: the one place this
/// is decided. README.md's pod-mode table mirrors it (a test checks that every name here appears there).
public struct EnvironmentVariable: Sendable {
    public enum Handling: String, Sendable {
        /// Read and acted on as CDI's importer does.
        case honoured
        /// Read, and a value diskimport cannot serve is refused with a clear error (exit 1).
        case refused
        /// Not read: the reason says why that is safe.
        case ignored
    }

    public let name: String
    public let handling: Handling
    public let meaning: String
}

extension EnvironmentVariable {
    public static let all: [EnvironmentVariable] = [
        .init(name: "IMPORTER_SOURCE", handling: .honoured,
              meaning: "http, registry, s3, gcs or none (a blank disk); imageio and vddk are refused as not supported; anything else is CDI's \"Unknown data source\". registry pulls the docker:// image's disk (the first regular file under disk/, layers in manifest order) with its digests verified; s3 and gcs stream the object (one signed GET, resumed after a cut), and a failure to reach it is CDI's \"Unable to connect to s3 data source: …\""),
        .init(name: "IMPORTER_ENDPOINT", handling: .honoured,
              meaning: "the http(s):// URL or docker:// reference to import; for s3, SCHEME://HOST[:PORT]/BUCKET/KEY path-style (http turns TLS off, any other scheme is https; the signing region from s3.REGION.amazonaws.com, else the host's first DNS label, else us-east-1); for gcs, gs://BUCKET/OBJECT or https://HOST/BUCKET/OBJECT (a custom endpoint)"),
        .init(name: "IMPORTER_CONTENTTYPE", handling: .honoured,
              meaning: "kubevirt (a disk image; the default when unset) or archive (a tar extracted into the data directory); archive from a registry is CDI's \"Unsupported content type\""),
        .init(name: "IMPORTER_IMAGE_SIZE", handling: .honoured,
              meaning: "the requested size, a Kubernetes quantity: the image must fit in min(free, size) and the raw file grows to usable(min(free, size), FILESYSTEM_OVERHEAD); required for a blank disk"),
        .init(name: "IMPORTER_ACCESS_KEY_ID", handling: .honoured,
              meaning: "user name for HTTP basic auth or the registry; the s3 access key id (with IMPORTER_SECRET_KEY or not at all, else CDI's \"must be set together\"; neither: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, else anonymous); never logged"),
        .init(name: "IMPORTER_SECRET_KEY", handling: .honoured,
              meaning: "password for HTTP basic auth or the registry; the s3 secret key, which signs every request (AWS Signature V4 by libcurl); never logged"),
        .init(name: "IMPORTER_CERT_DIR", handling: .honoured,
              meaning: "directory of CA certificates trusted for the endpoint besides the system's: every file whose name does not start with a dot and that holds a PEM certificate, as CDI reads it (for http, registry and s3; for a gcs custom endpoint too, where CDI trusts only the system's)"),
        .init(name: "IMPORTER_PROXY_CERT_DIR", handling: .honoured,
              meaning: "directory of CA certificates of the proxy, added to the trusted set"),
        .init(name: "INSECURE_TLS", handling: .honoured,
              meaning: "Go boolean: skip TLS verification of the registry (registry source only, as in CDI; logged as a warning); another value is refused"),
        .init(name: "PREALLOCATION", handling: .honoured,
              meaning: "Go boolean (1 t T TRUE true True 0 f F FALSE false False, unset = false): reserve every block of the disk; another value is CDI's error, exit 1"),
        .init(name: "FILESYSTEM_OVERHEAD", handling: .honoured,
              meaning: "fraction of a filesystem volume kept free, read as Go's strconv.ParseFloat reads it (0.055, 5.5e-2; unset = 0, as in CDI); a value that is not a number from 0 to 1 is refused"),
        .init(name: "DISKIMPORT_OVERHEAD_ARITHMETIC", handling: .honoured,
              meaning: "diskimport's own (CDI sets no such variable): which CDI release's overhead arithmetic to follow, v1.63 (the default: avail / (1 + o) and size × (1 + o), CDI v1.63.0 and later) or v1.62 ((1 - o) × avail and size / (1 - o), CDI v1.62.0 and earlier); set it in the image for an older CDI; another value is refused"),
        .init(name: "IMPORTER_CHECKSUM", handling: .honoured,
              meaning: "algorithm:hex (md5, sha1, sha256, sha512) of the downloaded bytes; a mismatch fails with \"checksum mismatch\" and removes the target"),
        .init(name: "IMPORTER_REGISTRY_IMAGE_ARCHITECTURE", handling: .honoured,
              meaning: "platform picked from a multi-architecture registry image, ARCH or ARCH/VARIANT (default: this machine's); another value is refused"),
        .init(name: "IMPORTER_EXTRA_HEADER_*", handling: .honoured,
              meaning: "each value is one \"Name: value\" HTTP header sent with every request, in the order of the variable names"),
        .init(name: "/extraheaders/*/*", handling: .honoured,
              meaning: "CDI's secret extra headers: each file (dot names skipped) is one \"Name: value\" header; never logged"),
        .init(name: "http_proxy", handling: .honoured, meaning: "proxy for http:// URLs (libcurl reads it, and HTTP_PROXY)"),
        .init(name: "https_proxy", handling: .honoured, meaning: "proxy for https:// URLs (libcurl reads it, and HTTPS_PROXY)"),
        .init(name: "no_proxy", handling: .honoured, meaning: "hosts reached without the proxy (libcurl reads it, and NO_PROXY)"),
        .init(name: "OWNER_UID", handling: .honoured,
              meaning: "the ownerUID label of kubevirt_cdi_import_progress_total"),
        .init(name: "IMPORTER_READY_FILE", handling: .honoured,
              meaning: "wait up to 60 s for this file before importing (else \"Timeout waiting for file\", exit 1); for http, a non-empty file names the image that replaces disk.img at the end of the endpoint"),
        .init(name: "IMPORTER_DONE_FILE", handling: .honoured,
              meaning: "created after a successful import"),
        .init(name: "IMPORTER_PULL_METHOD", handling: .honoured,
              meaning: "pod or node: both read the endpoint given (node-pull serves the disk over http from a sidecar); the image's env labels are not copied into the termination message"),
        .init(name: "CACHE_MODE", handling: .ignored,
              meaning: "TRYNONE asks qemu-img for O_DIRECT writes; diskimport writes through the page cache and fsyncs before reporting success, which gives the same durability"),
        .init(name: "TLS_CIPHERS", handling: .ignored,
              meaning: "cipher list of CDI's own TLS servers; the metrics endpoint uses BoringSSL's defaults with TLS 1.2 or later"),
        .init(name: "TLS_MIN_VERSION", handling: .ignored,
              meaning: "minimum TLS version of CDI's own TLS servers; the metrics endpoint accepts TLS 1.2 or later"),
        .init(name: "GOOGLE_APPLICATION_CREDENTIALS", handling: .honoured,
              meaning: "for gcs: the service account key file (CDI mounts the Secret's credentials.json at /google/credentials.json); its RS256-signed JWT is exchanged at the key's token_uri for an access token, renewed before it expires; unset reads anonymously (a public object); never logged"),
        .init(name: "AWS_ACCESS_KEY_ID", handling: .honoured,
              meaning: "for s3 without IMPORTER_ACCESS_KEY_ID/IMPORTER_SECRET_KEY, as the AWS SDK's default chain CDI falls back to reads it (with AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN); never logged"),
        .init(name: "AWS_SECRET_ACCESS_KEY", handling: .honoured, meaning: "the secret key going with AWS_ACCESS_KEY_ID; never logged"),
        .init(name: "AWS_SESSION_TOKEN", handling: .honoured,
              meaning: "the session token of temporary credentials from AWS_ACCESS_KEY_ID, sent as x-amz-security-token; never logged"),
        .init(name: "STORAGE_EMULATOR_HOST", handling: .honoured,
              meaning: "for gcs with a gs:// endpoint: the host (http unless a scheme is given) to use instead of storage.googleapis.com, as Google's client libraries read it"),
        .init(name: "IMPORTER_DISK_ID", handling: .ignored, meaning: "only for the imageio source, which is refused"),
        .init(name: "IMPORTER_UUID", handling: .ignored, meaning: "only for the vddk source, which is refused"),
        .init(name: "IMPORTER_BACKING_FILE", handling: .ignored, meaning: "only for the vddk source, which is refused"),
        .init(name: "IMPORTER_THUMBPRINT", handling: .ignored, meaning: "only for the vddk source, which is refused"),
        .init(name: "IMPORTER_CURRENT_CHECKPOINT", handling: .ignored, meaning: "only for the imageio and vddk sources (warm migration), which are refused"),
        .init(name: "IMPORTER_PREVIOUS_CHECKPOINT", handling: .ignored, meaning: "only for the imageio and vddk sources (warm migration), which are refused"),
        .init(name: "IMPORTER_FINAL_CHECKPOINT", handling: .ignored, meaning: "only for the vddk source (warm migration), which is refused"),
    ]
}
