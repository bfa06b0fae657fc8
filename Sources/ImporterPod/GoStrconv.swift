/// The parts of Go's strconv that CDI's importer uses on its environment, with the same accepted spellings, so a
/// value CDI's controller writes means the same thing here.
public enum GoStrconv {
    /// strconv.ParseBool: "1", "t", "T", "TRUE", "true", "True" are true; "0", "f", "F", "FALSE", "false", "False"
    /// are false; anything else (the empty string included) is nil.
    public static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default: return nil
        }
    }
}
