/// A position in template source: 1-based line and column (column counts characters).
public struct JinjaPosition: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// Why a template failed to parse or render.
public struct JinjaError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The template text is not valid Jinja.
        case syntax
        /// Rendering failed: an undefined value used, a type error, an unknown filter...
        case runtime
        /// The template itself called `raise_exception(message)`, typically to reject a
        /// conversation shape it does not support; `message` is the template's text.
        case raised
    }

    public var kind: Kind
    public var message: String
    /// Where in the template; nil only when the position is unknown.
    public var position: JinjaPosition?

    public init(_ kind: Kind, _ message: String, at position: JinjaPosition? = nil) {
        self.kind = kind
        self.message = message
        self.position = position
    }

    public var description: String {
        let what: String
        switch kind {
        case .syntax: what = "template syntax error"
        case .runtime: what = "template error"
        case .raised: what = "template raised"
        }
        if let position { return "\(what) at \(position): \(message)" }
        return "\(what): \(message)"
    }
}
