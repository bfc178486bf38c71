import Foundation
import FuzzSupport
import SwiftletEngine
import SwiftletFormats
import SwiftletJinja
import SwiftletTokenizers
@testable import SwiftletAPI

/// A request body as the server decodes it before any model runs: the JSON parser, the typed
/// field readers, the sampling parameters of both completion routes and their range checks, the
/// chat messages rendered with a ChatML template, and the embedding inputs. Every rejection must
/// be an `OpenAIError` (what reaches the client as a 4xx); anything else thrown, and any crash,
/// is a bug.
func fuzzRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Data(bytes: data, count: size)
    guard let f = expectOpenAIError({ try RequestFields(body: body) }) else { return 0 }
    for chat in [false, true] {
        if let p = expectOpenAIError({ try samplingParams(f, chat: chat) }) {
            _ = expectOpenAIError { try finalize(p, promptLength: 5, maxModelLen: 512, vocabSize: 512, promptParam: "prompt") }
        }
    }
    if case .array(let raw)? = f.value("messages") {
        if let messages = try? raw.map({ try ChatMessage(JinjaValue($0)) }) {
            _ = try? chatML.render(messages: messages, addGenerationPrompt: true)
        }
    }
    _ = expectOpenAIError { try embeddingInputs(f) }
    _ = expectOpenAIError { try f.strings("stop") }
    _ = expectOpenAIError { try f.ints("tokens") }
    return 0
}

/// The value, or nil after an `OpenAIError`; any other error stops the run.
private func expectOpenAIError<T>(_ body: () throws -> T) -> T? {
    do { return try body() } catch is OpenAIError { return nil } catch { fatalError("not an OpenAIError: \(error)") }
}

private let chatML = try! ChatTemplate(source: """
{% for m in messages %}<|im_start|>{{ m['role'] }}
{{ m['content'] }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}
""")

// Last: globals in main.swift are set as its top-level code runs, and this call does not return.
runFuzzer { data, size in
    guard let data else { return 0 }
    return fuzzRequest(data, size)
}
