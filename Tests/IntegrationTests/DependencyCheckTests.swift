import Foundation
import TestSupport
import Testing

/// scripts/check-deps (run by scripts/test before the suite) and the oracle helpers' messages: a machine that lacks
/// a program or module the tests use is named with the Debian package to install, not left to an obscure failure.
@Suite struct DependencyCheckTests {
    static let checkDeps = Qcow2Matrix.repositoryRoot + "/scripts/check-deps"
    static let table = Qcow2Matrix.repositoryRoot + "/scripts/test-commands"

    /// check-deps with scripts/test-commands changed by `edit`.
    func checkDeps(_ edit: (String) -> String) throws -> Harness.Result {
        let dir = try TemporaryDirectory()
        try edit(try String(contentsOfFile: Self.table, encoding: .utf8)).write(toFile: dir.file("table"), atomically: true, encoding: .utf8)
        return try Harness.run(Self.checkDeps, ["--table", dir.file("table")])
    }

    @Test func aProgramThatIsNotInstalledIsNamedWithItsPackage() throws {
        let result = try checkDeps { $0 + "diskimport-no-such-program coreutils\n" }
        #expect(result.status == 1)
        #expect(result.stdout.contains("check-deps: missing program diskimport-no-such-program: install the Debian package coreutils"),
                "\(result.stdout)")
    }

    @Test func aProgramTheTestsRunThatTheListLacksIsFound() throws {
        let result = try checkDeps { $0.split(separator: "\n").filter { !$0.hasPrefix("qemu-img ") }.joined(separator: "\n") + "\n" }
        #expect(result.status == 1)
        #expect(result.stdout.contains("runs qemu-img (here /usr/bin/qemu-img, from qemu-utils), which scripts/test-commands does not list"),
                "\(result.stdout)")
    }

    @Test func aPackageInstallDepsDoesNotInstallIsFound() throws {
        let result = try checkDeps { $0.replacingOccurrences(of: "\nskopeo            skopeo\n", with: "\nskopeo            skopeo-not-a-package\n") }
        #expect(result.status == 1)
        #expect(result.stdout.contains("check-deps: skopeo-not-a-package (for skopeo) is not installed by scripts/install-deps"), "\(result.stdout)")
        #expect(result.stdout.contains("skopeo here is /usr/bin/skopeo from skopeo, not from skopeo-not-a-package"), "\(result.stdout)")
    }

    @Test func theOracleHelpersNameThePackage() throws {
        let error = #expect(throws: HarnessError.self) { try Harness.tool("diskimport-no-such-program", "--version") }
        #expect(error?.description
                == "diskimport-no-such-program is not installed, and scripts/test-commands does not list it: add it with its Debian package")
        #expect(MissingProgram.explanation(program: "qemu-img", status: 127,
                                           stderr: "/usr/bin/env: 'qemu-img': No such file or directory\n")
                == "qemu-img is not installed: install the Debian package qemu-utils (scripts/install-deps)")
        #expect(MissingProgram.explanation(program: "/usr/bin/qemu-img", status: 1, stderr: """
            qemu: module block-block-curl not found, do you want to install qemu-block-extra package?
            qemu-img: Could not open 'http://127.0.0.1:1/x': Unknown protocol 'http'
            """) == "qemu-img lacks a module (qemu: module block-block-curl not found, do you want to install "
                + "qemu-block-extra package?): install the Debian package qemu-block-extra (scripts/install-deps)")
        #expect(MissingProgram.explanation(program: "qemu-img", status: 1, stderr: "qemu-img: Could not open 'x': No such file or directory") == nil)
    }
}
