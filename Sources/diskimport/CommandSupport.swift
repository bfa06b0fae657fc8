import ArgumentParser
import DiskImportCore
import Logging

/// Options every subcommand shares.
struct CommonOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Log each phase and more to stderr.")
    var verbose = false

    func bootstrapLogging() {
        let level: Logger.Level = verbose ? .debug : .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// Runs `body`, turning any error into one line on stderr and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as DiskImportError {
        printError(error.message)
        throw ExitCode(1)
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError("\(error)")
        throw ExitCode(1)
    }
}

func printError(_ message: String) {
    Console.writeError("diskimport: error: \(message)\n")
}
