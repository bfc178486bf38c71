import Testing
import SwiftletTestSupport
@testable import SwiftletEngine

/// The invariant checker finds each kind of broken bookkeeping it claims to (a checker that
/// always passes would make the soak test worthless).
struct InvariantCheckerTests {
    /// A manager holding one sequence of 10 tokens in blocks of 4, its two full blocks cached.
    static func manager() -> KVCacheManager {
        var m = KVCacheManager(numBlocks: 8, blockSize: 4, numSwapBlocks: 4)
        m.admit(1, root: BlockHash.root())
        _ = m.allocateSlots(1, tokens: Array(0..<10), computed: 0, newTokens: 10)
        return m
    }

    @Test func consistentStateHasNoViolations() {
        var m = Self.manager()
        #expect(m.validate().isEmpty)
        m.fork(parent: 1, child: 2)
        #expect(m.validate().isEmpty)
        #expect(m.swapOut([1, 2]) != nil)
        #expect(m.validate().isEmpty)
        _ = m.swapIn([1, 2], tokens: [1: Array(0..<10), 2: Array(0..<10)])
        m.free(1)
        m.free(2)
        #expect(m.validate().isEmpty)
    }

    @Test func extraTableEntryIsAReferenceCountViolation() {
        var m = Self.manager()
        m.entries[1]!.table.append(m.entries[1]!.table[0])
        #expect(m.validate().first?.contains("reference count 1, 2 table entries") == true, "\(m.validate())")
    }

    @Test func droppedTableIsALeak() {
        var m = Self.manager()
        m.entries[1] = nil
        #expect(m.validate().first?.contains("reference count 1, 0 table entries") == true, "\(m.validate())")
    }

    @Test func wrongKnownHashIsFound() {
        var m = Self.manager()
        m.entries[1]!.hashes[1] = BlockHash(high: 1, low: 2)
        #expect(m.validate().first?.contains("is cached as") == true, "\(m.validate())")
    }

    @Test func cachedContentThatDoesNotHashToItsKeyIsFound() {
        var pool = BlockPool(numBlocks: 2)
        let b = pool.allocate()!
        pool.register(b, hash: BlockHash(high: 7, low: 7), parent: BlockHash.root(), tokens: [1, 2, 3, 4])
        #expect(pool.validate().first?.contains("do not hash to its key") == true, "\(pool.validate())")
    }

    @Test func runningSequenceWithoutBlocksAndUnknownRequestAreFound() throws {
        let cache = MockModel.makeCache(numBlocks: 16, blockSize: 4)
        let engine = try LLMEngine(model: MockModel(), cache: cache, tokenizer: nil, config: EngineConfig(swapSpaceBytes: 0))
        try engine.addRequest(id: "a", promptTokenIDs: [3, 4, 5, 6, 7], params: .greedy(maxTokens: 8))
        _ = engine.step()
        #expect(engine.validate().isEmpty)
        #expect(throws: Never.self) { try engine.checkInvariants() }
        let seq = engine.scheduler.running[0].sequences[0].id
        engine.scheduler.manager.free(seq)
        #expect(engine.validate().first?.contains("running without resident blocks") == true, "\(engine.validate())")
        #expect(throws: InvariantViolation.self) { try engine.checkInvariants() }
        engine.groups["a"] = nil
        #expect(engine.validate().contains { $0.contains("not in the engine's request table") })
    }

    @Test func swappedGroupBackInTheDeviceIsFound() throws {
        var m = Self.manager()
        #expect(m.swapOut([1]) != nil)
        m.entries[1]!.swapped = false
        // Its swap-tier blocks are now counted as device blocks: both tiers disagree.
        #expect(m.validate().contains { $0.hasPrefix("device block") } && m.validate().contains { $0.hasPrefix("swap block") },
                "\(m.validate())")
    }
}
