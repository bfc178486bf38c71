// Reference dequantizers for the GGML storage formats.
//
// Each element is computed with the same float32 operations, in the same order, as the Python
// `gguf` package's `gguf.quants.dequantize` (which mirrors ggml's C reference code), so the output
// is bit-identical to it. Fused multiply-add must therefore never be used here: `d * q + m` is two
// rounded operations in the reference. Swift never contracts separate operations into an FMA, which
// is one reason these loops are written in Swift rather than in the C target (built with
// `-ffp-contract=fast`).

/// Why a buffer could not be dequantized.
public enum DequantizeError: Error, CustomStringConvertible, Equatable {
    /// The format has no dequantizer (integer tensors, or quantizations used only for activations).
    case unsupportedType(GGMLType)
    /// `count` is negative or not a whole number of the format's blocks.
    case partialBlock(type: GGMLType, count: Int)
    /// The source buffer is smaller than `count` elements of the format need.
    case sourceTooSmall(type: GGMLType, count: Int, needed: Int, available: Int)

    public var description: String {
        switch self {
        case .unsupportedType(let t):
            return "cannot dequantize tensors of type \(t): unsupported format (supported: \(supportedDequantizeTypes.map(\.description).joined(separator: ", ")))"
        case .partialBlock(let t, let n):
            return "cannot dequantize \(n) elements of \(t): not a whole number of \(t.blockSize)-element blocks"
        case .sourceTooSmall(let t, let n, let needed, let available):
            return "cannot dequantize \(n) elements of \(t): they need \(needed) bytes but the source has \(available)"
        }
    }
}

/// The formats `dequantize` accepts.
public let supportedDequantizeTypes: [GGMLType] = [
    .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K,
]

extension GGMLType {
    /// Whether `dequantize` can decode this format.
    public var canDequantize: Bool { supportedDequantizeTypes.contains(self) }
}

/// Converts IEEE half-precision bits to a float exactly, including subnormals, infinities and NaN
/// payloads.
///
/// Done with integer arithmetic because Swift's `Float16` conversion is a library call on x86-64
/// machines without F16C, which would dominate the cost of dequantizing F16 tensors.
@inlinable @inline(__always)
public func halfBitsToFloat(_ h: UInt16) -> Float {
    let shiftedExponent: UInt32 = 0x7C00 << 13
    var o = UInt32(h & 0x7FFF) << 13
    let exponent = o & shiftedExponent
    o &+= (127 - 15) << 23
    if exponent == shiftedExponent {
        o &+= (128 - 16) << 23
    } else if exponent == 0 {
        // Subnormal or zero: let the FPU renormalise by subtracting the implicit bit's value (2^-14).
        o &+= 1 << 23
        o = (Float(bitPattern: o) - Float(bitPattern: 113 << 23)).bitPattern
    }
    return Float(bitPattern: o | UInt32(h & 0x8000) << 16)
}

/// Decodes `count` elements stored in `type`'s format at `src` into `count` floats at `dst`.
///
/// `count` must be a whole number of blocks of the format; `src` must hold
/// `type.byteCount(elements: count)` bytes and may be unaligned. The results are bit-identical to
/// `gguf.quants.dequantize` from the Python `gguf` package.
///
/// - Throws: `DequantizeError` for unsupported formats or a partial block.
public func dequantize(_ type: GGMLType, _ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) throws {
    guard count >= 0, count % type.blockSize == 0 else { throw DequantizeError.partialBlock(type: type, count: count) }
    let blocks = count / type.blockSize
    let p = src.assumingMemoryBound(to: UInt8.self)
    switch type {
    case .f32: UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
    case .f16: dequantizeF16(p, count, dst)
    case .bf16: dequantizeBF16(p, count, dst)
    case .q4_0: dequantizeQ4_0(p, blocks, dst)
    case .q4_1: dequantizeQ4_1(p, blocks, dst)
    case .q5_0: dequantizeQ5_0(p, blocks, dst)
    case .q5_1: dequantizeQ5_1(p, blocks, dst)
    case .q8_0: dequantizeQ8_0(p, blocks, dst)
    case .q2_K: dequantizeQ2_K(p, blocks, dst)
    case .q3_K: dequantizeQ3_K(p, blocks, dst)
    case .q4_K: dequantizeQ4_K(p, blocks, dst)
    case .q5_K: dequantizeQ5_K(p, blocks, dst)
    case .q6_K: dequantizeQ6_K(p, blocks, dst)
    case .q8_1, .q8_K, .i8, .i16, .i32, .i64, .f64: throw DequantizeError.unsupportedType(type)
    }
}

