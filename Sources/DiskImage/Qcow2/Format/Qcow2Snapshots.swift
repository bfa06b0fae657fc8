import DiskImportCore

#if canImport(Glibc)
import Glibc
#endif

/// One internal snapshot from the qcow2 snapshot table (docs/interop/qcow2.txt "Snapshot table"), as `qemu-img info`
/// lists it. Snapshots do not change what a guest reads from the active image: only `info` reads them.
public struct Qcow2Snapshot: Sendable, Equatable {
    public var id: String
    public var name: String
    /// Bytes of saved VM state (the 64-bit extra-data field when present, else the 32-bit one).
    public var vmStateSize: UInt64
    public var dateSeconds: UInt32
    public var dateNanoseconds: UInt32
    public var vmClockNanoseconds: UInt64
    /// The instruction count of record/replay; nil when the entry has none (qemu's -1).
    public var icount: UInt64?
}

/// Reading the snapshot table as qemu 7.2's `qcow2_read_snapshots` (block/qcow2-snapshot.c) does at open, with its
/// limits, so an image qemu-img refuses to describe is refused here with one line.
public enum Qcow2SnapshotTable {
    /// qemu's QCOW_MAX_SNAPSHOT_EXTRA_DATA.
    static let maxExtraData: UInt32 = 1024
    /// qemu's QCOW_MAX_SNAPSHOTS_SIZE: the whole table, entries with their names and extra data.
    static let maxTableBytes: UInt64 = 64 << 20
    static let entryHeaderBytes = 40

    /// The snapshots of the image whose header is `header`, read from `source`.
    public static func read(from source: RandomAccessSource, header: Qcow2Header) throws -> [Qcow2Snapshot] {
        let name = source.displayName
        func corrupt(_ text: String) -> DiskImportError { .corrupt("\(name): qcow2: \(text)") }
        var snapshots: [Qcow2Snapshot] = []
        var offset = header.snapshotsOffset
        var entry = [UInt8](repeating: 0, count: entryHeaderBytes)
        for index in 0..<Int(header.snapshotCount) {
            offset = (offset + 7) & ~7
            try entry.withUnsafeMutableBytes { try source.readExactly(at: offset, into: $0, what: "snapshot table entry \(index)") }
            offset += UInt64(entryHeaderBytes)
            let fields = entry.withUnsafeBytes { raw in
                let f = BigEndianFields(raw)
                return (idSize: f.u16(12), nameSize: f.u16(14), date: f.u32(16), dateNanoseconds: f.u32(20),
                        vmClock: f.u64(24), vmState: f.u32(32), extraSize: f.u32(36))
            }
            guard fields.extraSize <= maxExtraData else {
                throw corrupt("too much extra metadata in snapshot table entry \(index) (\(fields.extraSize) bytes; qemu reads at most \(maxExtraData))")
            }
            let variableBytes = Int(fields.extraSize) + Int(fields.idSize) + Int(fields.nameSize)
            var variable = [UInt8](repeating: 0, count: variableBytes)
            try variable.withUnsafeMutableBytes { try source.readExactly(at: offset, into: $0, what: "snapshot table entry \(index)") }
            offset += UInt64(variableBytes)
            guard offset - header.snapshotsOffset <= maxTableBytes else {
                throw corrupt("the snapshot table is too big (more than \(maxTableBytes) bytes)")
            }
            snapshots.append(variable.withUnsafeBytes { raw in
                let extra = BigEndianFields(UnsafeRawBufferPointer(rebasing: raw[..<Int(fields.extraSize)]))
                let extraSize = Int(fields.extraSize)
                let id = raw[extraSize..<extraSize + Int(fields.idSize)]
                let title = raw[extraSize + Int(fields.idSize)..<raw.count]
                return Qcow2Snapshot(
                    id: String(decoding: id, as: UTF8.self), name: String(decoding: title, as: UTF8.self),
                    vmStateSize: extraSize >= 8 ? extra.u64(0) : UInt64(fields.vmState),
                    dateSeconds: fields.date, dateNanoseconds: fields.dateNanoseconds, vmClockNanoseconds: fields.vmClock,
                    icount: extraSize >= 24 && extra.u64(16) != UInt64.max ? extra.u64(16) : nil)
            })
        }
        return snapshots
    }
}

extension Qcow2Snapshot {
    /// qemu-img info --output json's entry of `snapshots` (SnapshotInfo: the VM clock split into seconds and
    /// nanoseconds, `icount` only when recorded).
    public var json: JSON {
        var members: [(String, JSON)] = []
        if let icount { members.append(("icount", .number(Double(icount)))) }
        members += [
            ("vm-clock-nsec", .number(Double(vmClockNanoseconds % 1_000_000_000))),
            ("name", .string(name)),
            ("date-sec", .number(Double(dateSeconds))),
            ("date-nsec", .number(Double(dateNanoseconds))),
            ("vm-clock-sec", .number(Double(vmClockNanoseconds / 1_000_000_000))),
            ("id", .string(id)),
            ("vm-state-size", .number(Double(vmStateSize))),
        ]
        return .object(members)
    }

    /// qemu-img info's "Snapshot list:" table (block/qapi.c `bdrv_snapshot_dump`): the header row, then one row per
    /// snapshot, dates in local time.
    public static func humanLines(_ snapshots: [Qcow2Snapshot]) -> [String] {
        let header = pad("ID", 10) + pad("TAG", 17) + right("VM SIZE", 8) + right("DATE", 20) + right("VM CLOCK", 13) + right("ICOUNT", 11)
        return ["Snapshot list:", header] + snapshots.map(\.humanRow)
    }

    /// `%-9s %-16s %8s%20s%13s%11s` of id, name, VM state size, date, VM clock, icount.
    var humanRow: String {
        let seconds = vmClockNanoseconds / 1_000_000_000
        let clock = digits(seconds / 3600, 2) + ":" + digits(seconds / 60 % 60, 2) + ":" + digits(seconds % 60, 2) + "."
            + digits(vmClockNanoseconds / 1_000_000 % 1000, 3)
        return Self.pad(id, 9) + " " + Self.pad(name, 16) + " " + Self.right(HumanSize.text(vmStateSize), 8)
            + Self.right(localDate, 20) + Self.right(clock, 13) + Self.right(icount.map { String($0) } ?? "", 11)
    }

    /// The snapshot's date as `%Y-%m-%d %H:%M:%S` in local time (qemu: g_date_time_new_from_unix_local).
    var localDate: String {
        var time = time_t(dateSeconds)
        var parts = tm()
        localtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func digits(_ value: UInt64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    /// printf's `%-Ns` and `%Ns`: pad to `width` characters (bytes, as C counts them); longer text is kept whole.
    private static func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.utf8.count)) }
    private static func right(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.utf8.count)) + text }
}

extension BigEndianFields {
    func u16(_ offset: Int) -> UInt16 { UInt16(byte(offset)) << 8 | UInt16(byte(offset + 1)) }
}
