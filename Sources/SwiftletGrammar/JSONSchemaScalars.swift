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

    /// Numbers with the sign the bounds imply (a lower bound >= 0 forbids "-", an upper bound
    /// <= 0 requires it or zero); the magnitude is not bounded.
    func number(_ schema: JSONValue, path: String) throws -> String {
        let (lower, upper) = try bounds(schema, path: path)
        let fraction = #"( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?"#
        if let lower, lower.value >= 0 {
            if let upper, upper.value < lower.value { throw GrammarError("no number at \(path) lies within its bounds") }
            return define("number-nonnegative", "\(primitive("uint")) \(fraction)")
        }
        if let upper, upper.value <= 0 {
            let zero = upper.value == 0 && !upper.exclusive ? " | \"0\" ( \".\" \"0\"{1,16} )?" : ""
            return define("number-nonpositive", "\"-\" ( \"0\" ( \".\" [0-9]{0,15} [1-9] ) | [1-9] [0-9]{0,15} \(fraction) )\(zero)")
        }
        return primitive("number")
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
