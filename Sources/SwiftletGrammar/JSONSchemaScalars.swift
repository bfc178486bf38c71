import SwiftletFormats

/// Strings (lengths, patterns, formats) and numbers (bounds).
extension JSONSchemaConverter {
    func string(_ schema: JSONValue, path: String) throws -> String {
        let minLength = max(0, schema["minLength"].int ?? 0)
        let maxLength = schema["maxLength"].int
        if let maxLength, maxLength < minLength { throw GrammarError("'maxLength' at \(path) is below 'minLength'") }
        if let pattern = schema["pattern"].string {
            if schema["minLength"] != .null || maxLength != nil || schema["format"].string.map(Self.formats.keys.contains) == true {
                throw GrammarError("'pattern' at \(path) together with 'minLength', 'maxLength' or 'format' is not supported")
            }
            let rule = uniqueName(hint(path) + "-pattern")
            lines.append(try RegexGrammar.gbnfRules(pattern: pattern, rootRule: rule, mode: .jsonStringSearch).trimmingSuffixNewline())
            return define(hint(path) + "-string", "\"\\\"\" \(rule) \"\\\"\"")
        }
        if let format = schema["format"].string, let body = Self.formats[format] {
            if schema["minLength"] != .null || maxLength != nil {
                throw GrammarError("'format' \(format) at \(path) together with 'minLength' or 'maxLength' is not supported")
            }
            return define("format-" + format, "\"\\\"\" \(body) \"\\\"\"")
        }
        if minLength == 0 && maxLength == nil { return primitive("string") }
        if let maxLength, maxLength > GrammarBuilder.maxRepetition {
            throw GrammarError("'maxLength' at \(path) is above \(GrammarBuilder.maxRepetition)")
        }
        return define(hint(path) + "-string", "\"\\\"\" \(primitive("char")){\(minLength),\(maxLength.map(String.init) ?? "")} \"\\\"\"")
    }

    /// Formats as GBNF over the string's characters (none of which needs a JSON escape).
    static let formats: [String: String] = {
        let date = #"[0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] )"#
        let time = #"( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" ( [0-5] [0-9] | "60" ) ( "." [0-9]{1,9} )? ( [Zz] | [+\-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )"#
        let hex = "[0-9a-fA-F]"
        return [
            "date": date,
            "time": time,
            "date-time": "\(date) [Tt ] \(time)",
            "uuid": "\(hex){8} \"-\" \(hex){4} \"-\" \(hex){4} \"-\" \(hex){4} \"-\" \(hex){12}",
            "email": #"[a-zA-Z0-9!#$%&'*+/=?\^_`{|}~\-]+ ( "." [a-zA-Z0-9!#$%&'*+/=?\^_`{|}~\-]+ )* "@" [a-zA-Z0-9] ( [a-zA-Z0-9\-]* [a-zA-Z0-9] )? ( "." [a-zA-Z0-9] ( [a-zA-Z0-9\-]* [a-zA-Z0-9] )? )+"#,
        ]
    }()

    /// Integers within the bounds exactly (`IntegerRangeGrammar`); fractional bounds round inward.
    func integer(_ schema: JSONValue, path: String) throws -> String {
        let (lower, upper) = try bounds(schema, path: path)
        var lo = lower.map { $0.exclusive && $0.value == $0.value.rounded(.up) ? $0.value + 1 : $0.value.rounded(.up) }
        var hi = upper.map { $0.exclusive && $0.value == $0.value.rounded(.down) ? $0.value - 1 : $0.value.rounded(.down) }
        let limit = Double(IntegerRangeGrammar.maxMagnitude)
        lo = lo.map { max($0, -limit) }
        hi = hi.map { min($0, limit) }
        if lo == nil && hi == nil { return primitive("integer") }
        if let lo, let hi, lo > hi { throw GrammarError("no integer at \(path) lies within its bounds") }
        return define(hint(path) + "-integer", IntegerRangeGrammar.expression(lo.map { Int($0) }, hi.map { Int($0) }))
    }

