import DiskImportCore

/// Where a differencing vhd says its parent is: the dynamic header's parent unique id and name (UTF-16BE at 64) and
/// its eight parent locators (at 576: platform code, space, length, offset), whose data lies elsewhere in the file.
/// The VHD specification's "W2ru" locator holds a path relative to the child (UTF-16LE, Windows separators), "W2ku"
/// an absolute one, "MacX" a file URL.
public struct VpcParentLocator: Sendable, Equatable {
    /// The dynamic header with its locator table.
    public static let headerLength = 1024
    /// The parent's footer unique id, which the parent must still carry.
    public var parentID: [UInt8]
    /// The parent's file name as the header holds it.
    public var parentName: String
    /// The relative path of the "W2ru" locator, where there is one: (offset, length) in the file.
    public var relativeLocator: (offset: UInt64, length: Int)?

    public static func == (a: VpcParentLocator, b: VpcParentLocator) -> Bool {
        a.parentID == b.parentID && a.parentName == b.parentName && a.relativeLocator?.offset == b.relativeLocator?.offset
            && a.relativeLocator?.length == b.relativeLocator?.length
    }

    /// Reads the parent fields from a dynamic header of `headerLength` bytes.
    public init(header bytes: [UInt8], name: String) throws {
        guard bytes.count >= Self.headerLength else {
            throw DiskImportError.corrupt("\(name): vpc: truncated dynamic disk header (\(bytes.count) of \(Self.headerLength) bytes)")
        }
        let fields = ByteFields(Array(bytes[..<Self.headerLength]))
        parentID = fields.slice(40, 16)
        let units = (0..<256).map { fields.bigEndian16(64 + 2 * $0) }
        parentName = String(decoding: units.prefix { $0 != 0 }, as: UTF16.self)
        for index in 0..<8 {
            let at = 576 + 24 * index
            guard fields.slice(at, 4) == Array("W2ru".utf8) else { continue }
            let length = Int(fields.bigEndian32(at + 8))
            guard length > 0, length <= 4096 else {
                throw DiskImportError.corrupt("\(name): vpc: parent locator \(index) has a length of \(length) bytes")
            }
            relativeLocator = (fields.bigEndian64(at + 16), length)
            break
        }
    }

    /// The relative path in the "W2ru" locator's data (UTF-16LE), with Windows separators turned to "/" and a
    /// leading "./" dropped.
    static func relativePath(from data: [UInt8]) -> String {
        let units = stride(from: 0, to: data.count - 1, by: 2).map { UInt16(data[$0]) | UInt16(data[$0 + 1]) << 8 }
        var path = String(decoding: units.prefix { $0 != 0 }, as: UTF16.self).replacingAll("\\", with: "/")
        while path.hasPrefix("./") { path.removeFirst(2) }
        return path
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
