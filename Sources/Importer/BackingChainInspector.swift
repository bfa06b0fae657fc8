import DiskImage
import DiskImportCore
import Fetch

extension ImageInspector {
    /// `info --backing-chain`: the image, then its backing file, that file's backing file, … to the end of the chain,
    /// each described as `inspect` describes one image. As qemu-img's collect_image_info_list (qemu-img.c), the next
    /// image is the previous one's full backing filename (resolved against its directory, or its URL), and a chain
    /// that comes back to an image already in it is an error rather than endless output.
    public static func inspectChain(_ source: String, network: HTTPOptions = HTTPOptions(), platform: RegistryPlatform? = nil) throws -> [ImageInfo] {
        var chain: [ImageInfo] = []
        var seen: Set<String> = []
        var next: String? = source
        while let current = next {
            guard seen.insert(current).inserted else {
                throw DiskImportError.corrupt("\(chain.last?.filename ?? source): the backing chain loops: \(current) is already in it")
            }
            guard chain.count < Qcow2BackingChain.maxDepth else {
                throw DiskImportError.unsupported("\(source): the backing chain is more than \(Qcow2BackingChain.maxDepth) images deep")
            }
            let info: ImageInfo
            do {
                info = try inspect(current, network: network, platform: platform)
            } catch let error as DiskImportError where !chain.isEmpty {
                throw DiskImportError(error.kind, "\(chain[chain.count - 1].filename): cannot open its backing file: \(error.message)",
                                      errno: error.errno)
            }
            chain.append(info)
            next = info.qcow2.flatMap(info.fullBackingFilename)
        }
        return chain
    }

    /// The chain as qemu-img info --backing-chain prints it: each image's text, a blank line between two.
    public static func humanText(chain: [ImageInfo]) -> String {
        chain.map(\.humanText).joined(separator: "\n")
    }

    /// The chain as qemu-img info --backing-chain --output json prints it: an array of the images' objects, top first.
    public static func json(chain: [ImageInfo]) -> JSON {
        .array(chain.map(\.json))
    }
}
