import Foundation

/// Executes a parsed template. One interpreter serves one render.
final class JinjaInterpreter {
    private let root: JinjaScope
    /// Scopes that may hold macros, whose closures point back at them; cleared after the
    /// render to break those reference cycles.
    private var scopesToClear: [JinjaScope] = []
    private var callDepth = 0
    /// Limits on a template's own recursion and output, since templates come with model files.
    static let maxCallDepth = 40
    static let maxOutputBytes = 64 << 20

    init(globals: [String: JinjaValue]) {
        let g = JinjaScope(parent: nil)
        g.vars = JinjaBuiltins.globals()
        for (k, v) in globals { g.vars[k] = v }
        root = g.child()
        scopesToClear = [g, root]
    }

    func render(_ nodes: [JinjaNode]) throws -> String {
        defer {
            for s in scopesToClear { s.vars.removeAll() }
            scopesToClear.removeAll()
        }
        var out = ""
        _ = try exec(nodes, root, &out)
        return out
    }

    private enum Flow { case normal, breakLoop, continueLoop }

    // MARK: Statements

    private func exec(_ nodes: [JinjaNode], _ scope: JinjaScope, _ out: inout String) throws -> Flow {
        for node in nodes {
            let flow = try exec(node, scope, &out)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private func exec(_ node: JinjaNode, _ scope: JinjaScope, _ out: inout String) throws -> Flow {
        switch node.kind {
        case .text(let t):
            out += t
        case .output(let e):
            out += try eval(e, scope).pythonStr
            if out.utf8.count > Self.maxOutputBytes {
                throw JinjaError(.runtime, "template output exceeds \(Self.maxOutputBytes) bytes", at: node.position)
            }
        case .ifElse(let branches, let otherwise):
            for (test, body) in branches where try eval(test, scope).isTruthy {
                return try exec(body, scope, &out)
            }
            return try exec(otherwise, scope, &out)
        case .forLoop(let target, let iterable, let filter, let body, let otherwise, _):
            return try execFor(target, iterable, filter, body, otherwise, scope, &out)
        case .set(let target, let expr):
            try assign(target, try eval(expr, scope), scope, node.position)
        case .setBlock(let target, let filters, let body):
            var captured = ""
            _ = try exec(body, scope, &captured)
            var value = JinjaValue.string(captured)
            for (name, call, pos) in filters {
                value = try applyFilter(name, value, call, scope, pos)
            }
            try assign(target, value, scope, node.position)
        case .macro(let m):
            scope.vars[m.name] = makeMacro(m, scope)
            scopesToClear.append(scope)
        case .callBlock(let m, let call):
            guard case .call(let calleeExpr, let args) = call.kind else { break }
            let callee = try eval(calleeExpr, scope)
            var kwargs = try args.kwargs.map { ($0.0, try eval($0.1, scope)) }
            kwargs.append(("caller", makeMacro(m, scope)))
            scopesToClear.append(scope)
            out += try callFunction(callee, try args.args.map { try eval($0, scope) }, kwargs, call.position).pythonStr
        case .filterBlock(let filters, let body):
            var captured = ""
            _ = try exec(body, scope, &captured)
            var value = JinjaValue.string(captured)
            for (name, call, pos) in filters {
                value = try applyFilter(name, value, call, scope, pos)
            }
            out += value.pythonStr
        case .with(let assignments, let body):
            let inner = scope.child()
            for (target, expr) in assignments {
                // Values see the outer scope, as in Jinja.
                try assign(target, try eval(expr, scope), inner, node.position)
            }
            return try exec(body, inner, &out)
        case .scope(let body):
            return try exec(body, scope, &out)
        case .breakLoop:
            return .breakLoop
        case .continueLoop:
            return .continueLoop
        }
        return .normal
    }

    private func execFor(
        _ target: JinjaTarget, _ iterableExpr: JinjaExpr, _ filter: JinjaExpr?, _ body: [JinjaNode],
        _ otherwise: [JinjaNode], _ scope: JinjaScope, _ out: inout String
    ) throws -> Flow {
        var items = try iterate(try eval(iterableExpr, scope), iterableExpr.position)
        if let filter {
            items = try items.filter { item in
                let s = scope.child()
                try assign(target, item, s, filter.position)
                return try eval(filter, s).isTruthy
            }
        }
        if items.isEmpty {
            return try exec(otherwise, scope.child(), &out)
        }
        // Depth grows only through recursive loops (not supported here), so plain nesting stays at 1.
        let depth = 1
        let changedState = ChangedState()
        let n = items.count
        for (index, item) in items.enumerated() {
            let s = scope.child()
            try assign(target, item, s, iterableExpr.position)
            var loop = JinjaObject()
            loop["index"] = .int(index + 1)
            loop["index0"] = .int(index)
            loop["revindex"] = .int(n - index)
            loop["revindex0"] = .int(n - index - 1)
            loop["first"] = .bool(index == 0)
            loop["last"] = .bool(index == n - 1)
            loop["length"] = .int(n)
            loop["depth"] = .int(depth)
            loop["depth0"] = .int(depth - 1)
            loop["previtem"] = index > 0 ? items[index - 1] : .undefined(hint: "there is no previous item")
            loop["nextitem"] = index < n - 1 ? items[index + 1] : .undefined(hint: "there is no next item")
            loop["cycle"] = .function(JinjaFunction(name: "cycle") { args, _ in
                guard !args.isEmpty else { throw JinjaError(.runtime, "no items for cycling given") }
                return args[index % args.count]
            })
            loop["changed"] = .function(JinjaFunction(name: "changed") { args, _ in
                let value = JinjaValue.array(args)
                if changedState.last == value { return .bool(false) }
                changedState.last = value
                return .bool(true)
            })
            s.vars["loop"] = .object(loop)
            let flow = try exec(body, s, &out)
            if flow == .breakLoop { break }
        }
        return .normal
    }

    private final class ChangedState { var last: JinjaValue? }

    /// The items a `for` loop or filter walks: list elements, a string's characters, a dict's keys.
    func iterate(_ value: JinjaValue, _ pos: JinjaPosition) throws -> [JinjaValue] {
        switch value {
        case .array(let a): return a
        case .object(let o): return o.keyValues
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        default: throw JinjaError(.runtime, "'\(value.typeName)' object is not iterable", at: pos)
        }
    }

    private func assign(_ target: JinjaTarget, _ value: JinjaValue, _ scope: JinjaScope, _ pos: JinjaPosition) throws {
        switch target {
        case .name(let n):
            scope.vars[n] = value
        case .namespaceAttribute(let n, let attr):
            guard case .namespace(let ns)? = scope.lookup(n) else {
                throw JinjaError(.runtime, "cannot assign attribute on non-namespace object '\(n)'", at: pos)
            }
            ns.attributes[attr] = value
        case .tuple(let targets):
            let items = try iterate(value, pos)
            guard items.count == targets.count else {
                let what = items.count < targets.count ? "not enough" : "too many"
                throw JinjaError(.runtime, "\(what) values to unpack (expected \(targets.count), got \(items.count))", at: pos)
            }
            for (t, v) in zip(targets, items) { try assign(t, v, scope, pos) }
        }
    }

    private func makeMacro(_ m: JinjaNode.Macro, _ defining: JinjaScope) -> JinjaValue {
        .function(JinjaFunction(name: m.name) { [unowned self] args, kwargs in
            let s = defining.child()
            var remaining = kwargs
            let firstDefault = m.parameters.count - m.defaults.count
            for (i, p) in m.parameters.enumerated() {
                if i < args.count {
                    s.vars[p] = args[i]
                } else if let k = remaining.firstIndex(where: { $0.0 == p }) {
                    s.vars[p] = remaining.remove(at: k).1
                } else if i >= firstDefault {
                    s.vars[p] = try self.eval(m.defaults[i - firstDefault], s)
                } else {
                    s.vars[p] = .undefined(hint: "parameter '\(p)' was not provided")
                }
            }
            s.vars["varargs"] = .array(Array(args.dropFirst(m.parameters.count)))
            if let k = remaining.firstIndex(where: { $0.0 == "caller" }) {
                s.vars["caller"] = remaining.remove(at: k).1
            }
            s.vars["kwargs"] = .object(JinjaObject(remaining))
            self.callDepth += 1
            defer { self.callDepth -= 1 }
            if self.callDepth > Self.maxCallDepth {
                throw JinjaError(.runtime, "macro '\(m.name)' recursed more than \(Self.maxCallDepth) levels")
            }
            var out = ""
            _ = try self.exec(m.body, s, &out)
            self.scopesToClear.append(s)
            return .string(out)
        })
    }

    // MARK: Expressions

    func eval(_ expr: JinjaExpr, _ scope: JinjaScope) throws -> JinjaValue {
        let pos = expr.position
        switch expr.kind {
        case .literal(let v):
            return v
        case .name(let n):
            return scope.lookup(n) ?? .undefinedName(n)
        case .list(let items), .tuple(let items):
            return .array(try items.map { try eval($0, scope) })
        case .dict(let pairs):
            var o = JinjaObject()
            for (k, v) in pairs {
                let key = try eval(k, scope)
                guard o.set(key: key, try eval(v, scope)) else {
                    throw JinjaError(.runtime, "unhashable type: '\(key.typeName)'", at: k.position)
                }
            }
            return .object(o)
        case .getattr(let base, let name):
            let b = try eval(base, scope)
            if case .undefined(let hint) = b { throw JinjaError(.runtime, hint, at: pos) }
            return JinjaBuiltins.getAttribute(b, name)
        case .getitem(let base, let index):
            let b = try eval(base, scope)
            if case .undefined(let hint) = b { throw JinjaError(.runtime, hint, at: pos) }
            if case .slice(let start, let stop, let step) = index.kind {
                return try JinjaBuiltins.slice(
                    b, start.map { try eval($0, scope) }, stop.map { try eval($0, scope) },
                    step.map { try eval($0, scope) }, pos)
            }
            return JinjaBuiltins.getItem(b, try eval(index, scope))
        case .slice:
            throw JinjaError(.runtime, "slice outside of a subscript", at: pos)
        case .call(let calleeExpr, let call):
            let callee = try eval(calleeExpr, scope)
            let args = try call.args.map { try eval($0, scope) }
            let kwargs = try call.kwargs.map { ($0.0, try eval($0.1, scope)) }
            return try callFunction(callee, args, kwargs, pos)
        case .filter(let base, let name, let call):
            return try applyFilter(name, try eval(base, scope), call, scope, pos)
        case .test(let base, let name, let call):
            let value = try eval(base, scope)
            let args = try call.args.map { try eval($0, scope) }
            return .bool(try runTest(name, value, args, pos))
        case .not(let e):
            return .bool(!(try eval(e, scope).isTruthy))
        case .negate(let e):
            let v = try eval(e, scope)
            switch v {
            case .int(let i): return .int(-i)
            case .bool(let b): return .int(b ? -1 : 0)
            case .double(let d): return .double(-d)
            case .undefined(let hint): throw JinjaError(.runtime, hint, at: pos)
            default: throw JinjaError(.runtime, "bad operand type for unary -: '\(v.typeName)'", at: pos)
            }
        case .plus(let e):
            let v = try eval(e, scope)
            guard v.asNumber != nil else {
                if case .undefined(let hint) = v { throw JinjaError(.runtime, hint, at: pos) }
                throw JinjaError(.runtime, "bad operand type for unary +: '\(v.typeName)'", at: pos)
            }
            if case .bool(let b) = v { return .int(b ? 1 : 0) }
            return v
        case .binary(let op, let l, let r):
            var a = try eval(l, scope), b = try eval(r, scope)
            if op == "+" {
                // Python's Markup (from `|safe`/`|e`) escapes a plain string added to it, even
                // with autoescaping off; tracked through the expression rather than the value.
                let (ml, mr) = (Self.isMarkup(l), Self.isMarkup(r))
                if ml && !mr, case .string(let s) = b { b = .string(JinjaFilters.htmlEscape(s)) }
                if mr && !ml, case .string(let s) = a { a = .string(JinjaFilters.htmlEscape(s)) }
            }
            return try JinjaOperators.binary(op, a, b, pos)
        case .and(let l, let r):
            let a = try eval(l, scope)
            return a.isTruthy ? try eval(r, scope) : a
        case .or(let l, let r):
            let a = try eval(l, scope)
            return a.isTruthy ? a : try eval(r, scope)
        case .compare(let first, let ops):
            var left = try eval(first, scope)
            for (op, rightExpr) in ops {
                let right = try eval(rightExpr, scope)
                if !(try JinjaOperators.compare(op, left, right, pos)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .concat(let parts):
            var s = ""
            for p in parts { s += try eval(p, scope).pythonStr }
            return .string(s)
        case .conditional(let test, let then, let otherwise):
            if try eval(test, scope).isTruthy { return try eval(then, scope) }
            if let otherwise { return try eval(otherwise, scope) }
            return .undefined(hint: "the inline if-expression evaluated to false and no else section was defined")
        }
    }

    private static func isMarkup(_ e: JinjaExpr) -> Bool {
        switch e.kind {
        case .filter(_, let name, _): return ["safe", "e", "escape", "forceescape"].contains(name)
        case .binary("+", let l, let r): return isMarkup(l) || isMarkup(r)
        default: return false
        }
    }

    func callFunction(_ callee: JinjaValue, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)], _ pos: JinjaPosition) throws -> JinjaValue {
        switch callee {
        case .function(let f):
            do {
                return try f.call(args, kwargs)
            } catch var e as JinjaError {
                if e.position == nil { e.position = pos }
                throw e
            }
        case .undefined(let hint):
            throw JinjaError(.runtime, hint, at: pos)
        default:
            throw JinjaError(.runtime, "'\(callee.typeName)' object is not callable", at: pos)
        }
    }

    // MARK: Filters and tests

    private func applyFilter(_ name: String, _ value: JinjaValue, _ call: JinjaExpr.Call, _ scope: JinjaScope, _ pos: JinjaPosition) throws -> JinjaValue {
        let args = try call.args.map { try eval($0, scope) }
        let kwargs = try call.kwargs.map { ($0.0, try eval($0.1, scope)) }
        return try applyFilter(name, value, args, kwargs, pos)
    }

    /// Runs filter `name`; also used by `map`, which names a filter to apply to each item.
    func applyFilter(_ name: String, _ value: JinjaValue, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)], _ pos: JinjaPosition) throws -> JinjaValue {
        do {
            return try JinjaFilters.apply(name, value, JinjaArguments(args, kwargs), self, pos)
        } catch var e as JinjaError {
            if e.position == nil { e.position = pos }
            throw e
        }
    }

    /// Runs test `name` (`value is name(args)`); also used by `select` and `selectattr`.
    func runTest(_ name: String, _ value: JinjaValue, _ args: [JinjaValue], _ pos: JinjaPosition) throws -> Bool {
        do {
            return try JinjaPredicates.run(name, value, args, self, pos)
        } catch var e as JinjaError {
            if e.position == nil { e.position = pos }
            throw e
        }
    }
}
