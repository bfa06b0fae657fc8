import DiskImportCore

/// Opens the images a local vmdk reads through: the image, its parent (`parentFileNameHint`), that one's parent, …
/// as qemu opens a vmdk's backing file (block/vmdk.c vmdk_parent_open: the parent is opened as vmdk). Parent names
/// resolve like extent names, only beside the image that names them (`VmdkFileNames`); a chain that comes back to a
/// file already in it is refused.
enum VmdkChain {
    static let maxDepth = 64

    /// The chain starting at the image in `file`, top first. With `followBacking` false, an image with a parent is
    /// refused.
    static func open(_ file: LocalFile, followBacking: Bool) throws -> [VmdkImage] {
        var chain = [try VmdkImage(file: file, followExtents: true)]
        var seen: [FileIdentity: String] = [try FileIdentity(file): file.path]
        while let hint = chain.last!.parentHint {
            let child = chain.last!
            guard followBacking else {
                throw DiskImportError.unsupported("\(child.path) has a backing file (\(hint)); backing files are refused (--no-backing)")
            }
            guard chain.count < maxDepth else {
                throw DiskImportError.unsupported("\(file.path): the backing chain is more than \(maxDepth) images deep")
            }
            let parent = try VmdkFileNames.open(hint, namedBy: child.path, role: "parent")
            let identity = try FileIdentity(parent)
            if let earlier = seen[identity] {
                throw DiskImportError.corrupt("\(child.path): the backing chain loops: its parent \(hint) is \(earlier), already in the chain")
            }
            seen[identity] = parent.path
            let head = try parent.head(512)
            guard head.starts(with: VmdkSparseHeader.magic) || VmdkDescriptor.probe(head) else {
                throw DiskImportError.unsupported("\(child.path): its parent \(parent.path) is not a vmdk image")
            }
            chain.append(try VmdkImage(file: parent, followExtents: true))
        }
        return chain
    }

    /// qemu's vmdk_is_cid_valid, checked before the first read through to the parent: the child's parentCID must be
    /// the parent's CID, else the parent changed after the child was made.
    static func checkCID(child: VmdkImage, parent: VmdkImage) throws {
        guard child.parentCID == parent.cid else {
            throw DiskImportError.corrupt("\(child.path): vmdk: its parentCID \(String(child.parentCID, radix: 16)) is not the CID of its parent \(parent.path) (\(String(parent.cid, radix: 16))): the parent changed after the delta was made")
        }
    }
}
