import CSwiftletMPI
import Foundation

/// The processes of an MPI job (Open MPI), as a `CollectiveGroup`.
///
/// Every collective is non-blocking and polled against `timeout`: a blocking one never returns
/// when a peer has died, while this one fails after `timeout` and lets the caller report which
/// rank stopped answering. Ranks should run under `mpirun --enable-recovery`, without which
/// mpirun kills the whole job the moment one rank dies (see docs/tensor-parallel.md).
public final class MPIGroup: CollectiveGroup {
    public let rank: Int
    public let size: Int
    /// How long a collective may wait for its peers during a step.
    public var timeout: Duration
    public private(set) var failure: CollectiveFailure?
    public private(set) var statistics = CollectiveStatistics()
    private var finalized = false

    /// Whether this process was started by an MPI launcher (`mpirun`).
    public static var isLaunchedByMPI: Bool { sw_mpi_launched() != 0 }

    /// Initializes MPI; call once per process.
    public init(timeout: Duration = .seconds(10)) throws {
        var r: Int32 = 0, s: Int32 = 0
        var message = [CChar](repeating: 0, count: 512)
        guard sw_mpi_init(&r, &s, &message, message.count) == Int32(SW_MPI_OK) else {
            throw CollectiveFailure(operation: "initialization", reason: String(cString: message))
        }
        rank = Int(r)
        size = Int(s)
        self.timeout = timeout
    }

    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        run("all-reduce", bytes: count * 4, timeout: timeout) { t, m, n in
            sw_mpi_allreduce_sum_f32(buffer, count, t, m, n)
        }
    }

    public func gather(_ send: UnsafePointer<Float>, counts: [Int], displacements: [Int], into receive: UnsafeMutablePointer<Float>?,
                       root: Int) {
        let c = counts.map { Int32($0) }, d = displacements.map { Int32($0) }
        run("gather", bytes: counts[rank] * 4, timeout: timeout) { t, m, n in
            sw_mpi_gather_f32(send, Int32(counts[rank]), receive, c, d, Int32(root), t, m, n)
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) {
        broadcast(buffer, bytes: bytes, root: root, timeout: timeout)
    }

    /// A broadcast with its own deadline (nil: wait for ever), for a worker that waits for rank
    /// 0's next step however long the server stays idle.
    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int, timeout: Duration?) {
        run("broadcast", bytes: rank == root ? bytes : 0, timeout: timeout) { t, m, n in
            sw_mpi_broadcast(buffer, bytes, Int32(root), t, m, n)
        }
    }

    /// Ends MPI after every rank has stopped cleanly.
    public func finalize() {
        guard !finalized else { return }
        finalized = true
        sw_mpi_finalize()
    }

    /// Ends every rank of the job with `code` (for a rank that cannot go on).
    public func abortJob(code: Int32) -> Never {
        sw_mpi_abort(code)
        exit(code)
    }

    private func run(_ operation: String, bytes: Int, timeout: Duration?,
                     _ body: (Double, UnsafeMutablePointer<CChar>, Int) -> Int32) {
        guard failure == nil else { return }
        let clock = ContinuousClock()
        let start = clock.now
        var message = [CChar](repeating: 0, count: 512)
        let seconds = timeout.map { Double($0.components.seconds) + Double($0.components.attoseconds) * 1e-18 } ?? 0
        let rc = message.withUnsafeMutableBufferPointer { body(seconds, $0.baseAddress!, $0.count) }
        let elapsed = start.duration(to: clock.now)
        statistics.calls += 1
        statistics.seconds += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        statistics.bytes += bytes
        if rc != Int32(SW_MPI_OK) {
            // With two ranks the one that stopped answering is the other one; with more, MPI
            // does not say which.
            let peer = size == 2 ? 1 - rank : nil
            failure = CollectiveFailure(operation: operation, rank: peer, reason: String(cString: message))
        }
    }
}
