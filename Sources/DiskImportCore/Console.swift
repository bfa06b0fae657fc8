import SystemPackage

/// Unbuffered writes to the standard streams (C's `stderr` is a global that Swift 6 will not share across threads).
public enum Console {
    public static func writeError(_ text: String) {
        write(text, to: .standardError)
    }

    public static func writeOutput(_ text: String) {
        write(text, to: .standardOutput)
    }

    private static func write(_ text: String, to fd: FileDescriptor) {
        var text = text
        text.withUTF8 { bytes in
            _ = try? fd.writeAll(UnsafeRawBufferPointer(bytes))
        }
    }
}
