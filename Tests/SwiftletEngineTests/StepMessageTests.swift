import Testing
import SwiftletKernels
@testable import SwiftletEngine

/// The messages rank 0 sends the other ranks: what goes in comes out, and anything malformed is
/// refused with an error rather than run.
struct StepMessageTests {
    static let metadata = AttentionMetadata.build(
        sequences: [(newTokens: 3, cachedTokens: 0, blockTable: [4, 7]), (newTokens: 1, cachedTokens: 17, blockTable: [2, 9])],
        blockSize: 16)

    /// Two KV cache groups: group 1 has its own slots and tables (entries freed by a window).
    static let grouped: AttentionMetadata = {
        var m = metadata
        m.extraGroups = [AttentionMetadata.GroupTables(slotMapping: [16, 17, 18, 50], blockTables: [1, 3, 0, -1, 8, 0],
                                                       maxBlocksPerSequence: 3)]
        return m
    }()

    static let messages: [StepMessage] = [
        .setup(numBlocks: 300, blockSize: 16, numSwapBlocks: 0),
        .setup(numBlocks: 900, blockSize: 16, numSwapBlocks: 4, groups: KVCacheGroups(layerWindows: [512, 512, nil, 512, 512, nil])),
        .setup(numBlocks: 40, blockSize: 16, numSwapBlocks: 0, maxModelLength: 4096),
        .setup(numBlocks: 40, blockSize: 16, numSwapBlocks: 2, groups: KVCacheGroups(layerWindows: [nil, nil, 6, 6]), maxModelLength: 8192),
        .step(swapOut: [], swapIn: [], copies: [BlockCopy(source: 5, destination: 6)], tokens: [11, 12, 13, 14], metadata: grouped),
        .ping,
        .stop,
        .step(swapOut: [BlockCopy(source: 3, destination: 0)], swapIn: [], copies: [BlockCopy(source: 5, destination: 6)],
              tokens: [11, 12, 13, 14], metadata: metadata),
        .step(swapOut: [], swapIn: [BlockCopy(source: 1, destination: 8), BlockCopy(source: 2, destination: 9)], copies: [],
              tokens: [], metadata: AttentionMetadata(positions: [], slotMapping: [], queryStart: [0], contextLengths: [],
                                                      blockTables: [], maxBlocksPerSequence: 1, logitsIndices: [])),
    ]

    @Test(arguments: messages)
    func roundTrips(_ m: StepMessage) throws {
        #expect(try StepMessage.decode(kind: m.kind.rawValue, payload: m.payload()) == m)
    }

    @Test func malformedMessagesAreRefused() throws {
        let step = Self.messages[7]
        var payload = step.payload()
        #expect(throws: StepMessage.DecodingError.self) { try StepMessage.decode(kind: 99, payload: []) }
        #expect(throws: StepMessage.DecodingError.self) { try StepMessage.decode(kind: step.kind.rawValue, payload: payload.dropLast()) }
        #expect(throws: StepMessage.DecodingError.self) { try StepMessage.decode(kind: step.kind.rawValue, payload: payload + [0]) }
        payload[3] = -1
        #expect(throws: StepMessage.DecodingError.self) { try StepMessage.decode(kind: step.kind.rawValue, payload: payload) }
        #expect(throws: StepMessage.DecodingError.self) { try StepMessage.decode(kind: StepMessage.Kind.ping.rawValue, payload: [1]) }
        #expect(throws: StepMessage.DecodingError.self) {
            try StepMessage.decode(kind: StepMessage.Kind.setup.rawValue, payload: [0, 16, 0, 0])
        }
        // The max model length has its place even when there is none (0).
        #expect(throws: StepMessage.DecodingError.self) { try StepMessage.decode(kind: StepMessage.Kind.setup.rawValue, payload: [9, 16, 0]) }
        #expect(throws: StepMessage.DecodingError.self) {
            try StepMessage.decode(kind: StepMessage.Kind.setup.rawValue, payload: [9, 16, 0, -5])
        }
    }

    /// Groups that are not a layout (unequal sizes, a layer in a group that does not exist, a
    /// count that disagrees) and a step cut inside a group's tables are refused.
    @Test func malformedGroupsAreRefused() throws {
        let setup = StepMessage.Kind.setup.rawValue
        let good = try StepMessage.decode(kind: setup, payload: [9, 16, 0, 300, 2, 4, 6, 0, 0, 1, 0, 1])
        #expect(good == .setup(numBlocks: 9, blockSize: 16, numSwapBlocks: 0, groups: KVCacheGroups(windows: [6, nil], layerGroup: [0, 1, 0, 1]),
                               maxModelLength: 300))
        for bad: [Int32] in [[9, 16, 0, 0, 2, 4, 6, 0, 0, 0, 0, 1], [9, 16, 0, 0, 2, 4, 6, 0, 0, 2, 0, 1], [9, 16, 0, 0, 2, 4, 6, 0, 0, 1, 0],
                             [9, 16, 0, 0, 0, 0]] {
            #expect(throws: StepMessage.DecodingError.self) { try StepMessage.decode(kind: setup, payload: bad) }
        }
        let step = Self.messages[4]
        let payload = step.payload()
        #expect(throws: StepMessage.DecodingError.self) { try StepMessage.decode(kind: step.kind.rawValue, payload: payload.dropLast()) }
        #expect(throws: StepMessage.DecodingError.self) { try StepMessage.decode(kind: step.kind.rawValue, payload: payload + [0]) }
    }
}
