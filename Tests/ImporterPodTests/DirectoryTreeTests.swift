import Foundation
import Testing
@testable import ImporterPod

@Suite struct DirectoryTreeTests {
    @Test func removeNeverFollowsLinksOutOfTheTree() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("tree-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: base + "/outside/keep", withIntermediateDirectories: true)
        try "precious".write(toFile: base + "/outside/keep/file", atomically: true, encoding: .utf8)
        try fm.createDirectory(atPath: base + "/staging/a/b", withIntermediateDirectories: true)
        try "x".write(toFile: base + "/staging/a/b/file", atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: base + "/staging/a/link-to-outside", withDestinationPath: base + "/outside/keep")
        try fm.createSymbolicLink(atPath: base + "/staging/dangling", withDestinationPath: "/nonexistent")
        // A name that is not UTF-8.
        let odd = base + "/staging/a/\u{FFFD}"
        _ = fm.createFile(atPath: odd, contents: nil)
        let raw = (base + "/staging/a/").utf8CString.dropLast() + [CChar(bitPattern: 0xff), 0]
        let fd = open(Array(raw), O_CREAT | O_WRONLY, 0o600)
        #expect(fd >= 0)
        close(fd)

        let parent = open(base, O_RDONLY | O_DIRECTORY)
        defer { close(parent) }
        try DirectoryTree.withDirectory(DirectoryTree.name("staging"), in: parent, displayPath: base + "/staging") { staging in
            try DirectoryTree.syncAll(staging, displayPath: base + "/staging")
        }
        try DirectoryTree.remove(DirectoryTree.name("staging"), in: parent, displayPath: base + "/staging")
        #expect(!fm.fileExists(atPath: base + "/staging"))
        #expect(try String(contentsOfFile: base + "/outside/keep/file", encoding: .utf8) == "precious")
        // Removing what is already gone is fine.
        try DirectoryTree.remove(DirectoryTree.name("staging"), in: parent, displayPath: base + "/staging")
    }
}
