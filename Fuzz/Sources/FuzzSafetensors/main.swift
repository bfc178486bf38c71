import FuzzSupport
import SwiftletFormats

/// A safetensors file: the header length, the JSON header and each tensor's dtype, shape and
/// byte range. Any input may be rejected, none may crash.
func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = ScratchFile.write(data, size, suffix: ".safetensors")
    guard let file = try? SafetensorsFile(path: path) else { return 0 }
    for t in file.tensors { _ = (t.elementCount, t.byteCount) }
    return 0
}

// Last: globals in main.swift are set as its top-level code runs, and this call does not return.
runFuzzer { data, size in
    guard let data else { return 0 }
    return fuzzSafetensors(data, size)
}
