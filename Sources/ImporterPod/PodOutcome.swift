/// How an importer pod ends: its exit status and what it leaves in the termination log (nil: nothing, as CDI
/// leaves nothing after a blank block volume without preallocation).
public struct PodOutcome: Sendable, Equatable {
    public var exitCode: Int32
    public var terminationMessage: String?

    public static func success(_ message: TerminationMessage?) -> PodOutcome {
        // The messages CDI writes on success are far below the limit; a failure to render is reported as an error.
        guard let message else { return PodOutcome(exitCode: 0, terminationMessage: nil) }
        do {
            return PodOutcome(exitCode: 0, terminationMessage: try message.rendered())
        } catch {
            return failure("\(error)")
        }
    }

    /// An error: one line of plain text, exit status 1.
    public static func failure(_ text: String) -> PodOutcome {
        PodOutcome(exitCode: 1, terminationMessage: TerminationMessage.errorText(text))
    }
}
