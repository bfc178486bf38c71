/// Float scratch buffers for a forward pass, grown to the largest request seen and reused, so
/// that steady-state passes allocate nothing.
final class ScratchBuffers {
    private var pointers: [UnsafeMutablePointer<Float>] = []
    private var sizes: [Int] = []

    /// One buffer of at least `counts[i]` floats per entry, zero-filled when (re)allocated.
    /// The pointers stay valid until the next call.
    func reserve(_ counts: [Int]) -> [UnsafeMutablePointer<Float>] {
        while pointers.count < counts.count {
            pointers.append(.allocate(capacity: 1))
            sizes.append(1)
        }
        for (i, n) in counts.enumerated() where sizes[i] < n {
            // Grow geometrically: decode batches creep up one token at a time.
            let size = max(n, sizes[i] * 2)
            pointers[i].deallocate()
            pointers[i] = .allocate(capacity: size)
            pointers[i].initialize(repeating: 0, count: size)
            sizes[i] = size
        }
        return Array(pointers.prefix(counts.count))
    }

    deinit { pointers.forEach { $0.deallocate() } }
}
