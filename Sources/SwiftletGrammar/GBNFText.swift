/// Writing GBNF: literals and classes escaped so that any string or code point survives the
/// round trip through `GBNFParser`. Public so that grammars composed above this floor (tool
/// calls) quote their text the same way.
public enum GBNFText {
    /// `s` as a GBNF string literal.
    public static func literal(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars { out += escaped(scalar, inClass: false) }
        return out + "\""
    }

    /// One code point for use inside `"..."` or `[...]`.
    static func escaped(_ scalar: Unicode.Scalar, inClass: Bool) -> String {
        switch scalar {
        case "\"": return "\\\""
        case "\\": return "\\\\"
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case "[", "]", "-", "^": return inClass ? "\\" + String(scalar) : String(scalar)
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                return "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
            }
            return String(scalar)
        }
    }

    /// A rule name derived from free text (a property name, a $defs key): GBNF names allow only
    /// letters, digits, `-` and `_`.
    static func sanitizedName(_ s: String) -> String {
        let mapped = s.unicodeScalars.map { c -> Character in
            (("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)) ? Character(c) : "-"
        }
        let name = String(mapped.prefix(40))
        return name.isEmpty ? "x" : name
    }

    static func isValidRuleName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { c in
            (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 45 || c == 95
        }
    }
}
