/// Why a grammar, JSON schema or regular expression cannot be compiled: the message names the
/// place (line and column for GBNF, offset for a regex, the JSON pointer for a schema) and the
/// problem, so that it can be returned to a client as a 400.
public struct GrammarError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
