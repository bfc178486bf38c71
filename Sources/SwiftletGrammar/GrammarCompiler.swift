import Foundation

/// Thread-safe; compiles each distinct spec once (bounded LRU cache keyed by the spec).
public final class GrammarCompiler: @unchecked Sendable {
    public let vocabulary: GrammarVocabulary
    private let capacity: Int
    private let lock = NSLock()
    private var cache: [GrammarSpec: (grammar: CompiledGrammar, lastUse: Int)] = [:]
    private var tick = 0

    public init(vocabulary: GrammarVocabulary, cacheCapacity: Int = 64) {
        self.vocabulary = vocabulary
        self.capacity = max(1, cacheCapacity)
    }

    /// The compiled grammar for `spec`, from the cache when it was compiled before.
    /// Throws `GrammarError` when the spec is invalid or uses what the engine cannot enforce.
    public func compile(_ spec: GrammarSpec) throws -> CompiledGrammar {
        lock.lock()
        tick += 1
        if let hit = cache[spec] {
            cache[spec]!.lastUse = tick
            lock.unlock()
            return hit.grammar
        }
        lock.unlock()
        // Compiled outside the lock so that a slow schema does not hold up other requests; two
        // racing compiles of one spec both succeed and the later one is kept.
        let start = DispatchTime.now().uptimeNanoseconds
        let rules = try CompiledGrammar.rules(for: spec)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let grammar = CompiledGrammar(spec: spec, rules: rules, vocabulary: vocabulary, compileSeconds: seconds)
        lock.lock(); defer { lock.unlock() }
        if cache[spec] == nil, cache.count >= capacity,
            let oldest = cache.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            cache[oldest.key] = nil
        }
        cache[spec] = (grammar, tick)
        return grammar
    }

    /// Number of grammars held (for tests and metrics).
    public var cachedCount: Int { lock.lock(); defer { lock.unlock() }; return cache.count }
}
