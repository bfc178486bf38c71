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
    /// Most connections open at once; further ones wait in the listen backlog until one closes.
    public var maxConnections: Int
    /// Largest request head (request line and header fields); a larger one gets a 400 and the
    /// connection is closed.
    public var maxHeaderBytes: Int
    /// A connection that sends nothing for this long while no response is being written (an idle
    /// keep-alive connection, or a request that stalls halfway) is closed; nil never closes one.
    public var idleTimeout: Duration?

    public init(host: String = "127.0.0.1", port: Int = 8000, apiKey: String? = nil, servedModelName: String,
                maxRequestBodyBytes: Int = 8 << 20, shutdownTimeout: Duration = .zero, maxConnections: Int = 1024,
                maxHeaderBytes: Int = 64 << 10, idleTimeout: Duration? = .seconds(60)) {
        self.shutdownTimeout = shutdownTimeout
        self.maxConnections = maxConnections
        self.maxHeaderBytes = maxHeaderBytes
        self.idleTimeout = idleTimeout
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.servedModelName = servedModelName
        self.maxRequestBodyBytes = maxRequestBodyBytes
    }
}
