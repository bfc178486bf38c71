/// SplitMix64, a small seeded generator: test data come out the same on every run and do not
/// depend on which other tests ran first.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1), on a grid of 2^-23.
    public mutating func unit() -> Float { Float(Int64(bitPattern: next()) >> 40) / Float(1 << 23) }

    /// Uniform in [0, 1), on a grid of 2^-24.
    public mutating func unitInterval() -> Float { Float(next() >> 40) / Float(1 << 24) }

    /// A byte from the high bits.
    public mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next() >> 29) }
}
