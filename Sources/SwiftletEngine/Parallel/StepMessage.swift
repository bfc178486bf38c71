import SwiftletKernels

/// What rank 0 of a tensor-parallel group tells the other ranks, one message per broadcast: the
/// cache's shape once, then for every step its block moves and its batch, so that every rank
/// holds the same block tables and runs the same forward pass over its own heads (the paper's
/// section 4.6: one scheduler, workers that only execute).
///
/// On the wire a message is a flat array of `Int32`, sent as two broadcasts: the kind and the
/// payload's length, then the payload.
public enum StepMessage: Equatable, Sendable {
    /// The cache every rank allocates: the same block count, block size and KV cache groups as
    /// rank 0's (each rank's blocks hold only its own kv heads), and the swap space's block count.
    /// No groups means one group of all the model's layers that frees nothing. `maxModelLength` is
    /// rank 0's engine's, which every rank's model is prepared with (`CausalLanguageModel.prepare`).
    case setup(numBlocks: Int, blockSize: Int, numSwapBlocks: Int, groups: KVCacheGroups? = nil, maxModelLength: Int? = nil)
    /// One step: block moves in the order `ModelRunner.moveBlocks` carries them out, then the batch.
    case step(swapOut: [BlockCopy], swapIn: [BlockCopy], copies: [BlockCopy], tokens: [Int32], metadata: AttentionMetadata)
    /// Nothing to run: rank 0 checks that every rank still answers while the server is idle.
    case ping
    /// Rank 0 is stopping; the others leave their loop and end.
    case stop

    enum Kind: Int32 {
        case setup = 1, step = 2, ping = 3, stop = 4
    }

    /// A message the receiving rank could not read (a version mismatch or a corrupted transfer).
    public struct DecodingError: Error, CustomStringConvertible {
        public var description: String
    }

    var kind: Kind {
        switch self {
        case .setup: return .setup
        case .step: return .step
        case .ping: return .ping
        case .stop: return .stop
        }
    }

    /// The payload that follows the kind.
    func payload() -> [Int32] {
        switch self {
        case let .setup(blocks, blockSize, swapBlocks, groups, maxLength):
            // The max model length is 0 when there is none.
            var p = [Int32(blocks), Int32(blockSize), Int32(swapBlocks), Int32(maxLength ?? 0)]
            // Then the groups' count, the layers' count, each group's window (0: none), each layer's group.
            if let g = groups {
                p += [Int32(g.count), Int32(g.numLayers)] + g.windows.map { Int32($0 ?? 0) } + g.layerGroup.map { Int32($0) }
            }
            return p
        case let .step(swapOut, swapIn, copies, tokens, m):
            var p: [Int32] = [Int32(swapOut.count), Int32(swapIn.count), Int32(copies.count), Int32(tokens.count),
                              Int32(m.numSequences), Int32(m.maxBlocksPerSequence), Int32(m.logitsIndices.count),
                              Int32(m.extraGroups.count)]
            for c in swapOut + swapIn + copies { p += [c.source, c.destination] }
            p += tokens
            p += m.positions
            p += m.slotMapping
            p += m.queryStart
            p += m.contextLengths
            p += m.blockTables
            p += m.logitsIndices
            // Each further KV cache group: its table width, its slots, its tables.
            for g in m.extraGroups { p += [Int32(g.maxBlocksPerSequence)] + g.slotMapping + g.blockTables }
            return p
        case .ping, .stop:
            return []
        }
    }

