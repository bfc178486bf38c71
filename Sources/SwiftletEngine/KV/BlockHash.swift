/// The content key of one full KV block, for automatic prefix caching.
///
/// A block's hash covers its parent block's hash and its own token ids, so equal hashes mean equal
/// prefixes up to and including the block. Extra keys (an adapter name, a cache salt) go into the
/// root of the chain, which keeps every block of differently keyed requests apart.
///
/// 128 bits keep accidental collisions out of reach for any realistic cache; the pool still
/// compares token ids and the parent hash on every hit, so a collision can only go unnoticed if the
/// parents' hashes collide as well.
public struct BlockHash: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The root of a chain: what every first block's hash starts from.
    public static func root(extraKeys: [String] = []) -> BlockHash {
        var h = Hasher128(seed: 0x5357_4946_544C_4554) // "SWIFTLET": a fixed seed keeps hashes stable across runs
        h.combine(UInt64(extraKeys.count))
        for key in extraKeys {
            h.combine(UInt64(key.utf8.count))
            for byte in key.utf8 { h.combine(UInt64(byte)) }
        }
        return h.finish()
    }

    /// The root of KV cache group `group`'s chains from this root. Group 0 keeps the root itself
    /// (a single-group cache hashes as it always did); the others mix in their index, so that two
    /// groups' tables never find each other's blocks (each holds other layers' KV).
    public func forGroup(_ group: Int) -> BlockHash {
        guard group > 0 else { return self }
        var h = Hasher128(seed: low ^ 0x4B56_4752_4F55_5053) // "KVGROUPS"
        h.combine(high)
        h.combine(low)
        h.combine(UInt64(group))
        return h.finish()
    }

    /// The hash of a block holding `tokens` whose preceding block hashes to `parent`.
    public static func chained<C: Collection>(parent: BlockHash, tokens: C) -> BlockHash where C.Element == Int {
        var h = Hasher128(seed: parent.low ^ 0x9E37_79B9_7F4A_7C15)
        h.combine(parent.high)
        h.combine(parent.low)
        h.combine(UInt64(tokens.count))
        for t in tokens { h.combine(UInt64(bitPattern: Int64(t))) }
        return h.finish()
    }

    public var description: String {
        let hex = { (v: UInt64) -> String in
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return hex(high) + hex(low)
    }
}

/// Two independent 64-bit multiply-rotate lanes (MurmurHash3's mixing) with a final avalanche.
/// Swift's `Hasher` is seeded per process, which would make hashes differ between runs and tests.
struct Hasher128 {
    private var a: UInt64
    private var b: UInt64
    private var count: UInt64 = 0

    init(seed: UInt64) {
        a = seed ^ 0x87C3_7B91_1142_53D5
        b = seed &* 0x4CF5_AD43_2745_937F ^ 0x52DC_E729
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inline(__always) private static func fmix(_ x: UInt64) -> UInt64 {
        var k = x
        k ^= k >> 33
        k = k &* 0xFF51_AFD7_ED55_8CCD
        k ^= k >> 33
        k = k &* 0xC4CE_B9FE_1A85_EC53
        k ^= k >> 33
        return k
    }

    @inline(__always) mutating func combine(_ v: UInt64) {
        let k1 = Self.rotl(v &* 0x87C3_7B91_1142_53D5, 31) &* 0x4CF5_AD43_2745_937F
        a ^= k1
        a = Self.rotl(a, 27) &+ b
        a = a &* 5 &+ 0x52DC_E729
        let k2 = Self.rotl(v &* 0x4CF5_AD43_2745_937F, 33) &* 0x87C3_7B91_1142_53D5
        b ^= k2
        b = Self.rotl(b, 31) &+ a
        b = b &* 5 &+ 0x3849_5AB5
        count &+= 1
    }

    func finish() -> BlockHash {
        var x = a ^ count, y = b ^ count
        x = x &+ y
        y = y &+ x
        x = Self.fmix(x)
        y = Self.fmix(y)
        x = x &+ y
        y = y &+ x
        return BlockHash(high: x, low: y)
    }
}
