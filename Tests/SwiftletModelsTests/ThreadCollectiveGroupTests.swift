import Foundation
import Testing
import SwiftletDistributed
import SwiftletTestSupport

/// The in-process group the tensor-parallel model tests stand on moves data as MPI's collectives do.
@Suite struct ThreadCollectiveGroupTests {
    @Test func allReduceGatherAndBroadcast() {
        let members = ThreadCollectiveGroup.makeGroup(size: 3)
        let results = ThreadCollectiveGroup.onEveryRank(3) { r -> ([Float], [Float], [UInt8]) in
            let g = members[r]
            var x: [Float] = [Float(r), Float(10 * r), 1]
            x.withUnsafeMutableBufferPointer { g.allReduceSum($0.baseAddress!, count: 3) }
            // Rank r sends r + 1 values to rank 0, laid out back to back.
            let send = [Float](repeating: Float(r + 1), count: r + 1)
            var gathered = [Float](repeating: -1, count: 6)
            send.withUnsafeBufferPointer { s in
                gathered.withUnsafeMutableBufferPointer { g.gather(s.baseAddress!, counts: [1, 2, 3], displacements: [0, 1, 3], into: $0.baseAddress, root: 0) }
            }
            var bytes: [UInt8] = r == 2 ? [7, 8, 9] : [0, 0, 0]
            bytes.withUnsafeMutableBytes { g.broadcast($0.baseAddress!, bytes: 3, root: 2) }
            return (x, gathered, bytes)
        }
        for (r, (sum, gathered, bytes)) in results.enumerated() {
            #expect(sum == [3, 30, 3])
            #expect(gathered == (r == 0 ? [1, 2, 2, 3, 3, 3] : Array(repeating: -1, count: 6)))
            #expect(bytes == [7, 8, 9])
            #expect(members[r].statistics.calls == 3 && members[r].failure == nil)
        }
    }

    /// A member that never arrives fails the collective instead of hanging it, and every later
    /// collective of that member returns at once.
    @Test func aMissingMemberIsAFailure() {
        let members = ThreadCollectiveGroup.makeGroup(size: 2, timeout: .milliseconds(200))
        var x: [Float] = [1, 2]
        x.withUnsafeMutableBufferPointer { members[0].allReduceSum($0.baseAddress!, count: 2) }
        #expect(members[0].failure?.operation == "all-reduce")
        x.withUnsafeMutableBufferPointer { members[0].allReduceSum($0.baseAddress!, count: 2) }
        #expect(x == [1, 2])
        #expect(members[0].statistics.calls == 1)
    }
}
