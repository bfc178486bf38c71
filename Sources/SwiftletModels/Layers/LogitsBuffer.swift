/// The logits array of a model's forward passes, kept from pass to pass.
///
/// A step's logits are rows x vocabulary floats (32 x 262,144, 32 MiB, for Gemma 3). An array
/// that large is a fresh mapping each pass, whose pages the kernel faults in, zeroes, and unmaps
/// again when it is freed: measured, 12 % of Gemma 3's 32-sequence decode step. The engine lets
/// go of a pass's logits before it runs the next, so the array kept here is then the only
/// reference to its storage and is written in place. (A caller that keeps a pass's logits still
/// gets its own copy: the next pass's write copies first, as any array does.)
final class LogitsBuffer: @unchecked Sendable {
    private var storage: [Float] = []

    /// An array of `count` floats, all written by `fill` (given the array's storage).
    func next(count: Int, _ fill: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        // One large pass (the start-up warm-up, a burst of sequences) must not pin its size for
        // good: storage more than twice the need is let go.
        if count > storage.capacity || storage.capacity > 2 * count {
            storage = []
            storage = [Float](unsafeUninitializedCapacity: count) { _, n in n = count }
        } else if storage.count > count {
            storage.removeLast(storage.count - count)
        } else if storage.count < count {
            storage.append(contentsOf: repeatElement(0, count: count - storage.count))
        }
        storage.withUnsafeMutableBufferPointer { fill($0.baseAddress!) }
        return storage
    }
}
