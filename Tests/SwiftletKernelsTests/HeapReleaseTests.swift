import Foundation
import Testing
import SwiftletKernels

/// Pages that lie wholly inside the given ranges, and how many of them are resident (Linux
/// mincore). Unlike the process's resident set, this does not move when other tests, running at
/// the same time in this process, allocate or free memory of their own.
private func residentPages(_ ranges: [UnsafeMutableRawPointer], bytes: Int) -> (pages: Int, resident: Int) {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    var pages = 0, resident = 0
    for p in ranges {
        let start = (Int(bitPattern: p) + page - 1) & ~(page - 1), end = (Int(bitPattern: p) + bytes) & ~(page - 1)
        guard end > start, let base = UnsafeMutableRawPointer(bitPattern: start) else { continue }
        var vec = [UInt8](repeating: 0, count: (end - start) / page)
        guard mincore(base, end - start, &vec) == 0 else { continue }
        pages += vec.count
        resident += vec.filter { $0 & 1 != 0 }.count
    }
    return (pages, resident)
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
        let freed = stride(from: 0, to: count, by: 2).map { chunks[$0] }
        for p in freed { free(p) }
        let before = residentPages(freed, bytes: chunk)
        #expect(HeapRelease.releaseFreeMemory())
        let after = residentPages(freed, bytes: chunk)
        // Half the chunks (32 MiB) were freed, still resident; most of their pages must leave.
        // (Another test's thread may take a hole for itself meanwhile: most, not all.)
        #expect(before.pages > 7_000 && before.resident > before.pages * 9 / 10, "\(before)")
        #expect(after.resident < before.pages / 4, "resident pages of the freed chunks: \(before) -> \(after)")
        for i in stride(from: 1, to: count, by: 2) { free(chunks[i]) }
        #endif
    }
}
