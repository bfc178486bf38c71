/// The logits array of a model's forward passes, handed out and taken back, so that passes reuse
/// one allocation.
///
/// A step's logits are rows x vocabulary floats (32 x 262,144, 32 MiB, for Gemma 3). An array
/// that large is a fresh mapping each pass, whose pages the kernel faults in, zeroes, and unmaps
/// again when it is freed: measured, 12 % of Gemma 3's 32-sequence decode step. The buffer keeps
/// no reference to the array it hands out (the caller may then change it in place without a
/// copy); `recycle` gives it back for the next pass.
final class LogitsBuffer: @unchecked Sendable {
    private var storage: [Float] = []

    /// An array of `count` floats, all written by `fill` (given the array's storage): the
    /// recycled one when it fits.
    func next(count: Int, _ fill: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        var a = storage
        storage = []
        // One large pass (the start-up warm-up, a burst of sequences) must not pin its size for
        // good: storage more than twice the need is let go.
        if count > a.capacity || a.capacity > 2 * count {
            a = []
            a = [Float](unsafeUninitializedCapacity: count) { _, n in n = count }
        } else if a.count > count {
            a.removeLast(a.count - count)
        } else if a.count < count {
            a.append(contentsOf: repeatElement(0, count: count - a.count))
        }
        a.withUnsafeMutableBufferPointer { fill($0.baseAddress!) }
        return a
    }

    /// Takes back an array handed out by `next` (or any other), to be written by the next pass.
    func recycle(_ logits: consuming [Float]) {
        storage = logits
    }
}
