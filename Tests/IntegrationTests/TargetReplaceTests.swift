import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a file target looks like after `convert` when it is new, when it replaces a file, and when the directory
/// may not be written (as `nobody` beside root's files, the way a user meets it); and that what a SIGKILL left behind
/// is cleaned up by the next import to the same target, and nothing else is.
@Suite struct TargetReplaceTests {
    private func status(_ path: String) throws -> stat {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw HarnessError("lstat \(path): errno \(errno)") }
        return info
    }

    private func randomFile(_ path: String, kibibytes: Int = 256) throws {
        try Harness.tool("dd", "if=/dev/urandom", "of=\(path)", "bs=1K", "count=\(kibibytes)", "status=none")
    }

    /// diskimport as `nobody:nogroup` (setpriv), with no supplementary groups.
    private func asNobody(_ arguments: [String]) throws -> Harness.Result {
        try Harness.run("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", Harness.binary] + arguments)
    }

    private func nobody() throws -> (uid: uid_t, gid: gid_t) {
        let uid = try #require(uid_t(try Harness.tool("id", "-u", "nobody").stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let gid = try #require(gid_t(try Harness.tool("id", "-g", "nobody").stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        return (uid, gid)
    }

    /// qemu-img creates its target 0644 & ~umask (block/file-posix.c); diskimport did 0660 & ~umask.
    @Test(arguments: [("022", 0o644), ("077", 0o600), ("002", 0o644)] as [(String, mode_t)])
    func aNewFileIsCreatedAsQemuImgCreatesIt(umask: String, mode: mode_t) throws {
        let dir = try TemporaryDirectory()
        try randomFile(dir.file("disk.raw"))
        let result = try Harness.run("sh", ["-c", "umask \(umask) && exec \"$0\" convert \"$1\" \"$2\"", Harness.binary,
                                            dir.file("disk.raw"), dir.file("out.img")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try status(dir.file("out.img")).st_mode & 0o7777 == mode)
    }

    @Test func replacingAFileKeepsItsOwnerGroupAndMode() throws {
        let dir = try TemporaryDirectory()
        try randomFile(dir.file("disk.raw"))
        try Harness.tool("sh", "-c", "echo old > \(dir.file("out.img")) && chown nobody:nogroup \(dir.file("out.img")) && chmod 0640 \(dir.file("out.img"))")
        let result = try Harness.diskimport("convert", dir.file("disk.raw"), dir.file("out.img"))
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderr)")
        let info = try status(dir.file("out.img"))
        let owner = try nobody()
        #expect(info.st_uid == owner.uid && info.st_gid == owner.gid, "owner \(info.st_uid):\(info.st_gid)")
        #expect(info.st_mode & 0o7777 == 0o640)
        #expect(try Files.identical(dir.file("disk.raw"), dir.file("out.img")))
    }

    /// As qemu-img does: a writable file in a directory we may not write is rewritten in place, with a warning that a
    /// failure now costs the old contents; a failure then leaves it empty, never with a complete disk's length.
    @Test func aWritableFileInAReadOnlyDirectoryIsWrittenInPlace() throws {
        let dir = try TemporaryDirectory()   // root's, 0755: nobody cannot create files in it
        let source = dir.file("disk.raw"), target = dir.file("out.img")
        try randomFile(source, kibibytes: 512)
        try Harness.tool("sh", "-c", "chmod 0644 \(source) && echo old > \(target) && chown nobody:nogroup \(target) && chmod 0600 \(target)")
        let result = try asNobody(["convert", source, target])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("writing \(target) in place") && result.stderr.contains("its directory is not writable"),
                "\(result.stderr)")
        #expect(result.stderr.contains("a failed import leaves it empty or incomplete"))
        #expect(try Files.identical(source, target))
        let info = try status(target)
        #expect(info.st_uid == (try nobody()).uid && info.st_mode & 0o7777 == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["disk.raw", "out.img"])

        // A source that fails midway: the file is emptied, not left at the disk's length with half the data.
        try Harness.tool("sh", "-c", "gzip -1 -c \(source) | head -c 100000 > \(dir.file("cut.gz")) && chmod 0644 \(dir.file("cut.gz"))")
        let failed = try asNobody(["convert", dir.file("cut.gz"), target])
        #expect(failed.status == 1)
        #expect(try status(target).st_size == 0)
    }

    @Test func aFileNobodyMayWriteIsRefusedAsQemuImgRefusesIt() throws {
        let dir = try TemporaryDirectory()
        try randomFile(dir.file("disk.raw"))
        try Harness.tool("sh", "-c", "chmod 0644 \(dir.file("disk.raw")) && echo old > \(dir.file("out.img")) && chmod 0644 \(dir.file("out.img"))")
        let result = try asNobody(["convert", dir.file("disk.raw"), dir.file("out.img")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot write \(dir.file("out.img")): Permission denied"), "\(result.stderr)")
        #expect(try String(contentsOfFile: dir.file("out.img"), encoding: .utf8) == "old\n")
    }

    /// A PID that no process has: a child that has already exited (and been reaped).
    private func deadPID() throws -> pid_t {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func theTemporaryFileOfAKilledImportIsRemovedByTheNextImportAndNothingElseIs() throws {
        let dir = try TemporaryDirectory()
        let source = try SlowConversion.source(in: dir, mebibytes: 4096)
        let killed = try SlowConversion.start(Harness.binary, ["convert", source, dir.file("out.img")], until: dir)
        kill(killed.processIdentifier, SIGKILL)
        killed.waitUntilExit()
        let leftover = ".out.img.diskimport-\(killed.processIdentifier)"
        #expect(FileManager.default.fileExists(atPath: dir.file(leftover)), "SIGKILL runs no cleanup")

        // What must stay: a live process's file (ours), another target's, a link, a name that is not ours, and a dead
        // PID's file that a live process holds locked (an import in another PID namespace on a shared volume).
        let dead = try deadPID()
        let kept = [".out.img.diskimport-\(getpid())", ".other.img.diskimport-\(dead)", ".out.img.diskimport-\(dead)x",
                    "out.img.diskimport-\(dead)", ".out.img.diskimport-\(try deadPID())"]
        for name in kept.dropLast() { try Data("keep".utf8).write(to: URL(fileURLWithPath: dir.file(name))) }
        try Harness.tool("ln", "-s", dir.file("zeros.gz"), dir.file(".out.img.diskimport-\(try deadPID())"))
        let locked = dir.file(kept.last!)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: locked))
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = [locked, "sleep", "60"]
        try holder.run()
        defer { kill(holder.processIdentifier, SIGKILL); holder.waitUntilExit() }
        var held = false
        for _ in 0..<100 where !held {   // until flock(1) holds it
            let fd = open(locked, O_RDONLY)
            held = flock(fd, LOCK_EX | LOCK_NB) != 0
            close(fd)
            if !held { usleep(20_000) }
        }
        #expect(held)

        try randomFile(dir.file("small.raw"))
        let next = try Harness.diskimport("convert", dir.file("small.raw"), dir.file("out.img"))
        #expect(next.status == 0, "\(next.stderr)")
        #expect(next.stderr.contains("removed \(dir.file(leftover)), left by import process \(killed.processIdentifier), which is gone"),
                "\(next.stderr)")
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        #expect(!left.contains(leftover))
        for name in kept { #expect(left.contains(name), "\(name) was removed") }
        #expect(left.filter { $0.hasPrefix(".out.img.diskimport-") }.count == 4, "\(left.sorted())")
    }
}
