/// Builds the statement tree from tokens, following `jinja2`'s grammar and operator precedence
/// (filters bind tighter than arithmetic, `**` is left-associative, comparisons chain).
struct JinjaParser {
    private var tokens: [JinjaToken]
    private var i = 0
    var depth = 0
    /// Open block tags, innermost last, for "expected endfor" style messages.
    var tagStack: [String] = []

    /// Nesting limit for expressions and blocks: parsing recurses, and a template is outside input.
    private static let maxDepth = 100

    static func parse(_ source: String) throws -> [JinjaNode] {
        var p = JinjaParser(tokens: try JinjaLexer.tokenize(source))
        let (nodes, end) = try p.subparse(until: [])
        assert(end == nil)
        return nodes
    }

    private init(tokens: [JinjaToken]) { self.tokens = tokens }

    // MARK: Token helpers

    var current: JinjaToken { tokens[i] }
    func peek(_ n: Int = 1) -> JinjaToken { tokens[min(i + n, tokens.count - 1)] }
    mutating func advance() -> JinjaToken {
        let t = tokens[i]
        if i < tokens.count - 1 { i += 1 }
        return t
    }

    func fail(_ message: String, _ token: JinjaToken? = nil) -> JinjaError {
        JinjaError(.syntax, message, at: (token ?? current).position)
    }

    static func describe(_ kind: JinjaTokenKind) -> String {
        switch kind {
        case .text: return "template data"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case .name(let n): return "'\(n)'"
        case .string(let s): return "string '\(s)'"
        case .integer(let v): return "'\(v)'"
        case .float(let v): return "'\(v)'"
        case .op(let o): return "'\(o)'"
        case .eof: return "end of template"
        }
    }

    func isOp(_ op: String) -> Bool { current.kind == .op(op) }
    func isName(_ name: String) -> Bool { current.kind == .name(name) }

    mutating func skipOp(_ op: String) -> Bool {
        if isOp(op) {
            _ = advance()
            return true
        }
        return false
    }

    mutating func skipName(_ name: String) -> Bool {
        if isName(name) {
            _ = advance()
            return true
        }
        return false
    }

    mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw fail("expected '\(op)', got \(Self.describe(current.kind))") }
    }

    mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else {
            throw fail("expected a name, got \(Self.describe(current.kind))")
        }
        _ = advance()
        return n
    }

    mutating func expectBlockEnd() throws {
        guard current.kind == .blockEnd else {
            throw fail("expected end of statement block, got \(Self.describe(current.kind))")
        }
        _ = advance()
    }

    mutating func enter() throws {
        depth += 1
        if depth > Self.maxDepth { throw fail("template nested too deeply") }
    }
}
