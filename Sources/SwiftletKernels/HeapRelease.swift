import CSwiftletRuntime

/// Hands the C heap's free pages back to the operating system.
///
/// The allocator keeps memory that requests freed for later reuse, spread over one arena per
/// contending thread; in a long-running server that retained memory is most of the resident set
/// and its level depends on thread timing (measured: about 35 of 87 MiB of `swiftlet serve` on
/// stories260K after 3,000 requests were free pages). Releasing it when the engine goes idle
/// keeps the resident set at what live requests use.
public enum HeapRelease {
    /// Releases free heap pages now; true if any were. Takes about a millisecond per few tens of
    /// MiB of heap, holding each arena's lock in turn, so call it when idle or rarely.
    @discardableResult
    public static func releaseFreeMemory() -> Bool {
        sw_release_free_heap() != 0
    }

    /// Bounds the allocator's arenas to `perCore` per online core (unless `MALLOC_ARENA_MAX` is
    /// set). At most as many threads as cores run malloc at once, so a few arenas per core keep
    /// contention low, while glibc's own bound (8 per core) lets a long-running server's resident
    /// set step up, arena by arena, as thread timing happens to create them (measured: one run in
    /// three grew by 3.5 MiB, 7 %, when an eighth arena appeared after 1,000 requests). Call
    /// before the server's threads start.
    @discardableResult
    public static func limitArenas(perCore: Int = 2) -> Bool {
        sw_limit_heap_arenas(Int32(perCore)) != 0
    }
}
