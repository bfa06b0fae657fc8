import DiskImportCore

/// A stream-optimized vmdk read front to back by its markers (VMware's streamOptimized layout, which qemu-img also
/// writes): after the header's overhead, each grain marker carries its LBA and its deflate data, so grains are
/// placed as they arrive and inflated on every core; grain table, grain directory and footer markers are passed
/// over (the footer is checked against the header), and the end-of-stream marker ends the image. No scratch space.
struct VmdkMarkerStream {
    let stream: PeekableStream
    let header: VmdkSparseHeader
    let name: String
    let threads: Int

    /// Deflate data gathered before it is handed to a worker.
    static let batchBytes = 1 << 20

    func convert(to sink: ExtentSink, progress: TransferProgress) throws {
        let grainBytes = header.grainBytes
        var placed = VmdkGrainBitmap(count: (header.capacity + header.granularity - 1) / header.granularity)
        let name = self.name
        let pool = try WorkerPool<VmdkTransferJob>(threads: threads, queueDepth: 2 * threads) {
            let worker = VmdkTransferWorker(sink: sink, progress: progress, name: name)
            return { job in try worker.run(job) }
        }
        do {
            try readMarkers(placed: &placed) { try pool.submit(.streamedGrains($0)) }
        } catch {
            pool.fail(error)
            try? pool.finish()
            throw error
        }
        try pool.finish()
        try placed.writeZerosOverGaps(grainBytes: grainBytes, virtualSize: header.virtualSize, sink: sink, progress: progress)
    }

    /// Reads every marker after the overhead, handing over grains in batches.
    private func readMarkers(placed: inout VmdkGrainBitmap, submit: (VmdkStreamedGrains) throws -> Void) throws {
        let grainBytes = Int(header.grainBytes)
        let capacity = Self.batchBytes + 2 * grainBytes + 512
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { scratch.deallocate() }
        var position = try skip(max(header.grainOffset, 1) * 512, at: 0, scratch: scratch, what: "the header's overhead")
        // A stream whose header defers to a footer must end with its end-of-stream marker; qemu-img's end at EOF.
        let needsEnd = header.gdOffset == VmdkSparseHeader.gdAtEnd
        var batch = newBatch(capacity)
        var used = 0
        defer { if batch.buffer.baseAddress != nil { batch.buffer.deallocate() } }
        func handOver() throws {
            guard !batch.items.isEmpty else { return }
            let full = batch
            batch = newBatch(capacity)
            used = 0
            try submit(full)
        }
        let sector = UnsafeMutableRawBufferPointer(rebasing: scratch[..<512])
        while true {
            let n = try stream.readFully(into: sector)
            if n == 0 {
                if needsEnd { throw truncated(position, "before its end-of-stream marker") }
                break
            }
            guard n == 512, let marker = VmdkMarker(UnsafeRawBufferPointer(sector)) else { throw truncated(position, "inside a marker") }
            let markerAt = position
            position += 512
            if marker.size == 0 {
                switch marker.type {
                case VmdkMarker.endOfStream:
                    try handOver()
                    return
                case VmdkMarker.grainTable, VmdkMarker.grainDirectory:
                    position = try skip(try metadataBytes(marker, at: markerAt), at: position, scratch: scratch, what: "a table")
                case VmdkMarker.footer:
                    position = try checkFooter(marker, at: markerAt, scratch: scratch) + position
                default:
                    throw DiskImportError.corrupt("\(name): vmdk: unknown marker type \(marker.type) at stream offset \(markerAt)")
                }
                continue
            }
            let grain = try checkGrain(marker, at: markerAt, placed: &placed)
            let total = VmdkMarker.grainHeaderLength + Int(marker.size)
            let padded = (total + 511) / 512 * 512
            if used + padded > capacity { try handOver() }
            let base = batch.buffer.baseAddress! + used
            base.copyMemory(from: sector.baseAddress!, byteCount: 512)
            let rest = UnsafeMutableRawBufferPointer(start: base + 512, count: padded - 512)
            if try stream.readFully(into: rest) < rest.count { throw truncated(markerAt, "inside the grain for guest offset \(grain)") }
            position += UInt64(padded - 512)
            batch.items.append(.init(offset: used + VmdkMarker.grainHeaderLength, count: Int(marker.size), guest: grain))
            used += padded
            if used >= Self.batchBytes { try handOver() }
        }
        try handOver()
    }

