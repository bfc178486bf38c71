/// Expressions from the loosest binding (conditional, `or`) down to literals, one function per
/// precedence level.
extension JinjaParser {
    mutating func parseTuple(withCondexpr: Bool = true, endNames: Set<String> = [], explicitParens: Bool = false) throws -> JinjaExpr {
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

    mutating func parseExpression() throws -> JinjaExpr {
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

    mutating func parsePrimary() throws -> JinjaExpr {
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
}