/// Decodes `count` elements stored in `type`'s format into a new array.
///
/// - Throws: `DequantizeError` for unsupported formats, a partial block, or a source buffer too
///   small for `count` elements.
public func dequantize(_ type: GGMLType, _ src: UnsafeRawBufferPointer, count: Int) throws -> [Float] {
    guard let needed = type.byteCount(elements: count) else { throw DequantizeError.partialBlock(type: type, count: count) }
    guard type.canDequantize else { throw DequantizeError.unsupportedType(type) }
    guard src.count >= needed else {
        throw DequantizeError.sourceTooSmall(type: type, count: count, needed: needed, available: src.count)
    }
    if count == 0 { return [] }
    return try [Float](unsafeUninitializedCapacity: count) { buf, initialized in
        try dequantize(type, src.baseAddress!, count: count, into: buf.baseAddress!)
        initialized = count
    }
}

// MARK: - Per-format loops

@inline(__always) private func f16(_ p: UnsafePointer<UInt8>) -> Float {
    halfBitsToFloat(UInt16(p[0]) | UInt16(p[1]) << 8)
}

private func dequantizeF16(_ p: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
    for i in 0..<n { y[i] = f16(p + 2 * i) }
}

private func dequantizeBF16(_ p: UnsafePointer<UInt8>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
    for i in 0..<n { y[i] = Float(bitPattern: UInt32(p[2 * i]) << 16 | UInt32(p[2 * i + 1]) << 24) }
}

// Block: f16 d, 16 bytes of nibbles (low nibbles are elements 0..<16, high nibbles 16..<32).
private func dequantizeQ4_0(_ p: UnsafePointer<UInt8>, _ nb: Int, _ out: UnsafeMutablePointer<Float>) {
    for b in 0..<nb {
        let blk = p + b * 18, y = out + b * 32
        let d = f16(blk), qs = blk + 2
        for j in 0..<16 {
            let x = qs[j]
            y[j] = d * Float(Int32(x & 0x0F) - 8)
            y[j + 16] = d * Float(Int32(x >> 4) - 8)
        }
    }
}

// Block: f16 d, f16 m, 16 bytes of nibbles.
private func dequantizeQ4_1(_ p: UnsafePointer<UInt8>, _ nb: Int, _ out: UnsafeMutablePointer<Float>) {
    for b in 0..<nb {
        let blk = p + b * 20, y = out + b * 32
        let d = f16(blk), m = f16(blk + 2), qs = blk + 4
        for j in 0..<16 {
            let x = qs[j]
            y[j] = d * Float(x & 0x0F) + m
            y[j + 16] = d * Float(x >> 4) + m
        }
    }
}

@inline(__always) private func u32(_ p: UnsafePointer<UInt8>) -> UInt32 {
    UInt32(p[0]) | UInt32(p[1]) << 8 | UInt32(p[2]) << 16 | UInt32(p[3]) << 24
}

