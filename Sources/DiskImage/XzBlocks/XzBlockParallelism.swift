import CLzma
import DiskImportCore

#if canImport(Glibc)
import Glibc
#endif

/// The budgets of decoding .xz blocks in parallel straight into the target, shared by every format that does
/// (raw: `XzParallelRawReader`; qcow2: `XzParallelQcow2Reader`).
public enum XzBlockParallelism {
    /// Compressed bytes buffered between this thread and the workers, at most: the blocks of `xz -T2 -6` are up to
    /// 24 MiB; a larger one is decoded by the reader's own thread, streaming.
    static let bufferBudget: Int = {
        if let n = MeasurementKnob.positiveInteger("DISKIMPORT_XZ_BUFFER_MIB") { return min(n, 1024) << 20 }
        return 48 << 20
    }()
    /// Decoder memory (dictionary and output chunk) the workers may hold together: four workers on `xz -6`'s 8 MiB
    /// dictionary, one on `xz -9`'s 64 MiB. With `bufferBudget` and the binary, an import stays under 128 MiB RSS.
    static let workerMemoryBudget: UInt64 = 40 << 20
    static let chunkSize = 1 << 20

    /// False when `DISKIMPORT_XZ_PARALLEL=0`: images inside .xz go through XzStream (for measurement).
    public static var isEnabled: Bool {
        guard let text = getenv("DISKIMPORT_XZ_PARALLEL") else { return true }
        return String(cString: text) != "0"
    }

    /// Workers by default: the CPUs this process may run on (`lzma_cputhreads`), or `DISKIMPORT_XZ_THREADS`.
    static var defaultThreadCount: Int {
        if let n = MeasurementKnob.positiveInteger("DISKIMPORT_XZ_THREADS") { return min(n, 64) }
        return max(1, Int(lzma_cputhreads()))
    }
}
