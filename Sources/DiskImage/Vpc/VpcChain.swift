import DiskImportCore

/// Opens a vhd read with random access and, for a differencing disk on a local file, the chain of parents it reads
/// through, top first. A parent is found by the child's "W2ru" locator (a path relative to the child), else by the
/// parent name in its header, only inside the child's directory (`SiblingFile`); it must carry the unique id the
/// child was made from, and may be fixed, dynamic or differencing itself. A chain that comes back to a file in it
/// is refused.
enum VpcChain {
    /// Longer chains are refused; real ones are a few images deep.
    static let maxDepth = 64

    /// One opened image: its layer, its footer and, for a differencing disk, where its parent is.
    struct Opened {
        var layer: MappedLayer
        var footer: VpcFooter
        var parent: VpcParentLocator?
    }

    static func layers(of source: RandomAccessSource, options: ReaderOptions) throws -> [MappedLayer] {
        let top = try open(source, name: options.name)
        guard let locator = top.parent else { return [top.layer] }
        guard let file = source as? LocalFile else {
            throw DiskImportError.unsupported("\(options.name): vpc: a differencing image's parent (\(locator.parentName)) is only followed for plain local images")
        }
        var layers = [top.layer]
        var seen: [FileIdentity: String] = [try FileIdentity(file): file.path]
        var child = (path: file.path, locator: locator, source: source)
        while true {
            guard options.followBacking else {
                throw DiskImportError.unsupported("\(child.path) has a parent (\(child.locator.parentName)); backing files are refused (--no-backing)")
            }
            guard layers.count < maxDepth else {
                throw DiskImportError.unsupported("\(file.path): vpc: the parent chain is more than \(maxDepth) images deep")
            }
            let name = try parentName(child.locator, in: child.source, name: child.path)
            let parent = try SiblingFile.open(name, namedBy: child.path, format: "vpc", role: "parent")
            let identity = try FileIdentity(parent)
            if let earlier = seen[identity] {
                throw DiskImportError.corrupt("\(child.path): vpc: the parent chain loops: its parent \(name) is \(earlier), already in the chain")
            }
            seen[identity] = parent.path
            let opened = try open(parent, name: parent.path)
            guard opened.footer.uniqueID == child.locator.parentID else {
                throw DiskImportError.corrupt("\(child.path): vpc: its parent \(parent.path) has unique id \(opened.footer.uniqueID.uuidText), not \(child.locator.parentID.uuidText) as the child says: the parent changed after the child was made")
            }
            layers.append(opened.layer)
            guard let next = opened.parent else { return layers }
            child = (parent.path, next, parent)
        }
    }

    /// The parent's file name: the relative locator's path, else the name in the header.
    private static func parentName(_ locator: VpcParentLocator, in source: RandomAccessSource, name: String) throws -> String {
        if let (offset, length) = locator.relativeLocator {
            let path = VpcParentLocator.relativePath(from: try source.bytes(at: offset, count: length, what: "the vpc parent locator"))
            if !path.isEmpty { return path }
        }
        return locator.parentName
    }

    /// One image of the chain. A fixed disk (its footer only at the end) is a parent here, or the top image under
    /// `-f vpc`: the probe calls it raw.
    static func open(_ source: RandomAccessSource, name: String) throws -> Opened {
        let head = try source.head(VpcFooter.length)
        if !head.starts(with: VpcFooter.cookie) {
            let footer = try VpcFixedDisk.footer(of: source, name: name)
            return Opened(layer: VpcFixedLayer(source: source, virtualSize: footer.virtualSize), footer: footer, parent: nil)
        }
        let footer = try VpcFooter(bytes: head, name: name)
        let differencing = footer.diskType == VpcFooter.DiskType.differencing.rawValue
        let headerBytes = try source.bytes(at: footer.dataOffset, count: differencing ? VpcParentLocator.headerLength : VpcDynamicHeader.length,
                                           what: "the vpc dynamic disk header")
        let header = try VpcDynamicHeader(bytes: headerBytes, footer: footer, name: name)
        let (offset, count) = try header.tableRange(virtualSize: footer.virtualSize, name: name)
        let table = try header.table(bytes: try source.bytes(at: offset, count: count, what: "the vpc block allocation table"),
                                     virtualSize: footer.virtualSize, name: name, fileLength: source.length)
        guard differencing else { return Opened(layer: BlockTableLayer(source: source, table: table), footer: footer, parent: nil) }
        guard header.bitmapSize * 8 * 512 >= UInt64(header.blockSize) else {
            throw DiskImportError.unsupported("\(name): vpc: the differencing image's blocks of \(header.blockSize) bytes have no sector bitmap")
        }
        return Opened(layer: VpcDifferencingLayer(source: source, table: table, bitmapSize: header.bitmapSize), footer: footer,
                      parent: try VpcParentLocator(header: headerBytes, name: name))
    }
}
