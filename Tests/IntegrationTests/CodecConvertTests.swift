import Foundation
import Testing

/// `diskimport convert` over every compression wrapper, stacked and concatenated, against the real tools.
@Suite struct CodecConvertTests {
    /// A 6 MiB raw disk: 2 MiB of mixed data, a 3 MiB hole, 1 MiB of data.
    static func makeRaw(in dir: TemporaryDirectory) throws -> String {
        let raw = dir.file("disk.raw")
        try Harness.tool("sh", "-c", """
            { head -c 1048576 /dev/urandom; yes 'compressible disk text' | head -c 1048576; \
              head -c 3145728 /dev/zero; head -c 1048576 /dev/urandom; } > \(raw)
            """)
        return raw
    }

    /// Shell commands that turn $RAW into the file $OUT.
    static let wrappers: [String] = [
        "xz -T2 --block-size=1MiB -c $RAW > $OUT",
        "xz -T1 -c $RAW > $OUT",
        "zstd -q -c $RAW > $OUT",
        "zstd -q -T2 -19 -c $RAW > $OUT",
        "gzip -c $RAW > $OUT",
        "pigz -p 2 -c $RAW > $OUT",
        "{ head -c 1048576 $RAW | xz -c; tail -c +1048577 $RAW | xz -T2 --block-size=512KiB -c; } > $OUT",
        "{ head -c 1048576 $RAW | gzip -c; tail -c +1048577 $RAW | pigz -c; } > $OUT",
        "{ head -c 2097152 $RAW | zstd -q -c; tail -c +2097153 $RAW | zstd -q -c; } > $OUT",
        "gzip -c $RAW | xz -c > $OUT",
        "zstd -q -c $RAW | gzip -c > $OUT",
        "xz -c $RAW | zstd -q -c | gzip -c > $OUT",
        "mkdir -p $OUT.d/disk && cp $RAW $OUT.d/disk/disk.img && tar -C $OUT.d -cf $OUT disk",
        "mkdir -p $OUT.d/disk && cp $RAW $OUT.d/disk/disk.img && tar -C $OUT.d -czf $OUT disk",
        "mkdir -p $OUT.d/disk && xz -T2 -c $RAW > $OUT.d/disk/disk.img.xz && tar -C $OUT.d -cf - disk | zstd -q -c > $OUT",
    ]

    @Test(arguments: wrappers)
    func everyWrapperAndStackConvertsByteForByte(_ command: String) throws {
        let dir = try TemporaryDirectory()
        let raw = try Self.makeRaw(in: dir)
        let source = dir.file("source")
        try Harness.tool("sh", "-c", "RAW=\(raw) OUT=\(source); " + command)
        let out = dir.file("out.img")
        let result = try Harness.diskimport("convert", source, out)
        #expect(result.status == 0, "\(command): \(result.stderr)")
        #expect(try Files.identical(raw, out), "\(command)")
        #expect(try Files.allocatedBytes(out) <= 3 << 20 + 65536, "the zero run is a hole")
    }

    /// Shell commands that turn $QCOW2 (written by qemu-img convert) into $OUT.
    static let qcow2Wrappers: [String] = [
        "xz -T2 --block-size=1MiB -c $QCOW2 > $OUT",
        "zstd -q -c $QCOW2 | gzip -c > $OUT",
        "gzip -c $QCOW2 | xz -c > $OUT",
        "mkdir -p $OUT.d/disk && cp $QCOW2 $OUT.d/disk/disk.qcow2 && tar -C $OUT.d -cf $OUT disk",
        "mkdir -p $OUT.d/disk && cp $QCOW2 $OUT.d/disk/disk.qcow2 && tar -C $OUT.d -cf - disk | zstd -q -c > $OUT",
    ]

    @Test(arguments: qcow2Wrappers)
    func aQcow2InsideAnyWrapperConvertsLikeQemuImg(_ command: String) throws {
        let dir = try TemporaryDirectory()
        let raw = try Self.makeRaw(in: dir)
        let qcow2 = dir.file("disk.qcow2"), expected = dir.file("expected.raw")
        try Harness.tool("qemu-img", "convert", "-O", "qcow2", raw, qcow2)
        try Harness.tool("qemu-img", "convert", "-O", "raw", qcow2, expected)
        let source = dir.file("source")
        try Harness.tool("sh", "-c", "QCOW2=\(qcow2) OUT=\(source); " + command)
        let out = dir.file("out.img")
        let result = try Harness.diskimport("convert", source, out)
        #expect(result.status == 0, "\(command): \(result.stderr)")
        #expect(try Files.identical(expected, out), "\(command)")
    }

