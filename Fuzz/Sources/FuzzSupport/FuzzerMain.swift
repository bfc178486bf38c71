import CFuzzDriver
import Foundation

/// Hands the process to libFuzzer with `target` as the function under test, and exits with its
/// status. SwiftPM gives every executable a Swift `main`, which would shadow the one libFuzzer
/// links in, so each target's main.swift calls this instead.
public func runFuzzer(_ target: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, target))
}
