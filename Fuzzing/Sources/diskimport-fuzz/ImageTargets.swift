import Codecs
import DiskImage
import DiskImportCore
import Foundation

/// One disk image format's readers over the fuzzer's bytes: `info` from the head and with random access, the
/// random-access reader (its allocated-data report and a whole conversion), and the streaming reader fed in pieces of
/// sizes taken from the input, with and without scratch space and a known length.
struct ImageFormatTarget {
    let format: ImageFormat

    func run(_ bytes: [UInt8]) {
        let seed = inputHash(bytes)
        let options = ReaderOptions(name: "fuzz-input", scratchDirectory: seed & 1 == 0 ? ScratchDirectory.path : nil,
                                    followBacking: false, decodedLimit: CheckingSink.cap)
        let source = MemorySource(bytes)
        _ = try? format.reading.describe(source, name: options.name)
        _ = try? format.reading.describe(PeekableStream(ChunkedStream(bytes, seed: seed, announceLength: true)),
                                         length: source.length, name: options.name)
        if !format.reading.capabilities.isDisjoint(with: [.localFile, .rangedReads]) {
            convert { () throws -> DiskImageReader in
                let reader = try format.reading.randomAccessReader(source, options: options)
                _ = try reader.allocatedData()
                return reader
            }
        }
        let announce = seed & 2 == 0
        convert {
            try format.reading.streamingReader(PeekableStream(ChunkedStream(bytes, seed: seed >> 2, announceLength: announce)),
                                               length: announce ? source.length : nil, options: options)
        }
    }

    private func convert(_ open: () throws -> DiskImageReader) {
        guard let reader = try? open() else { return }
        _ = try? reader.convert(to: CheckingSink(), progress: TransferProgress())
    }
}

/// The scratch directory scripts/fuzz makes for the run and removes after it (libFuzzer ends a process with _exit,
/// so the process cannot clean up itself); readers delete their own files in it.
enum ScratchDirectory {
    static let path: String = {
        if let path = getenv("DISKIMPORT_FUZZ_SCRATCH") { return String(cString: path) }
        let path = NSTemporaryDirectory() + "diskimport-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()
}
