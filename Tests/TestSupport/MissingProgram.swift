import Foundation

/// Why an oracle program (qemu-img, skopeo, mkfs.xfs …) a test ran could not do its job because of this machine, not
/// the code: the program is not installed, or a module it loads is missing. The answer names the Debian package from
/// scripts/test-commands, the list scripts/install-deps installs and scripts/check-deps checks.
public enum MissingProgram {
    /// The explanation when `program` exited with `status` and `stderr` for want of something installable, else nil.
    /// `/usr/bin/env` exits 127 saying "No such file or directory" for a program not on PATH; qemu asks "do you want
    /// to install qemu-block-extra package?" for a missing block driver module.
    public static func explanation(program: String, status: Int32, stderr: String) -> String? {
        let name = (program as NSString).lastPathComponent
        if status == 127 && stderr.contains("No such file or directory") { return notInstalled(name) }
        if let range = stderr.range(of: #"install \S+ package"#, options: .regularExpression) {
            let package = stderr[range].split(separator: " ")[1]
            return "\(name) lacks a module (\(stderr.split(separator: "\n").first ?? "")): install the Debian package "
                + "\(package) (scripts/install-deps)"
        }
        return nil
    }

    /// The explanation for a program that does not exist (Process.run() failed on its path).
    public static func notInstalled(_ program: String) -> String {
        let name = (program as NSString).lastPathComponent
        guard let package = packages[name] else {
            return "\(name) is not installed, and scripts/test-commands does not list it: add it with its Debian package"
        }
        return "\(name) is not installed: install the Debian package \(package) (scripts/install-deps)"
    }

    /// Program name to Debian package, read from scripts/test-commands (lines `program package [bench]`).
    static let packages: [String: String] = {
        let table = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/test-commands")
        guard let text = try? String(contentsOf: table, encoding: .utf8) else { return [:] }
        var packages: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.prefix(while: { $0 != "#" }).split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2 { packages[String(fields[0])] = String(fields[1]) }
        }
        return packages
    }()
}
