import DiskImportCore

/// Runs vmdk transfer jobs on one worker thread: copies data (in the kernel for local files), writes zeros, inflates
/// compressed grains. Keeps its buffers and inflater between jobs.
final class VmdkTransferWorker {
    private let sink: ExtentSink
    private let progress: TransferProgress
    private let name: String
    private let inflater = VmdkGrainInflater()
    private var span = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var output = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// Guest bytes gathered in `output` before one sink write.
    static let outputBytes = 1 << 20

    init(sink: ExtentSink, progress: TransferProgress, name: String) {
        self.sink = sink
        self.progress = progress
        self.name = name
    }

    deinit {
        span.deallocate()
        output.deallocate()
    }

    func run(_ job: VmdkTransferJob) throws {
        switch job {
        case .extents(let operations):
            for operation in operations { try run(operation) }
        case .grains(let batch):
            try run(batch)
        case .streamedGrains(let grains):
            defer { grains.buffer.deallocate() }
            try run(grains)
        }
    }

    private func run(_ operation: VmdkTransferOperation) throws {
        switch operation {
        case .zeros(let guest, let length):
            try sink.writeZeros(at: guest, length: length)
            progress.addGuestBytes(length)
        case .data(let box, let host, let guest, let length):
            let source = box.source
            if let fd = source.localFile {
                try sink.copy(from: fd, sourceOffset: host, to: guest, length: length)
                progress.addSourceBytes(length)
                progress.addGuestBytes(length)
                return
            }
            let buffer = ensure(&output, Self.outputBytes)
            var done: UInt64 = 0
            while done < length {
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(min(UInt64(buffer.count), length - done))])
                try source.readExactly(at: host + done, into: chunk, what: "vmdk grain")
                try sink.write(UnsafeRawBufferPointer(chunk), at: guest + done)
                done += UInt64(chunk.count)
                progress.addSourceBytes(UInt64(chunk.count))
                progress.addGuestBytes(UInt64(chunk.count))
            }
        }
    }

    /// Grains read by random access: one pread of the span (zeros past the end of the file, as qemu reads), then
    /// each grain as qemu's vmdk_read_extent: the marker's size (or a whole grain without markers) of zlib data.
    private func run(_ batch: VmdkGrainBatch) throws {
        let spanLength = Int(batch.span.count)
        let input = UnsafeMutableRawBufferPointer(rebasing: ensure(&span, spanLength)[..<spanLength])
        let got = try batch.source.source.readFully(at: batch.span.lowerBound, into: input)
        if got < spanLength { UnsafeMutableRawBufferPointer(rebasing: input[got...]).initializeMemory(as: UInt8.self, repeating: 0) }
        progress.addSourceBytes(UInt64(got))
        let grainBytes = Int(batch.grainBytes)
        var gather = Gather(out: ensure(&output, max(Self.outputBytes, grainBytes)))
        for item in batch.items {
            let start = Int(item.host - batch.span.lowerBound)
            var dataStart = start, dataLength = grainBytes
            if batch.hasMarkers {
                dataStart = start + VmdkMarker.grainHeaderLength
                dataLength = Int(UInt32(littleEndian: UnsafeRawBufferPointer(input).loadUnaligned(fromByteOffset: start + 8, as: UInt32.self)))
            }
            // qemu reads two grains from the marker and refuses a size of 0 or one that does not fit in them.
            guard dataLength > 0, dataLength <= 2 * grainBytes - (dataStart - start), dataStart + dataLength <= spanLength else {
                throw DiskImportError.corrupt("\(batch.source.source.displayName): vmdk: compressed grain at 0x\(String(item.host, radix: 16)) (guest offset \(item.guest - UInt64(item.offsetInGrain))) has an invalid size of \(dataLength) bytes")
            }
            let grain = try gather.slot(for: item.guest, bytes: grainBytes, sink: sink, progress: progress)
            switch inflater.inflate(UnsafeRawBufferPointer(rebasing: input[dataStart..<dataStart + dataLength]), into: grain) {
            case .failure(let failure):
                throw VmdkGrainInflater.error(failure, name: batch.source.source.displayName, guest: item.guest - UInt64(item.offsetInGrain),
                                              host: item.host, grainBytes: batch.grainBytes)
            case .success(let produced):
                guard produced >= item.offsetInGrain + item.length else {
                    throw DiskImportError.corrupt("\(batch.source.source.displayName): vmdk: compressed grain at 0x\(String(item.host, radix: 16)) inflates to \(produced) bytes, short of the \(item.offsetInGrain + item.length) the guest needs")
                }
                gather.commit(grain, offsetInGrain: item.offsetInGrain, length: item.length, guest: item.guest)
            }
        }
        try gather.flush(sink: sink, progress: progress)
    }

    /// Grains from a stream: each inflates to a whole grain, or to exactly what is left of the guest for the last.
    private func run(_ grains: VmdkStreamedGrains) throws {
        let grainBytes = Int(grains.grainBytes)
        var gather = Gather(out: ensure(&output, max(Self.outputBytes, grainBytes)))
        for item in grains.items {
            let want = Int(min(grains.grainBytes, grains.virtualSize - item.guest))
            let slot = try gather.slot(for: item.guest, bytes: grainBytes, sink: sink, progress: progress)
            switch inflater.inflate(UnsafeRawBufferPointer(rebasing: grains.buffer[item.offset..<item.offset + item.count]), into: slot) {
            case .failure(let failure):
                throw VmdkGrainInflater.error(failure, name: grains.name, guest: item.guest, host: nil, grainBytes: grains.grainBytes)
            case .success(let produced):
                guard produced >= want else {
                    throw DiskImportError.corrupt("\(grains.name): vmdk: compressed grain for guest offset \(item.guest) inflates to \(produced) bytes, short of the \(want) the guest needs")
                }
                gather.commit(slot, offsetInGrain: 0, length: want, guest: item.guest)
            }
        }
        try gather.flush(sink: sink, progress: progress)
    }

    /// `buffer`, grown to at least `bytes`.
    private func ensure(_ buffer: inout UnsafeMutableRawBufferPointer, _ bytes: Int) -> UnsafeMutableRawBufferPointer {
        if buffer.count < bytes {
            buffer.deallocate()
            buffer = .allocate(byteCount: bytes, alignment: 4096)
        }
        return buffer
    }
}

