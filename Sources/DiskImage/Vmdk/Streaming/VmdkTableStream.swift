import DiskImportCore

/// A hosted sparse vmdk read front to back by its tables. qemu-img (vmdk_init_extent) and VMware put the header,
/// descriptor, grain directories and grain tables in the overhead before the first grain (`grainOffset`), so the
/// overhead is read into memory, the tables parsed from it, and every grain then placed as it passes, in file
/// order. Grains never mapped are written as zeros at the end. An image whose directory or tables lie past the
/// overhead (or that holds compressed grains without markers) needs random access instead.
struct VmdkTableStream {
    enum Outcome {
        case done
        /// The stream cannot be placed in order; `consumed` are the bytes read from it so far.
        case needsRandomAccess(reason: String, consumed: [UInt8])
    }

    let stream: PeekableStream
    let header: VmdkSparseHeader
    let name: String

    /// The largest overhead read into memory: a 4 TiB disk's tables with qemu's 64 KiB grains.
    static let maxOverheadBytes: UInt64 = 128 << 20
    static let bufferBytes = 1 << 20

    func convert(to sink: ExtentSink, progress: TransferProgress) throws -> Outcome {
        // From a stream the header is checked without a file length, so its offsets may be anything: a product past
        // 64 bits is as far past the grains as the random-access reader (which refuses it) needs to be told.
        let (overheadBytes, overheadOverflows) = header.grainOffset.multipliedReportingOverflow(by: 512)
        let (gdStart, gdOverflows) = header.gdOffset.multipliedReportingOverflow(by: 512)
        let gdBytes = header.gdEntries * 4
        if header.isCompressed {
            return .needsRandomAccess(reason: "its compressed grains have no markers", consumed: [])
        }
        guard header.gdOffset != VmdkSparseHeader.gdAtEnd, !overheadOverflows, !gdOverflows, gdStart <= overheadBytes,
              gdBytes <= overheadBytes - gdStart, overheadBytes <= Self.maxOverheadBytes else {
            return .needsRandomAccess(reason: "the vmdk grain directory comes after the grains", consumed: [])
        }
        var overhead = [UInt8](repeating: 0, count: Int(overheadBytes))
        let got = try overhead.withUnsafeMutableBytes { try stream.readFully(into: $0) }
        guard got == overhead.count else { throw DiskImportError.corrupt("\(name): vmdk: file truncated, expecting at least \(overheadBytes) bytes") }
        guard let grains = try mappedGrains(overhead) else {
            return .needsRandomAccess(reason: "a vmdk grain table comes after the grains", consumed: overhead)
        }
        overhead = []
        let placed = try place(grains, from: overheadBytes, sink: sink, progress: progress)
        try placed.writeZerosOverGaps(grainBytes: header.grainBytes, virtualSize: header.virtualSize, sink: sink, progress: progress)
        return .done
    }

    /// The allocated grains as (file sector, grain index), sorted by file sector; nil when a table lies past the
    /// overhead. Zeroed grains (entry 1 with the zeroed-grain flag) are left out: they read as zeros.
    private func mappedGrains(_ overhead: [UInt8]) throws -> [(sector: UInt64, index: UInt64)]? {
        let gtes = UInt64(header.gtesPerGT)
        let grainCount = (header.capacity + header.granularity - 1) / header.granularity
        let directory = decode(overhead, at: Int(header.gdOffset * 512), count: Int(header.gdEntries))
        var grains: [(sector: UInt64, index: UInt64)] = []
        for (gdIndex, tableSector) in directory.enumerated() where tableSector != 0 {
            let tableStart = tableSector * 512
            guard tableStart + gtes * 4 <= UInt64(overhead.count) else { return nil }
            let table = decode(overhead, at: Int(tableStart), count: Int(gtes))
            for (i, entry) in table.enumerated() where entry != 0 && !(entry == 1 && header.hasZeroGrain) {
                let index = UInt64(gdIndex) * gtes + UInt64(i)
                guard index < grainCount else { continue }
                guard entry >= header.grainOffset else {
                    throw DiskImportError.corrupt("\(name): vmdk: grain \(index) at sector \(entry) lies in the header and tables (grain table entries that overlap)")
                }
                grains.append((entry, index))
            }
        }
        grains.sort { $0.sector < $1.sector }
        for (a, b) in zip(grains, grains.dropFirst()) where b.sector < a.sector + header.granularity {
            throw DiskImportError.corrupt("\(name): vmdk: grains \(a.index) and \(b.index) overlap at sector \(b.sector) (grain table entries that overlap)")
        }
        return grains
    }

    private func decode(_ bytes: [UInt8], at offset: Int, count: Int) -> [UInt64] {
        bytes.withUnsafeBytes { raw in
            (0..<count).map { UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + $0 * 4, as: UInt32.self))) }
        }
    }

    /// Reads the stream past the overhead, writing each grain to its guest offset as it passes.
    private func place(_ grains: [(sector: UInt64, index: UInt64)], from start: UInt64, sink: ExtentSink,
                       progress: TransferProgress) throws -> VmdkGrainBitmap {
        let grainBytes = header.grainBytes
        var placed = VmdkGrainBitmap(count: (header.capacity + header.granularity - 1) / header.granularity)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(Self.bufferBytes, Int(grainBytes)), alignment: 4096)
        defer { buffer.deallocate() }
        var position = start
        var ended = false
        for grain in grains {
            let host = grain.sector * 512
            let gap = host - position
            if gap > 0 {
                let skipped = ended ? 0 : try stream.skip(gap, scratch: buffer)
                position += skipped
                if skipped < gap { ended = true }
            }
            if ended || position < host {
                throw DiskImportError.corrupt("\(name): vmdk: grain \(grain.index) points past the end of the file (0x\(String(host, radix: 16)))")
            }
            let slot = UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(grainBytes)])
            let got = try stream.readFully(into: slot)
            // A last grain cut short by the end of the file reads as zeros, as qemu's reads past the end do.
            if got < slot.count {
                UnsafeMutableRawBufferPointer(rebasing: slot[got...]).initializeMemory(as: UInt8.self, repeating: 0)
                ended = true
            }
            position += UInt64(got)
            _ = placed.insert(grain.index)
            let guest = grain.index * grainBytes
            let length = Int(min(grainBytes, header.virtualSize - guest))
            try sink.write(UnsafeRawBufferPointer(rebasing: slot[..<length]), at: guest)
            progress.addGuestBytes(UInt64(length))
        }
        return placed
    }
}
