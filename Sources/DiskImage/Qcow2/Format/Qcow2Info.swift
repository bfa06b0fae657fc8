import DiskImportCore

/// How `info` describes a qcow2 header: qemu-img info's "format-specific" data, with its key names.
extension Qcow2Header {
    /// qemu-img info --output json's `format-specific` object, with the image's persistent `bitmaps` when read.
    /// Version 2 images have only compat, compression type and refcount bits, as in qemu. The keys are in the
    /// order qemu prints them (its QDict's hash order), which the human form follows.
    public func formatSpecificJSON(bitmaps: [Qcow2Bitmap]? = nil) -> JSON {
        var data: [(String, JSON)] = [
            ("compat", .string(compatLevel)),
            ("compression-type", .string(compressionType.description)),
        ]
        if version >= 3 { data.append(("lazy-refcounts", .bool(lazyRefcounts))) }
        if let bitmaps, !bitmaps.isEmpty { data.append(("bitmaps", .array(bitmaps.map(\.json)))) }
        data.append(("refcount-bits", .number(Double(refcountBits))))
        if hasExternalDataFile {
            if let file = extensions.dataFileName { data.append(("data-file", .string(file))) }
            data.append(("data-file-raw", .bool(hasRawExternalData)))
        }
        if version >= 3 {
            data.append(("corrupt", .bool(isCorrupt)))
            data.append(("extended-l2", .bool(hasExtendedL2)))
        }
        return .object([("type", .string("qcow2")), ("data", .object(data))])
    }

    /// The same, as qemu-img info prints it under "Format specific information:".
    public func formatSpecificLines(bitmaps: [Qcow2Bitmap]? = nil) -> [String] {
        var lines = ["compat: \(compatLevel)", "compression type: \(compressionType)"]
        if version >= 3 { lines.append("lazy refcounts: \(lazyRefcounts)") }
        if let bitmaps, !bitmaps.isEmpty { lines += Qcow2Bitmap.humanLines(bitmaps) }
        lines.append("refcount bits: \(refcountBits)")
        if hasExternalDataFile {
            if let file = extensions.dataFileName { lines.append("data file: \(file)") }
            lines.append("data file raw: \(hasRawExternalData)")
        }
        if version >= 3 {
            lines.append("corrupt: \(isCorrupt)")
            lines.append("extended l2: \(hasExtendedL2)")
        }
        return lines
    }

    /// The path qemu opens for the backing file: relative names resolved against the image's directory.
    public func fullBackingFilename(imagePath: String) -> String? {
        guard let name = extensions.backingFileName, !name.isEmpty else { return nil }
        return (try? Qcow2BackingChain.resolve(backingName: name, of: imagePath)) ?? name
    }
}

extension Qcow2Header {
    /// Parses the qcow2 header at the head of a stream (a qcow2 inside a compression wrapper): peeks the first
    /// cluster without consuming it.
    public static func read(from stream: PeekableStream, name: String) throws -> Qcow2Header {
        let prefix = try stream.peek(104)
        let want = prefix.withUnsafeBytes { headLength(from: $0) }
        let head = try stream.peek(want)
        return try head.withUnsafeBytes { try Qcow2Header(head: $0, fileLength: nil, name: name) }
    }

    /// Parses the header of the qcow2 image in `source`, reading its first cluster.
    public static func read(from source: RandomAccessSource) throws -> Qcow2Header {
        try Qcow2Image.readHeader(from: source)
    }
}
