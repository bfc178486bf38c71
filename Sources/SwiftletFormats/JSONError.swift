/// Why a JSON text could not be read: the problem and the byte where it was found.
public struct JSONError: Error, CustomStringConvertible, Equatable {
    public let reason: String
    public let offset: Int

    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}
