import FuzzSupport
import SwiftletFormats
import SwiftletTokenizers

/// A GGUF file: the header, metadata and tensor table, then what the loaders read from the
/// metadata (the tokenizer and the chat template). Any input may be rejected, none may crash.
func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = ScratchFile.write(data, size, suffix: ".gguf")
    guard let file = try? GGUFFile(path: path) else { return 0 }
    for t in file.tensors { _ = t.elementCount }
    if let tokenizer = try? loadTokenizer(gguf: file) {
        _ = tokenizer.decode(tokenizer.encode("Hello, world! 123"), skipSpecialTokens: false)
    }
    _ = try? ChatTemplate(gguf: file)
    return 0
}

// Last: globals in main.swift are set as its top-level code runs, and this call does not return.
runFuzzer { data, size in
    guard let data else { return 0 }
    return fuzzGGUF(data, size)
}
