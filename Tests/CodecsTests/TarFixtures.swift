import Foundation

/// Tars built by python3's tarfile module from a list of entries, so tests can make hostile archives at will.
struct TarEntrySpec {
    enum Kind: String { case file, directory, symlink, hardlink, charDevice, blockDevice, fifo }
    var name: String
    var kind: Kind = .file
    var data: [UInt8] = []
    var link = ""
    var mode = 0o644

    static func file(_ name: String, _ data: [UInt8], mode: Int = 0o644) -> TarEntrySpec {
        TarEntrySpec(name: name, kind: .file, data: data, mode: mode)
    }
    static func directory(_ name: String) -> TarEntrySpec { TarEntrySpec(name: name, kind: .directory, mode: 0o755) }
    static func symlink(_ name: String, to target: String) -> TarEntrySpec { TarEntrySpec(name: name, kind: .symlink, link: target) }
    static func hardlink(_ name: String, to target: String) -> TarEntrySpec { TarEntrySpec(name: name, kind: .hardlink, link: target) }
    static func device(_ name: String, block: Bool = false) -> TarEntrySpec {
        TarEntrySpec(name: name, kind: block ? .blockDevice : .charDevice)
    }
    static func fifo(_ name: String) -> TarEntrySpec { TarEntrySpec(name: name, kind: .fifo) }
}

private let tarScript = """
import io, json, sys, tarfile
kinds = {"file": tarfile.REGTYPE, "directory": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
         "hardlink": tarfile.LNKTYPE, "charDevice": tarfile.CHRTYPE, "blockDevice": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}
spec = json.load(open(sys.argv[2]))
with tarfile.open(sys.argv[1], "w", format=getattr(tarfile, sys.argv[3])) as t:
    for e in spec:
        info = tarfile.TarInfo(e["name"])
        info.type = kinds[e["kind"]]
        info.mode = e["mode"]
        info.linkname = e["link"]
        data = open(e["data"], "rb").read() if e["data"] else b""
        info.size = len(data) if e["kind"] == "file" else 0
        t.addfile(info, io.BytesIO(data) if e["kind"] == "file" else None)
"""

/// Writes a tar of `entries` to `path` (format: PAX_FORMAT, GNU_FORMAT or USTAR_FORMAT), optionally compressed by
/// `compressor` ("gzip", "xz", "zstd"); returns the path of the file written.
@discardableResult
func makeTar(_ entries: [TarEntrySpec], at path: String, format: String = "PAX_FORMAT", compressor: String? = nil) throws -> String {
    let scratch = try Scratch()
    var json: [[String: Any]] = []
    for (i, entry) in entries.enumerated() {
        var dataPath = ""
        if !entry.data.isEmpty {
            dataPath = scratch.file("data\(i)")
            try write(entry.data, to: dataPath)
        }
        json.append(["name": entry.name, "kind": entry.kind.rawValue, "link": entry.link, "mode": entry.mode, "data": dataPath])
    }
    try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: scratch.file("spec.json")))
    try tarScript.write(toFile: scratch.file("make.py"), atomically: true, encoding: .utf8)
    let tarPath = compressor == nil ? path : scratch.file("plain.tar")
    try tool("python3", [scratch.file("make.py"), tarPath, scratch.file("spec.json"), format])
    if let compressor {
        try tool(compressor, ["-c"], stdinFile: tarPath, stdoutFile: path)
    }
    return path
}
