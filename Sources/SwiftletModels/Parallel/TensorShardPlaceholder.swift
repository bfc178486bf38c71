// Until the sharded loaders land (the weights split by heads and columns), every rank of a
// tensor-parallel group holds the whole model and computes the whole step: the step broadcast,
// the worker loop and the fault handling run as they will, without the split.
import SwiftletDistributed
import SwiftletKernels
public struct TensorShard {
    public let group: any CollectiveGroup
    public var rank: Int { group.rank }
    public var size: Int { group.size }
    public init(group: any CollectiveGroup) { self.group = group }
}
public func loadModel(path: String, precision: ComputePrecision = .fast, shard: TensorShard?,
                      progress: LoadProgress? = nil) throws -> LoadedModel {
    try loadModel(path: path, precision: precision, progress: progress)
}
