import Foundation
import SwiftletGrammar
import SwiftletTokenizers

/// The engine's grammar compiler, built from its tokenizer the first time a constraint is
/// compiled: ordering a vocabulary of tens of thousands of tokens into the compiler's byte trie
/// takes a moment that engines never asked for structured outputs should not pay.
///
/// Thread-safe. The server compiles a request's constraint on the request's own task, so a bad
/// one is a 400 naming the field and a slow one does not hold up the engine thread; the engine
/// then finds it in the compiler's cache when the request arrives.
public final class StructuredOutputCompiler: @unchecked Sendable {
    private let lock = NSLock()
    private let makeVocabulary: @Sendable () -> GrammarVocabulary
    private var built: GrammarCompiler?
    /// Grammars already counted as compiled (held, so that their identities are not reused).
    private var counted: [ObjectIdentifier: CompiledGrammar] = [:]
    private var compiles = 0
    private var compileSeconds = 0.0

    /// - Parameters:
    ///   - vocabSize: the model's logits width; ids past the tokenizer's vocabulary never match.
    ///   - endTokenIDs: tokens that end a sequence, allowed exactly when the constraint can end.
    public init(tokenizer: any Tokenizer, vocabSize: Int, endTokenIDs: [Int]) {
        makeVocabulary = { Self.vocabulary(tokenizer: tokenizer, vocabSize: vocabSize, endTokenIDs: endTokenIDs) }
    }

    /// A tokenizer's vocabulary as grammars see it: the bytes each id adds to the text, none for
    /// special tokens and for ids past the tokenizer's vocabulary up to `vocabSize`.
    public static func vocabulary(tokenizer: any Tokenizer, vocabSize: Int, endTokenIDs: [Int]) -> GrammarVocabulary {
        let known = min(vocabSize, tokenizer.vocabularySize)
        let bytes: [[UInt8]?] = (0..<vocabSize).map { id in
            id < known && !tokenizer.isSpecial(id) ? tokenizer.tokenBytes(id, isFirst: false) : nil
        }
        return GrammarVocabulary(tokenBytes: bytes, endTokenIDs: endTokenIDs.sorted())
    }

    /// The compiler (built on first use).
    public var compiler: GrammarCompiler {
        lock.lock()
        defer { lock.unlock() }
        if let built { return built }
        let c = GrammarCompiler(vocabulary: makeVocabulary())
        built = c
        return c
    }

    /// The compiled constraint, from the cache when it was compiled before. Throws `GrammarError`
    /// naming what is wrong with it.
    public func compile(_ spec: GrammarSpec) throws -> CompiledGrammar {
        let grammar = try compiler.compile(spec)
        lock.lock()
        defer { lock.unlock() }
        if counted[ObjectIdentifier(grammar)] == nil {
            // Bounded: past this many distinct grammars the oldest identities are forgotten, and a
            // grammar seen again after that is counted again.
            if counted.count >= 1024 { counted.removeAll(keepingCapacity: true) }
            counted[ObjectIdentifier(grammar)] = grammar
            compiles += 1
            compileSeconds += grammar.compileSeconds
        }
        return grammar
    }

    /// Distinct grammars compiled so far and the seconds their compilation took.
    public var compileTotals: (count: Int, seconds: Double) {
        lock.lock()
        defer { lock.unlock() }
        return (compiles, compileSeconds)
    }
}

/// Applying a token mask (bit `i & 31` of word `i >> 5` set = token `i` allowed) to a row of logits.
enum TokenMask {
    /// Sets every disallowed token's logit to -infinity.
    static func apply(_ mask: UnsafeBufferPointer<UInt32>, to row: UnsafeMutableBufferPointer<Float>) {
        let n = row.count
        for w in 0..<min(mask.count, (n + 31) >> 5) {
            let bits = mask[w]
            if bits == .max { continue }
            let base = w << 5
            let end = min(base + 32, n)
            if bits == 0 {
                for i in base..<end { row[i] = -.infinity }
            } else {
                for i in base..<end where bits & (1 << UInt32(i - base)) == 0 { row[i] = -.infinity }
            }
        }
    }
}

