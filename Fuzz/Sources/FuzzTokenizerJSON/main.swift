import Foundation
import FuzzSupport
import SwiftletTokenizers

/// A Hugging Face `tokenizer.json`: loading it, then encoding and decoding a fixed text with the
/// tokenizer it describes. Any input may be rejected, none may crash.
func fuzzTokenizerJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = ScratchFile.write(data, size, suffix: ".json")
    guard let tokenizer = try? loadTokenizer(tokenizerJSON: URL(fileURLWithPath: path), config: nil) else { return 0 }
    let ids = tokenizer.encode("Hello, world! Ünïcödé 123 <s>", addSpecialTokens: true, parseSpecial: true)
    _ = tokenizer.decode(ids, skipSpecialTokens: false)
    return 0
}

// Last: globals in main.swift are set as its top-level code runs, and this call does not return.
runFuzzer { data, size in
    guard let data else { return 0 }
    return fuzzTokenizerJSON(data, size)
}