/// Inflated grains gathered into one buffer while they are contiguous in the guest, written with one sink write.
private struct Gather {
    let out: UnsafeMutableRawBufferPointer
    var filled = 0
    var guest: UInt64 = 0

    init(out: UnsafeMutableRawBufferPointer) { self.out = out }

    /// Where to inflate a grain whose wanted bytes go to guest offset `pieceGuest`: after what is gathered when they
    /// follow on and a whole grain fits, else at the start once that is written.
    mutating func slot(for pieceGuest: UInt64, bytes: Int, sink: ExtentSink, progress: TransferProgress) throws -> UnsafeMutableRawBufferPointer {
        if filled > 0 && (guest + UInt64(filled) != pieceGuest || filled + bytes > out.count) {
            try flush(sink: sink, progress: progress)
        }
        return UnsafeMutableRawBufferPointer(rebasing: out[filled..<filled + bytes])
    }

    /// Keeps `length` bytes of the grain inflated into `slot`, from `offsetInGrain`, for guest offset `at`.
    mutating func commit(_ slot: UnsafeMutableRawBufferPointer, offsetInGrain: Int, length: Int, guest at: UInt64) {
        if offsetInGrain > 0 { slot.baseAddress!.copyMemory(from: slot.baseAddress! + offsetInGrain, byteCount: length) }
        if filled == 0 { guest = at }
        filled += length
    }

    mutating func flush(sink: ExtentSink, progress: TransferProgress) throws {
        guard filled > 0 else { return }
        try sink.write(UnsafeRawBufferPointer(rebasing: out[..<filled]), at: guest)
        progress.addGuestBytes(UInt64(filled))
        filled = 0
    }
}
