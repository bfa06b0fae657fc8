import DiskImportCore

/// Guest bytes written to the target on the calling thread: data runs that are contiguous both in memory and in the
/// guest become one write, zero ranges are coalesced. `flush` before the memory the data lies in is reused.
final class Qcow2DirectOutput: Qcow2GuestOutput {
    private let sink: ExtentSink
    private let progress: TransferProgress
    private var dataRun: (bytes: UnsafeRawBufferPointer, guest: UInt64)?
    private var zeroRun: (guest: UInt64, length: UInt64)?

    init(sink: ExtentSink, progress: TransferProgress) {
        self.sink = sink
        self.progress = progress
    }

    func data(_ bytes: UnsafeRawBufferPointer, guest: UInt64) throws {
        if let run = dataRun, run.guest + UInt64(run.bytes.count) == guest, run.bytes.baseAddress! + run.bytes.count == bytes.baseAddress! {
            dataRun = (UnsafeRawBufferPointer(start: run.bytes.baseAddress, count: run.bytes.count + bytes.count), run.guest)
            return
        }
        try flushData()
        dataRun = (bytes, guest)
    }

    func zeros(guest: UInt64, length: UInt64) throws {
        guard length > 0 else { return }
        if let run = zeroRun, run.guest + run.length == guest {
            zeroRun!.length += length
            return
        }
        try flushZeros()
        zeroRun = (guest, length)
    }

    func flush() throws {
        try flushData()
        try flushZeros()
    }

    private func flushData() throws {
        guard let run = dataRun else { return }
        dataRun = nil
        try sink.write(run.bytes, at: run.guest)
        progress.addGuestBytes(UInt64(run.bytes.count))
    }

    private func flushZeros() throws {
        guard let run = zeroRun else { return }
        zeroRun = nil
        try sink.writeZeros(at: run.guest, length: run.length)
        progress.addGuestBytes(run.length)
    }
}
