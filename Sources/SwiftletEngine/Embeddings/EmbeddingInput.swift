import Foundation

/// One input to embed: text, tokenized and truncated as the model's sentence-transformers
/// configuration says, or token ids used as given (special tokens included).
public enum EmbeddingInput: Sendable, Equatable {
    case text(String)
    case tokens([Int])
}

/// Why an embedding request was refused. `index` is the input's position in the request.
public enum EmbeddingError: Error, CustomStringConvertible, Equatable {
    case noInputs
    case emptyInput(index: Int)
    /// Token ids are not truncated: the caller chose them, so cutting them would change their meaning silently.
    case tooLong(index: Int, tokens: Int, maximum: Int)
    case invalidToken(index: Int, token: Int, vocabularySize: Int)

    public var description: String {
        switch self {
        case .noInputs:
            return "input must not be empty"
        case .emptyInput(let i):
            return "input[\(i)] has no tokens"
        case .tooLong(let i, let n, let max):
            return "input[\(i)] has \(n) tokens; this model's maximum input length is \(max) tokens"
        case .invalidToken(let i, let t, let v):
            return "input[\(i)] contains token id \(t), outside the vocabulary of \(v) tokens"
        }
    }
}
