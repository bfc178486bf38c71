import Foundation

/// Reusable scratch buffers, grown on demand and kept for the next call, so that steady-state
/// forward passes allocate nothing: the matmuls' byte slots and a model's float buffers.
public final class Workspace: @unchecked Sendable {
    public enum Slot: Int, CaseIterable {
        case activationQuant
    }

    private var buffers: [UnsafeMutableRawPointer?] = Array(repeating: nil, count: Slot.allCases.count)
    private var sizes: [Int] = Array(repeating: 0, count: Slot.allCases.count)
    private var floatBuffers: [UnsafeMutablePointer<Float>] = []
    private var floatSizes: [Int] = []

    public init() {}

    /// One float buffer of at least `counts[i]` values per entry, zero-filled when (re)allocated,
    /// apart from the byte slots. The pointers stay valid until the next call.
    public func floats(_ counts: [Int]) -> [UnsafeMutablePointer<Float>] {
        while floatBuffers.count < counts.count {
            floatBuffers.append(.allocate(capacity: 1))
            floatSizes.append(1)
        }
        for (i, n) in counts.enumerated() where floatSizes[i] < n {
            // Grow geometrically: decode batches creep up one token at a time.
            let size = max(n, floatSizes[i] * 2)
            floatBuffers[i].deallocate()
            floatBuffers[i] = .allocate(capacity: size)
            floatBuffers[i].initialize(repeating: 0, count: size)
            floatSizes[i] = size
        }
        return Array(floatBuffers.prefix(counts.count))
    }

    public func bytes(_ slot: Slot, count: Int) -> UnsafeMutableRawPointer {
        let i = slot.rawValue
        if sizes[i] < count {
            buffers[i]?.deallocate()
            let size = max(count, sizes[i] * 3 / 2, 4096)
            buffers[i] = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
            sizes[i] = size
        }
        return buffers[i]!
    }

    deinit {
        buffers.forEach { $0?.deallocate() }
        floatBuffers.forEach { $0.deallocate() }
    }
}
