import Foundation

/// The grammar's stack sets interned as the states of a DFA over bytes, built lazily: a
/// transition is computed from the stacks the first time some matcher needs it, then is one
/// array read for every matcher of the grammar. Masks are computed by walking the vocabulary
/// trie through these transitions and are cached per state, so sequences that reach the same
/// state (the 32 streams of one schema, or every character inside a JSON string) share them.
///
/// Memory is bounded: past `maxStates` states (1 KiB each) the table is dropped and rebuilt on
/// demand (matchers keep their stacks, not only state numbers), and the mask cache is an LRU of
/// at most `maxMaskBytes`, so a grammar holds under 8 MiB at the defaults.
final class GrammarAutomaton: @unchecked Sendable {
    let grammar: FlatGrammar
    let vocabulary: GrammarVocabulary
    let initial: StackSet
    private let lock = NSLock()
    private var table: DFATable
    private var generation = 0
    private var masks: [Int32: CachedMask] = [:]
    private var maskTick = 0
    private let maxStates: Int
    private let maxMasks: Int

    private struct CachedMask { var words: [UInt32]; var lastUse: Int }

    init(grammar: FlatGrammar, vocabulary: GrammarVocabulary, maxStates: Int = 4096, maxMaskBytes: Int = 4 << 20) {
        self.grammar = grammar
        self.vocabulary = vocabulary
        self.initial = StackSet.initial(grammar)
        self.table = DFATable()
        self.maxStates = maxStates
        self.maxMasks = max(8, maxMaskBytes / max(4 * ((vocabulary.count + 31) / 32), 1))
    }

    /// A state as a matcher holds it: the stacks, plus their DFA number while the table lasts.
    struct State: Sendable {
        var stacks: StackSet
        var id: Int32
        var generation: Int
    }

    /// DFA states and cached masks held now (for tests and measurements).
    var statistics: (states: Int, masks: Int, resets: Int) {
        lock.lock(); defer { lock.unlock() }
        return (table.states.count, masks.count, generation)
    }

    func initialState() -> State { State(stacks: initial, id: -1, generation: -1) }

    /// The state after `bytes`, or nil if the grammar forbids them.
    func advance(_ state: State, by bytes: [UInt8]) -> State? {
        lock.lock(); defer { lock.unlock() }
        var id = resolve(state)
        for b in bytes {
            id = table.next(id, b, grammar)
            if id < 0 { return nil }
        }
        return State(stacks: table.states[Int(id)], id: id, generation: generation)
    }

    func allows(_ state: State, bytes: [UInt8]) -> Bool {
        lock.lock(); defer { lock.unlock() }
        var id = resolve(state)
        for b in bytes {
            id = table.next(id, b, grammar)
            if id < 0 { return false }
        }
        return true
    }

    /// Sets the bits of the tokens whose bytes the grammar allows next (not the end tokens).
    func fillMask(_ state: State, _ mask: UnsafeMutableBufferPointer<UInt32>) {
        let words = (vocabulary.count + 31) / 32
        lock.lock(); defer { lock.unlock() }
        let id = resolve(state)
        maskTick += 1
        if let cached = masks[id] {
            masks[id]!.lastUse = maskTick
            cached.words.withUnsafeBufferPointer { src in
                mask.baseAddress!.update(from: src.baseAddress!, count: words)
            }
            return
        }
        var computed = [UInt32](repeating: 0, count: words)
        var local = DFATable()
        swap(&local, &table)
        computed.withUnsafeMutableBufferPointer { local.walk(vocabulary.trie, from: id, grammar, into: $0) }
        swap(&local, &table)
        if masks.count >= maxMasks {
            // Evict the older half at once, so eviction costs O(1) per insertion on average.
            let byAge = masks.sorted { $0.value.lastUse < $1.value.lastUse }
            for (key, _) in byAge.prefix(masks.count / 2) { masks[key] = nil }
        }
        masks[id] = CachedMask(words: computed, lastUse: maskTick)
        computed.withUnsafeBufferPointer { src in mask.baseAddress!.update(from: src.baseAddress!, count: words) }
    }

    /// The state's DFA number in the current table, interning it (after a reset if full).
    private func resolve(_ state: State) -> Int32 {
        if state.generation == generation, state.id >= 0 { return state.id }
        if table.states.count >= maxStates {
            table = DFATable()
            masks = [:]
            generation += 1
        }
        return table.intern(state.stacks)
    }
}

/// The interned states and their transitions, 256 per state: -2 not computed yet, -1 dead.
struct DFATable {
    var states: [StackSet] = []
    var ids: [StackSet: Int32] = [:]
    var transitions: [Int32] = []

    mutating func intern(_ s: StackSet) -> Int32 {
        if let id = ids[s] { return id }
        let id = Int32(states.count)
        states.append(s)
        ids[s] = id
        transitions.append(contentsOf: repeatElement(-2, count: 256))
        return id
    }

    @inline(__always)
    mutating func next(_ id: Int32, _ b: UInt8, _ g: FlatGrammar) -> Int32 {
        let slot = Int(id) << 8 | Int(b)
        let t = transitions[slot]
        if t != -2 { return t }
        fillRow(id, g)
        return transitions[slot]
    }

    /// All 256 transitions of a state at once. Advancing a stack moves it past its top whatever
    /// the byte, so the result depends only on which stacks' byte sets hold the byte: bytes are
    /// grouped by that signature and each group is advanced once (a JSON string's state has
    /// three or four groups, not 256 bytes).
    private mutating func fillRow(_ id: Int32, _ g: FlatGrammar) {
        let state = states[Int(id)]
        let words = (state.stacks.count + 63) / 64
        var sets: [ByteSet] = []
        for stack in state.stacks {
            if let p = stack.last { sets.append(g.sets[Int(g.args[Int(p)])]) } else { sets.append(ByteSet()) }
        }
        var results: [[UInt64]: Int32] = [:]
        let base = Int(id) << 8
        var signature = [UInt64](repeating: 0, count: words)
        for b in 0..<256 {
            for w in 0..<words { signature[w] = 0 }
            var any = false
            for (i, set) in sets.enumerated() where set.contains(UInt8(b)) {
                signature[i >> 6] |= 1 << UInt64(i & 63)
                any = true
            }
            guard any else { transitions[base + b] = -1; continue }
            if let r = results[signature] { transitions[base + b] = r; continue }
            let after = state.advanced(stacksIn: signature, g)
            let r = after.isDead ? -1 : intern(after)
            results[signature] = r
            transitions[base + b] = r
        }
    }

    /// One pass over the trie in depth-first order: a node whose prefix leads to a dead state
    /// skips its whole subtree; tokens ending at a live node are allowed.
    mutating func walk(_ trie: VocabularyTrie, from start: Int32, _ g: FlatGrammar, into mask: UnsafeMutableBufferPointer<UInt32>) {
        var stateAt = [Int32](repeating: -1, count: trie.maxDepth + 1)
        stateAt[0] = start
        let n = trie.byte.count
        var i = 0
        while i < n {
            let d = Int(trie.depth[i])
            let t = next(stateAt[d - 1], trie.byte[i], g)
            if t < 0 {
                i = Int(trie.subtreeEnd[i])
                continue
            }
            stateAt[d] = t
            var k = Int(trie.tokenStart[i])
            let end = Int(trie.tokenStart[i + 1])
            while k < end {
                let token = Int(trie.tokens[k])
                mask[token >> 5] |= 1 << UInt32(token & 31)
                k += 1
            }
            i += 1
        }
    }
}
