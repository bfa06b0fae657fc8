import DiskImportCore
import Fetch

extension ImageInspector {
    /// An object in S3 or GCS: its head streamed through a small queue, as for an http(s) source, then dropped.
    public static func inspect(_ object: StoredObject) throws -> ImageInfo {
        let body = try object.stream(bufferCount: StreamInspection.httpBufferCount, bufferSize: StreamInspection.httpBufferSize)
        let found = try StreamInspection(body, length: object.length, name: object.displayName)
        return ImageInfo(filename: object.displayName, format: found.qcow2 == nil ? "raw" : "qcow2", layers: found.layers,
                         virtualSize: found.virtualSize, actualSize: nil, qcow2: found.qcow2)
    }
}
