import Foundation

/// Two versions of a disk as a rebuilt filesystem makes them (issue 21): the old one is "files" of random 4 KiB
/// blocks laid end to end; the new one has most of the same files in another order (so the blocks it shares lie at
/// other offsets), a few blocks inside them changed, and some new files. The old version is a raw file written where
/// the test says (the reference, on the target's filesystem); the new one is a qcow2 elsewhere, with qemu-img's raw
/// conversion of it as the oracle.
struct DeltaImagePair {
    static let block = 4096
    /// Where the old raw file is.
    let oldRaw: String
    /// The new version, as a qcow2 (in `work`).
    let newQcow2: String
    /// `qemu-img convert -O raw` of `newQcow2`.
    let expected: String
    /// Bytes of the new version's data that occur in the old one.
    let sharedBytes: UInt64
    /// Bytes of the new version's data that do not.
    let newBytes: UInt64

    /// - Parameters: `files` old files of 1 to 32 blocks; `newFiles` more in the new version only.
    init(oldRaw: String, work: TemporaryDirectory, files: Int, newFiles: Int) throws {
        var random = FaultRandom()
        let random4K = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom"))
        defer { try? random4K.close() }
        func blocks(_ n: Int) -> [Data] { (0..<n).map { _ in random4K.readData(ofLength: Self.block) } }
        let old = (0..<files).map { _ in blocks(Int.random(in: 1...32, using: &random)) }
        // Old: the files in order, with a 1 MiB hole after the first half (SEEK_DATA must step over it).
        var oldLayout: [Data?] = []
        for (i, file) in old.enumerated() {
            if i == files / 2 { oldLayout += Array(repeating: nil, count: 256) }
            oldLayout += file.map { $0 }
        }
        try Self.writeRaw(oldLayout, to: oldRaw)

        // New: nine in ten old files, shuffled, one block in every fifth changed; the new files; a hole; a tail.
        var newFileList: [[Data]] = old.filter { _ in Int.random(in: 0..<10, using: &random) != 0 }
        var changed = 0
        for i in newFileList.indices where i % 5 == 0 {
            newFileList[i][Int.random(in: 0..<newFileList[i].count, using: &random)] = blocks(1)[0]
            changed += 1
        }
        let added = (0..<newFiles).map { _ in blocks(Int.random(in: 1...32, using: &random)) }
        newFileList += added
        newFileList.shuffle(using: &random)
        var newLayout: [Data?] = Array(newFileList.joined().map { $0 })
        newLayout.insert(contentsOf: Array(repeating: nil, count: 64), at: newLayout.count / 3)
        let raw = work.file("new.raw")
        try Self.writeRaw(newLayout, to: raw)
        let addedBytes = UInt64((added.joined().count + changed) * Self.block)
        newBytes = addedBytes
        sharedBytes = UInt64(newLayout.compactMap { $0 }.count * Self.block) - addedBytes

        self.oldRaw = oldRaw
        newQcow2 = work.file("new.qcow2")
        expected = work.file("expected.raw")
        try Harness.tool("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, newQcow2)
        try Harness.tool("qemu-img", "convert", "-f", "qcow2", "-O", "raw", newQcow2, expected)
        try FileManager.default.removeItem(atPath: raw)
    }

    /// Writes blocks (nil: a hole) as a sparse raw file.
    private static func writeRaw(_ layout: [Data?], to path: String) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        for (i, block) in layout.enumerated() {
            guard let block else { continue }
            try handle.seek(toOffset: UInt64(i * Self.block))
            try handle.write(contentsOf: block)
        }
        try handle.truncate(atOffset: UInt64(layout.count * Self.block))
    }
}
