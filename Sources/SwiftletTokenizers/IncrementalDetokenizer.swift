/// Turns generated token ids into text as they arrive, for streaming.
///
/// Text comes from `tokenizer.decode` over a small window of recent ids (vLLM's
/// `detokenize_incrementally`): new text is emitted only once the window's decoding no longer
/// ends in U+FFFD, so a character split over several tokens (byte-level BPE pieces or
/// SentencePiece `<0xNN>` byte-fallback tokens) is emitted whole, and because the window starts
/// a few tokens back, SentencePiece's leading-space rule applies as in a full decode. The pieces
/// concatenate to `decode(promptIDs + generated)` minus `decode(promptIDs)`.
///
/// Stop strings: text that could still turn out to be the start of a stop string is held back
/// until it is resolved, so a client never sees part of a stop string. When one completes, the
/// text before it is emitted and `stopped` is reported.
public struct IncrementalDetokenizer: Sendable {
    public let tokenizer: any Tokenizer
    public let skipSpecialTokens: Bool
    public let stop: [String]
    /// Whether the matched stop string itself is part of the output (vLLM's `include_stop_str_in_output`).
    public let includeStopString: Bool

    /// Prompt tail plus generated ids; decoding windows index into this.
    private var ids: [Int]
    private let promptCount: Int
    private var prefixOffset: Int
    private var readOffset: Int
    /// Decoded text not yet released because it might begin a stop string (as code points).
    private var held: [Unicode.Scalar] = []
    private let stopScalars: [[Unicode.Scalar]]

    /// All text released so far.
    public private(set) var text = ""
    /// The stop string that ended the output, if one did.
    public private(set) var matchedStop: String?
    public var isStopped: Bool { matchedStop != nil }
    /// The ids appended so far (the prompt excluded).
    public var outputIDs: ArraySlice<Int> { ids[promptCount...] }

    /// How many prompt tokens give context to the first decoding window; vLLM uses 5.
    private static let contextTokens = 5
    /// A character is at most 4 bytes, so a window still incomplete after this many new tokens
    /// holds invalid bytes for good; it is then emitted (with U+FFFD) to keep windows small.
    private static let maxPendingTokens = 16

    /// - Parameters:
    ///   - promptIDs: the prompt; its last few ids give the first generated tokens their context
    ///     (e.g. whether a SentencePiece `▁` at the start becomes a space).
    ///   - stop: strings that end the output; empty ones are ignored.
    public init(
        tokenizer: any Tokenizer, promptIDs: [Int] = [], skipSpecialTokens: Bool = true, stop: [String] = [],
        includeStopString: Bool = false
    ) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
        self.stop = stop.filter { !$0.isEmpty }
        self.includeStopString = includeStopString
        stopScalars = self.stop.map { Array($0.unicodeScalars) }
        ids = Array(promptIDs.suffix(Self.contextTokens))
        promptCount = ids.count
        prefixOffset = 0
        readOffset = ids.count
    }

    /// Adds one generated id; returns the text that became final with it, and whether the
    /// output has stopped (a stop string completed, now or before).
    public mutating func append(_ id: Int) -> (text: String, stopped: Bool) {
        if isStopped { return ("", true) }
        ids.append(id)
        let fresh = decodeNew(flush: false)
        let out = release(fresh, final: false)
        return (out, isStopped)
    }

    /// Ends the stream: returns what was held back (a trailing partial character becomes
    /// U+FFFD, as in a full decode; a partial stop-string prefix is released).
    public mutating func finish() -> String {
        if isStopped { return "" }
        let fresh = decodeNew(flush: true)
        return release(fresh, final: true)
    }

    /// The decoder half: new complete text since the last call, or nothing while the window
    /// still ends in an incomplete character.
    private mutating func decodeNew(flush: Bool) -> [Unicode.Scalar] {
        let prefixText = tokenizer.decode(Array(ids[prefixOffset..<readOffset]), skipSpecialTokens: skipSpecialTokens)
        let newText = tokenizer.decode(Array(ids[prefixOffset...]), skipSpecialTokens: skipSpecialTokens)
        let prefix = Array(prefixText.unicodeScalars), whole = Array(newText.unicodeScalars)
        let force = flush || ids.count - readOffset >= Self.maxPendingTokens
        guard whole.count > prefix.count, force || whole.last != "\u{FFFD}" else {
            if flush {
                prefixOffset = ids.count
                readOffset = ids.count
            }
            return []
        }
        // Normally `whole` extends `prefix`; if a byte run re-decoded differently, emit from the
        // first difference (already released text cannot be taken back).
        var start = 0
        while start < prefix.count, prefix[start] == whole[start] { start += 1 }
        prefixOffset = readOffset
        readOffset = ids.count
        return Array(whole[start...])
    }

    /// The stop-string half: appends `fresh` to the held text, cuts at a complete stop string,
    /// and releases everything that cannot begin one.
    private mutating func release(_ fresh: [Unicode.Scalar], final: Bool) -> String {
        held.append(contentsOf: fresh)
        var releaseCount = held.count
        if !stopScalars.isEmpty {
            if let (at, index) = firstStop() {
                let stopLength = stopScalars[index].count
                matchedStop = stop[index]
                releaseCount = includeStopString ? at + stopLength : at
            } else if !final {
                releaseCount = holdPoint()
            }
        }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: held[..<releaseCount])
        let out = String(scalars)
        held.removeFirst(releaseCount)
        if isStopped { held.removeAll() }
        text += out
        return out
    }

    /// Earliest complete stop string in the held text (the longest one if several start there).
    private func firstStop() -> (Int, Int)? {
        var best: (at: Int, index: Int)? = nil
        for (index, s) in stopScalars.enumerated() where s.count <= held.count {
            guard let at = (0...(held.count - s.count)).first(where: { held[$0..<($0 + s.count)].elementsEqual(s) }) else { continue }
            if let b = best, at > b.at || (at == b.at && s.count <= stopScalars[b.index].count) { continue }
            best = (at, index)
        }
        return best.map { ($0.at, $0.index) }
    }

    /// Where the held text must be cut: the earliest position from which the rest is a proper
    /// prefix of some stop string.
    private func holdPoint() -> Int {
        let longest = stopScalars.map(\.count).max() ?? 0
        for start in max(0, held.count - longest + 1)..<held.count {
            let tail = held[start...]
            if stopScalars.contains(where: { $0.count > tail.count && $0.starts(with: tail) }) { return start }
        }
        return held.count
    }
}
