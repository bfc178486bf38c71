import SwiftletDistributed
import SwiftletKernels

/// Which slice of a model's weights this process holds under tensor parallelism (Megatron-LM's
/// split, as in the PagedAttention paper's section 4.6): query, key and value heads and the
/// feed-forward's intermediate columns are divided among the group's ranks, the output
/// projections sum their partial results with one all-reduce each, and the output head's
/// vocabulary rows are divided too, their logits gathered to rank 0.
///
/// Every rank runs the same forward passes with the same inputs; each collective of the pass is
/// entered by all of them.
public struct TensorShard {
    public let group: any CollectiveGroup
    public var rank: Int { group.rank }
    public var size: Int { group.size }
    /// The threads this shard's forward passes run on. Production runs one process per rank, each
    /// with `ThreadPool.shared`; shards run side by side in one process need a pool each, since
    /// one pool must not be entered from two threads at once.
    public let pool: ThreadPool

    public init(group: any CollectiveGroup) {
        self.init(group: group, pool: .shared)
    }

    public init(group: any CollectiveGroup, pool: ThreadPool) {
        self.group = group
        self.pool = pool
    }
}
