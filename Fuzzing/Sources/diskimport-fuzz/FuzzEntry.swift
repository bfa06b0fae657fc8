import DiskImage
import Glibc

/// The targets by name (scripts/fuzz lists them): each takes one input and must return, whatever the bytes, without
/// crashing, hanging or allocating past libFuzzer's limits. Errors thrown by the parsers are the expected outcome.
let fuzzTargetNames = ["qcow2", "vmdk", "vpc", "vhdx", "vdi", "xz", "xz-image", "tar", "registry", "http-head", "values",
                       "cron-config"]

func fuzzTarget(named name: String) -> (([UInt8]) -> Void)? {
    switch name {
    case "qcow2": ImageFormatTarget(format: .qcow2).run
    case "vmdk": ImageFormatTarget(format: .vmdk).run
    case "vpc": ImageFormatTarget(format: .vpc).run
    case "vhdx": ImageFormatTarget(format: .vhdx).run
    case "vdi": ImageFormatTarget(format: .vdi).run
    case "xz": XzContainerTarget.run
    case "xz-image": XzImageTarget.run
    case "tar": TarTarget.run
    case "registry": RegistryTarget.run
    case "http-head": HTTPHeadTarget.run
    case "values": ValuesTarget.run
    case "cron-config": CronConfigTarget.run
    default: nil
    }
}

/// The target DISKIMPORT_FUZZ_TARGET names, looked up once (libFuzzer calls the entry point from one thread).
nonisolated(unsafe) let selectedTarget: ([UInt8]) -> Void = {
    let name = getenv("DISKIMPORT_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = fuzzTarget(named: name) else {
        let message = "diskimport-fuzz: set DISKIMPORT_FUZZ_TARGET to one of: \(fuzzTargetNames.joined(separator: " "))\n"
        _ = message.withCString { write(2, $0, strlen($0)) }
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selectedTarget(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// libFuzzer's driver (compiler-rt FuzzerDriver.cpp), for SwiftPM's entry point below.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// SwiftPM links an executable with `main` defined as `<module>_main` (so tests can link it), which hides
/// libFuzzer's own `main`; this one hands the command line to libFuzzer's driver, as that `main` would.
@_cdecl("diskimport_fuzz_main")
public func diskimportFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
