/// A parsed rule body before lowering: what the GBNF parser produces.
indirect enum GrammarExpr: Sendable {
    case sequence([GrammarExpr])
    case choice([GrammarExpr])
    /// One byte from the set.
    case bytes(ByteSet)
    /// One code point from `ranges` (or, negated, from outside them), as UTF-8.
    case codePoints([ClosedRange<UInt32>], negated: Bool)
    case literal([UInt8])
    /// A rule named in the text; the place is kept for the "undefined rule" message.
    case ruleRef(String, line: Int, column: Int)
    case repetition(GrammarExpr, min: Int, max: Int?)
}

/// Lowers named rule bodies to `GrammarRules`: groups, alternations inside sequences and
/// repetitions become generated rules (`name_1`, ...). `x*` becomes `r ::= x r | ""`, right
/// recursive, so that the matcher's stack does not grow with the number of repetitions.
struct GrammarBuilder {
    private(set) var names: [String] = []
    private var alternatives: [[[GrammarSymbol]]?] = []
    private var ids: [String: Int] = [:]
    private var generated: [String: Int] = [:]
    /// Generated rules share a body when their bodies are equal (e.g. the same class twice).
    private var bodies: [[[GrammarSymbol]]: Int] = [:]

    /// Bounded repetition is unrolled; beyond this the grammar would be unreasonably large.
    static let maxRepetition = 10_000

    mutating func id(of name: String) -> Int {
        if let id = ids[name] { return id }
        let id = names.count
        names.append(name); alternatives.append(nil); ids[name] = id
        return id
    }

    func isDefined(_ name: String) -> Bool { ids[name].map { alternatives[$0] != nil } ?? false }

    mutating func define(_ name: String, _ body: GrammarExpr) throws {
        let r = id(of: name)
        alternatives[r] = try lowerAlternatives(body, owner: name)
    }

    func rules(root: String) throws -> GrammarRules {
        guard let rootID = ids[root], alternatives[rootID] != nil else {
            throw GrammarError("the grammar has no '\(root)' rule (the start rule)")
        }
        let alts = alternatives.map { $0 ?? [] }
        let rules = GrammarRules(names: names, alternatives: alts, root: rootID)
        try rules.checkNoLeftRecursion()
        return rules
    }

    private mutating func fresh(_ owner: String, _ alts: [[GrammarSymbol]]) -> Int {
        if let r = bodies[alts] { return r }
        let n = (generated[owner] ?? 0) + 1
        generated[owner] = n
        var name = "\(owner)_\(n)"
        while ids[name] != nil { name += "_" }
        let r = id(of: name)
        alternatives[r] = alts
        bodies[alts] = r
        return r
    }

    private mutating func lowerAlternatives(_ e: GrammarExpr, owner: String) throws -> [[GrammarSymbol]] {
        switch e {
        case .choice(let options): return try options.flatMap { try lowerAlternatives($0, owner: owner) }
        case .codePoints(let ranges, let negated):
            return UTF8Ranges.sequences(negated ? UTF8Ranges.complement(ranges) : ranges).map { $0.map { .bytes($0) } }
        default: return [try lowerSequence(e, owner: owner)]
        }
    }

    private mutating func lowerSequence(_ e: GrammarExpr, owner: String) throws -> [GrammarSymbol] {
        switch e {
        case .sequence(let items): return try items.flatMap { try lowerSequence($0, owner: owner) }
        case .bytes(let set): return [.bytes(set)]
        case .literal(let bytes): return bytes.map { .bytes(ByteSet($0)) }
        case .ruleRef(let name, _, _): return [.rule(id(of: name))]
        case .choice, .codePoints:
            let alts = try lowerAlternatives(e, owner: owner)
            if alts.count == 1 { return alts[0] }
            return [.rule(fresh(owner, alts))]
        case .repetition(let inner, let min, let max):
            if let max, max < min { throw GrammarError("repetition {\(min),\(max)} has its maximum below its minimum") }
            if min > Self.maxRepetition || (max ?? 0) > Self.maxRepetition {
                throw GrammarError("repetition bound above \(Self.maxRepetition)")
            }
            let alts = try lowerAlternatives(inner, owner: owner)
            let item: [GrammarSymbol] = alts.count == 1 ? alts[0] : [.rule(fresh(owner, alts))]
            var out: [GrammarSymbol] = []
            for _ in 0..<min { out += item }
            if let max {
                guard max > min else { return out }
                var tail = fresh(owner, [item, []])
                for _ in 1..<(max - min) { tail = fresh(owner, [item + [.rule(tail)], []]) }
                out.append(.rule(tail))
            } else {
                // The star rule refers to itself, so it is made by name before its body exists.
                let n = (generated[owner] ?? 0) + 1
                generated[owner] = n
                var name = "\(owner)_\(n)"
                while ids[name] != nil { name += "_" }
                let star = id(of: name)
                alternatives[star] = [item + [.rule(star)], []]
                out.append(.rule(star))
            }
            return out
        }
    }

    /// Names referenced but never defined, with the place of their first use.
    static func undefinedReferences(_ e: GrammarExpr, defined: (String) -> Bool) -> (String, Int, Int)? {
        switch e {
        case .ruleRef(let name, let line, let column): return defined(name) ? nil : (name, line, column)
        case .sequence(let items), .choice(let items):
            for item in items { if let u = undefinedReferences(item, defined: defined) { return u } }
            return nil
        case .repetition(let inner, _, _): return undefinedReferences(inner, defined: defined)
        default: return nil
        }
    }
}
