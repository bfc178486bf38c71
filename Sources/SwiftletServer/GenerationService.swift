import SwiftletEngine
import SwiftletTokenizers

/// The generative model a server answers completions, chat and tokenization with.
public struct GenerationService: Sendable {
    public let engine: AsyncLLMEngine
    public let tokenizer: any Tokenizer
    /// The model's chat template; without one, /v1/chat/completions answers 400.
    public let chatTemplate: ChatTemplate?

    public init(engine: AsyncLLMEngine, tokenizer: any Tokenizer, chatTemplate: ChatTemplate?) {
        self.engine = engine
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
    }
}
