import Codecs
import DiskImportCore

/// Places the clusters of one xz block of a qcow2 image on an xz worker, without waiting for the blocks before it
/// wherever the map already says what a cluster is (see `XzParallelQcow2Reader`).
///
/// Cluster by cluster, in the block's order: a plain data cluster whose mapping is known is written to its guest
/// offsets; an L2 table is read here when every cluster it maps lies after it (as qemu-img lays images out), its
/// mappings going into the map for whichever worker meets those clusters; a refcount block is passed over. A cluster
/// nobody has mapped yet waits for the map to change: the L2 table that maps it is usually being read in an earlier
/// block. Anything else (the header, the L1 and refcount tables, compressed clusters, a table mapping backwards, a
/// cluster still unmapped once every earlier block is done, bytes that are not whole clusters) is left to the
/// session: the worker waits for its block's turn and feeds the session the rest of its block, which then proceeds
/// exactly as when the whole image is read front to back.
final class Qcow2BlockPlacer: XzBlockConsumer {
    private let layout: Qcow2StreamLayout
    private let shared: Qcow2StreamCoordinator
    private let session: Qcow2StreamSession
    private let output: Qcow2DirectOutput
    private var ticket = 0
    private var holdsSession = false

    init(layout: Qcow2StreamLayout, shared: Qcow2StreamCoordinator, session: Qcow2StreamSession,
         sink: ExtentSink, progress: TransferProgress) {
        self.layout = layout
        self.shared = shared
        self.session = session
        output = Qcow2DirectOutput(sink: sink, progress: progress)
    }

    func begin(_ block: XzBlock) {
        ticket = shared.claimTicket(startingAt: block.decodedOffset)
        holdsSession = false
    }

    func consume(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        if holdsSession { return try session.feed(bytes, at: offset) }
        let placed = try place(bytes, at: offset)
        try output.flush()
        guard placed < bytes.count else { return }
        if !holdsSession {
            try shared.takeSession(ticket: ticket)
            holdsSession = true
        }
        try session.skip(to: offset + UInt64(placed))
        try session.feed(UnsafeRawBufferPointer(rebasing: bytes[placed...]), at: offset + UInt64(placed))
    }

    func end(_ block: XzBlock) throws {
        try output.flush()
        let session = session
        try shared.complete(ticket: ticket, holdingSession: holdsSession) { try session.skip(to: $0) }
        holdsSession = false
    }

    func abandon(because error: any Error) {
        shared.cancel(because: (error as? DiskImportError) == XzBlockWorkers.stopped ? nil : error)
    }

    // MARK: - Placing

    /// What the map says about one cluster.
    private enum Decision {
        case plain([Qcow2StreamMap.PlainTarget])
        case table([Int])
        case passOver
        case unmapped(version: UInt64)
        case session
    }

    /// Places the leading whole clusters of `bytes` (image offset `offset`) that need no session; returns how many
    /// bytes that covers.
    private func place(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws -> Int {
        let clusterSize = Int(layout.clusterSize)
        guard offset % layout.clusterSize == 0 else { return 0 }
        var done = 0
        while done + clusterSize <= bytes.count {
            let host = offset + UInt64(done)
            let cluster = UnsafeRawBufferPointer(rebasing: bytes[done..<done + clusterSize])
            switch try decide(host, cluster) {
            case .plain(let targets):
                for target in targets { try layout.writePlain(target, cluster, to: output) }
            case .table(let l1Indices):
                try readTable(cluster, at: host, for: l1Indices)
            case .passOver:
                break
            case .unmapped(let version):
                switch try shared.waitForMapChange(after: version, ticket: ticket) {
                case .mapChanged: continue
                case .sessionTaken:
                    holdsSession = true
                    return done
                }
            case .session:
                return done
            }
            done += clusterSize
        }
        return done
    }

    private func decide(_ host: UInt64, _ cluster: UnsafeRawBufferPointer) throws -> Decision {
        let range = host..<host + layout.clusterSize
        if host < layout.clusterSize || range.overlaps(layout.l1Range) || range.overlaps(layout.refcountTableRange) {
            return .session
        }
        return shared.withMap { map, version in
            let index = host >> UInt64(layout.clusterBits)
            if !map.compressed.isEmpty && map.compressed[index] != nil { return .session }
            let isTable = !map.l2Tables.isEmpty && map.l2Tables[host] != nil
            let isPlain = !map.plain.isEmpty && map.plain[host] != nil
            if isTable {
                guard !isPlain, mapsOnlyForward(cluster, at: host, for: map.l2Tables[host]!) else { return .session }
                return .table(map.takeL2(at: host))
            }
            if isPlain { return .plain([map.takePlain(at: host)!] + map.takeExtraPlain(at: host)) }
            if !map.refcountBlocks.isEmpty && map.refcountBlocks.contains(host) { return .passOver }
            return .unmapped(version: version)
        }
    }

    /// Whether the L2 table `cluster` at `host` is one this worker can read: every entry valid, none compressed, and
    /// every data cluster after the table (so no worker or session has passed it yet).
    private func mapsOnlyForward(_ cluster: UnsafeRawBufferPointer, at host: UInt64, for l1Indices: [Int]) -> Bool {
        do {
            for index in l1Indices {
                try layout.forEachEntry(of: cluster, l1Index: index, tableOffset: host) { entry in
                    switch entry {
                    case .zeros: break
                    case .plain(_, let dataHost): if dataHost <= host { throw Self.notForward }
                    case .compressed: throw Self.notForward
                    }
                }
            }
            return true
        } catch {
            return false
        }
    }

    private static let notForward = DiskImportError(.corrupt, "qcow2 stream: an L2 table the session must read")

    /// Reads the L2 table `cluster` at `host` for `l1Indices`: zeros written, data mappings entered into the map.
    private func readTable(_ cluster: UnsafeRawBufferPointer, at host: UInt64, for l1Indices: [Int]) throws {
        var mappings: [(host: UInt64, target: Qcow2StreamMap.PlainTarget)] = []
        mappings.reserveCapacity(layout.l2Entries)
        for index in l1Indices {
            try layout.forEachEntry(of: cluster, l1Index: index, tableOffset: host) { entry in
                switch entry {
                case .zeros(let guest, let length): try output.zeros(guest: guest, length: length)
                case .plain(let target, let dataHost): mappings.append((dataHost, target))
                case .compressed: preconditionFailure("qcow2 stream: checked by mapsOnlyForward")
                }
            }
        }
        try shared.withMap { map, _ in
            for mapping in mappings { try map.addPlain(at: mapping.host, mapping.target) }
        }
        shared.mapChanged()
    }
}
