import Hummingbird
import SwiftletEngine
import SwiftletFormats

/// The web page at / and the engine views it polls: GET /engine/stats (counters) and
/// /engine/blocks (who holds each KV block); POST /pause and /resume.
extension OpenAIServer {
    func engineViewRoutes(_ g: GenerationService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        routes.get("/") { _, _ in Response.text(WebPage.html, contentType: "text/html; charset=utf-8") }
        routes.get("/engine/blocks") { _, _ in Response.json(await self.blockMapJSON(g)) }
        routes.get("/engine/stats") { _, _ in Response.json(self.statisticsJSON(g)) }
        // vLLM's names. Paused, the engine still takes requests (they wait) and aborts, and runs
        // no step until resumed: for maintenance, and for tests that need requests to arrive
        // together whatever the machine's speed. Answered once the engine has taken the command.
        routes.post("/pause") { _, _ in
            g.engine.pause()
            _ = await g.engine.blockMap()
            return Response.json(["paused": true])
        }
        routes.post("/resume") { _, _ in
            g.engine.resume()
            _ = await g.engine.blockMap()
            return Response.json(["paused": false])
        }
        return routes
    }

    func statisticsJSON(_ g: GenerationService) -> JSONValue {
        let s = g.engine.statistics
        return [
            "num_requests_running": .int(s.numRunning), "num_requests_waiting": .int(s.numWaiting),
            "num_requests_swapped": .int(s.numSwapped), "num_requests_finished": .int(s.numFinished),
            "kv_blocks_total": .int(s.kvBlocksTotal), "kv_blocks_used": .int(s.kvBlocksUsed),
            "kv_blocks_free": .int(s.kvBlocksFree), "kv_blocks_cached": .int(s.kvBlocksCached),
            "kv_cache_usage": .double(s.kvUsage), "prefix_cache_queries": .int(s.prefixCacheQueries),
            "prefix_cache_hits": .int(s.prefixCacheHits), "preemptions": .int(s.preemptions),
            "prompt_tokens": .int(s.promptTokens), "generation_tokens": .int(s.generationTokens), "steps": .int(s.steps),
            "structured_output_tokens": .int(s.structuredTokens), "structured_output_masks": .int(s.grammarMasks),
            "structured_output_seconds": .double(s.grammarSeconds), "structured_output_compiles": .int(s.grammarCompiles),
            "structured_output_compile_seconds": .double(s.grammarCompileSeconds),
            "step_seconds": .double(s.stepSeconds), "forward_seconds": .double(s.forwardSeconds),
        ]
    }

    func blockMapJSON(_ g: GenerationService) async -> JSONValue {
        let map = await g.engine.blockMap()
        return [
            "block_size": .int(map.blockSize),
            "states": .array(map.states.map { .int($0.rawValue) }),
            "owners": .array(map.owners.map { .int($0) }),
            "requests": .array(map.requestIDs.map { .string($0) }),
            "stats": statisticsJSON(g),
        ]
    }
}
