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

/// Logging for the commands CDI runs as a pod's entrypoint (`import`, `upload-server`): info and up on stderr, debug
/// too with `--verbose` or klog's `-v=3` and above (the verbosity CDI's controller passes).
func bootstrapPodLogging(verbose: Bool, klogVerbosity: Int?) {
    let level: Logger.Level = verbose || (klogVerbosity ?? 0) >= 3 ? .debug : .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

/// Exit statuses, as sysexits.h names them: what scripts branch on.
enum ExitStatus {
    /// The import (or whatever the command does) failed.
    static let failure: Int32 = 1
    /// The command line was wrong: an unknown flag (ArgumentParser's own errors), or a value no run could use
    /// (`--size 10K`, `--stall-timeout 0`). EX_USAGE, which ArgumentParser also uses.
    static let usage: Int32 = 64
}

/// A flag's value that cannot be used: reported like any error, but with the usage status.
struct FlagValueError: Error {
    var error: DiskImportError
}

/// Reads flag values with `body` (parsing quantities, fractions, URLs …): a `.usage` error it throws is a bad value on
/// the command line, so it exits 64 as ArgumentParser's own errors do. Other errors (a password file that cannot be
/// read) keep status 1.
func parsingFlagValues<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as DiskImportError where error.kind == .usage {
        throw FlagValueError(error: error)
    }
}

/// Runs `body`, turning any error into one line on stderr and an exit status: 64 for a bad flag value, else 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let bad as FlagValueError {
        printError(bad.error.message)
        throw ExitCode(ExitStatus.usage)
    } catch let error as DiskImportError {
        printError(error.message)
        throw ExitCode(ExitStatus.failure)
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError("\(error)")
        throw ExitCode(ExitStatus.failure)
    }
}

func printError(_ message: String) {
    Console.writeError("diskimport: error: \(message)\n")
}
