/// How the server listens and what it accepts.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// When set, /v1 routes need `Authorization: Bearer <apiKey>`.
    public var apiKey: String?
    /// The name clients pass as `model` and /v1/models lists.
    public var servedModelName: String
    /// Larger request bodies get a 413.
    public var maxRequestBodyBytes: Int
    /// On SIGTERM or SIGINT, how long running requests may go on to their end (new ones get 503)
    /// before the rest are aborted (vLLM's `--shutdown-timeout`); zero aborts at once.
    public var shutdownTimeout: Duration

    public init(host: String = "127.0.0.1", port: Int = 8000, apiKey: String? = nil, servedModelName: String,
                maxRequestBodyBytes: Int = 8 << 20, shutdownTimeout: Duration = .zero) {
        self.shutdownTimeout = shutdownTimeout
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.servedModelName = servedModelName
        self.maxRequestBodyBytes = maxRequestBodyBytes
    }
}
