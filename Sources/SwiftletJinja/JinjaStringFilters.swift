import Foundation

extension JinjaFilters.Call {
    /// Filters that take the value's string form.
    func stringFilter() throws -> JinjaValue? {
        switch name {
        case "upper":
            try noArgs()
            return .string(PyString.upper(value.pythonStr))
        case "lower":
            try noArgs()
            return .string(PyString.lower(value.pythonStr))
        case "capitalize":
            try noArgs()
            return .string(PyString.capitalize(value.pythonStr))
        case "title":
            try noArgs()
            return .string(JinjaFilters.titleFilter(value.pythonStr))
        case "trim":
            let chars = try a.bind(["chars"], name)[0].orNone?.pythonStr
            return .string(PyString.strip(value.pythonStr, chars, leading: true, trailing: true))
        case "string":
            try noArgs()
            return .string(value.pythonStr)
        case "safe", "e", "escape", "forceescape":
            try noArgs()
            if name == "safe" { return value }
            return .string(JinjaFilters.htmlEscape(value.pythonStr))
        case "replace":
            let b = try a.bind(["old", "new", "count"], name)
            guard let old = b[0], let new = b[1] else { throw fail("replace requires old and new") }
            return .string(PyString.replace(value.pythonStr, old.pythonStr, new.pythonStr, b[2].orNone?.asInt ?? -1))
        case "indent":
            let b = try a.bind(["width", "first", "blank"], name)
            let indent: String
            if case .string(let s)? = b[0] { indent = s } else { indent = String(repeating: " ", count: b[0]?.asInt ?? 4) }
            let s = value.pythonStr + "\n"
            var rv: String
            if b[2]?.isTruthy ?? false {
                rv = PyString.splitlines(s).joined(separator: "\n" + indent)
            } else {
                var lines = PyString.splitlines(s)
                rv = lines.isEmpty ? "" : lines.removeFirst()
                if !lines.isEmpty {
                    rv += "\n" + lines.map { $0.isEmpty ? $0 : indent + $0 }.joined(separator: "\n")
                }
            }
            if b[1]?.isTruthy ?? false { rv = indent + rv }
            return .string(rv)
        case "center":
            let width = try a.bind(["width"], name)[0]?.asInt ?? 80
            return .string(PyString.center(value.pythonStr, width))
        case "truncate":
            let b = try a.bind(["length", "killwords", "end", "leeway"], name)
            let length = b[0]?.asInt ?? 255
            let end = b[2]?.pythonStr ?? "..."
            let leeway = b[3].orNone?.asInt ?? 5
            let c = Array(value.pythonStr.unicodeScalars)
            if c.count <= length + leeway { return .string(value.pythonStr) }
            let cut = PyString.make(c.prefix(max(0, length - end.unicodeScalars.count)))
            if b[1]?.isTruthy ?? false { return .string(cut + end) }
            return .string((PyString.rsplit(cut, " ", 1).first ?? "") + end)
        case "wordcount":
            try noArgs()
            var n = 0
            var inWord = false
            for c in value.pythonStr.unicodeScalars {
                let w = c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
                if w && !inWord { n += 1 }
                inWord = w
            }
            return .int(n)
        case "striptags":
            try noArgs()
            var s = value.pythonStr
            for pattern in ["<!--.*?-->", "<[^>]*>"] {
                s = s.replacingOccurrences(of: pattern, with: "", options: .regularExpression)
            }
            s = PyString.split(s, nil, -1).joined(separator: " ")
            // Markup.striptags also unescapes what remains.
            for (entity, char) in [("&lt;", "<"), ("&gt;", ">"), ("&#34;", "\""), ("&quot;", "\""), ("&#39;", "'"), ("&amp;", "&")] {
                s = s.replacingOccurrences(of: entity, with: char)
            }
            return .string(s)
        case "format":
            let args: JinjaValue = a.keywords.isEmpty ? .array(a.positional) : .object(JinjaObject(a.keywords))
            return .string(try JinjaOperators.percentFormat(value.pythonStr, args, pos))
        default:
            return nil
        }
    }
}

extension JinjaFilters {
    /// Jinja's `title` filter, which capitalises after spaces, dashes and opening brackets.
    fileprivate static func titleFilter(_ s: String) -> String {
        var out = ""
        var atWordStart = true
        for c in s.unicodeScalars {
            let separator = c.isPythonWhitespace || "-({[<".unicodeScalars.contains(c)
            if separator {
                out.unicodeScalars.append(c)
                atWordStart = true
            } else if atWordStart {
                out += c.properties.uppercaseMapping
                atWordStart = false
            } else {
                out += c.properties.lowercaseMapping
            }
        }
        return out
    }

    static func htmlEscape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
