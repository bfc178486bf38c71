import Hummingbird
import SwiftletAPI
import SwiftletKernels

/// GET /health, /version and /metrics: what operators and monitoring poll.
extension OpenAIServer {
    /// The server's version, reported by /version.
    public static let version = "0.1.0"

    func infoRoutes() -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        // Unhealthy (503 with the reason) once the engine cannot run anything: a tensor-parallel
        // rank died or stopped answering.
        routes.get("/health") { _, _ in
            if let why = self.generation?.engine.failure {
                return OpenAIError(status: 503, message: "The engine has stopped: \(why).", type: "server_error").response
            }
            return Response(status: .ok)
        }
        routes.get("/version") { _, _ in
            Response.json(["version": .string(Self.version), "kernel_level": .string(KernelLevel.current.description),
                           "cpu_features": .string(CPUFeatures.current.description)])
        }
        routes.get("/metrics") { _, _ in
            if let g = self.generation { self.metrics.update(from: g.engine.statistics) }
            return Response.text(self.metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        return routes
    }
}
