import DiskImportCore

/// Runs transfer jobs on one worker thread: keeps its buffers and decompressor between jobs.
final class Qcow2TransferWorker {
    private let sink: ExtentSink
    private let progress: TransferProgress
    private let decompressor = Qcow2ClusterDecompressor()
    private var span = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var output = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// Guest bytes gathered in `output` before one sink write.
    static let outputBytes = 1 << 20

    init(sink: ExtentSink, progress: TransferProgress) {
        self.sink = sink
        self.progress = progress
    }

    deinit {
        span.deallocate()
        output.deallocate()
    }

    func run(_ job: Qcow2TransferJob) throws {
        switch job {
        case .extents(let operations):
            for operation in operations { try run(operation) }
        case .compressed(let batch):
            try run(batch)
        }
    }

    private func run(_ operation: Qcow2TransferOperation) throws {
        switch operation {
        case .zeros(let guest, let length):
            try sink.writeZeros(at: guest, length: length)
            progress.addGuestBytes(length)
        case .data(let source, let host, let guest, let length):
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
                try source.readExactly(at: host + done, into: chunk, what: "qcow2 data cluster")
                try sink.write(UnsafeRawBufferPointer(chunk), at: guest + done)
                done += UInt64(chunk.count)
                progress.addSourceBytes(UInt64(chunk.count))
                progress.addGuestBytes(UInt64(chunk.count))
            }
        case .bytes(let buffer, let offset, let count, let guest):
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer.bytes[offset..<offset + count]), at: guest)
            progress.addGuestBytes(UInt64(count))
        }
    }

    private func run(_ batch: Qcow2CompressedBatch) throws {
        let input: UnsafeRawBufferPointer
        let base: UInt64
        switch batch.input {
        case .file(let source, let spanStart, let spanEnd):
            let spanLength = Int(spanEnd - spanStart)
            let buffer = UnsafeMutableRawBufferPointer(rebasing: ensure(&span, spanLength)[..<spanLength])
            // Past the end of the file reads as zeros, as qemu's do (the last cluster may be shorter than its descriptor).
            let got = try source.readFully(at: spanStart, into: buffer)
            if got < spanLength { UnsafeMutableRawBufferPointer(rebasing: buffer[got...]).initializeMemory(as: UInt8.self, repeating: 0) }
            progress.addSourceBytes(UInt64(got))
            input = UnsafeRawBufferPointer(buffer)
            base = spanStart
        case .memory(let buffer):
            input = UnsafeRawBufferPointer(buffer.bytes)
            base = 0
        }

        let clusterSize = batch.clusterSize
        let out = ensure(&output, max(Self.outputBytes, clusterSize))
        var filled = 0
        var outGuest: UInt64 = 0
        for item in batch.items {
            if filled > 0 && (outGuest + UInt64(filled) != item.guest || filled + clusterSize > out.count) {
                try flush(out, filled, at: outGuest)
                filled = 0
            }
            if filled == 0 { outGuest = item.guest }
            let start = Int(item.cluster.hostOffset - base)
            let source = UnsafeRawBufferPointer(rebasing: input[start..<start + item.cluster.length])
            let cluster = UnsafeMutableRawBufferPointer(rebasing: out[filled..<filled + clusterSize])
            guard decompressor.decompress(source, into: cluster, type: batch.type) else {
                throw corruption(item, batch)
            }
            if item.offsetInCluster > 0 {
                cluster.baseAddress!.copyMemory(from: cluster.baseAddress! + item.offsetInCluster, byteCount: item.length)
            }
            filled += item.length
        }
        if filled > 0 { try flush(out, filled, at: outGuest) }
    }

    private func flush(_ out: UnsafeMutableRawBufferPointer, _ count: Int, at guest: UInt64) throws {
        try sink.write(UnsafeRawBufferPointer(rebasing: out[..<count]), at: guest)
        progress.addGuestBytes(UInt64(count))
    }

    private func corruption(_ item: Qcow2CompressedBatch.Item, _ batch: Qcow2CompressedBatch) -> DiskImportError {
        let guest = item.guest - UInt64(item.offsetInCluster)
        guard case .file(let source, _, _) = batch.input else {
            return .corrupt("\(batch.name): qcow2: the compressed cluster for guest offset \(guest) does not decompress to one \(batch.type) cluster of \(batch.clusterSize) bytes")
        }
        let host = "0x\(String(item.cluster.hostOffset, radix: 16))"
        if item.cluster.hostOffset >= source.length {
            return .corrupt("\(batch.name): qcow2: compressed cluster for guest offset \(guest) lies at \(host), past the end of the file (\(source.length) bytes)")
        }
        return .corrupt("\(batch.name): qcow2: compressed cluster at \(host) (guest offset \(guest)) does not decompress to one \(batch.type) cluster of \(batch.clusterSize) bytes")
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