    /// Reads a message of `kind` from its payload, checking every count against the payload's length.
    static func decode(kind raw: Int32, payload p: [Int32]) throws -> StepMessage {
        guard let kind = Kind(rawValue: raw) else { throw DecodingError(description: "unknown message kind \(raw)") }
        switch kind {
        case .ping, .stop:
            guard p.isEmpty else { throw DecodingError(description: "a \(kind) message carries no payload") }
            return kind == .ping ? .ping : .stop
        case .setup:
            guard p.count >= 4, p.allSatisfy({ $0 >= 0 }), p[0] > 0, p[1] > 0 else {
                throw DecodingError(description: "malformed setup message \(p)")
            }
            let maxLength = p[3] > 0 ? Int(p[3]) : nil
            return .setup(numBlocks: Int(p[0]), blockSize: Int(p[1]), numSwapBlocks: Int(p[2]),
                          groups: p.count > 4 ? try groups(p[4...]) : nil, maxModelLength: maxLength)
        case .step:
            guard p.count >= 8, p[0..<8].allSatisfy({ $0 >= 0 }) else { throw DecodingError(description: "malformed step header") }
            let swapOut = Int(p[0]), swapIn = Int(p[1]), copies = Int(p[2]), tokens = Int(p[3])
            let seqs = Int(p[4]), maxBlocks = Int(p[5]), logits = Int(p[6]), extraGroups = Int(p[7])
            let expected = 8 + 2 * (swapOut + swapIn + copies) + 3 * tokens + (2 * seqs + 1) + seqs * maxBlocks + logits
            guard p.count >= expected, extraGroups > 0 || p.count == expected else {
                throw DecodingError(description: "a step message of \(p.count) values, \(expected) expected")
            }
            var at = 8
            func take(_ n: Int) -> [Int32] {
                defer { at += n }
                return Array(p[at..<(at + n)])
            }
            func pairs(_ n: Int) -> [BlockCopy] {
                let flat = take(2 * n)
                return (0..<n).map { BlockCopy(source: flat[2 * $0], destination: flat[2 * $0 + 1]) }
            }
            let out = pairs(swapOut), into = pairs(swapIn), copied = pairs(copies)
            let ids = take(tokens), positions = take(tokens), slots = take(tokens)
            let queryStart = take(seqs + 1), contextLengths = take(seqs), tables = take(seqs * maxBlocks), rows = take(logits)
            var metadata = AttentionMetadata(positions: positions, slotMapping: slots, queryStart: queryStart,
                                             contextLengths: contextLengths, blockTables: tables,
                                             maxBlocksPerSequence: maxBlocks, logitsIndices: rows)
            for _ in 0..<extraGroups {
                guard at < p.count, p[at] >= 0 else { throw DecodingError(description: "a malformed KV cache group in a step message") }
                let width = Int(p[at])
                at += 1
                guard p.count - at >= tokens + seqs * width else {
                    throw DecodingError(description: "a step message of \(p.count) values ends inside a KV cache group")
                }
                metadata.extraGroups.append(AttentionMetadata.GroupTables(slotMapping: take(tokens), blockTables: take(seqs * width),
                                                                          maxBlocksPerSequence: width))
            }
            guard at == p.count else { throw DecodingError(description: "a step message of \(p.count) values, \(at) expected") }
            return .step(swapOut: out, swapIn: into, copies: copied, tokens: ids, metadata: metadata)
        }
    }

    /// Reads the KV cache groups of a setup message, checking that they describe a valid layout.
    private static func groups(_ p: ArraySlice<Int32>) throws -> KVCacheGroups {
        let v = Array(p)
        let bad = DecodingError(description: "malformed KV cache groups in a setup message \(v)")
        guard v.count >= 2, v[0] > 0, v[1] > 0, v.count == 2 + Int(v[0]) + Int(v[1]) else { throw bad }
        let count = Int(v[0])
        let windows = v[2..<(2 + count)].map { $0 > 0 ? Int($0) : nil }
        let layerGroup = v[(2 + count)...].map { Int($0) }
        var sizes = Array(repeating: 0, count: count)
        for g in layerGroup {
            guard g < count else { throw bad }
            sizes[g] += 1
        }
        guard sizes.allSatisfy({ $0 == sizes[0] }) else { throw bad }
        return KVCacheGroups(windows: windows, layerGroup: layerGroup)
    }
}
