/// Builds the statement tree from tokens, following `jinja2`'s grammar and operator precedence
/// (filters bind tighter than arithmetic, `**` is left-associative, comparisons chain).
struct JinjaParser {
    private var tokens: [JinjaToken]
    private var i = 0
    private var depth = 0
    /// Open block tags, innermost last, for "expected endfor" style messages.
    private var tagStack: [String] = []

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

    private var current: JinjaToken { tokens[i] }
    private func peek(_ n: Int = 1) -> JinjaToken { tokens[min(i + n, tokens.count - 1)] }
    private mutating func advance() -> JinjaToken {
        let t = tokens[i]
        if i < tokens.count - 1 { i += 1 }
        return t
    }

    private func fail(_ message: String, _ token: JinjaToken? = nil) -> JinjaError {
        JinjaError(.syntax, message, at: (token ?? current).position)
    }

    private static func describe(_ kind: JinjaTokenKind) -> String {
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

    private func isOp(_ op: String) -> Bool { current.kind == .op(op) }
    private func isName(_ name: String) -> Bool { current.kind == .name(name) }

    private mutating func skipOp(_ op: String) -> Bool {
        if isOp(op) {
            _ = advance()
            return true
        }
        return false
    }

    private mutating func skipName(_ name: String) -> Bool {
        if isName(name) {
            _ = advance()
            return true
        }
        return false
    }

    private mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw fail("expected '\(op)', got \(Self.describe(current.kind))") }
    }

    private mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else {
            throw fail("expected a name, got \(Self.describe(current.kind))")
        }
        _ = advance()
        return n
    }

    private mutating func expectBlockEnd() throws {
        guard current.kind == .blockEnd else {
            throw fail("expected end of statement block, got \(Self.describe(current.kind))")
        }
        _ = advance()
    }

    private mutating func enter() throws {
        depth += 1
        if depth > Self.maxDepth { throw fail("template nested too deeply") }
    }

    // MARK: Statements

    /// Parses nodes until a block tag whose name is in `end` (consumed along with its `{%`),
    /// or the end of the template when `end` is empty.
    private mutating func subparse(until end: Set<String>) throws -> ([JinjaNode], String?) {
        var nodes: [JinjaNode] = []
        while true {
            let tok = current
            switch tok.kind {
            case .eof:
                if end.isEmpty { return (nodes, nil) }
                let expected = end.sorted().map { "'\($0)'" }.joined(separator: " or ")
                let inner = tagStack.last.map { " The innermost block that needs to be closed is '\($0)'." } ?? ""
                throw fail("unexpected end of template. Jinja was looking for \(expected).\(inner)")
            case .text(let t):
                _ = advance()
                nodes.append(JinjaNode(.text(t), tok.position))
            case .variableBegin:
                _ = advance()
                let e = try parseTuple()
                guard current.kind == .variableEnd else {
                    throw fail("expected end of print statement, got \(Self.describe(current.kind))")
                }
                _ = advance()
                nodes.append(JinjaNode(.output(e), tok.position))
            case .blockBegin:
                _ = advance()
                if case .name(let n) = current.kind, end.contains(n) {
                    _ = advance()
                    return (nodes, n)
                }
                try enter()
                nodes.append(contentsOf: try parseStatement(tok.position, expecting: end))
                depth -= 1
            default:
                throw fail("unexpected \(Self.describe(tok.kind))")
            }
        }
    }

    /// Parses a body ending at one of `end`, after the current tag's `%}`; returns the end tag
    /// name with the stream just after it.
    private mutating func body(_ tag: String, until end: Set<String>) throws -> ([JinjaNode], String) {
        try expectBlockEnd()
        tagStack.append(tag)
        defer { tagStack.removeLast() }
        let (nodes, name) = try subparse(until: end)
        return (nodes, name!)
    }

    private mutating func parseStatement(_ pos: JinjaPosition, expecting end: Set<String>) throws -> [JinjaNode] {
        let nameToken = current
        guard case .name(let tag) = nameToken.kind else { throw fail("tag name expected") }
        _ = advance()
        switch tag {
        case "if":
            var branches: [(JinjaExpr, [JinjaNode])] = []
            var otherwise: [JinjaNode] = []
            var test = try parseTuple(withCondexpr: false)
            while true {
                let (nodes, endName) = try body("if", until: ["elif", "else", "endif"])
                branches.append((test, nodes))
                if endName == "elif" {
                    test = try parseTuple(withCondexpr: false)
                    continue
                }
                if endName == "else" {
                    otherwise = try body("if", until: ["endif"]).0
                }
                break
            }
            try expectBlockEnd()
            return [JinjaNode(.ifElse(branches: branches, otherwise: otherwise), pos)]
        case "for":
            let target = try parseAssignTarget(endNames: ["in"])
            guard skipName("in") else { throw fail("expected 'in', got \(Self.describe(current.kind))") }
            let iterable = try parseTuple(withCondexpr: false, endNames: ["recursive"])
            var filter: JinjaExpr? = nil
            if skipName("if") { filter = try parseExpression() }
            let recursive = skipName("recursive")
            let (nodes, endName) = try body("for", until: ["endfor", "else"])
            var otherwise: [JinjaNode] = []
            if endName == "else" { otherwise = try body("for", until: ["endfor"]).0 }
            try expectBlockEnd()
            return [JinjaNode(.forLoop(target: target, iterable: iterable, filter: filter, body: nodes, otherwise: otherwise, recursive: recursive), pos)]
        case "set":
            let target = try parseAssignTarget(withNamespace: true)
            if skipOp("=") {
                let value = try parseTuple()
                try expectBlockEnd()
                return [JinjaNode(.set(target, value), pos)]
            }
            let filters = try parseFilterChain(startInline: false)
            let nodes = try body("set", until: ["endset"]).0
            try expectBlockEnd()
            return [JinjaNode(.setBlock(target, filters: filters, body: nodes), pos)]
        case "macro":
            let name = try expectName()
            let (params, defaults) = try parseSignature()
            let nodes = try body("macro", until: ["endmacro"]).0
            try expectBlockEnd()
            return [JinjaNode(.macro(.init(name: name, parameters: params, defaults: defaults, body: nodes)), pos)]
        case "call":
            var params: [String] = [], defaults: [JinjaExpr] = []
            if isOp("(") { (params, defaults) = try parseSignature() }
            let call = try parseExpression()
            guard case .call = call.kind else { throw fail("expected call", nameToken) }
            let nodes = try body("call", until: ["endcall"]).0
            try expectBlockEnd()
            return [JinjaNode(.callBlock(.init(name: "caller", parameters: params, defaults: defaults, body: nodes), call: call), pos)]
        case "filter":
            let filters = try parseFilterChain(startInline: true)
            let nodes = try body("filter", until: ["endfilter"]).0
            try expectBlockEnd()
            return [JinjaNode(.filterBlock(filters: filters, body: nodes), pos)]
        case "with":
            var assignments: [(JinjaTarget, JinjaExpr)] = []
            while current.kind != .blockEnd {
                if !assignments.isEmpty { try expectOp(",") }
                let target = try parseAssignTarget()
                try expectOp("=")
                assignments.append((target, try parseExpression()))
            }
            let nodes = try body("with", until: ["endwith"]).0
            try expectBlockEnd()
            return [JinjaNode(.with(assignments, body: nodes), pos)]
        case "autoescape":
            _ = try parseExpression()
            let nodes = try body("autoescape", until: ["endautoescape"]).0
            try expectBlockEnd()
            return [JinjaNode(.scope(nodes), pos)]
        case "generation":
            let nodes = try body("generation", until: ["endgeneration"]).0
            try expectBlockEnd()
            return [JinjaNode(.scope(nodes), pos)]
        case "block":
            // Without inheritance a block just renders in place.
            let name = try expectName()
            _ = skipName("scoped")
            _ = skipName("required")
            let nodes = try body("block", until: ["endblock"]).0
            _ = skipName(name)
            try expectBlockEnd()
            return [JinjaNode(.scope(nodes), pos)]
        case "print":
            var nodes: [JinjaNode] = []
            while current.kind != .blockEnd {
                if !nodes.isEmpty { try expectOp(",") }
                let e = try parseExpression()
                nodes.append(JinjaNode(.output(e), e.position))
            }
            try expectBlockEnd()
            return nodes
        case "break", "continue":
            guard tagStack.contains("for") else { throw fail("'\(tag)' outside of a loop", nameToken) }
            try expectBlockEnd()
            return [JinjaNode(tag == "break" ? .breakLoop : .continueLoop, pos)]
        case "extends", "include", "import", "from":
            throw fail("'\(tag)' is not supported: a chat template is a single file", nameToken)
        default:
            var message = "encountered unknown tag '\(tag)'."
            if !end.isEmpty {
                message += " Jinja was looking for " + end.sorted().map { "'\($0)'" }.joined(separator: " or ") + "."
            }
            if let inner = tagStack.last { message += " The innermost block that needs to be closed is '\(inner)'." }
            throw fail(message, nameToken)
        }
    }

    private mutating func parseSignature() throws -> ([String], [JinjaExpr]) {
        var params: [String] = []
        var defaults: [JinjaExpr] = []
        try expectOp("(")
        while !isOp(")") {
            if !params.isEmpty { try expectOp(",") }
            let name = try expectName()
            if skipOp("=") {
                defaults.append(try parseExpression())
            } else if !defaults.isEmpty {
                throw fail("non-default argument follows default argument")
            }
            params.append(name)
        }
        try expectOp(")")
        return (params, defaults)
    }

    private mutating func parseAssignTarget(endNames: Set<String> = [], withNamespace: Bool = false) throws -> JinjaTarget {
        var targets: [JinjaTarget] = []
        var isTuple = false
        let start = current
        while true {
            if !targets.isEmpty { try expectOp(",") }
            if case .name(let n) = current.kind, endNames.contains(n) { break }
            if current.kind == .blockEnd || isOp("=") { break }
            let name = try expectName()
            if withNamespace && isOp(".") {
                _ = advance()
                targets.append(.namespaceAttribute(name, try expectName()))
            } else {
                if ["true", "false", "none", "True", "False", "None"].contains(name) {
                    throw fail("can't assign to '\(name)'", start)
                }
                targets.append(.name(name))
            }
            if isOp(",") { isTuple = true } else { break }
        }
        guard !targets.isEmpty else { throw fail("expected an assignment target, got \(Self.describe(current.kind))") }
        return isTuple ? .tuple(targets) : targets[0]
    }

    // MARK: Expressions

    private mutating func parseTuple(withCondexpr: Bool = true, endNames: Set<String> = [], explicitParens: Bool = false) throws -> JinjaExpr {
        let start = current.position
        var items: [JinjaExpr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if isTupleEnd(endNames) { break }
            items.append(withCondexpr ? try parseExpression() : try parseOr())
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if let first = items.first { return first }
            if !explicitParens { throw fail("expected an expression, got \(Self.describe(current.kind))") }
        }
        return JinjaExpr(.tuple(items), start)
    }

    private func isTupleEnd(_ endNames: Set<String>) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .eof: return true
        case .op(")"): return true
        case .name(let n): return endNames.contains(n)
        default: return false
        }
    }

    private mutating func parseExpression() throws -> JinjaExpr {
        try enter()
        defer { depth -= 1 }
        var expr = try parseOr()
        while isName("if") {
            let pos = advance().position
            let test = try parseOr()
            var otherwise: JinjaExpr? = nil
            if skipName("else") { otherwise = try parseExpression() }
            expr = JinjaExpr(.conditional(test: test, then: expr, otherwise: otherwise), pos)
        }
        return expr
    }

    private mutating func parseOr() throws -> JinjaExpr {
        var left = try parseAnd()
        while isName("or") {
            let pos = advance().position
            left = JinjaExpr(.or(left, try parseAnd()), pos)
        }
        return left
    }

    private mutating func parseAnd() throws -> JinjaExpr {
        var left = try parseNot()
        while isName("and") {
            let pos = advance().position
            left = JinjaExpr(.and(left, try parseNot()), pos)
        }
        return left
    }

    private mutating func parseNot() throws -> JinjaExpr {
        if isName("not") {
            let pos = advance().position
            try enter()
            defer { depth -= 1 }
            return JinjaExpr(.not(try parseNot()), pos)
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> JinjaExpr {
        let start = current.position
        let expr = try parseMath1()
        var ops: [(String, JinjaExpr)] = []
        while true {
            if case .op(let o) = current.kind, ["==", "!=", "<", ">", "<=", ">="].contains(o) {
                _ = advance()
                ops.append((o, try parseMath1()))
            } else if skipName("in") {
                ops.append(("in", try parseMath1()))
            } else if isName("not"), peek().kind == .name("in") {
                _ = advance()
                _ = advance()
                ops.append(("notin", try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? expr : JinjaExpr(.compare(expr, ops), start)
    }

    private mutating func parseMath1() throws -> JinjaExpr {
        var left = try parseConcat()
        while case .op(let o) = current.kind, o == "+" || o == "-" {
            let pos = advance().position
            left = JinjaExpr(.binary(o, left, try parseConcat()), pos)
        }
        return left
    }

    private mutating func parseConcat() throws -> JinjaExpr {
        let start = current.position
        var args = [try parseMath2()]
        while skipOp("~") { args.append(try parseMath2()) }
        return args.count == 1 ? args[0] : JinjaExpr(.concat(args), start)
    }

    private mutating func parseMath2() throws -> JinjaExpr {
        var left = try parsePow()
        while case .op(let o) = current.kind, ["*", "/", "//", "%"].contains(o) {
            let pos = advance().position
            left = JinjaExpr(.binary(o, left, try parsePow()), pos)
        }
        return left
    }

    private mutating func parsePow() throws -> JinjaExpr {
        var left = try parseUnary()
        while isOp("**") {
            let pos = advance().position
            left = JinjaExpr(.binary("**", left, try parseUnary()), pos)
        }
        return left
    }

    private mutating func parseUnary(withFilter: Bool = true) throws -> JinjaExpr {
        try enter()
        defer { depth -= 1 }
        var node: JinjaExpr
        if isOp("-") {
            let pos = advance().position
            node = JinjaExpr(.negate(try parseUnary(withFilter: false)), pos)
        } else if isOp("+") {
            let pos = advance().position
            node = JinjaExpr(.plus(try parseUnary(withFilter: false)), pos)
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpr(node) }
        return node
    }

    private mutating func parsePrimary() throws -> JinjaExpr {
        let tok = current
        switch tok.kind {
        case .name(let n):
            _ = advance()
            switch n {
            case "true", "True": return JinjaExpr(.literal(.bool(true)), tok.position)
            case "false", "False": return JinjaExpr(.literal(.bool(false)), tok.position)
            case "none", "None": return JinjaExpr(.literal(.none), tok.position)
            default: return JinjaExpr(.name(n), tok.position)
            }
        case .string(let s):
            _ = advance()
            var value = s
            while case .string(let more) = current.kind {
                value += more
                _ = advance()
            }
            return JinjaExpr(.literal(.string(value)), tok.position)
        case .integer(let v):
            _ = advance()
            return JinjaExpr(.literal(.int(v)), tok.position)
        case .float(let v):
            _ = advance()
            return JinjaExpr(.literal(.double(v)), tok.position)
        case .op("("):
            _ = advance()
            let e = try parseTuple(explicitParens: true)
            try expectOp(")")
            return e
        case .op("["):
            _ = advance()
            var items: [JinjaExpr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            try expectOp("]")
            return JinjaExpr(.list(items), tok.position)
        case .op("{"):
            _ = advance()
            var items: [(JinjaExpr, JinjaExpr)] = []
            while !isOp("}") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                items.append((key, try parseExpression()))
            }
            try expectOp("}")
            return JinjaExpr(.dict(items), tok.position)
        default:
            throw fail("unexpected \(Self.describe(tok.kind))")
        }
    }

    private mutating func parsePostfix(_ node: JinjaExpr) throws -> JinjaExpr {
        var node = node
        while true {
            if isOp(".") {
                let pos = advance().position
                let attr = current
                switch attr.kind {
                case .name(let n):
                    _ = advance()
                    node = JinjaExpr(.getattr(node, n), pos)
                case .integer(let v):
                    _ = advance()
                    node = JinjaExpr(.getitem(node, JinjaExpr(.literal(.int(v)), attr.position)), pos)
                default:
                    throw fail("expected name or number")
                }
            } else if isOp("[") {
                let pos = advance().position
                var args: [JinjaExpr] = []
                while !isOp("]") {
                    if !args.isEmpty { try expectOp(",") }
                    args.append(try parseSubscribed())
                }
                try expectOp("]")
                let arg = args.count == 1 ? args[0] : JinjaExpr(.tuple(args), pos)
                node = JinjaExpr(.getitem(node, arg), pos)
            } else if isOp("(") {
                let pos = current.position
                node = JinjaExpr(.call(node, try parseCallArgs()), pos)
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscribed() throws -> JinjaExpr {
        let start = current.position
        var parts: [JinjaExpr?] = []
        if isOp(":") {
            _ = advance()
            parts = [nil]
        } else {
            let e = try parseExpression()
            if !isOp(":") { return e }
            _ = advance()
            parts = [e]
        }
        if isOp(":") || isOp("]") || isOp(",") {
            parts.append(nil)
        } else {
            parts.append(try parseExpression())
        }
        if skipOp(":") {
            parts.append(isOp("]") || isOp(",") ? nil : try parseExpression())
        } else {
            parts.append(nil)
        }
        return JinjaExpr(.slice(parts[0], parts[1], parts[2]), start)
    }

    private mutating func parseCallArgs() throws -> JinjaExpr.Call {
        try expectOp("(")
        var call = JinjaExpr.Call(args: [], kwargs: [])
        var needComma = false
        while !isOp(")") {
            if needComma {
                try expectOp(",")
                if isOp(")") { break }
            }
            if isOp("*") || isOp("**") { throw fail("'*args' and '**kwargs' in calls are not supported") }
            if case .name(let key) = current.kind, peek().kind == .op("=") {
                _ = advance()
                _ = advance()
                call.kwargs.append((key, try parseExpression()))
            } else {
                if !call.kwargs.isEmpty { throw fail("positional argument follows keyword argument") }
                call.args.append(try parseExpression())
            }
            needComma = true
        }
        try expectOp(")")
        return call
    }

    private mutating func parseFilterExpr(_ node: JinjaExpr) throws -> JinjaExpr {
        var node = node
        while true {
            if isOp("|") {
                for (name, call, pos) in try parseFilterChain(startInline: false) {
                    node = JinjaExpr(.filter(node, name, call), pos)
                }
            } else if isName("is") {
                node = try parseTest(node)
            } else if isOp("(") {
                let pos = current.position
                node = JinjaExpr(.call(node, try parseCallArgs()), pos)
            } else {
                return node
            }
        }
    }

    private mutating func parseFilterChain(startInline: Bool) throws -> [(String, JinjaExpr.Call, JinjaPosition)] {
        var filters: [(String, JinjaExpr.Call, JinjaPosition)] = []
        var inline = startInline
        while isOp("|") || inline {
            if !inline { _ = advance() }
            inline = false
            let pos = current.position
            var name = try expectName()
            while skipOp(".") { name += "." + (try expectName()) }
            let call = isOp("(") ? try parseCallArgs() : JinjaExpr.Call(args: [], kwargs: [])
            filters.append((name, call, pos))
        }
        return filters
    }

    private mutating func parseTest(_ node: JinjaExpr) throws -> JinjaExpr {
        let pos = advance().position
        let negated = skipName("not")
        var name = try expectName()
        while skipOp(".") { name += "." + (try expectName()) }
        var call = JinjaExpr.Call(args: [], kwargs: [])
        if isOp("(") {
            call = try parseCallArgs()
        } else {
            var takesArgument: Bool
            switch current.kind {
            case .name(let n): takesArgument = !["else", "or", "and"].contains(n)
            case .string, .integer, .float, .op("["), .op("{"): takesArgument = true
            default: takesArgument = false
            }
            if takesArgument {
                if isName("is") { throw fail("you cannot chain multiple tests with is") }
                call.args = [try parsePostfix(try parsePrimary())]
            }
        }
        let test = JinjaExpr(.test(node, name, call), pos)
        return negated ? JinjaExpr(.not(test), pos) : test
    }
}
