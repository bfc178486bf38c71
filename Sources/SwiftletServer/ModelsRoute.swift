import Hummingbird
import SwiftletFormats

/// GET /v1/models: the generative model and the embedding model this server answers for.
extension OpenAIServer {
    func modelsRoutes() -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        routes.get("/v1/models") { _, _ in Response.json(self.modelList()) }
        return routes
    }

    func modelList() -> JSONValue {
        var data: [JSONValue] = []
        if let g = generation { data.append(modelEntry(configuration.servedModelName, maxModelLen: g.engine.maxModelLen)) }
        if let e = embeddingService { data.append(modelEntry(e.modelName, maxModelLen: e.engine.model.maxSequenceLength)) }
        return ["object": "list", "data": .array(data)]
    }

    private func modelEntry(_ name: String, maxModelLen: Int) -> JSONValue {
        [
            "id": .string(name), "object": "model", "created": .int(created), "owned_by": "swiftlet",
            "root": .string(name), "parent": .null, "max_model_len": .int(maxModelLen),
        ]
    }
}