// Block: f16 d, 32 high bits (bit j belongs to element j), 16 bytes of nibbles.
private func dequantizeQ5_0(_ p: UnsafePointer<UInt8>, _ nb: Int, _ out: UnsafeMutablePointer<Float>) {
    for b in 0..<nb {
        let blk = p + b * 22, y = out + b * 32
        let d = f16(blk), qh = u32(blk + 2), qs = blk + 6
        for j in 0..<16 {
            let x = qs[j]
            let lo = Int32(x & 0x0F) | Int32((qh >> UInt32(j)) & 1) << 4
            let hi = Int32(x >> 4) | Int32((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = d * Float(lo - 16)
            y[j + 16] = d * Float(hi - 16)
        }
    }
}

// Block: f16 d, f16 m, 32 high bits, 16 bytes of nibbles.
private func dequantizeQ5_1(_ p: UnsafePointer<UInt8>, _ nb: Int, _ out: UnsafeMutablePointer<Float>) {
    for b in 0..<nb {
        let blk = p + b * 24, y = out + b * 32
        let d = f16(blk), m = f16(blk + 2), qh = u32(blk + 4), qs = blk + 8
        for j in 0..<16 {
            let x = qs[j]
            let lo = UInt32(x & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
            let hi = UInt32(x >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = d * Float(lo) + m
            y[j + 16] = d * Float(hi) + m
        }
    }
}

// Block: f16 d, 32 signed bytes.
private func dequantizeQ8_0(_ p: UnsafePointer<UInt8>, _ nb: Int, _ out: UnsafeMutablePointer<Float>) {
    for b in 0..<nb {
        let blk = p + b * 34, y = out + b * 32
        let d = f16(blk), qs = blk + 2
        for j in 0..<32 { y[j] = Float(Int8(bitPattern: qs[j])) * d }
    }
}

// Super-block of 256: 16 bytes of 4-bit scale/min pairs, 64 bytes of 2-bit quants, f16 d, f16 dmin.
// Quant byte l of each 32-byte half holds elements l, l+32, l+64, l+96 of that half's 128.
private func dequantizeQ2_K(_ p: UnsafePointer<UInt8>, _ nb: Int, _ out: UnsafeMutablePointer<Float>) {
    for b in 0..<nb {
        let blk = p + b * 84
        let scales = blk, qs = blk + 16
        let d = f16(blk + 80), dmin = f16(blk + 82)
        for h in 0..<2 {
            let q = qs + h * 32
            for s in 0..<4 {
                let shift = UInt8(2 * s)
                for half in 0..<2 {
                    let sc = scales[h * 8 + s * 2 + half]
                    let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                    let y = out + b * 256 + h * 128 + s * 32 + half * 16
                    for l in 0..<16 { y[l] = dl * Float((q[half * 16 + l] >> shift) & 3) - ml }
                }
            }
        }
    }
}

// Super-block of 256: 32 bytes of high-bit masks, 64 bytes of 2-bit quants, 12 bytes of packed
// 6-bit signed scales, f16 d. A clear mask bit subtracts 4.
private func dequantizeQ3_K(_ p: UnsafePointer<UInt8>, _ nb: Int, _ out: UnsafeMutablePointer<Float>) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { scaleBuf in
        let dl = scaleBuf.baseAddress!
        for b in 0..<nb {
            let blk = p + b * 110
            let hmask = blk, qs = blk + 32, sc = blk + 96
            let d = f16(blk + 108)
            for j in 0..<16 {
                let low = j < 8 ? sc[j] & 0x0F : sc[j - 8] >> 4
                let high = (sc[8 + j % 4] >> UInt8(2 * (j / 4))) & 3
                dl[j] = d * Float(Int32(low | high << 4) - 32)
            }
            for h in 0..<2 {
                let q = qs + h * 32
                for s in 0..<4 {
                    let shift = UInt8(2 * s), maskShift = UInt8(h * 4 + s)
                    let base = h * 128 + s * 32
                    let y = out + b * 256 + base
                    for l in 0..<32 {
                        let low = Int32((q[l] >> shift) & 3)
                        let clear = Int32(((hmask[l] >> maskShift) & 1) ^ 1)
                        y[l] = dl[(base + l) >> 4] * Float(low - clear << 2)
                    }
                }
            }
        }
    }
}

/// The 6-bit scale and min of sub-block `j` (0..<8) of a Q4_K/Q5_K super-block.
@inline(__always) private func scaleMinK4(_ j: Int, _ s: UnsafePointer<UInt8>) -> (Float, Float) {
    if j < 4 {
        return (Float(s[j] & 63), Float(s[j + 4] & 63))
    }
    return (Float((s[j + 4] & 0x0F) | (s[j - 4] >> 6) << 4), Float((s[j + 4] >> 4) | (s[j] >> 6) << 4))
}

// Super-block of 256: f16 d, f16 dmin, 12 bytes of packed 6-bit scales and mins, 128 bytes of
// nibbles (byte l of each 32-byte chunk holds element l of two consecutive 32-element sub-blocks).
private func dequantizeQ4_K(_ p: UnsafePointer<UInt8>, _ nb: Int, _ out: UnsafeMutablePointer<Float>) {
    for b in 0..<nb {
        let blk = p + b * 144
        let d = f16(blk), dmin = f16(blk + 2), scales = blk + 4, qs = blk + 16
        for j in 0..<8 {
            let (sc, m) = scaleMinK4(j, scales)
            let dl = d * sc, ml = dmin * m
            let q = qs + (j >> 1) * 32, shift = UInt8((j & 1) * 4)
            let y = out + b * 256 + j * 32
            for l in 0..<32 { y[l] = dl * Float((q[l] >> shift) & 0x0F) - ml }
        }
    }
}

// Super-block of 256: as Q4_K plus 32 bytes of fifth bits (bit j of byte l is element l of
// sub-block j) between the scales and the nibbles.
private func dequantizeQ5_K(_ p: UnsafePointer<UInt8>, _ nb: Int, _ out: UnsafeMutablePointer<Float>) {
    for b in 0..<nb {
        let blk = p + b * 176
        let d = f16(blk), dmin = f16(blk + 2), scales = blk + 4, qh = blk + 16, qs = blk + 48
        for j in 0..<8 {
            let (sc, m) = scaleMinK4(j, scales)
            let dl = d * sc, ml = dmin * m
            let q = qs + (j >> 1) * 32, shift = UInt8((j & 1) * 4), hshift = UInt8(j)
            let y = out + b * 256 + j * 32
            for l in 0..<32 {
                let v = (q[l] >> shift) & 0x0F | ((qh[l] >> hshift) & 1) << 4
                y[l] = dl * Float(v) - ml
            }
        }
    }
}

// Super-block of 256: 128 bytes of low nibbles, 64 bytes of 2-bit high parts, 16 signed 8-bit
// scales, f16 d. Each 128-element half uses 64 low bytes and 32 high bytes.
private func dequantizeQ6_K(_ p: UnsafePointer<UInt8>, _ nb: Int, _ out: UnsafeMutablePointer<Float>) {
    for b in 0..<nb {
        let blk = p + b * 210
        let d = f16(blk + 208), scales = blk + 192
        for h in 0..<2 {
            let ql = blk + h * 64, qh = blk + 128 + h * 32
            let y = out + b * 256 + h * 128
            let sc = scales + h * 8
            for half in 0..<2 {
                // Elements l and l+16 of each 32-run fall under consecutive scales.
                let d0 = d * Float(Int8(bitPattern: sc[half]))
                let d1 = d * Float(Int8(bitPattern: sc[2 + half]))
                let d2 = d * Float(Int8(bitPattern: sc[4 + half]))
                let d3 = d * Float(Int8(bitPattern: sc[6 + half]))
                for i in 0..<16 {
                    let l = half * 16 + i
                    let a = ql[l], c = ql[l + 32], hb = qh[l]
                    y[l] = d0 * Float(Int32(a & 0x0F | (hb & 3) << 4) - 32)
                    y[l + 32] = d1 * Float(Int32(c & 0x0F | ((hb >> 2) & 3) << 4) - 32)
                    y[l + 64] = d2 * Float(Int32(a >> 4 | ((hb >> 4) & 3) << 4) - 32)
                    y[l + 96] = d3 * Float(Int32(c >> 4 | ((hb >> 6) & 3) << 4) - 32)
                }
            }
        }
    }
}