/// How a constrained row is sampled. Masking commutes with the logits processors (they never
/// lift a -infinity), so a draw from the unmasked processed row can be checked against the
/// constraint instead of masking first, exactly:
/// - greedy: the argmax of the whole row, when allowed, is the argmax of the masked row;
/// - temperature without top-k/top-p/min-p: a draw from the whole distribution p that the
///   constraint allows is kept, else one is drawn from the masked row; token t then comes out
///   with probability p(t) + (1 - p(A)) p(t) / p(A) = p(t) / p(A), the masked distribution.
/// Logprobs, best_of and beam search need the masked row itself.
enum GrammarShortcut {
    case fullMask, greedyCheck, rejection
}

extension LLMEngine {
    func grammarShortcut(_ params: SamplingParams) -> GrammarShortcut {
        if params.needsLogprobs || params.useBeamSearch { return .fullMask }
        if params.temperature == 0 { return .greedyCheck }
        let truncated = params.topP < 1 || params.minP > 0 || (params.topK > 0 && params.topK < modelConfig.vocabSize)
        return samplesConstrainedRowsByRejection && !truncated && sampler is StandardSampler ? .rejection : .fullMask
    }

    /// Samples a constrained row (processed, not masked) by a shortcut: the draw of the whole row
    /// when the constraint allows it, else the draw of the masked row.
    func sampleChecked(_ g: SequenceGroup, _ k: Int, logits: UnsafeMutableBufferPointer<Float>, _ shortcut: GrammarShortcut) -> Int {
        let params = g.params
        let matcher = g.sequences[k].grammar!
        if shortcut == .greedyCheck {
            if !grammarAllows(matcher, StandardSampler.argmax(UnsafeBufferPointer(logits)).index) { applyGrammarMask(matcher, to: logits) }
            return sampler.sample(logits: logits, params: params, generator: &g.sequences[k].generator)
        }
        // The sampler writes weights over the row: keep the logits for a second draw (timed with
        // the grammar work, as it is what the shortcut costs).
        let start = DispatchTime.now().uptimeNanoseconds
        if grammarRowCopy.count != logits.count { grammarRowCopy = [Float](repeating: 0, count: logits.count) }
        grammarRowCopy.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: logits.baseAddress!, count: logits.count) }
        totals.grammarSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let first = sampler.sample(logits: logits, params: params, generator: &g.sequences[k].generator)
        if grammarAllows(matcher, first) { return first }
        grammarRowCopy.withUnsafeBufferPointer { logits.baseAddress!.update(from: $0.baseAddress!, count: logits.count) }
        applyGrammarMask(matcher, to: logits)
        return sampler.sample(logits: logits, params: params, generator: &g.sequences[k].generator)
    }

    /// The compiled constraint of a request, or nil when it has none; a constraint that does not
    /// compile refuses the request (never unconstrained output).
    func compiledConstraint(_ params: SamplingParams, request id: String) throws -> CompiledGrammar? {
        guard let spec = params.structuredOutput else { return nil }
        guard let compiler = structuredOutputCompiler else {
            throw EngineError.invalidParameters(request: id, reason: "structured outputs need a tokenizer")
        }
        do {
            return try compiler.compile(spec)
        } catch let e as GrammarError {
            throw EngineError.invalidParameters(request: id, reason: "the structured output constraint is invalid: \(e.message)")
        }
    }

    /// Masks the tokens `matcher` forbids next (-infinity), counting the time.
    func applyGrammarMask(_ matcher: GrammarMatcher, to row: UnsafeMutableBufferPointer<Float>) {
        let start = DispatchTime.now().uptimeNanoseconds
        let words = (row.count + 31) >> 5
        if grammarMask.count < words { grammarMask = [UInt32](repeating: 0, count: words) }
        grammarMask.withUnsafeMutableBufferPointer { all in
            let mask = UnsafeMutableBufferPointer(rebasing: all[0..<words])
            matcher.fillNextTokenMask(mask)
            TokenMask.apply(UnsafeBufferPointer(mask), to: row)
        }
        totals.grammarMasks += 1
        totals.grammarSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Whether the constraint allows `token` next (timed with the rest of the grammar work).
    func grammarAllows(_ matcher: GrammarMatcher, _ token: Int) -> Bool {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { totals.grammarSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        return matcher.allows(token)
    }

    /// Advances sequence `s`'s constraint by its sampled token. False when the token is not
    /// allowed, which happens only when the constraint allowed nothing this step (every logit was
    /// -infinity): the sequence then ends, as it cannot go on within its constraint.
    func advanceGrammar(_ s: inout TokenSequence, by token: Int) -> Bool {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { totals.grammarSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        totals.structuredTokens += 1
        return s.grammar!.accept(token)
    }
}
