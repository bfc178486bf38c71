import SwiftletKernels

/// What rank 0 of a tensor-parallel group tells the other ranks, one message per broadcast: the
/// cache's shape once, then for every step its block moves and its batch, so that every rank
/// holds the same block tables and runs the same forward pass over its own heads (the paper's
/// section 4.6: one scheduler, workers that only execute).
///
/// On the wire a message is a flat array of `Int32`, sent as two broadcasts: the kind and the
/// payload's length, then the payload.
public enum StepMessage: Equatable, Sendable {
    /// The cache every rank allocates: the same block count and block size as rank 0's (each
    /// rank's blocks hold only its own kv heads), and the swap space's block count.
    case setup(numBlocks: Int, blockSize: Int, numSwapBlocks: Int)
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
        case let .setup(blocks, blockSize, swapBlocks):
            return [Int32(blocks), Int32(blockSize), Int32(swapBlocks)]
        case let .step(swapOut, swapIn, copies, tokens, m):
            var p: [Int32] = [Int32(swapOut.count), Int32(swapIn.count), Int32(copies.count), Int32(tokens.count),
                              Int32(m.numSequences), Int32(m.maxBlocksPerSequence), Int32(m.logitsIndices.count)]
            for c in swapOut + swapIn + copies { p += [c.source, c.destination] }
            p += tokens
            p += m.positions
            p += m.slotMapping
            p += m.queryStart
            p += m.contextLengths
            p += m.blockTables
            p += m.logitsIndices
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
            guard p.count == 3, p.allSatisfy({ $0 >= 0 }), p[0] > 0, p[1] > 0 else {
                throw DecodingError(description: "malformed setup message \(p)")
            }
            return .setup(numBlocks: Int(p[0]), blockSize: Int(p[1]), numSwapBlocks: Int(p[2]))
        case .step:
            guard p.count >= 7, p[0..<7].allSatisfy({ $0 >= 0 }) else { throw DecodingError(description: "malformed step header") }
            let swapOut = Int(p[0]), swapIn = Int(p[1]), copies = Int(p[2]), tokens = Int(p[3])
            let seqs = Int(p[4]), maxBlocks = Int(p[5]), logits = Int(p[6])
            let expected = 7 + 2 * (swapOut + swapIn + copies) + 3 * tokens + (2 * seqs + 1) + seqs * maxBlocks + logits
            guard p.count == expected else {
                throw DecodingError(description: "a step message of \(p.count) values, \(expected) expected")
            }
            var at = 7
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
            let metadata = AttentionMetadata(positions: positions, slotMapping: slots, queryStart: queryStart,
                                             contextLengths: contextLengths, blockTables: tables,
                                             maxBlocksPerSequence: maxBlocks, logitsIndices: rows)
            return .step(swapOut: out, swapIn: into, copies: copied, tokens: ids, metadata: metadata)
        }
    }
}
