import Foundation
import Testing
import SwiftletKernels

/// Resident set size of this process in KiB (Linux), from /proc/self/status.
private func residentKiB() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
    }
    return nil
}

struct HeapReleaseTests {
    /// Freed chunks in the middle of the heap stay resident until released: 32 MiB of 64 KiB
    /// holes (under glibc's mmap threshold, so they come from the heap, and each spans whole
    /// pages), pinned in place by the live chunks between them, must go back to the system.
    @Test func releasesFreePagesInsideTheHeap() throws {
        #if os(Linux) && canImport(Glibc)
        let chunk = 64 << 10, count = 1024
        var chunks: [UnsafeMutableRawPointer] = []
        for _ in 0..<count {
            let p = try #require(malloc(chunk))
            memset(p, 1, chunk)  // touch every page so it is resident
            chunks.append(p)
        }
        for i in stride(from: 0, to: count, by: 2) { free(chunks[i]) }
        let before = try #require(residentKiB())
        #expect(HeapRelease.releaseFreeMemory())
        let after = try #require(residentKiB())
        // Half the chunks (32 MiB) were free; most of their pages must have left the resident set.
        #expect(before - after > 24 << 10, "RSS \(before) -> \(after) KiB")
        for i in stride(from: 1, to: count, by: 2) { free(chunks[i]) }
        #endif
    }
}
