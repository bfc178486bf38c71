import Testing
import SwiftletKernels
@testable import SwiftletEngine

/// The messages rank 0 sends the other ranks: what goes in comes out, and anything malformed is
/// refused with an error rather than run.
struct StepMessageTests {
    static let metadata = AttentionMetadata.build(
        sequences: [(newTokens: 3, cachedTokens: 0, blockTable: [4, 7]), (newTokens: 1, cachedTokens: 17, blockTable: [2, 9])],
        blockSize: 16)

    static let messages: [StepMessage] = [
        .setup(numBlocks: 300, blockSize: 16, numSwapBlocks: 0),
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
        let step = Self.messages[3]
        var payload = step.payload()
        #expect(throws: StepMessage.DecodingError.self) { try StepMessage.decode(kind: 99, payload: []) }
        #expect(throws: StepMessage.DecodingError.self) { try StepMessage.decode(kind: step.kind.rawValue, payload: payload.dropLast()) }
        #expect(throws: StepMessage.DecodingError.self) { try StepMessage.decode(kind: step.kind.rawValue, payload: payload + [0]) }
        payload[3] = -1
        #expect(throws: StepMessage.DecodingError.self) { try StepMessage.decode(kind: step.kind.rawValue, payload: payload) }
        #expect(throws: StepMessage.DecodingError.self) { try StepMessage.decode(kind: StepMessage.Kind.ping.rawValue, payload: [1]) }
        #expect(throws: StepMessage.DecodingError.self) {
            try StepMessage.decode(kind: StepMessage.Kind.setup.rawValue, payload: [0, 16, 0])
        }
    }
}
