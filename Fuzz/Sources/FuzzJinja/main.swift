import FuzzSupport
import SwiftletJinja
import SwiftletTokenizers

/// A chat template: parsing it as Jinja, then rendering a short conversation with it. Any input
/// may be rejected, none may crash.
func fuzzJinja(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let source = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let template = try? ChatTemplate(source: source, bosToken: "<s>", eosToken: "</s>") else { return 0 }
    _ = try? template.render(messages: conversation, addGenerationPrompt: true)
    return 0
}

private let conversation = [
    ChatMessage(role: "system", content: "You are terse."),
    ChatMessage(role: "user", content: "Hi {{ there }} ünï"),
    ChatMessage(role: "assistant", content: "Hello."),
    ChatMessage(role: "user", content: ""),
]

// Last: globals in main.swift are set as its top-level code runs, and this call does not return.
runFuzzer { data, size in
    guard let data else { return 0 }
    return fuzzJinja(data, size)
}
