/// Template data, `{{ … }}` output and block tags, each tag parsed with its body up to the
/// matching end tag.
extension JinjaParser {
    /// Parses nodes until a block tag whose name is in `end` (consumed along with its `{%`),
    /// or the end of the template when `end` is empty.
    mutating func subparse(until end: Set<String>) throws -> ([JinjaNode], String?) {
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
}
