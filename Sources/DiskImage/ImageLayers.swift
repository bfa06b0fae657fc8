import Codecs
import DiskImportCore

extension LayerStack {
    /// Peels the wrappers `FormatSniffer` names (compression, tar) down to the disk image and returns what `image`
    /// makes of its format. `xzLayer` is asked at each xz wrapper before it is decoded, and may take the layer over
    /// (a reader that decodes the blocks itself); when it returns nil the layer is decoded here. A format diskimport
    /// does not read is refused by name, with the wrappers around it: "unsupported format vdi inside xz".
    public func peelToImage<Result>(xzLayer: (LayerStack) throws -> Result?, image: (ImageFormat) throws -> Result) throws -> Result {
        while true {
            switch FormatSniffer.detect(head: try peek(FormatSniffer.headLength)) {
            case .compressed(let compression):
                if compression == .xz, let taken = try xzLayer(self) { return taken }
                try peel(.compressed(compression))
            case .tar:
                try peel(.tar)
            case .unsupported(let name):
                throw DiskImportError.unsupported("unsupported format \(name)" + inside)
            case .image(let format):
                return try image(format)
            }
        }
    }

    /// Peels down to the disk image and returns its format.
    public func peelToImage() throws -> ImageFormat {
        try peelToImage(xzLayer: { _ in nil }, image: { $0 })
    }
}
