import Codecs
import DiskImportCore

extension LayerStack {
    /// Peels the wrappers `FormatSniffer` names (compression, tar) down to the disk image and returns what `image`
    /// makes of its format, as `choice` decides it (`-f` skips the probe). `xzLayer` is asked at each xz wrapper
    /// before it is decoded, and may take the layer over (a reader that decodes the blocks itself); when it returns
    /// nil the layer is decoded here. A format diskimport does not read is refused by name, with the wrappers around
    /// it: "unsupported format bochs inside xz".
    public func peelToImage<Result>(choice: FormatChoice = .probe, source: String = "the image",
                                    xzLayer: (LayerStack) throws -> Result?, image: (ImageFormat) throws -> Result) throws -> Result {
        while true {
            let detected = FormatSniffer.detect(head: try peek(FormatSniffer.headLength))
            if let format = try choice.format(for: detected, source: source, inside: inside) { return try image(format) }
            switch detected {
            case .compressed(let compression):
                if compression == .xz, let taken = try xzLayer(self) { return taken }
                try peel(.compressed(compression))
            default:
                try peel(.tar)
            }
        }
    }

    /// Peels down to the disk image and returns its format.
    public func peelToImage() throws -> ImageFormat {
        try peelToImage(xzLayer: { _ in nil }, image: { $0 })
    }
}