    private func newBatch(_ capacity: Int) -> VmdkStreamedGrains {
        VmdkStreamedGrains(buffer: .allocate(byteCount: capacity, alignment: 4096), grainBytes: header.grainBytes,
                           virtualSize: header.virtualSize, name: name, items: [])
    }

    /// The guest offset of the grain a marker carries, after checking it lies on a grain of the guest not placed yet
    /// and that its data fits in the two grains qemu would read.
    private func checkGrain(_ marker: VmdkMarker, at offset: UInt64, placed: inout VmdkGrainBitmap) throws -> UInt64 {
        let grainBytes = header.grainBytes
        guard UInt64(marker.size) <= 2 * grainBytes - UInt64(VmdkMarker.grainHeaderLength) else {
            throw DiskImportError.corrupt("\(name): vmdk: the grain marker at stream offset \(offset) holds \(marker.size) bytes of compressed data, more than two grains")
        }
        guard marker.value < header.capacity, marker.value % header.granularity == 0 else {
            throw DiskImportError.corrupt("\(name): vmdk: the grain marker at stream offset \(offset) has LBA \(marker.value), not the start of a grain inside the disk (\(header.capacity) sectors)")
        }
        guard placed.insert(marker.value / header.granularity) else {
            throw DiskImportError.corrupt("\(name): vmdk: the grain for guest offset \(marker.value * 512) appears twice in the stream (grain markers that overlap)")
        }
        return marker.value * 512
    }

    /// The bytes of a table after its marker: `value` sectors, which must be a table's size, not the stream's.
    private func metadataBytes(_ marker: VmdkMarker, at offset: UInt64) throws -> UInt64 {
        let sectors = (max(header.gdEntries * 4, UInt64(header.gtesPerGT) * 4) + 511) / 512
        guard marker.value <= sectors else {
            throw DiskImportError.corrupt("\(name): vmdk: the table marker at stream offset \(offset) claims \(marker.value) sectors, more than a table of this image holds")
        }
        return marker.value * 512
    }

    /// Reads the footer after its marker and checks that it describes the same disk as the header; returns its bytes.
    private func checkFooter(_ marker: VmdkMarker, at offset: UInt64, scratch: UnsafeMutableRawBufferPointer) throws -> UInt64 {
        guard marker.value >= 1, marker.value <= 64 else {
            throw DiskImportError.corrupt("\(name): vmdk: the footer marker at stream offset \(offset) claims \(marker.value) sectors")
        }
        let bytes = Int(marker.value * 512)
        let footer = UnsafeMutableRawBufferPointer(rebasing: scratch[..<bytes])
        if try stream.readFully(into: footer) < bytes { throw truncated(offset, "inside the footer") }
        let copy = try VmdkSparseHeader(UnsafeRawBufferPointer(footer), name: name)
        guard copy.capacity == header.capacity, copy.granularity == header.granularity else {
            throw DiskImportError.corrupt("\(name): vmdk: the footer (capacity \(copy.capacity) sectors, grains of \(copy.granularity)) does not match the header (\(header.capacity), \(header.granularity))")
        }
        return UInt64(bytes)
    }

    /// Reads past `count` bytes at stream offset `position`; returns the offset after them.
    private func skip(_ count: UInt64, at position: UInt64, scratch: UnsafeMutableRawBufferPointer, what: String) throws -> UInt64 {
        let skipped = try stream.skip(count, scratch: scratch)
        if skipped < count { throw truncated(position + skipped, "inside \(what)") }
        return position + count
    }

    private func truncated(_ offset: UInt64, _ where_: String) -> DiskImportError {
        .corrupt("\(name): vmdk: the stream is truncated at offset \(offset), \(where_)")
    }
}
