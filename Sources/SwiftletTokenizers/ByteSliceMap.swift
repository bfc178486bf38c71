import Foundation

/// A hash map from byte strings to short id lists, looked up by pointer and length.
///
/// Keys and values live in two flat arenas, so a lookup hashes the bytes in place and allocates
/// nothing — `Dictionary<[UInt8], …>` would need a fresh array per word just to ask.
/// Used for vocabularies (byte string → one id) and for the cache of already-encoded words.
struct ByteSliceMap {
    private var keyBytes: [UInt8] = []
    private var valueIDs: [Int32] = []
    /// Per slot: key start, key length (-1 when empty), value start, value length.
    private var slots: [SIMD4<Int32>]
    private var hashes: [UInt32]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [SIMD4<Int32>](repeating: SIMD4(0, -1, 0, 0), count: size)
        hashes = [UInt32](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: n)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            i += 8
        }
        if i < n {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                w |= UInt64(p[i]) << shift
                shift += 8
                i += 1
            }
            h = (h ^ w) &* 0xFF51_AFD7_ED55_8CCD
        }
        h ^= h >> 29
        h = h &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 32
        return h
    }

    /// The slot holding `key`, or the empty slot where it would go.
    @inline(__always)
    private func find(_ p: UnsafePointer<UInt8>, _ n: Int, _ h: UInt64) -> (Int, Bool) {
        let tag = UInt32(truncatingIfNeeded: h >> 32)
        var i = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBufferPointer { slots in
            hashes.withUnsafeBufferPointer { hashes in
                keyBytes.withUnsafeBufferPointer { keys in
                    while true {
                        let s = slots[i]
                        if s.y < 0 { return (i, false) }
                        if hashes[i] == tag && Int(s.y) == n {
                            if n == 0 || memcmp(keys.baseAddress! + Int(s.x), p, n) == 0 { return (i, true) }
                        }
                        i = (i + 1) & mask
                    }
                }
            }
        }
    }

    /// Calls `body` with the ids stored for `key`, if any; returns whether it was found.
    @inline(__always)
    func withValue(_ p: UnsafePointer<UInt8>, _ n: Int, _ body: (UnsafeBufferPointer<Int32>) -> Void) -> Bool {
        let (slot, found) = find(p, n, ByteSliceMap.hash(p, n))
        guard found else { return false }
        let s = slots[slot]
        valueIDs.withUnsafeBufferPointer { v in
            body(UnsafeBufferPointer(rebasing: v[Int(s.z)..<Int(s.z + s.w)]))
        }
        return true
    }

    /// The first id stored for `key` (for maps holding one id each).
    @inline(__always)
    func single(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32? {
        let (slot, found) = find(p, n, ByteSliceMap.hash(p, n))
        guard found else { return nil }
        return valueIDs[Int(slots[slot].z)]
    }

    func single(_ key: [UInt8]) -> Int32? {
        key.withUnsafeBufferPointer { b in
            var z: UInt8 = 0
            return b.baseAddress.map { single($0, b.count) } ?? single(&z, 0)
        }
    }

    /// Stores `values` for `key`; a key already present keeps its first value, as HF's vocab
    /// keeps the first id for a duplicated token string.
    mutating func insert(_ p: UnsafePointer<UInt8>, _ n: Int, _ values: UnsafeBufferPointer<Int32>) {
        if (count + 1) * 2 > slots.count { grow() }
        let h = ByteSliceMap.hash(p, n)
        let (slot, found) = find(p, n, h)
        if found { return }
        let ks = Int32(keyBytes.count)
        keyBytes.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        let vs = Int32(valueIDs.count)
        valueIDs.append(contentsOf: values)
        slots[slot] = SIMD4(ks, Int32(n), vs, Int32(values.count))
        hashes[slot] = UInt32(truncatingIfNeeded: h >> 32)
        count += 1
    }

    mutating func insert(_ key: [UInt8], _ value: Int32) {
        var v = value
        key.withUnsafeBufferPointer { b in
            withUnsafePointer(to: &v) { vp in
                var z: UInt8 = 0
                if let base = b.baseAddress {
                    insert(base, b.count, UnsafeBufferPointer(start: vp, count: 1))
                } else {
                    insert(&z, 0, UnsafeBufferPointer(start: vp, count: 1))
                }
            }
        }
    }

    mutating func removeAll() {
        keyBytes.removeAll(keepingCapacity: true)
        valueIDs.removeAll(keepingCapacity: true)
        for i in slots.indices { slots[i] = SIMD4(0, -1, 0, 0) }
        count = 0
    }

    private mutating func grow() {
        let old = slots
        let oldHashes = hashes
        let size = slots.count * 2
        slots = [SIMD4<Int32>](repeating: SIMD4(0, -1, 0, 0), count: size)
        hashes = [UInt32](repeating: 0, count: size)
        mask = size - 1
        keyBytes.withUnsafeBufferPointer { keys in
            for (j, s) in old.enumerated() where s.y >= 0 {
                let p = keys.baseAddress.map { $0 + Int(s.x) }
                let h = p.map { ByteSliceMap.hash($0, Int(s.y)) } ?? ByteSliceMap.hash(UnsafePointer(bitPattern: 1)!, 0)
                var i = Int(truncatingIfNeeded: h) & mask
                while slots[i].y >= 0 { i = (i + 1) & mask }
                slots[i] = s
                hashes[i] = oldHashes[j]
            }
        }
    }
}
