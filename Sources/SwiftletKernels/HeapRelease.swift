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
}
