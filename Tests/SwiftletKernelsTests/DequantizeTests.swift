import Testing
@testable import SwiftletKernels

/// Hand-built blocks whose values follow directly from the format definitions. The bit-for-bit
/// comparison with the Python reference over random blocks lives in SwiftletModelsTests
/// (DequantizeFixtureTests), which can read the GGUF fixture.
struct DequantizeTests {
    static func f16(_ x: Float) -> [UInt8] {
        let bits = Float16(x).bitPattern
        return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
    }

    static func decode(_ type: GGMLType, _ block: [UInt8], count: Int? = nil) throws -> [Float] {
        #expect(block.count == type.typeSize * (count ?? type.blockSize) / type.blockSize)
        return try block.withUnsafeBytes { try dequantize(type, $0, count: count ?? type.blockSize) }
    }

    @Test func halfSpecialValues() {
        #expect(halfBitsToFloat(0x0000).bitPattern == Float(0).bitPattern)
        #expect(halfBitsToFloat(0x8000).bitPattern == Float(-0.0).bitPattern)
        #expect(halfBitsToFloat(0x3C00) == 1)
        #expect(halfBitsToFloat(0xC000) == -2)
        #expect(halfBitsToFloat(0x7BFF) == 65504)
        #expect(halfBitsToFloat(0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
        #expect(halfBitsToFloat(0x03FF) == Float(1023) * Float(sign: .plus, exponent: -24, significand: 1))
        #expect(halfBitsToFloat(0x7C00) == .infinity)
        #expect(halfBitsToFloat(0xFC00) == -.infinity)
        #expect(halfBitsToFloat(0x7E00).isNaN)
    }

    @Test func plainFloats() throws {
        let values: [Float] = [1.5, -0.0, .infinity, Float(bitPattern: 0x0003_0000)]
        let f32 = values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        #expect(try Self.decode(.f32, f32, count: 4).map(\.bitPattern) == values.map(\.bitPattern))
        #expect(try Self.decode(.f16, [0x00, 0x3C, 0x00, 0xC1], count: 2) == [1, -2.5])
        // BF16 is the top half of a float32.
        #expect(try Self.decode(.bf16, [0x80, 0x3F, 0x20, 0xC0], count: 2) == [1, -2.5])
    }

    @Test func q8_0() throws {
        let qs: [Int8] = (0..<32).map { Int8($0 * 8 - 128) }
        let out = try Self.decode(.q8_0, Self.f16(0.5) + qs.map { UInt8(bitPattern: $0) })
        #expect(out == qs.map { Float($0) * 0.5 })
    }

    @Test func q4_0AndQ4_1() throws {
        // Byte j holds element j in its low nibble and element j+16 in its high nibble.
        let qs: [UInt8] = (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        let q: [Int] = Array(0..<16) + (0..<16).map { 15 - $0 }
        let q40 = try Self.decode(.q4_0, Self.f16(2) + qs)
        let expected40: [Float] = q.map { Float(2 * ($0 - 8)) }
        #expect(q40 == expected40)
        let q41 = try Self.decode(.q4_1, Self.f16(0.25) + Self.f16(-1.5) + qs)
        let expected41: [Float] = q.map { Float($0) * 0.25 - 1.5 }
        #expect(q41 == expected41)
    }

    @Test func q5_0AndQ5_1() throws {
        // Bit j of the 32-bit high mask is the fifth bit of element j.
        let qh: UInt32 = 0xA5A5_0F0F
        let qhBytes = withUnsafeBytes(of: qh.littleEndian) { Array($0) }
        let qs: [UInt8] = (0..<16).map { UInt8($0) | UInt8($0) << 4 }
        let q = (0..<32).map { j in Int(j % 16) | Int((qh >> UInt32(j)) & 1) << 4 }
        #expect(try Self.decode(.q5_0, Self.f16(0.5) + qhBytes + qs) == q.map { Float($0 - 16) * 0.5 })
        #expect(try Self.decode(.q5_1, Self.f16(0.5) + Self.f16(1) + qhBytes + qs) == q.map { Float($0) * 0.5 + 1 })
    }

    @Test func q4_KScalesAndMins() throws {
        // Sub-block j < 4: 6-bit scale in byte j, min in byte j+4. For j >= 4 the low four bits come
        // from byte j+4 (scale low nibble, min high nibble) and the top two from bits 6-7 of bytes j-4 / j.
        let sc: [UInt8] = [1, 2, 3, 63, 33, 34, 35, 36]
        let mn: [UInt8] = [5, 6, 7, 8, 40, 41, 62, 0]
        var packed = [UInt8](repeating: 0, count: 12)
        for j in 0..<4 {
            packed[j] = sc[j] | (sc[j + 4] >> 4) << 6
            packed[j + 4] = mn[j] | (mn[j + 4] >> 4) << 6
            packed[j + 8] = (sc[j + 4] & 0x0F) | (mn[j + 4] & 0x0F) << 4
        }
        // Chunk c (32 bytes) holds sub-block 2c in low nibbles and 2c+1 in high nibbles.
        let qs: [UInt8] = (0..<128).map { UInt8($0 % 16) | UInt8(($0 + 3) % 16) << 4 }
        let out = try Self.decode(.q4_K, Self.f16(0.5) + Self.f16(0.25) + packed + qs)
        for j in 0..<8 {
            for l in 0..<32 {
                let byte = qs[(j / 2) * 32 + l]
                let q = j % 2 == 0 ? byte & 0x0F : byte >> 4
                let expected = 0.5 * Float(sc[j]) * Float(q) - 0.25 * Float(mn[j])
                #expect(out[j * 32 + l] == expected, "sub-block \(j) element \(l)")
            }
        }
    }

    @Test func q6_KLayout() throws {
        // Element e of half h: low nibble from ql[h*64 + e%64] (high nibble when e%128 >= 64), two
        // high bits from qh[h*32 + e%32] at bit 2*((e%128)/32); scale index e/16.
        var ql = [UInt8](repeating: 0, count: 128)
        var qh = [UInt8](repeating: 0, count: 64)
        var expectedQ = [Int](repeating: 0, count: 256)
        for e in 0..<256 {
            let q = (e * 7 + 3) % 64
            expectedQ[e] = q
            let h = e / 128, r = e % 128
            ql[h * 64 + r % 64] |= UInt8(q & 0x0F) << (r >= 64 ? 4 : 0)
            qh[h * 32 + r % 32] |= UInt8(q >> 4) << UInt8(2 * (r / 32))
        }
        let scales: [Int8] = (0..<16).map { Int8($0 * 9 - 70) }
        let out = try Self.decode(.q6_K, ql + qh + scales.map { UInt8(bitPattern: $0) } + Self.f16(0.125))
        #expect(out == (0..<256).map { e in 0.125 * Float(scales[e / 16]) * Float(expectedQ[e] - 32) })
    }

    @Test func errors() {
        let bytes = [UInt8](repeating: 0, count: 300)
        bytes.withUnsafeBytes { raw in
            #expect(throws: DequantizeError.unsupportedType(.i32)) { try dequantize(.i32, raw, count: 4) }
            #expect(throws: DequantizeError.partialBlock(type: .q6_K, count: 255)) { try dequantize(.q6_K, raw, count: 255) }
            #expect(throws: DequantizeError.sourceTooSmall(type: .q6_K, count: 512, needed: 420, available: 300)) {
                try dequantize(.q6_K, raw, count: 512)
            }
        }
        #expect(supportedDequantizeTypes.allSatisfy { $0.canDequantize })
        #expect(!GGMLType.q8_K.canDequantize)
    }
}
