/// What the model needs to know about the sequences of one flat batch of tokens.
///
/// Tokens of all sequences are laid end to end without padding. Sequence `s` owns tokens
/// `queryStart[s]..<queryStart[s + 1]`; they are the last tokens of its context of
/// `contextLengths[s]` tokens (so cached tokens come before them). Its KV blocks are
/// `blockTables[s * maxBlocksPerSequence ..< (s + 1) * maxBlocksPerSequence]`.
///
/// With KV cache groups (see `KVCacheGroups`) each group has its own slots and block tables:
/// group 0's are the fields below, so single-group models see nothing new, and the others are in
/// `extraGroups`.
public struct AttentionMetadata: Sendable, Equatable {
    /// The slots and block tables of one KV cache group.
    public struct GroupTables: Sendable, Equatable {
        public var slotMapping: [Int32]
        public var blockTables: [Int32]
        public var maxBlocksPerSequence: Int

        public init(slotMapping: [Int32], blockTables: [Int32], maxBlocksPerSequence: Int) {
            self.slotMapping = slotMapping
            self.blockTables = blockTables
            self.maxBlocksPerSequence = maxBlocksPerSequence
        }
    }

    /// Position of every token in its sequence.
    public var positions: [Int32]
    /// Cache slot (block * blockSize + offset) where every token's K and V are written.
    public var slotMapping: [Int32]
    public var queryStart: [Int32]
    public var contextLengths: [Int32]
    public var blockTables: [Int32]
    public var maxBlocksPerSequence: Int
    /// Indices into the flat batch of the tokens whose logits are wanted (usually each sequence's last).
    public var logitsIndices: [Int32]
    /// The tables of groups 1, 2, ... (empty with one group).
    public var extraGroups: [GroupTables] = []

    public init(positions: [Int32], slotMapping: [Int32], queryStart: [Int32], contextLengths: [Int32],
                blockTables: [Int32], maxBlocksPerSequence: Int, logitsIndices: [Int32]) {
        self.positions = positions
        self.slotMapping = slotMapping
        self.queryStart = queryStart
        self.contextLengths = contextLengths
        self.blockTables = blockTables
        self.maxBlocksPerSequence = maxBlocksPerSequence
        self.logitsIndices = logitsIndices
    }

    public var numTokens: Int { positions.count }
    public var numSequences: Int { contextLengths.count }
    public var numGroups: Int { 1 + extraGroups.count }

    /// The slots and block tables of group `g`.
    public func group(_ g: Int) -> GroupTables {
        g == 0 ? GroupTables(slotMapping: slotMapping, blockTables: blockTables, maxBlocksPerSequence: maxBlocksPerSequence)
            : extraGroups[g - 1]
    }

    /// Metadata for sequences given as (new tokens, tokens already cached, block table),
    /// requesting logits for each sequence's last new token.
    public static func build(sequences: [(newTokens: Int, cachedTokens: Int, blockTable: [Int32])], blockSize: Int,
                             allLogits: Bool = false) -> AttentionMetadata {
        let maxBlocks = max(1, sequences.map(\.blockTable.count).max() ?? 1)
        var m = AttentionMetadata(positions: [], slotMapping: [], queryStart: [0], contextLengths: [], blockTables: [],
                                  maxBlocksPerSequence: maxBlocks, logitsIndices: [])
        for s in sequences {
            let start = m.positions.count
            for p in s.cachedTokens..<(s.cachedTokens + s.newTokens) {
                m.positions.append(Int32(p))
                m.slotMapping.append(s.blockTable[p / blockSize] * Int32(blockSize) + Int32(p % blockSize))
            }
            m.queryStart.append(Int32(m.positions.count))
            m.contextLengths.append(Int32(s.cachedTokens + s.newTokens))
            m.blockTables += s.blockTable + Array(repeating: 0, count: maxBlocks - s.blockTable.count)
            if allLogits {
                m.logitsIndices += (start..<m.positions.count).map(Int32.init)
            } else if s.newTokens > 0 {
                m.logitsIndices.append(Int32(m.positions.count - 1))
            }
        }
        return m
    }

    /// Metadata for sequences given as (new tokens, tokens already cached) with one block table
    /// per KV cache group (`groupTables[g][s]`; a sequence's tables have one length), each group
    /// laid out as `build` lays out one.
    public static func build(sequences: [(newTokens: Int, cachedTokens: Int)], groupTables: [[[Int32]]],
                             blockSize: Int) -> AttentionMetadata {
        func group(_ g: Int) -> AttentionMetadata {
            build(sequences: zip(sequences, groupTables[g]).map { ($0.newTokens, $0.cachedTokens, $1) }, blockSize: blockSize)
        }
        var m = group(0)
        m.extraGroups = groupTables.indices.dropFirst().map { g in
            let t = group(g)
            return GroupTables(slotMapping: t.slotMapping, blockTables: t.blockTables, maxBlocksPerSequence: t.maxBlocksPerSequence)
        }
        return m
    }

    /// Checks that every index is in range, so a bad batch fails loudly instead of reading out of
    /// bounds. With `slidingWindow` > 0, entries before the window of a sequence's first query
    /// may be -1 (blocks the engine freed); every block the queries can read must be valid.
    public func validate(numBlocks: Int, blockSize: Int, slidingWindow: Int = 0) -> String? {
        validate(numBlocks: numBlocks, blockSize: blockSize, groupWindows: [slidingWindow])
    }

    /// `validate` for every KV cache group, group g with window `groupWindows[g]` (0: none).
    public func validate(numBlocks: Int, blockSize: Int, groupWindows: [Int]) -> String? {
        let n = numSequences
        guard queryStart.count == n + 1, queryStart.first == 0, Int(queryStart[n]) == numTokens else { return "queryStart does not cover the batch" }
        guard groupWindows.count == numGroups else { return "\(numGroups) groups of tables, \(groupWindows.count) windows" }
        for (g, window) in groupWindows.enumerated() {
            if let problem = validate(group(g), numBlocks: numBlocks, blockSize: blockSize, slidingWindow: window) {
                return numGroups == 1 ? problem : "group \(g): " + problem
            }
        }
        for i in logitsIndices where i < 0 || Int(i) >= numTokens { return "logits index \(i) out of range" }
        return nil
    }

    private func validate(_ t: GroupTables, numBlocks: Int, blockSize: Int, slidingWindow: Int) -> String? {
        let n = numSequences, width = t.maxBlocksPerSequence
        guard t.slotMapping.count == numTokens, t.blockTables.count == n * width else { return "array sizes disagree" }
        for s in 0..<n {
            let q = Int(queryStart[s + 1] - queryStart[s])
            let ctx = Int(contextLengths[s])
            guard q >= 0, ctx >= q, (ctx + blockSize - 1) / blockSize <= width else { return "sequence \(s): bad lengths" }
            let firstRead = slidingWindow > 0 ? max(0, ctx - q - slidingWindow + 1) / blockSize : 0
            for b in 0..<((ctx + blockSize - 1) / blockSize) {
                let blk = Int(t.blockTables[s * width + b])
                if b < firstRead && blk == -1 { continue }
                guard blk >= 0 && blk < numBlocks else { return "sequence \(s): block \(blk) out of range" }
            }
        }
        for slot in t.slotMapping where slot >= 0 && Int(slot) >= numBlocks * blockSize { return "slot \(slot) out of range" }
        return nil
    }
}