    /// (how to make the source from $RAW, the phrase the one-line error must contain)
    static let broken: [(String, String)] = [
        ("xz -T2 --block-size=1MiB -c $RAW | head -c 300000 > $OUT", "xz: the data ends in the middle of a stream (truncated file)"),
        ("zstd -q -c $RAW | head -c 300000 > $OUT", "zstd: the data ends in the middle of a frame (truncated file)"),
        ("gzip -c $RAW | head -c 300000 > $OUT", "gzip: the data ends in the middle of a member (truncated file)"),
        ("xz -c $RAW > $OUT && printf '\\377' | dd of=$OUT bs=1 seek=200000 conv=notrunc status=none", "xz: compressed data is corrupt"),
        ("xz -c $RAW > $OUT && printf '\\377' | dd of=$OUT bs=1 seek=7 conv=notrunc status=none", "xz: "),
        ("{ gzip -c $RAW; echo trailing garbage; } > $OUT", "gzip: trailing garbage after the last member"),
        ("{ printf 'QFI\\373\\000\\000\\000\\011'; head -c 4096 /dev/zero; } | xz -c > $OUT", "unsupported format qcow2 version 9 inside xz"),
        ("qemu-img create -q -f vmdk $OUT 1M", "unsupported format vmdk"),
        ("qemu-img create -q -f vdi $OUT 1M && xz -c $OUT > $OUT.xz && mv $OUT.xz $OUT", "unsupported format vdi inside xz"),
        ("qemu-img create -q -f vhdx $OUT 1M && gzip -c $OUT | xz -c > $OUT.gz.xz && mv $OUT.gz.xz $OUT",
         "unsupported format vhdx inside gzip inside xz"),
        ("qemu-img create -q -f vpc $OUT 1M", "unsupported format vpc (vhd)"),
        ("qemu-img create -q -f qed $OUT 1M", "unsupported format qed"),
        ("{ printf 'LUKS\\272\\276\\000\\002'; head -c 4096 /dev/zero; } | gzip -c > $OUT", "unsupported format luks inside gzip"),
        ("bzip2 -c $RAW > $OUT", "unsupported format bzip2"),
        ("bzip2 -c $RAW | xz -c > $OUT", "unsupported format bzip2 inside xz"),
        ("cp $RAW $OUT && for i in 1 2 3 4 5 6 7 8; do gzip -c $OUT > $OUT.gz && mv $OUT.gz $OUT; done",
         "more than 4 nested compression or tar layers"),
        ("mkdir -p $OUT.d/etc && cp $RAW $OUT.d/etc/disk.img && tar -C $OUT.d -cf $OUT etc", "tar: no disk image found under disk/"),
        ("mkdir -p $OUT.d/disk && cp $RAW $OUT.d/disk/disk.img && tar -C $OUT.d -cf - disk | head -c 1000000 > $OUT",
         "tar: the archive ends in the middle of an entry (truncated)"),
    ]

    @Test(arguments: 0..<broken.count)
    func brokenAndUnsupportedSourcesAreOneLineErrors(_ index: Int) throws {
        let (command, phrase) = Self.broken[index]
        let dir = try TemporaryDirectory()
        let raw = try Self.makeRaw(in: dir)
        let source = dir.file("source")
        try Harness.tool("sh", "-c", "RAW=\(raw) OUT=\(source); " + command)
        let out = dir.file("out.img")
        let result = try Harness.diskimport("convert", source, out)
        #expect(result.status == 1, "\(command)")
        #expect(result.stderr.contains(phrase), "\(command): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(command): \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// 512 MiB of zeros in a small zstd file: stopped at the requested size, in bounded memory.
    @Test func aDecompressionBombStopsAtTheRequestedSize() throws {
        let dir = try TemporaryDirectory()
        let bomb = dir.file("bomb.zst")
        try Harness.tool("sh", "-c", "head -c 512M /dev/zero | zstd -q -c > \(bomb)")
        let result = try Harness.diskimport("convert", bomb, dir.file("out.img"), "--size", "16Mi")
        #expect(result.status == 1)
        // The bound is the requested size (qemu-img's space rules: no overhead; DESIGN.md section 5).
        #expect(result.stderr == "diskimport: error: decompressed data exceeds 16777216 bytes (the requested size)\n")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.img")))
    }

    /// A multi-block xz and a zstd bomb within the requested size both run in bounded memory (xz's threaded
    /// decoder holds whole blocks; the bound is generous on purpose: this is not a benchmark).
    @Test func peakMemoryStaysBounded() throws {
        let dir = try TemporaryDirectory()
        let xz = dir.file("big.xz"), zst = dir.file("zeros.zst")
        try Harness.tool("sh", "-c", """
            { yes 'a line of compressible disk text' | head -c 48M; head -c 8M /dev/urandom; } | xz -T2 -3 -c > \(xz)
            head -c 256M /dev/zero | zstd -q -c > \(zst)
            """)
        for source in [xz, zst] {
            let out = dir.file("out.img")
            let result = try Harness.run("/usr/bin/time", ["-v", Harness.binary, "convert", source, out])
            #expect(result.status == 0, "\(result.stderr)")
            let rss = result.stderr.split(separator: "\n").first { $0.contains("Maximum resident set size") }
                .flatMap { $0.split(separator: ":").last }
                .flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            #expect(rss != nil && rss! < 256 * 1024, "max RSS \(String(describing: rss)) KiB for \(source)")
        }
    }

    /// A header asking liblzma for a 4 GiB dictionary is refused at the memory limit.
    @Test func aHostileXzDictionaryIsRefused() throws {
        let dir = try TemporaryDirectory()
        let source = dir.file("hostile.xz")
        try Harness.tool("sh", "-c", "head -c 10000 /dev/urandom | xz -T1 -c > \(source)")
        try Harness.tool("python3", "-c", """
            import sys, zlib
            b = bytearray(open(sys.argv[1], 'rb').read())
            size = (b[12] + 1) * 4
            i = b.index(b'\\x21\\x01', 12, 12 + size - 4)
            b[i + 2] = 40
            b[12 + size - 4:12 + size] = zlib.crc32(bytes(b[12:12 + size - 4])).to_bytes(4, 'little')
            open(sys.argv[1], 'wb').write(b)
            """, source)
        let result = try Harness.diskimport("convert", source, dir.file("out.img"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("than the limit of 256 MiB"), "\(result.stderr)")
    }
}
