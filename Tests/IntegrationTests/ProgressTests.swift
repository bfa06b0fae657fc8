import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--progress`: a bar on a terminal (a pty from script(1)), erased at the end and on Ctrl-C; plain lines elsewhere.
@Suite struct ProgressTests {
    /// Runs `command` on a pseudo-terminal (script -q, exit status passed on); its output is what the terminal got.
    private func onTerminal(_ command: String) throws -> Harness.Result {
        try Harness.run("script", ["-qefc", command, "/dev/null"])
    }

    @Test func onATerminalTheBarIsRedrawnInPlaceAndErasedAtTheEnd() throws {
        let dir = try TemporaryDirectory()
        let source = try SlowConversion.source(in: dir, mebibytes: 512)
        let result = try onTerminal("exec \(Harness.binary) convert \(source) \(dir.file("out.img")) --progress")
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains("% [") && result.stdout.contains("\r") && result.stdout.contains("\u{1B}[K"))
        #expect(result.stdout.hasSuffix("\r\u{1B}[K"), "\(result.stdout.suffix(80).debugDescription)")
        #expect(!result.stdout.contains("diskimport: progress:"))
    }

    @Test func onANonTerminalProgressIsOffUnlessAskedAndThenPlainLines() throws {
        let dir = try TemporaryDirectory()
        let source = try SlowConversion.source(in: dir, mebibytes: 256)
        let quiet = try Harness.diskimport("convert", source, dir.file("quiet.img"))
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")
        for flag in ["--progress", "-p"] {
            let shown = try Harness.diskimport("convert", source, dir.file("shown.img"), flag)
            #expect(shown.status == 0, "\(shown.stderr)")
            #expect(!shown.stderr.contains("\r") && !shown.stderr.contains("\u{1B}"), "\(shown.stderr.debugDescription)")
            let lines = shown.stderr.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.last == "" && lines.dropLast().allSatisfy { $0.hasPrefix("diskimport: progress: ") }, "\(shown.stderr)")
            #expect(lines.dropLast().last?.hasPrefix("diskimport: progress: 100% ") == true, "\(shown.stderr)")
        }
    }

    /// A download that stalls for 7 s: a log gets a line every few seconds meanwhile, not just one at the end.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func aLogGetsALineEveryFewSeconds() throws {
        let http = try HTTPFixture()
        let proxy = try FaultProxy(http.fixtures, target: try http.fixtures["HTTP_PORT"], ["--stall-after", "1200000", "--stalls", "1"])
        let result = try http.convert("http://127.0.0.1:\(proxy.port)/disk.raw", ["--progress", "--stall-timeout", "7"])
        try http.expectIdentical(result)
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("diskimport: progress: ") }
        #expect(lines.count >= 2, "\(result.stderr)")
        #expect(lines.first.map { !$0.contains(" 100% ") && $0.contains("% ") && $0.contains("/s") } == true, "\(result.stderr)")
        #expect(!result.stderr.contains("\r"))
    }

    /// Ctrl-C while the bar is drawn: the temporary file goes, and so does the bar (the shell's prompt would land in it).
    @Test func anInterruptErasesTheBar() throws {
        let dir = try TemporaryDirectory()
        let source = try SlowConversion.source(in: dir, mebibytes: 4096)
        let output = dir.file("terminal")
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        script.arguments = ["-qefc", "exec \(Harness.binary) convert \(source) \(dir.file("out.img")) --progress", "/dev/null"]
        script.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        try script.run()
        defer { if script.isRunning { kill(script.processIdentifier, SIGKILL) }; script.waitUntilExit() }
        var converter: pid_t?
        var drawn = false
        for _ in 0..<400 where converter == nil || !drawn {
            usleep(25_000)
            let children = (try? String(contentsOfFile: "/proc/\(script.processIdentifier)/task/\(script.processIdentifier)/children",
                                        encoding: .utf8)) ?? ""
            converter = children.split(separator: " ").first.flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            drawn = ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("% [")
        }
        let pid = try #require(converter)
        try #require(drawn, "no bar was drawn")
        kill(pid, SIGINT)
        script.waitUntilExit()
        let terminal = try String(contentsOfFile: output, encoding: .utf8)
        // Each bar ends "… ETA 0:03 ESC[K"; only the erase is "CR ESC[K".
        #expect(terminal.hasSuffix("\r\u{1B}[K"), "\(terminal.suffix(80).debugDescription)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["terminal", "zeros.gz"])
    }
}
