/// Why a collective did not complete: a peer died, stopped answering within the group's
/// timeout, or MPI reported an error.
public struct CollectiveFailure: Error, Equatable, CustomStringConvertible, Sendable {
    /// The collective that failed ("all-reduce", "broadcast", "gather").
    public var operation: String
    /// The rank that stopped answering, when the group could tell; nil when it could not.
    public var rank: Int?
    public var reason: String

    public init(operation: String, rank: Int? = nil, reason: String) {
        self.operation = operation
        self.rank = rank
        self.reason = reason
    }

    public var description: String {
        "tensor-parallel \(operation) failed" + (rank.map { " (rank \($0))" } ?? "") + ": \(reason)"
    }
}

/// What the collectives have cost so far: wall time inside them and bytes this rank contributed.
public struct CollectiveStatistics: Equatable, Sendable {
    public var calls = 0
    public var seconds = 0.0
    public var bytes = 0

    public init() {}
}

/// The collectives a tensor-parallel forward pass needs among `size` ranks, rank 0 being the
/// one that samples.
///
/// Collectives do not throw, so that a model's forward pass keeps its signature: a failed one
/// is recorded in `failure`, and from then on every collective returns at once without moving
/// data. The pass then ends quickly with meaningless numbers, and its caller checks `failure`
/// before using them. Not thread-safe: one thread calls a group's collectives.
public protocol CollectiveGroup: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// The first collective that failed; nil while all have completed.
    var failure: CollectiveFailure? { get }
    var statistics: CollectiveStatistics { get }
    /// Replaces each of the `count` floats by its sum over all ranks.
    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int)
    /// Gathers rank r's `counts[r]` floats into `receive` at `displacements[r]` on `root`;
    /// `receive` is used on `root` only.
    func gather(_ send: UnsafePointer<Float>, counts: [Int], displacements: [Int], into receive: UnsafeMutablePointer<Float>?,
                root: Int)
    /// Copies `bytes` bytes from `root`'s buffer into every other rank's.
    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int)
    /// A broadcast with its own deadline (nil: none), for a rank that waits for the next step
    /// however long the server stays idle.
    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int, timeout: Duration?)
}

extension CollectiveGroup {
    /// Groups without deadlines of their own wait as their plain broadcast does.
    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int, timeout: Duration?) {
        broadcast(buffer, bytes: bytes, root: root)
    }
}
