import SwiftletEngine
import SwiftletFormats

/// OpenAI's limit on embedding inputs per request.
package let maxEmbeddingInputs = 2048

/// The request's `input` as engine inputs. Lists must be uniform: all strings, all token ids
/// (one input), or all lists of token ids; at most `maxEmbeddingInputs` inputs.
package func embeddingInputs(_ f: RequestFields) throws -> [EmbeddingInput] {
    let shape = "'input' must be a string, a list of strings, a list of token ids or a list of lists of token ids."
    guard let value = f.value("input") else { throw OpenAIError.invalidRequest("'input' is required.", param: "input") }
    func tokenIDs(_ items: [JSONValue]) -> [Int]? {
        var ids: [Int] = []
        ids.reserveCapacity(items.count)
        for item in items {
            guard case .int(let id) = item else { return nil }
            ids.append(id)
        }
        return ids
    }
    let inputs: [EmbeddingInput]
    switch value {
    case .string(let text):
        inputs = [.text(text)]
    case .array(let items):
        guard let first = items.first else { throw OpenAIError.invalidRequest("'input' must not be empty.", param: "input") }
        switch first {
        case .string:
            inputs = try items.map {
                guard case .string(let text) = $0 else { throw OpenAIError.invalidRequest(shape, param: "input") }
                return .text(text)
            }
        case .int:
            guard let ids = tokenIDs(items) else { throw OpenAIError.invalidRequest(shape, param: "input") }
            inputs = [.tokens(ids)]
        case .array:
            inputs = try items.map {
                guard case .array(let inner) = $0, let ids = tokenIDs(inner) else { throw OpenAIError.invalidRequest(shape, param: "input") }
                return .tokens(ids)
            }
        default:
            throw OpenAIError.invalidRequest(shape, param: "input")
        }
    default:
        throw OpenAIError.invalidRequest(shape, param: "input")
    }
    guard inputs.count <= maxEmbeddingInputs else {
        throw OpenAIError.invalidRequest("'input' has \(inputs.count) items; at most \(maxEmbeddingInputs) are allowed.", param: "input")
    }
    return inputs
}
