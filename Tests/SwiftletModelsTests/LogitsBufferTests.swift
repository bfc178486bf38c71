import Testing
@testable import SwiftletModels

/// The logits array kept between passes: written in place when the last pass's logits were let
/// go, never when a caller still holds them.
@Suite struct LogitsBufferTests {
    static func address(_ a: [Float]) -> UnsafeRawPointer { a.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!) } }

    @Test func reusesStorageOnceThePreviousLogitsAreGone() {
        let buffer = LogitsBuffer()
        var first: UnsafeRawPointer?
        do {
            let a = buffer.next(count: 1000) { p in for i in 0..<1000 { p[i] = Float(i) } }
            #expect(a.count == 1000 && a[999] == 999)
            first = Self.address(a)
        }
        let b = buffer.next(count: 1000) { p in for i in 0..<1000 { p[i] = -Float(i) } }
        #expect(Self.address(b) == first)
        #expect(b[999] == -999)
    }

    @Test func heldLogitsAreNeverOverwritten() {
        let buffer = LogitsBuffer()
        let kept = buffer.next(count: 64) { p in for i in 0..<64 { p[i] = 1 } }
        let next = buffer.next(count: 64) { p in for i in 0..<64 { p[i] = 2 } }
        #expect(kept.allSatisfy { $0 == 1 })
        #expect(next.allSatisfy { $0 == 2 })
    }

    @Test func sizesFollowTheNeedAndLargePassesAreNotKept() {
        let buffer = LogitsBuffer()
        for count in [100, 40, 90, 100, 7] {
            let a = buffer.next(count: count) { p in for i in 0..<count { p[i] = Float(count) } }
            #expect(a.count == count && a.allSatisfy { $0 == Float(count) })
        }
        // After a pass of 10,000 a pass of 100 does not keep the 10,000.
        _ = buffer.next(count: 10_000) { p in for i in 0..<10_000 { p[i] = 0 } }
        let small = buffer.next(count: 100) { p in for i in 0..<100 { p[i] = 0 } }
        #expect(small.capacity < 1_000)
    }
}
