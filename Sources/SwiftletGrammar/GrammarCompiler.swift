import Foundation

/// Thread-safe; compiles each distinct spec once (bounded LRU cache keyed by the spec).
public final class GrammarCompiler: @unchecked Sendable {
    public let vocabulary: GrammarVocabulary
    private let capacity: Int
    private let condition = NSCondition()
    private var cache: [GrammarSpec: (grammar: CompiledGrammar, lastUse: Int)] = [:]
    /// Specs being compiled now: a second request for one waits for the first's result.
    private var inFlight: Set<GrammarSpec> = []
    private var tick = 0

    public init(vocabulary: GrammarVocabulary, cacheCapacity: Int = 64) {
        self.vocabulary = vocabulary
        self.capacity = max(1, cacheCapacity)
    }

    /// The compiled grammar for `spec`, from the cache when it was compiled before.
    /// Throws `GrammarError` when the spec is invalid or uses what the engine cannot enforce
    /// (errors are not cached: a bad spec costs its parse each time).
    public func compile(_ spec: GrammarSpec) throws -> CompiledGrammar {
        condition.lock()
        while true {
            tick += 1
            if let hit = cache[spec] {
                cache[spec]!.lastUse = tick
                condition.unlock()
                return hit.grammar
            }
            if !inFlight.contains(spec) { break }
            condition.wait()
        }
        inFlight.insert(spec)
        condition.unlock()
        // Compiled outside the lock so that a slow spec does not hold up requests for others.
        let start = DispatchTime.now().uptimeNanoseconds
        let result = Result { try CompiledGrammar.rules(for: spec) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        condition.lock()
        defer { condition.broadcast(); condition.unlock() }
        inFlight.remove(spec)
        let grammar = CompiledGrammar(spec: spec, rules: try result.get(), vocabulary: vocabulary, compileSeconds: seconds)
        if cache.count >= capacity, let oldest = cache.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            cache[oldest.key] = nil
        }
        cache[spec] = (grammar, tick)
        return grammar
    }

    /// Number of grammars held (for tests and metrics).
    public var cachedCount: Int { condition.lock(); defer { condition.unlock() }; return cache.count }
}
