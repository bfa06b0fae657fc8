import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Where the streaming qcow2 reader keeps clusters that pass before it knows what they are, so that an L2 table
/// arriving later can still place them.
///
/// The most recent ones stay in memory (`memoryBytes`, first in first out). Older ones move to the scratch file
/// when there is a scratch directory, and are dropped otherwise; a later reference to a dropped cluster fails with
/// "scratch space required" instead of losing data. Most images need no scratch file at all: those written by
/// qemu-img convert place an L2 table before its data, except for the odd cluster that fills a hole the refcount
/// table left when it grew, which the memory tier catches.
///
/// The scratch file is unlinked as soon as it is created: nothing is left behind, whatever happens.
final class Qcow2StreamScratch {
    private struct Run {
        var host: UInt64
        var length: UInt64
        var scratch: UInt64
    }

    static let memoryBytes = 32 << 20

    private let clusterSize: Int
    /// The tier, allocated at the first cluster kept: most imports keep none, and by then the stages started with
    /// the first data (the xz workers) have taken their share of the budget.
    private var memory: UnsafeMutableRawBufferPointer?
    /// Slot n holds the cluster at `slotHost[n]` (`.max`: empty), `slotLength[n]` bytes of it.
    private var slotHost: [UInt64] = []
    private var slotLength: [Int] = []
    private var slotOf: [UInt64: Int] = [:]
    private var nextSlot = 0
    private let wantedBytes: Int
    private let budget: MemoryBudget?
    private var grantedBytes = 0

    private let file: FileDescriptor?
    private let directory: String?
    private var spilled: [Run] = []
    private(set) var bytesWritten: UInt64 = 0

    /// Whether a scratch file backs the memory tier.
    var isAvailable: Bool { file != nil }

    /// `memoryBytes`: the memory tier's size at most; with a `budget`, what is left of it then (never fewer than
    /// four clusters).
    init(directory: String?, clusterSize: Int, memoryBytes: Int = Qcow2StreamScratch.memoryBytes, budget: MemoryBudget? = nil) throws {
        self.directory = directory
        self.clusterSize = clusterSize
        wantedBytes = memoryBytes
        self.budget = budget
        guard let directory else {
            file = nil
            return
        }
        let path = directory + "/.diskimport-scratch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            file = try FileDescriptor.open(path, .readWrite, options: [.create, .exclusiveCreate, .closeOnExec],
                                           permissions: [.ownerReadWrite])
        } catch let errno as Errno {
            throw DiskImportError.io("create scratch file in", directory, errno)
        }
        unlink(path)
    }

    deinit {
        memory?.deallocate()
        budget?.giveBack(grantedBytes)
        try? file?.close()
    }

    /// The tier, allocated on first use from the budget.
    private func tier() -> UnsafeMutableRawBufferPointer {
        if let memory { return memory }
        let minimum = 4 * clusterSize
        grantedBytes = budget?.take(upTo: max(minimum, wantedBytes), atLeast: minimum) ?? max(minimum, wantedBytes)
        let slots = max(4, grantedBytes / clusterSize)
        let allocated = UnsafeMutableRawBufferPointer.allocate(byteCount: slots * clusterSize, alignment: 4096)
        slotHost = [UInt64](repeating: .max, count: slots)
        slotLength = [Int](repeating: 0, count: slots)
        memory = allocated
        return allocated
    }

    /// Keeps the cluster at image offset `host` (`bytes` is a cluster, or less at the end of the image).
    func keep(_ bytes: UnsafeRawBufferPointer, host: UInt64) throws {
        let memory = tier()
        let slot = nextSlot
        nextSlot = (nextSlot + 1) % slotHost.count
        if slotHost[slot] != .max {
            let old = slotHost[slot]
            slotOf[old] = nil
            try spill(UnsafeRawBufferPointer(rebasing: memory[slot * clusterSize..<slot * clusterSize + slotLength[slot]]), host: old)
        }
        (memory.baseAddress! + slot * clusterSize).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        slotHost[slot] = host
        slotLength[slot] = bytes.count
        slotOf[host] = slot
    }

    /// Reads image bytes `range` back into `destination`; false when some of them were not kept.
    func read(_ range: Range<UInt64>, into destination: UnsafeMutableRawBufferPointer) throws -> Bool {
        var position = range.lowerBound
        while position < range.upperBound {
            let cluster = position - position % UInt64(clusterSize)
            let end = min(range.upperBound, cluster + UInt64(clusterSize))
            let target = UnsafeMutableRawBufferPointer(rebasing: destination[Int(position - range.lowerBound)..<Int(end - range.lowerBound)])
            if let slot = slotOf[cluster], let memory {
                let from = Int(position - cluster)
                guard from + target.count <= slotLength[slot] else { return false }
                target.baseAddress!.copyMemory(from: memory.baseAddress! + slot * clusterSize + from, byteCount: target.count)
            } else if try !readSpilled(position, into: target) {
                return false
            }
            position = end
        }
        return true
    }

    private func spill(_ bytes: UnsafeRawBufferPointer, host: UInt64) throws {
        guard let file else { return }
        try file.writeAll(bytes, at: bytesWritten, path: "scratch file in \(directory ?? "")")
        let length = UInt64(bytes.count)
        // Clusters leave memory in stream order, so runs are appended in image order.
        if let last = spilled.last, last.host + last.length == host, last.scratch + last.length == bytesWritten {
            spilled[spilled.count - 1].length += length
        } else {
            spilled.append(Run(host: host, length: length, scratch: bytesWritten))
        }
        bytesWritten += length
    }

    /// Reads `target.count` bytes at image offset `position` from the scratch file (all within one cluster).
    private func readSpilled(_ position: UInt64, into target: UnsafeMutableRawBufferPointer) throws -> Bool {
        guard let file else { return false }
        // The last run starting at or before `position`.
        var low = 0, high = spilled.count
        while low < high {
            let mid = (low + high) / 2
            if spilled[mid].host <= position { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return false }
        let run = spilled[low - 1]
        guard position + UInt64(target.count) <= run.host + run.length else { return false }
        var done = 0
        while done < target.count {
            let n: Int
            do {
                n = try file.read(fromAbsoluteOffset: Int64(run.scratch + position - run.host) + Int64(done),
                                  into: UnsafeMutableRawBufferPointer(rebasing: target[done...]), retryOnInterrupt: true)
            } catch let errno as Errno {
                throw DiskImportError.io("read scratch file in", directory ?? "", errno)
            }
            if n == 0 { throw DiskImportError(.io, "scratch file in \(directory ?? ""): ended early") }
            done += n
        }
        return true
    }
}
