/// Turns text into token ids and back, exactly as the model's Hugging Face tokenizer does.
///
/// Build one with `loadTokenizer(gguf:)` or `loadTokenizer(tokenizerJSON:config:)`. Implementations
/// are safe to use from several threads at once.
public protocol Tokenizer: Sendable {
    /// Number of ids, including added and special tokens.
    var vocabularySize: Int { get }
    /// The model's beginning-of-sequence token, if it has one (whether or not `encode` adds it).
    var bosTokenID: Int? { get }
    /// Tokens that end generation: the configured EOS, plus end-of-turn tokens a GGUF names.
    var eosTokenIDs: [Int] { get }
    /// Whether `encode(_:addSpecialTokens: true)` prepends BOS (from the model's config).
    var addsBOS: Bool { get }

    /// Encodes `text`. `addSpecialTokens` adds BOS/EOS as the model's config says;
    /// `parseSpecial` lets special-token text inside `text` (e.g. `<|im_start|>`) become its id.
    func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int]

    /// Decodes ids to text; invalid UTF-8 becomes U+FFFD, as Hugging Face does.
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String

    /// The raw bytes a token stands for in decoded output when it is the first token
    /// (`isFirst`) or follows others; SentencePiece tokenizers drop a leading space only at the start.
    /// Used by the incremental (streaming) detokenizer.
    func tokenBytes(_ id: Int, isFirst: Bool) -> [UInt8]

    /// Whether `id` is a special (control) token that `skipSpecialTokens` removes.
    func isSpecial(_ id: Int) -> Bool

    /// The token's string as stored in the vocabulary (for logprobs' `token` field).
    func tokenString(_ id: Int) -> String?

    /// The id whose vocabulary string is exactly `string` (e.g. `<|im_end|>` for stop tokens).
    func tokenID(_ string: String) -> Int?
}

extension Tokenizer {
    /// A linear scan, for conformers without an index; the built-in tokenizers override it.
    public func tokenID(_ string: String) -> Int? {
        (0..<vocabularySize).first { tokenString($0).map { $0.utf8.elementsEqual(string.utf8) } ?? false }
    }

    /// Encodes with BOS/EOS as configured, parsing special-token text.
    public func encode(_ text: String) -> [Int] { encode(text, addSpecialTokens: true, parseSpecial: true) }
    /// Decodes, leaving out special tokens.
    public func decode(_ ids: [Int]) -> String { decode(ids, skipSpecialTokens: true) }
}

/// Why a tokenizer could not be built.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// A valid description this implementation does not handle (e.g. a Unigram model).
    case unsupported(String)
    /// A description that is missing parts or is not valid JSON.
    case malformed(String)

    public var description: String {
        switch self {
        case .unsupported(let what): return "unsupported tokenizer: \(what)"
        case .malformed(let what): return "malformed tokenizer: \(what)"
        }
    }
}
