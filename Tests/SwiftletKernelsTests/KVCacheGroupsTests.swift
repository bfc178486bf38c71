import Testing
@testable import SwiftletKernels

/// Layers grouped by window (vLLM's KV cache groups), and attention metadata that carries one
/// set of slots and tables per group.
struct KVCacheGroupsTests {
    @Test func gemma3LayersFormGroupsOfTheCommonDivisor() {
        // Gemma 3 270M: five sliding layers, then a global one, three times over.
        let windows: [Int?] = (0..<18).map { ($0 + 1) % 6 == 0 ? nil : 512 }
        let g = KVCacheGroups(layerWindows: windows)
        #expect(g.layersPerGroup == 3 && g.count == 6)
        #expect(g.windows == [512, 512, 512, 512, 512, nil])
        #expect(g.layerGroup == [0, 0, 0, 1, 1, 5, 1, 2, 2, 2, 3, 5, 3, 3, 4, 4, 4, 5])
        #expect(g.layerSlot == [0, 1, 2, 0, 1, 0, 2, 0, 1, 2, 0, 1, 1, 2, 0, 1, 2, 2])
        #expect(g.description == "5 sliding (window 512) + 1 full, 3 layers each")
        // Every (group, slot) pair names one layer.
        #expect(Set(zip(g.layerGroup, g.layerSlot).map { "\($0.0).\($0.1)" }).count == 18)
    }

    @Test func theTinyFixturesLayersFormGroupsOfOne() {
        let g = KVCacheGroups(layerWindows: [6, nil, 6])
        #expect(g.layersPerGroup == 1 && g.windows == [6, 6, nil] && g.layerGroup == [0, 2, 1] && g.layerSlot == [0, 0, 0])
        #expect(g.description == "2 sliding (window 6) + 1 full, 1 layer each")
    }

    @Test func oneWindowIsOneGroupOfEveryLayer() {
        for w in [nil, 4096] as [Int?] {
            let g = KVCacheGroups(layerWindows: Array(repeating: w, count: 5))
            #expect(g == KVCacheGroups.single(numLayers: 5, window: w))
            #expect(g.layerSlot == Array(0..<5) && g.layersPerGroup == 5)
            #expect(g.sameStorage(as: .single(numLayers: 5)))
        }
        #expect(!KVCacheGroups(layerWindows: [6, nil, 6]).sameStorage(as: .single(numLayers: 3)))
    }

    @Test func aGroupedCacheHasOneStorageLayerPerSlot() throws {
        let groups = KVCacheGroups(layerWindows: [6, nil, 6, 6, nil, 6])
        let cache = try PagedKVCache(numBlocks: 10, blockSize: 4, groups: groups, numKVHeads: 2, headDim: 8, dtype: .fp32)
        let plain = try PagedKVCache(numBlocks: 10, blockSize: 4, numLayers: 6, numKVHeads: 2, headDim: 8, dtype: .fp32)
        #expect(cache.numLayers == 2 && plain.numLayers == 6 && plain.groups == .single(numLayers: 6))
        #expect(cache.totalBytes * 3 == plain.totalBytes)
    }

    /// Each group's tables are checked with its own window: group 1 (no window) may not hold a
    /// freed entry that group 0 (window 4) may.
    @Test func validateChecksEveryGroupWithItsWindow() {
        var m = AttentionMetadata.build(sequences: [(newTokens: 1, cachedTokens: 12, blockTable: [-1, -1, 5, 6])], blockSize: 4)
        #expect(m.validate(numBlocks: 8, blockSize: 4, groupWindows: [4]) == nil)
        m.extraGroups = [AttentionMetadata.GroupTables(slotMapping: [12], blockTables: [1, 2, 3, 3], maxBlocksPerSequence: 4)]
        #expect(m.numGroups == 2 && m.group(1).slotMapping == [12])
        #expect(m.validate(numBlocks: 8, blockSize: 4, groupWindows: [4, 0]) == nil)
        #expect(m.validate(numBlocks: 8, blockSize: 4, groupWindows: [4]) != nil, "one window for two groups")
        m.extraGroups[0].blockTables[0] = -1
        #expect(m.validate(numBlocks: 8, blockSize: 4, groupWindows: [4, 0])?.hasPrefix("group 1") == true)
        #expect(m.validate(numBlocks: 8, blockSize: 4, groupWindows: [4, 4]) == nil)
        m.extraGroups[0].slotMapping = [32]
        #expect(m.validate(numBlocks: 8, blockSize: 4, groupWindows: [4, 4]) != nil, "a slot outside the cache")
    }

    /// Metadata from one table per group: group 0 as `build` lays out one table, each further
    /// group with its own slots and tables, freed entries before a window kept as they are.
    @Test func buildLaysOutEveryGroupsTables() {
        let sequences = [(newTokens: 1, cachedTokens: 12), (newTokens: 3, cachedTokens: 0)]
        let tables: [[[Int32]]] = [[[0, 1, 2, 3], [4]], [[-1, -1, 5, 6], [7]]]
        let m = AttentionMetadata.build(sequences: sequences, groupTables: tables, blockSize: 4)
        let single = AttentionMetadata.build(sequences: [(1, 12, [0, 1, 2, 3]), (3, 0, [4])], blockSize: 4)
        #expect(m.numGroups == 2 && m.group(0) == single.group(0) && m.positions == single.positions)
        #expect(m.group(1).slotMapping == [24, 28, 29, 30])
        #expect(m.group(1).blockTables == [-1, -1, 5, 6, 7, 0, 0, 0] && m.group(1).maxBlocksPerSequence == 4)
        #expect(m.validate(numBlocks: 8, blockSize: 4, groupWindows: [0, 4]) == nil)
        #expect(AttentionMetadata.build(sequences: sequences, groupTables: [tables[0]], blockSize: 4) == single)
    }
}