    /// Numbers within the bounds. Every number the grammar allows lies within them; near a
    /// bound that is not a whole number some do not get in (with a maximum of 2.5, 2.3 is not
    /// produced: a whole part of 2 could be followed by any fraction). Bounded numbers are
    /// written without an exponent. Bounds so narrow that no such number fits are refused, never
    /// left unenforced.
    func number(_ schema: JSONValue, path: String) throws -> String {
        let (lower, upper) = try bounds(schema, path: path)
        if lower == nil && upper == nil { return primitive("number") }
        if let lower, let upper, lower.value > upper.value { throw GrammarError("no number at \(path) lies within its bounds") }
        let limit = Double(IntegerRangeGrammar.maxMagnitude)
        func whole(_ x: Double) -> Int { Int(max(-limit, min(limit, x))) }
        var alternatives: [String] = []
        // Whole numbers, exactly as for integers.
        let lo = lower.map { $0.exclusive && $0.value == $0.value.rounded(.up) ? $0.value + 1 : $0.value.rounded(.up) }
        let hi = upper.map { $0.exclusive && $0.value == $0.value.rounded(.down) ? $0.value - 1 : $0.value.rounded(.down) }
        if lo == nil || hi == nil || lo! <= hi! { alternatives.append(IntegerRangeGrammar.expression(lo.map(whole), hi.map(whole))) }
        let fraction = #""." [0-9]{1,16}"#
        // "n.f" with n >= 0 lies in [n, n + 1): within the bounds when n reaches the lower one
        // (passes it, if exclusive: the fraction may be all zeros) and n + 1 does not pass the upper.
        let posLo = max(0, lower.map { $0.exclusive ? $0.value.rounded(.down) + 1 : $0.value.rounded(.up) } ?? 0)
        let posHi = upper.map { $0.value.rounded(.down) - 1 }
        if posHi.map({ posLo <= $0 }) ?? true {
            alternatives.append("( \(IntegerRangeGrammar.nonNegative(whole(posLo), posHi.map(whole))) ) \(fraction)")
        }
        // "-n.f" lies in (-(n + 1), -n]: the same with the bounds mirrored.
        let negLo = max(0, upper.map { $0.exclusive ? (-$0.value).rounded(.down) + 1 : (-$0.value).rounded(.up) } ?? 0)
        let negHi = lower.map { (-$0.value).rounded(.down) - 1 }
        if negHi.map({ negLo <= $0 }) ?? true {
            alternatives.append("\"-\" ( \(IntegerRangeGrammar.nonNegative(whole(negLo), negHi.map(whole))) ) \(fraction)")
        }
        // At an exclusive whole bound the whole part may still be the bound's, with a fraction
        // that is not all zeros (1.5 above an exclusive minimum of 1).
        let nonZeroFraction = #""." [0-9]{0,15} [1-9]"#
        if let lower, lower.exclusive, lower.value >= 0, lower.value == lower.value.rounded(), posHi.map({ lower.value <= $0 }) ?? true {
            alternatives.append("\"\(whole(lower.value))\" \(nonZeroFraction)")
        }
        if let upper, upper.exclusive, upper.value <= 0, upper.value == upper.value.rounded(), negHi.map({ -upper.value <= $0 }) ?? true {
            alternatives.append("\"-\(whole(-upper.value))\" \(nonZeroFraction)")
        }
        if alternatives.isEmpty {
            throw GrammarError("the bounds of the number at \(path) are too narrow to enforce (no whole part fits between them)")
        }
        return define(hint(path) + "-number", alternatives.map { "( \($0) )" }.joined(separator: " | "))
    }

    /// Lower and upper bounds, from draft 6+ numeric `exclusive*` or draft 4 boolean ones.
    private func bounds(_ schema: JSONValue, path: String) throws -> ((value: Double, exclusive: Bool)?, (value: Double, exclusive: Bool)?) {
        var lower: (value: Double, exclusive: Bool)? = schema["minimum"].double.map { ($0, schema["exclusiveMinimum"].bool == true) }
        var upper: (value: Double, exclusive: Bool)? = schema["maximum"].double.map { ($0, schema["exclusiveMaximum"].bool == true) }
        if let x = schema["exclusiveMinimum"].double, lower == nil || x >= lower!.value { lower = (x, true) }
        if let x = schema["exclusiveMaximum"].double, upper == nil || x <= upper!.value { upper = (x, true) }
        for (key, value) in [("minimum", schema["minimum"]), ("maximum", schema["maximum"])] where value != .null && value.double == nil {
            throw GrammarError("'\(key)' at \(path) must be a number")
        }
        return (lower, upper)
    }
}

extension String {
    func trimmingSuffixNewline() -> String { hasSuffix("\n") ? String(dropLast()) : self }
}
