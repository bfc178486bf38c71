/// Regular expressions to GBNF (see `RegexParser` for the syntax taken).
public enum RegexGrammar {
    enum Mode {
        /// The text must match the whole pattern (`guided_regex`); `^` and `$` at the ends are no-ops.
        case fullMatch
        /// A JSON Schema `pattern`: the string's characters, as they appear JSON-escaped inside
        /// the quotes, must contain a match (`.*` is added at an end without its anchor).
        case jsonStringSearch
    }

    /// GBNF text defining `rootRule` as the strings the pattern matches in full.
    public static func gbnfRules(pattern: String, rootRule: String) throws -> String {
        try gbnfRules(pattern: pattern, rootRule: rootRule, mode: .fullMatch)
    }

    static func gbnfRules(pattern: String, rootRule: String, mode: Mode) throws -> String {
        guard GBNFText.isValidRuleName(rootRule) else {
            throw GrammarError("rule name '\(rootRule)' may only hold letters, digits, '-' and '_'")
        }
        var parser = RegexParser(pattern)
        let node = try parser.parse()
        let branches: [RegexNode]
        if case .alternation(let b) = node { branches = b } else { branches = [node] }
        let emitter = RegexEmitter(json: mode == .jsonStringSearch)
        let bodies = try branches.map { branch -> String in
            var items: [RegexNode]
            if case .sequence(let s) = branch { items = s } else { items = [branch] }
            let anchoredStart = items.first.map { if case .startAnchor = $0 { return true } else { return false } } ?? false
            if anchoredStart { items.removeFirst() }
            let anchoredEnd = items.last.map { if case .endAnchor = $0 { return true } else { return false } } ?? false
            if anchoredEnd { items.removeLast() }
            if mode == .jsonStringSearch {
                if !anchoredStart { items.insert(.repetition(.anything, min: 0, max: nil), at: 0) }
                if !anchoredEnd { items.append(.repetition(.anything, min: 0, max: nil)) }
            }
            let text = try items.map { try emitter.emit($0) }.joined(separator: " ")
            return text.isEmpty ? "\"\"" : text
        }
        return "\(rootRule) ::= \(bodies.joined(separator: " | "))\n"
    }
}

/// Writes regex nodes as GBNF expressions. In JSON mode a character is written as it appears
/// inside a JSON string: `"`, `\` and control characters by their escapes.
struct RegexEmitter {
    let json: Bool

    func emit(_ node: RegexNode) throws -> String {
        switch node {
        case .sequence(let items):
            let parts = try items.map { try emit($0) }
            return parts.isEmpty ? "\"\"" : "( " + parts.joined(separator: " ") + " )"
        case .alternation(let branches):
            return "( " + (try branches.map { try emit($0) }).joined(separator: " | ") + " )"
        case .characters(let ranges): return try characters(ranges)
        case .anything: return try characters([0...0x10FFFF])
        case .repetition(let inner, let min, let max):
            if min > GrammarBuilder.maxRepetition || (max ?? 0) > GrammarBuilder.maxRepetition {
                throw GrammarError("regex repetition bound above \(GrammarBuilder.maxRepetition)")
            }
            let body = try emit(inner)
            switch (min, max) {
            case (0, nil): return "\(body)*"
            case (1, nil): return "\(body)+"
            case (0, 1): return "\(body)?"
            default: return "\(body){\(min),\(max.map(String.init) ?? "")}"
            }
        case .startAnchor, .endAnchor:
            throw GrammarError("regex anchors (^ and $) are supported only at the start and end of the pattern")
        }
    }

    private func characters(_ ranges: [ClosedRange<UInt32>]) throws -> String {
        let ranges = UTF8Ranges.normalized(ranges.compactMap { r in
            // Surrogates are not characters of UTF-8 text.
            r.upperBound < 0xD800 || r.lowerBound > 0xDFFF ? r : nil
        } + ranges.flatMap { r -> [ClosedRange<UInt32>] in
            guard !(r.upperBound < 0xD800 || r.lowerBound > 0xDFFF) else { return [] }
            var parts: [ClosedRange<UInt32>] = []
            if r.lowerBound < 0xD800 { parts.append(r.lowerBound...0xD7FF) }
            if r.upperBound > 0xDFFF { parts.append(0xE000...r.upperBound) }
            return parts
        })
        guard !ranges.isEmpty else { throw GrammarError("regex has a character class that matches nothing") }
        guard json else { return classText(ranges) }
        var plain: [ClosedRange<UInt32>] = []
        var escapes: [String] = []
        let special: [UInt32: String] = [0x22: "\\\"", 0x5C: "\\\\", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"]
        for r in ranges {
            var lo = r.lowerBound
            for c in r.lowerBound...max(r.lowerBound, min(r.upperBound, 0x5C)) where c < 0x20 || c == 0x22 || c == 0x5C {
                if lo < c { plain.append(lo...(c - 1)) }
                lo = c + 1
                let hex = String(c, radix: 16)
                escapes.append(GBNFText.literal(special[c] ?? "\\u00" + (hex.count == 1 ? "0" : "") + hex))
            }
            if lo <= r.upperBound { plain.append(lo...r.upperBound) }
        }
        let parts = (plain.isEmpty ? [] : [classText(plain)]) + escapes
        return parts.count == 1 ? parts[0] : "( " + parts.joined(separator: " | ") + " )"
    }

    private func classText(_ ranges: [ClosedRange<UInt32>]) -> String {
        if ranges.count == 1, ranges[0].count == 1, let s = Unicode.Scalar(ranges[0].lowerBound) {
            return GBNFText.literal(String(s))
        }
        var out = "["
        for r in ranges {
            guard let lo = Unicode.Scalar(r.lowerBound), let hi = Unicode.Scalar(r.upperBound) else { continue }
            out += GBNFText.escaped(lo, inClass: true)
            if r.upperBound > r.lowerBound { out += "-" + GBNFText.escaped(hi, inClass: true) }
        }
        return out + "]"
    }
}
