import Foundation

extension JinjaFilters.Call {
    /// Filters that convert to or compute with numbers, with Python's parsing and rounding.
    func numberFilter() throws -> JinjaValue? {
        switch name {
        case "abs":
            try noArgs()
            switch value {
            case .int(let i): return .int(abs(i))
            case .double(let d): return .double(abs(d))
            case .bool(let x): return .int(x ? 1 : 0)
            default: throw fail("bad operand type for abs(): '\(value.typeName)'")
            }
        case "int":
            let b = try a.bind(["default", "base"], name)
            return JinjaFilters.toInt(value, base: b[1]?.asInt ?? 10) ?? b[0] ?? .int(0)
        case "float":
            let b = try a.bind(["default"], name)
            return JinjaFilters.toFloat(value).map { .double($0) } ?? b[0] ?? .double(0)
        case "round":
            let b = try a.bind(["precision", "method"], name)
            let precision = b[0]?.asInt ?? 0
            let method = b[1]?.pythonStr ?? "common"
            guard let x = value.asNumber else { throw fail("round requires a number") }
            let scale = pow(10.0, Double(precision))
            switch method {
            case "common":
                if case .int = value, precision >= 0 { return value }
                return .double(JinjaFilters.pythonRound(x, precision))
            case "ceil": return .double((x * scale).rounded(.up) / scale)
            case "floor": return .double((x * scale).rounded(.down) / scale)
            default: throw fail("method must be common, ceil or floor")
            }
        default:
            return nil
        }
    }
}

extension JinjaFilters {
    fileprivate static func toInt(_ v: JinjaValue, base: Int) -> JinjaValue? {
        switch v {
        case .int, .bool: return .int(v.asInt!)
        case .double(let d): return d.isFinite ? .int(Int(d.rounded(.towardZero))) : nil
        case .string(let s):
            var t = s.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "_", with: "")
            var negative = false
            if t.hasPrefix("-") || t.hasPrefix("+") {
                negative = t.hasPrefix("-")
                t.removeFirst()
            }
            var radix = base
            let lower = t.lowercased()
            if base == 16 && lower.hasPrefix("0x") || base == 8 && lower.hasPrefix("0o") || base == 2 && lower.hasPrefix("0b") {
                t.removeFirst(2)
            } else if base == 0 {
                radix = lower.hasPrefix("0x") ? 16 : lower.hasPrefix("0o") ? 8 : lower.hasPrefix("0b") ? 2 : 10
                if radix != 10 { t.removeFirst(2) }
            }
            if let i = Int(t, radix: radix) { return .int(negative ? -i : i) }
            if let d = toFloat(v), d.isFinite { return .int(Int(d.rounded(.towardZero))) }
            return nil
        default: return nil
        }
    }

    fileprivate static func toFloat(_ v: JinjaValue) -> Double? {
        switch v {
        case .int, .bool, .double: return v.asNumber
        case .string(let s):
            let t = s.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "_", with: "").lowercased()
            switch t {
            case "inf", "+inf", "infinity", "+infinity": return .infinity
            case "-inf", "-infinity": return -.infinity
            case "nan", "+nan", "-nan": return .nan
            default:
                guard !t.isEmpty, t.allSatisfy({ "0123456789.e+-".contains($0) }) else { return nil }
                return Double(t)
            }
        default: return nil
        }
    }

    /// Python's `round(x, n)`: round half to even on the exact decimal value.
    fileprivate static func pythonRound(_ x: Double, _ n: Int) -> Double {
        guard x.isFinite else { return x }
        // Python rounds the exactly represented value; formatting with enough digits and
        // letting Foundation round half-even reproduces that for all practical inputs.
        let s = String(format: "%.\(max(0, n))f", x)
        if n >= 0 { return Double(s) ?? x }
        let scale = pow(10.0, Double(-n))
        return (x / scale).rounded(.toNearestOrEven) * scale
    }
}
