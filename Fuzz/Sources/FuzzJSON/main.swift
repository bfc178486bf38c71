import Foundation
import FuzzSupport
import SwiftletFormats

/// The JSON parser every request body, `tokenizer.json`, `config.json` and safetensors header goes
/// through, and the writer the server answers with: any input is parsed or rejected without a
/// crash, and what parses survives writing and parsing again unchanged.
func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let value = try? JSONValue.parse(UnsafeBufferPointer(start: data, count: size)) else { return 0 }
    let compact = value.data(JSONWriteOptions())
    guard let again = try? JSONValue.parse(compact) else {
        fatalError("the writer's output does not parse: \(String(decoding: compact, as: UTF8.self))")
    }
    guard again == value else { fatalError("the value changed through writing and parsing again") }
    // The options the chat templates' `tojson` uses: the text must still be JSON.
    let pretty = value.data(JSONWriteOptions(indent: "  ", sortKeys: true, ensureASCII: true))
    guard (try? JSONValue.parse(pretty)) != nil else {
        fatalError("the writer's sorted, indented output does not parse: \(String(decoding: pretty, as: UTF8.self))")
    }
    return 0
}

// Last: globals in main.swift are set as its top-level code runs, and this call does not return.
runFuzzer { data, size in
    guard let data else { return 0 }
    return fuzzJSON(data, size)
}
