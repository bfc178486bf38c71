/// A symbol of one alternative of a rule: one byte from a set, or a whole rule.
enum GrammarSymbol: Hashable, Sendable {
    case bytes(ByteSet)
    case rule(Int)
}

/// The internal form every spec compiles to: rules over UTF-8 bytes, each a list of alternatives,
/// each a sequence of symbols (character classes already expanded to byte sequences).
struct GrammarRules: Sendable {
    var names: [String]
    var alternatives: [[[GrammarSymbol]]]
    var root: Int

    /// Rules that can derive the empty string.
    func nullable() -> [Bool] {
        var result = [Bool](repeating: false, count: names.count)
        var changed = true
        while changed {
            changed = false
            for r in 0..<names.count where !result[r] {
                let canBeEmpty = alternatives[r].contains { alt in
                    alt.allSatisfy { if case .rule(let s) = $0 { return result[s] } else { return false } }
                }
                if canBeEmpty { result[r] = true; changed = true }
            }
        }
        return result
    }

    /// Left recursion (a rule deriving itself before consuming a byte) would make the
    /// stack-based matcher expand forever, so it is refused here with the cycle it takes.
    func checkNoLeftRecursion() throws {
        let empty = nullable()
        var starts = [[Int]](repeating: [], count: names.count)
        for r in 0..<names.count {
            for alt in alternatives[r] {
                for symbol in alt {
                    guard case .rule(let s) = symbol else { break }
                    starts[r].append(s)
                    if !empty[s] { break }
                }
            }
        }
        // 0 unvisited, 1 on the path, 2 done.
        var mark = [UInt8](repeating: 0, count: names.count)
        var path: [Int] = []
        func visit(_ r: Int) throws {
            mark[r] = 1
            path.append(r)
            for s in starts[r] {
                if mark[s] == 1 {
                    let cycle = path[path.lastIndex(of: s)!...].map { names[$0] } + [names[s]]
                    throw GrammarError("left recursion: rule '\(names[s])' can derive itself without consuming input (\(cycle.joined(separator: " -> "))); rewrite it with repetition, e.g. a ::= b (\"x\" b)*")
                }
                if mark[s] == 0 { try visit(s) }
            }
            path.removeLast()
            mark[r] = 2
        }
        for r in 0..<names.count where mark[r] == 0 { try visit(r) }
    }
}

/// The rules laid out as one array of slots, so that a matcher position is a single integer:
/// each alternative is its symbols followed by an end slot.
final class FlatGrammar: Sendable {
    enum Kind: UInt8 { case bytes, rule, end }
    let kinds: [Kind]
    /// The byte set's index for `.bytes`, the rule for `.rule`.
    let args: [Int32]
    let sets: [ByteSet]
    /// The first slot of each alternative of each rule.
    let ruleStarts: [[Int32]]
    let root: Int
    let names: [String]

    init(_ rules: GrammarRules) {
        var kinds: [Kind] = [], args: [Int32] = [], sets: [ByteSet] = []
        var setIndex: [ByteSet: Int32] = [:]
        var starts: [[Int32]] = []
        for alts in rules.alternatives {
            var ruleStart: [Int32] = []
            for alt in alts {
                ruleStart.append(Int32(kinds.count))
                for symbol in alt {
                    switch symbol {
                    case .bytes(let set):
                        let index: Int32
                        if let i = setIndex[set] { index = i } else {
                            index = Int32(sets.count); sets.append(set); setIndex[set] = index
                        }
                        kinds.append(.bytes); args.append(index)
                    case .rule(let r):
                        kinds.append(.rule); args.append(Int32(r))
                    }
                }
                kinds.append(.end); args.append(-1)
            }
            starts.append(ruleStart)
        }
        self.kinds = kinds; self.args = args; self.sets = sets
        self.ruleStarts = starts; self.root = rules.root; self.names = rules.names
    }
}
