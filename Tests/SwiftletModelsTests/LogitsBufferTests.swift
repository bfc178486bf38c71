import Testing
@testable import SwiftletModels

/// The logits array handed out and taken back: reused once recycled, never shared with a caller
/// that still holds it.
@Suite struct LogitsBufferTests {
    static func address(_ a: [Float]) -> UnsafeRawPointer { a.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!) } }

    @Test func reusesRecycledStorage() {
        let buffer = LogitsBuffer()
        var a = buffer.next(count: 1000) { p in for i in 0..<1000 { p[i] = Float(i) } }
        #expect(a.count == 1000 && a[999] == 999)
        // The caller owns what it got: changing it in place copies nothing.
        let first = Self.address(a)
        a.withUnsafeMutableBufferPointer { $0[0] = 42 }
        #expect(Self.address(a) == first)
        buffer.recycle(a)
        a = []
        let b = buffer.next(count: 1000) { p in for i in 0..<1000 { p[i] = -Float(i) } }
        #expect(Self.address(b) == first)
        #expect(b[999] == -999 && b[0] == 0)
    }

    @Test func heldLogitsAreNeverOverwritten() {
        let buffer = LogitsBuffer()
        let kept = buffer.next(count: 64) { p in for i in 0..<64 { p[i] = 1 } }
        let next = buffer.next(count: 64) { p in for i in 0..<64 { p[i] = 2 } }
        #expect(kept.allSatisfy { $0 == 1 })
        #expect(next.allSatisfy { $0 == 2 })
        // Recycled while the caller still holds it: the next pass writes a copy, not the caller's.
        buffer.recycle(kept)
        let third = buffer.next(count: 64) { p in for i in 0..<64 { p[i] = 3 } }
        #expect(kept.allSatisfy { $0 == 1 } && third.allSatisfy { $0 == 3 })
    }

    @Test func sizesFollowTheNeedAndLargePassesAreNotKept() {
        let buffer = LogitsBuffer()
        for count in [100, 40, 90, 100, 7] {
            let a = buffer.next(count: count) { p in for i in 0..<count { p[i] = Float(count) } }
            #expect(a.count == count && a.allSatisfy { $0 == Float(count) })
            buffer.recycle(a)
        }
        // After a pass of 10,000 a pass of 100 does not keep the 10,000.
        buffer.recycle(buffer.next(count: 10_000) { p in for i in 0..<10_000 { p[i] = 0 } })
        let small = buffer.next(count: 100) { p in for i in 0..<100 { p[i] = 0 } }
        #expect(small.capacity < 1_000)
    }
}
