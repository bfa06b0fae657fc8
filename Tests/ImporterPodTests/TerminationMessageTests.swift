import DiskImportCore
import Foundation
import Testing
@testable import ImporterPod

@Suite struct TerminationMessageTests {
    @Test func importCompleteIsCDIsBytes() throws {
        #expect(try TerminationMessage.importComplete(scratchSpaceRequired: false, preallocationApplied: false).rendered()
                == #"{"scratchSpaceRequired":false,"preallocationApplied":false,"message":"Import Complete"}"#)
        #expect(try TerminationMessage.importComplete(scratchSpaceRequired: true, preallocationApplied: false).rendered()
                == #"{"scratchSpaceRequired":true,"preallocationApplied":false,"message":"Import Complete"}"#)
        #expect(try TerminationMessage.blankComplete(preallocationApplied: true).rendered()
                == #"{"preallocationApplied":true,"message":"Import Complete"}"#)
    }

    @Test func fieldOrderAndEscapingFollowGoEncodingJSON() throws {
        let message = TerminationMessage(scratchSpaceRequired: false, preallocationApplied: true, deadlinePassed: true,
                                         labels: ["b": "<&>", "a": "x\u{2028}", "Z": "\u{1}\u{8}\u{c}\t\"\\"],
                                         message: "done")
        // Go: keys sorted by bytes (upper case first), HTML characters and U+2028 as \u escapes, \b \f short forms.
        #expect(try message.rendered() == """
            {"scratchSpaceRequired":false,"preallocationApplied":true,"deadlinePassed":true,\
            "labels":{"Z":"\\u0001\\b\\f\\t\\"\\\\","a":"x\\u2028","b":"\\u003c\\u0026\\u003e"},"message":"done"}
            """)
    }

    @Test func overLongJSONIsCDIsError() {
        let message = TerminationMessage(message: String(repeating: "x", count: 4096))
        #expect(throws: DiskImportError.self) { try message.rendered() }
        do {
            _ = try message.rendered()
        } catch {
            #expect("\(error)" == "Termination message length 4110 exceeds maximum length of 4096 bytes")
        }
    }

    @Test func errorTextIsOneLineOfAtMost4096Bytes() {
        #expect(TerminationMessage.errorText("a\nb\rc") == "a b c")
        let long = TerminationMessage.errorText(String(repeating: "é", count: 3000))
        #expect(long.utf8.count == 4096)
        #expect(long.allSatisfy { $0 == "é" })
    }

    @Test func writeReplacesTheLog() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("term-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try TerminationMessage.write("a much longer first message", to: path)
        try TerminationMessage.write("short", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "short")
    }

    @Test func everyVariableIsListedOnceAndInREADME() throws {
        let names = EnvironmentVariable.all.map(\.name)
        #expect(Set(names).count == names.count)
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let missing = EnvironmentVariable.all.filter { !text.contains("| `\($0.name)` | \($0.handling.rawValue) |") }
        #expect(missing.map(\.name) == [], "README.md's pod-mode table lacks these rows")
    }
}
