import SwiftletFormats

/// Reads JSON from the front of a model's output while it is still being generated: where a value
/// ends, or that it has not ended yet. Tool-call parsers use it to stream a call's name as soon as
/// it is complete and its arguments while they grow.
///
/// Works on UTF-8 bytes; every position it returns is at an ASCII delimiter, so slices between
/// them are whole characters.
enum PartialJSON {
    /// How far a value reaches.
    enum Extent: Equatable {
        /// The value ends just before this offset.
        case complete(Int)
        /// The text ends inside the value.
        case incomplete
        /// Not the start of a JSON value.
        case invalid
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }

    static func skipSpace(_ b: [UInt8], _ i: Int) -> Int {
        var i = i
        while i < b.count, isSpace(b[i]) { i += 1 }
        return i
    }

    /// The extent of the value starting at `start` (no leading whitespace). Brackets and strings are
    /// matched; the value's own validity is checked by parsing it once complete.
    static func valueExtent(_ b: [UInt8], from start: Int) -> Extent {
        guard start < b.count else { return .incomplete }
        switch b[start] {
        case UInt8(ascii: "\""):
            var i = start + 1
            while i < b.count {
                if b[i] == UInt8(ascii: "\\") { i += 2; continue }
                if b[i] == UInt8(ascii: "\"") { return .complete(i + 1) }
                i += 1
            }
            return .incomplete
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0, i = start, inString = false
            while i < b.count {
                let c = b[i]
                if inString {
                    if c == UInt8(ascii: "\\") { i += 2; continue }
                    if c == UInt8(ascii: "\"") { inString = false }
                } else if c == UInt8(ascii: "\"") {
                    inString = true
                } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                    depth += 1
                } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { return .complete(i + 1) }
                }
                i += 1
            }
            return .incomplete
        default:
            // Numbers, true, false, null: they end at the first byte that cannot continue them.
            var i = start
            while i < b.count, isScalarByte(b[i]) { i += 1 }
            if i == start { return .invalid }
            return i == b.count ? .incomplete : .complete(i)
        }
    }

    private static func isScalarByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == 0x2B || c == 0x2D || c == 0x2E
    }

    /// One key of an object read so far: its value's bytes and whether they are all there.
    struct Field {
        var key: String
        var raw: [UInt8]
        var complete: Bool
    }

    /// An object read from a prefix of the output.
    struct Object {
        var fields: [Field] = []
        /// The offset just past the closing brace, once it has been read.
        var end: Int?

        func field(_ key: String) -> Field? { fields.first { $0.key == key } }

        /// The complete string value of `key`.
        func string(_ key: String) -> String? {
            guard let f = field(key), f.complete, case .string(let s)? = try? JSONValue.parse(String(decoding: f.raw, as: UTF8.self))
            else { return nil }
            return s
        }
    }

    /// Reads the object starting at `start`; nil when the text there is not (the start of) an object.
    static func object(_ b: [UInt8], from start: Int) -> Object? {
        var o = Object()
        guard start < b.count else { return o }
        guard b[start] == UInt8(ascii: "{") else { return nil }
        var i = skipSpace(b, start + 1)
        if i < b.count, b[i] == UInt8(ascii: "}") {
            o.end = i + 1
            return o
        }
        while i < b.count {
            guard b[i] == UInt8(ascii: "\"") else { return nil }
            guard case .complete(let keyEnd) = valueExtent(b, from: i) else { return o }
            guard case .string(let key)? = try? JSONValue.parse(String(decoding: b[i..<keyEnd], as: UTF8.self)) else { return nil }
            i = skipSpace(b, keyEnd)
            guard i < b.count else { return o }
            guard b[i] == UInt8(ascii: ":") else { return nil }
            i = skipSpace(b, i + 1)
            guard i < b.count else { return o }
            switch valueExtent(b, from: i) {
            case .invalid: return nil
            case .incomplete:
                o.fields.append(Field(key: key, raw: Array(b[i...]), complete: false))
                return o
            case .complete(let end):
                o.fields.append(Field(key: key, raw: Array(b[i..<end]), complete: true))
                i = skipSpace(b, end)
            }
            guard i < b.count else { return o }
            if b[i] == UInt8(ascii: "}") {
                o.end = i + 1
                return o
            }
            guard b[i] == UInt8(ascii: ",") else { return nil }
            i = skipSpace(b, i + 1)
        }
        return o
    }
}
