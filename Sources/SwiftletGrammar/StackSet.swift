/// A matcher state: the set of parse stacks still alive, llama.cpp-style. Each stack lists slot
/// positions in `FlatGrammar`, the last being the byte set to match next and the others the
/// places to continue at when the rule above them ends; an empty stack is a complete match.
///
/// Kept sorted and free of duplicates, so that equal states compare and hash equal: the
/// automaton interns them as DFA states.
struct StackSet: Hashable, Sendable {
    var stacks: [[Int32]]

    var canEnd: Bool { stacks.first?.isEmpty ?? false }
    var isComplete: Bool { stacks.count == 1 && stacks[0].isEmpty }
    var isDead: Bool { stacks.isEmpty }

    init(canonical set: Set<[Int32]>) {
        stacks = set.sorted { a, b in a.count != b.count ? a.count < b.count : a.lexicographicallyPrecedes(b) }
    }

    /// The state before any byte: every alternative of the start rule.
    static func initial(_ g: FlatGrammar) -> StackSet {
        var out = Set<[Int32]>()
        for start in g.ruleStarts[g.root] { expand([start], g, into: &out) }
        return StackSet(canonical: out)
    }

    /// The state after byte `b`; dead (no stacks) if no stack's next byte set holds it.
    func advanced(by b: UInt8, _ g: FlatGrammar) -> StackSet {
        var out = Set<[Int32]>()
        for stack in stacks {
            guard let p = stack.last, g.sets[Int(g.args[Int(p)])].contains(b) else { continue }
            var next = stack
            next[next.count - 1] = p + 1
            Self.expand(next, g, into: &out)
        }
        return StackSet(canonical: out)
    }

    /// The state after a byte that exactly the stacks whose bits are set in `selected` accept.
    func advanced(stacksIn selected: [UInt64], _ g: FlatGrammar) -> StackSet {
        var out = Set<[Int32]>()
        for (i, stack) in stacks.enumerated() where selected[i >> 6] >> UInt64(i & 63) & 1 == 1 {
            var next = stack
            next[next.count - 1] = stack[stack.count - 1] + 1
            Self.expand(next, g, into: &out)
        }
        return StackSet(canonical: out)
    }

    /// Brings a stack to the points where a byte must be read: finished alternatives pop to
    /// their continuation, rule references push each alternative. A reference in tail position
    /// leaves no continuation behind, so right recursion (`x*`) keeps the stack flat.
    private static func expand(_ stack: [Int32], _ g: FlatGrammar, into out: inout Set<[Int32]>) {
        var s = stack
        while let p = s.last {
            switch g.kinds[Int(p)] {
            case .bytes:
                out.insert(s)
                return
            case .end:
                s.removeLast()
            case .rule:
                let rule = Int(g.args[Int(p)])
                if g.kinds[Int(p) + 1] == .end { s.removeLast() } else { s[s.count - 1] = p + 1 }
                for start in g.ruleStarts[rule] {
                    var t = s
                    t.append(start)
                    expand(t, g, into: &out)
                }
                return
            }
        }
        out.insert(s)
    }
}
