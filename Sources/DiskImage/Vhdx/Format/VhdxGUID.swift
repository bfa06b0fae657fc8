/// A Microsoft GUID as VHDX stores it: data1 (32 bits), data2 and data3 (16 bits each) little-endian, then 8 bytes
/// (block/vhdx.h MSGUID). Region, metadata item and parent locator types are GUIDs; so are the header's write and
/// log identifiers.
struct VhdxGUID: Hashable, Sendable, CustomStringConvertible {
    /// The 16 bytes as stored.
    let bytes: [UInt8]

    init(bytes: [UInt8]) {
        precondition(bytes.count == 16)
        self.bytes = bytes
    }

    init(_ buffer: UnsafeRawBufferPointer, at offset: Int) {
        bytes = Array(buffer[offset..<offset + 16])
    }

    /// From the canonical text `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (braces optional, any case); nil when it is
    /// not one.
    init?(text: String) {
        var hex = Substring(text)
        if hex.hasPrefix("{") && hex.hasSuffix("}") { hex = hex.dropFirst().dropLast() }
        let groups = hex.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return nil }
        var values: [UInt8] = []
        for group in groups {
            var digits = Array(group.utf8)
            guard digits.count % 2 == 0 else { return nil }
            var groupBytes: [UInt8] = []
            while !digits.isEmpty {
                guard let byte = UInt8(String(decoding: digits.prefix(2), as: UTF8.self), radix: 16) else { return nil }
                groupBytes.append(byte)
                digits.removeFirst(2)
            }
            values += groupBytes
        }
        // data1..data3 are little-endian in storage, big-endian in the text.
        values[0..<4].reverse()
        values[4..<6].reverse()
        values[6..<8].reverse()
        self.bytes = values
    }

    var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    /// `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}`, lowercase, as the parent locator's parent_linkage writes it.
    var description: String {
        func hex(_ range: [Int]) -> String { range.map { String(format2: bytes[$0]) }.joined() }
        return "{" + hex([3, 2, 1, 0]) + "-" + hex([5, 4]) + "-" + hex([7, 6]) + "-" + hex([8, 9]) + "-"
            + hex(Array(10..<16)) + "}"
    }

    // block/vhdx.c: the region and metadata item GUIDs.
    static let batRegion = VhdxGUID(text: "2dc27766-f623-4200-9d64-115e9bfd4a08")!
    static let metadataRegion = VhdxGUID(text: "8b7ca206-4790-4b9a-b8fe-575f050f886e")!
    static let fileParameters = VhdxGUID(text: "caa16737-fa36-4d43-b3b6-33f0aa44e76b")!
    static let virtualDiskSize = VhdxGUID(text: "2fa54224-cd1b-4876-b211-5dbed83bf4b8")!
    static let page83Data = VhdxGUID(text: "beca12ab-b2e6-4523-93ef-c309e000c746")!
    static let logicalSectorSize = VhdxGUID(text: "8141bf1d-a96f-4709-ba47-f233a8faab5f")!
    static let physicalSectorSize = VhdxGUID(text: "cda348c7-445d-4471-9cc9-e9885251c556")!
    static let parentLocator = VhdxGUID(text: "a8d35f2d-b30b-454d-abf7-d3d84834ab0c")!
    /// The parent locator type of a VHDX parent (MS-VHDX 2.6.2.6.3).
    static let vhdxParentType = VhdxGUID(text: "b04aefb7-d19e-4a81-b789-25b8e9445913")!
}

private extension String {
    init(format2 byte: UInt8) {
        let digits = String(byte, radix: 16)
        self = digits.count == 1 ? "0" + digits : digits
    }
}
