import Hummingbird
import SwiftletAPI
import SwiftletModels
import SwiftletTokenizers
import SwiftletJinja

/// POST /tokenize and /detokenize, in vLLM's shapes.
extension OpenAIServer {
    func tokenizeRoutes(_ g: GenerationService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        routes.post("/tokenize") { request, _ in try await self.tokenize(self.fields(request), g) }
        routes.post("/detokenize") { request, _ in try await self.detokenize(self.fields(request), g) }
        return routes
    }

    func tokenize(_ f: RequestFields, _ g: GenerationService) async throws -> Response {
        try checkModel(f)
        let tokens: [Int]
        if let prompt = try f.string("prompt") {
            tokens = g.tokenizer.encode(prompt, addSpecialTokens: try f.bool("add_special_tokens") ?? true, parseSpecial: true)
        } else if case .array(let raw)? = f.value("messages") {
            guard let template = g.chatTemplate else { throw OpenAIError.invalidRequest("This model has no chat template.", param: "messages") }
            let tools = try ChatToolSetup(f, template: template, g)
            let text: String
            do {
                text = try template.renderServing(messages: raw.map { try ChatMessage(JinjaValue($0)).parsingToolCallArguments() },
                                                  addGenerationPrompt: try f.bool("add_generation_prompt") ?? true,
                                                  tools: tools.templateTools, extra: try ChatToolSetup.templateKwargs(f))
            } catch let e as OpenAIError {
                throw e
            } catch {
                throw OpenAIError.invalidRequest("The messages could not be rendered with the chat template: \(error)", param: "messages")
            }
            tokens = g.tokenizer.encode(text, addSpecialTokens: try f.bool("add_special_tokens") ?? false, parseSpecial: true)
        } else {
            throw OpenAIError.invalidRequest("Give 'prompt' (a string) or 'messages' (a list).", param: "prompt")
        }
        return Response.json([
            "count": .int(tokens.count), "max_model_len": .int(g.engine.maxModelLen), "tokens": .array(tokens.map { .int($0) }),
        ])
    }

    func detokenize(_ f: RequestFields, _ g: GenerationService) async throws -> Response {
        try checkModel(f)
        guard let tokens = try f.ints("tokens") else { throw OpenAIError.invalidRequest("'tokens' is required.", param: "tokens") }
        if let bad = tokens.first(where: { $0 < 0 || $0 >= g.engine.vocabSize }) {
            throw OpenAIError.invalidRequest("Token id \(bad) is outside the vocabulary (size \(g.engine.vocabSize)).", param: "tokens")
        }
        return Response.json(["prompt": .string(g.tokenizer.decode(tokens, skipSpecialTokens: false))])
    }
}
