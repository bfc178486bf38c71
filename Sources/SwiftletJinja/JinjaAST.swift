/// An expression with the place it came from, so runtime errors can point at it.
final class JinjaExpr: @unchecked Sendable {
    // Immutable after parsing; shared freely between renders.
    let kind: Kind
    let position: JinjaPosition

    init(_ kind: Kind, _ position: JinjaPosition) {
        self.kind = kind
        self.position = position
    }

    struct Call {
        var args: [JinjaExpr]
        var kwargs: [(String, JinjaExpr)]
    }

    enum Kind {
        case literal(JinjaValue)
        case name(String)
        case list([JinjaExpr])
        /// Tuples behave as lists here; only their Python `repr` would differ.
        case tuple([JinjaExpr])
        case dict([(JinjaExpr, JinjaExpr)])
        case getattr(JinjaExpr, String)
        case getitem(JinjaExpr, JinjaExpr)
        case slice(JinjaExpr?, JinjaExpr?, JinjaExpr?)
        case call(JinjaExpr, Call)
        case filter(JinjaExpr, String, Call)
        case test(JinjaExpr, String, Call)
        case not(JinjaExpr)
        case negate(JinjaExpr)
        case plus(JinjaExpr)
        case binary(String, JinjaExpr, JinjaExpr)
        case and(JinjaExpr, JinjaExpr)
        case or(JinjaExpr, JinjaExpr)
        case compare(JinjaExpr, [(String, JinjaExpr)])
        case concat([JinjaExpr])
        case conditional(test: JinjaExpr, then: JinjaExpr, otherwise: JinjaExpr?)
    }
}

/// Where `set` and `for` store values: a name, `ns.attr`, or a tuple of names to unpack.
indirect enum JinjaTarget {
    case name(String)
    case namespaceAttribute(String, String)
    case tuple([JinjaTarget])
}

/// A statement of the template body.
final class JinjaNode: @unchecked Sendable {
    // Immutable after parsing; shared freely between renders.
    let kind: Kind
    let position: JinjaPosition

    init(_ kind: Kind, _ position: JinjaPosition) {
        self.kind = kind
        self.position = position
    }

    struct Macro {
        var name: String
        var parameters: [String]
        /// Defaults for the trailing parameters, aligned to the end of `parameters`.
        var defaults: [JinjaExpr]
        var body: [JinjaNode]
    }

    enum Kind {
        case text(String)
        case output(JinjaExpr)
        case ifElse(branches: [(JinjaExpr, [JinjaNode])], otherwise: [JinjaNode])
        case forLoop(target: JinjaTarget, iterable: JinjaExpr, filter: JinjaExpr?, body: [JinjaNode], otherwise: [JinjaNode], recursive: Bool)
        case set(JinjaTarget, JinjaExpr)
        case setBlock(JinjaTarget, filters: [(String, JinjaExpr.Call, JinjaPosition)], body: [JinjaNode])
        case macro(Macro)
        case callBlock(Macro, call: JinjaExpr)
        case filterBlock(filters: [(String, JinjaExpr.Call, JinjaPosition)], body: [JinjaNode])
        case with([(JinjaTarget, JinjaExpr)], body: [JinjaNode])
        /// Bodies that render as-is: `{% generation %}` (transformers' assistant-mask marker)
        /// and `{% autoescape %}` (escaping is off for chat templates anyway).
        case scope([JinjaNode])
        case breakLoop
        case continueLoop
    }
}
