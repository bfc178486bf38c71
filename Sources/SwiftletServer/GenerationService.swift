import SwiftletEngine
import SwiftletTokenizers

/// The generative model a server answers completions, chat and tokenization with.
public struct GenerationService: Sendable {
    public let engine: AsyncLLMEngine
    public let tokenizer: any Tokenizer
    /// The model's chat template; without one, /v1/chat/completions answers 400.
    public let chatTemplate: ChatTemplate?
    /// How tool calls are read from answers (`--tool-call-parser`); nil picks the format from
    /// the chat template.
    public var toolCallParser: ToolCallFormat?
    /// How reasoning is split from answers (`--reasoning-parser`); nil leaves answers whole.
    public var reasoningParser: ReasoningFormat?

    public init(engine: AsyncLLMEngine, tokenizer: any Tokenizer, chatTemplate: ChatTemplate?,
                toolCallParser: ToolCallFormat? = nil, reasoningParser: ReasoningFormat? = nil) {
        self.engine = engine
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        self.toolCallParser = toolCallParser
        self.reasoningParser = reasoningParser
    }
}
