import Codecs
import DiskImportCore
import Foundation
import Testing

/// An OVA is a tar whose first file is an OVF descriptor: the disk it references is the tar's disk. Hostile
/// descriptors and archives are one clear error each.
@Suite struct OvaArchiveTests {
    static let first = sampleData(300_000, seed: 7)
    static let second = sampleData(70_000, seed: 8)

    static func ovf(files: String, disks: String, prolog: String = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>") -> [UInt8] {
        Array("""
            \(prolog)
            <!-- exported by a test -->
            <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
              <References>\(files)</References>
              <DiskSection><Info>Virtual disks &amp; more</Info>\(disks)</DiskSection>
              <VirtualSystem ovf:id="vm"><Name><![CDATA[ <Disk ovf:fileRef="file2"/> ]]></Name></VirtualSystem>
            </Envelope>
            """.utf8)
    }

    /// Two disks, the second listed first in References, a blank disk without a file between them.
    static let standard = ovf(
        files: #"<ovf:File ovf:href="second.vmdk" ovf:id="file2"/><File ovf:href='first.vmdk' ovf:id="file1" ovf:size="300000"/>"#,
        disks: #"<Disk ovf:diskId="d1" ovf:fileRef="file1"/><Disk ovf:diskId="blank" ovf:capacity="1"/><Disk ovf:diskId="d2" ovf:fileRef="file2"></Disk>"#)

    static func ova(_ descriptor: [UInt8], members: [TarEntrySpec]? = nil, format: String = "PAX_FORMAT",
                    in scratch: Scratch) throws -> [UInt8] {
        let entries = [TarEntrySpec.file("appliance.ovf", descriptor)] + (members ?? [
            .file("appliance.mf", Array("SHA256(first.vmdk)= 00\n".utf8)),
            .file("first.vmdk", first),
            .file("second.vmdk", second),
        ])
        return try contents(try makeTar(entries, at: scratch.file("appliance.ova"), format: format))
    }

    @Test(arguments: ["PAX_FORMAT", "GNU_FORMAT", "USTAR_FORMAT"])
    func theFirstDiskTheOvfReferences(_ format: String) throws {
        let scratch = try Scratch()
        let tar = try Self.ova(Self.standard, format: format, in: scratch)
        let (entry, isOva) = try TarDiskEntry.open(MemoryStream(tar, maximumRead: 10_000))
        #expect(isOva)
        #expect(entry.expectedLength == UInt64(Self.first.count))
        #expect(try drain(entry) == Self.first)
        let (chosen, _) = try TarDiskEntry.open(MemoryStream(tar), ovaDisk: 2)
        #expect(try drain(chosen) == Self.second)
    }

    @Test func aDiskPastTheLastIsAUsageError() throws {
        let scratch = try Scratch()
        let tar = try Self.ova(Self.standard, in: scratch)
        let error = diskImportError { _ = try TarDiskEntry.open(MemoryStream(tar), ovaDisk: 3) }
        #expect(error?.kind == .usage)
        #expect(error?.message == "--disk 3: the OVF lists 2 disks (1 to 2)")
    }

    @Test func aTarThatIsNoOvaRefusesDisk() throws {
        let scratch = try Scratch()
        let tar = try contents(try makeTar([.file("disk/disk.img", Self.first)], at: scratch.file("layer")))
        let error = diskImportError { _ = try TarDiskEntry.open(MemoryStream(tar), ovaDisk: 1) }
        #expect(error?.message == "--disk 1: the tar is not an OVA (its first file, disk/disk.img, is not an .ovf descriptor)")
        #expect(try TarDiskEntry.open(MemoryStream(tar)).isOva == false)
    }

    @Test func aDescriptorAfterTheDisksIsRefused() throws {
        let scratch = try Scratch()
        let tar = try contents(try makeTar([.file("first.vmdk", Self.first), .file("appliance.ovf", Self.standard)],
                                           at: scratch.file("late.ova")))
        let error = diskImportError { _ = try TarDiskEntry.open(MemoryStream(tar)) }
        #expect(error?.message == "OVA: its OVF descriptor appliance.ovf is not its first file (first.vmdk is): diskimport reads an OVA whose descriptor comes first, as the OVF specification requires")
    }

    static let hostileHrefs: [(String, String)] = [
        ("../first.vmdk", "is in \"../first.vmdk\", which is not a plain member name of the archive"),
        ("/etc/passwd", "is in \"/etc/passwd\", which is not a plain member name"),
        ("disks/first.vmdk", "is in \"disks/first.vmdk\", which is not a plain member name"),
        ("http://example.com/first.vmdk", "which is not a plain member name"),
        ("..", "is in \"..\", which is not a plain member name"),
        ("c:\\\\first.vmdk", "which is not a plain member name"),
        ("first&#10;.vmdk", "which is not a plain member name"),
        ("", "is in \"\", which is not a plain member name"),
        ("missing.vmdk", "OVA: the OVF's disk \"d1\" is in \"missing.vmdk\", which the archive does not hold after its descriptor"),
    ]

    @Test(arguments: hostileHrefs)
    func hostileHrefsAreOneError(_ href: String, _ message: String) throws {
        let scratch = try Scratch()
        let descriptor = Self.ovf(files: #"<File ovf:href="\#(href)" ovf:id="file1"/>"#, disks: #"<Disk ovf:diskId="d1" ovf:fileRef="file1"/>"#)
        let members: [TarEntrySpec] = [.file("first.vmdk", Self.first), .directory("disks"), .file("disks/first.vmdk", Self.first)]
        let tar = try Self.ova(descriptor, members: members, in: scratch)
        let error = diskImportError { _ = try TarDiskEntry.open(MemoryStream(tar)) }
        #expect(error?.message.contains(message) == true, "\(href): \(String(describing: error))")
    }

    @Test func aLinkNamedLikeTheDiskIsRefused() throws {
        let scratch = try Scratch()
        let tar = try Self.ova(Self.standard, members: [.symlink("first.vmdk", to: "/dev/sda")], in: scratch)
        let error = diskImportError { _ = try TarDiskEntry.open(MemoryStream(tar)) }
        #expect(error?.message == "OVA: the disk member first.vmdk is a link or a directory, not a file")
    }

    static let malformedDescriptors: [(String, String)] = [
        (#"<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Envelope><References><File ovf:href="&b;" ovf:id="f"/></References></Envelope>"#,
         "the OVF descriptor is not well-formed XML: a DOCTYPE or declaration, which an OVF descriptor has no use for (byte 0)"),
        (#"<Envelope><References><File ovf:href="&xxe;" ovf:id="f"/></References></Envelope>"#, "the reference &xxe; is not one XML defines"),
        (#"<Envelope><References><File ovf:href="a.vmdk" ovf:id="f"/></Envelope>"#, "</Envelope> closes <References>"),
        (#"<Envelope><References><File ovf:href="a.vmdk ovf:id="f"/></References>"#, "is not well-formed XML"),
        (#"<Envelope><References>"#, "<References> is never closed"),
        (#"<Envelope><!-- no end"#, "<!-- is never closed by -->"),
        (#"<Envelope a=b></Envelope>"#, "an attribute value is not quoted"),
        (String(repeating: "<a>", count: 300), "elements nest more than 256 deep"),
        (#"<Envelope><DiskSection><Disk ovf:diskId="d" ovf:fileRef="nofile"/></DiskSection></Envelope>"#,
         "OVA: the OVF's disk \"d\" names file \"nofile\", which its References do not list"),
        (#"<Envelope><References><File ovf:href="a.vmdk" ovf:id="f" ovf:chunkSize="1000"/></References><DiskSection><Disk ovf:diskId="d" ovf:fileRef="f"/></DiskSection></Envelope>"#,
         "is split into chunks (ovf:chunkSize), which diskimport does not join"),
        (#"<Envelope><References><File ovf:href="a.vmdk" ovf:id="f"/></References></Envelope>"#,
         "OVA: the OVF lists no disk with a file (DiskSection/Disk ovf:fileRef)"),
    ]

    @Test(arguments: malformedDescriptors)
    func malformedDescriptorsAreOneError(_ text: String, _ message: String) throws {
        let scratch = try Scratch()
        let tar = try Self.ova(Array(text.utf8), in: scratch)
        let error = diskImportError { _ = try TarDiskEntry.open(MemoryStream(tar)) }
        #expect(error?.message.contains(message) == true, "\(text.prefix(60)): \(String(describing: error))")
    }

    @Test func aHugeDescriptorIsRefusedUnread() throws {
        let scratch = try Scratch()
        let padding = "<!--" + String(repeating: "x", count: 5 << 20) + "-->"
        let tar = try Self.ova(Self.standard + Array(padding.utf8), in: scratch)
        let error = diskImportError { _ = try TarDiskEntry.open(MemoryStream(tar)) }
        #expect(error?.message.hasPrefix("OVA: the OVF descriptor appliance.ovf is") == true)
        #expect(error?.message.hasSuffix("bytes, more than the 4 MiB diskimport reads") == true, "\(String(describing: error))")
    }
}
