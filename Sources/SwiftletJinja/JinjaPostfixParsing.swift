/// What follows an operand: attribute and item access, slices, calls, filters and `is` tests.
extension JinjaParser {
    mutating func parsePostfix(_ node: JinjaExpr) throws -> JinjaExpr {
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

    mutating func parseFilterExpr(_ node: JinjaExpr) throws -> JinjaExpr {
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

    mutating func parseFilterChain(startInline: Bool) throws -> [(String, JinjaExpr.Call, JinjaPosition)] {
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
