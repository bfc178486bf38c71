/// Python `str` operations, on Unicode code points as Python counts them (not Swift's
/// grapheme clusters), so lengths, indices and slices agree with the reference renderer.
enum PyString {
    static func scalars(_ s: String) -> [Unicode.Scalar] { Array(s.unicodeScalars) }

    static func make<S: Sequence>(_ scalars: S) -> String where S.Element == Unicode.Scalar {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars)
        return String(v)
    }

    static func strip(_ s: String, _ chars: String?, leading: Bool, trailing: Bool) -> String {
        let a = scalars(s)
        let set = chars.map { Set($0.unicodeScalars) }
        let drop: (Unicode.Scalar) -> Bool = { c in set.map { $0.contains(c) } ?? c.isPythonWhitespace }
        var lo = 0, hi = a.count
        if leading { while lo < hi, drop(a[lo]) { lo += 1 } }
        if trailing { while hi > lo, drop(a[hi - 1]) { hi -= 1 } }
        return make(a[lo..<hi])
    }

    /// `str.split(sep, maxsplit)`; with no separator, splits on whitespace runs and drops empties.
    static func split(_ s: String, _ sep: String?, _ maxsplit: Int) -> [String] {
        let a = scalars(s)
        var out: [String] = []
        guard let sep else {
            var i = 0
            while true {
                while i < a.count, a[i].isPythonWhitespace { i += 1 }
                if i == a.count { break }
                if maxsplit >= 0, out.count == maxsplit {
                    var end = a.count
                    while end > i, a[end - 1].isPythonWhitespace { end -= 1 }
                    out.append(make(a[i..<end]))
                    break
                }
                let start = i
                while i < a.count, !a[i].isPythonWhitespace { i += 1 }
                out.append(make(a[start..<i]))
            }
            return out
        }
        let p = scalars(sep)
        var start = 0, i = 0
        while i + p.count <= a.count {
            if maxsplit >= 0, out.count == maxsplit { break }
            if a[i..<i + p.count].elementsEqual(p) {
                out.append(make(a[start..<i]))
                i += p.count
                start = i
            } else {
                i += 1
            }
        }
        out.append(make(a[start...]))
        return out
    }

    static func rsplit(_ s: String, _ sep: String?, _ maxsplit: Int) -> [String] {
        if maxsplit < 0 { return split(s, sep, maxsplit) }
        // Splitting the reversed string from the left is the same as splitting from the right.
        let rev = make(scalars(s).reversed())
        let revSep = sep.map { make(scalars($0).reversed()) }
        return split(rev, revSep, maxsplit).reversed().map { make(scalars($0).reversed()) }
    }

    static func isLineBreak(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029: return true
        default: return false
        }
    }

    static func splitlines(_ s: String, keepends: Bool = false) -> [String] {
        let a = scalars(s)
        var out: [String] = []
        var start = 0, i = 0
        while i < a.count {
            if isLineBreak(a[i]) {
                var end = i + 1
                if a[i] == "\r", end < a.count, a[end] == "\n" { end += 1 }
                out.append(make(a[start..<(keepends ? end : i)]))
                i = end
                start = end
            } else {
                i += 1
            }
        }
        if start < a.count { out.append(make(a[start...])) }
        return out
    }

    static func find(_ s: String, _ sub: String, reverse: Bool = false) -> Int {
        let a = scalars(s), p = scalars(sub)
        guard p.count <= a.count else { return -1 }
        let range = 0...(a.count - p.count)
        for i in (reverse ? Array(range.reversed()) : Array(range)) where a[i..<i + p.count].elementsEqual(p) {
            return i
        }
        return -1
    }

    static func count(_ s: String, _ sub: String) -> Int {
        let a = scalars(s), p = scalars(sub)
        if p.isEmpty { return a.count + 1 }
        var n = 0, i = 0
        while i + p.count <= a.count {
            if a[i..<i + p.count].elementsEqual(p) {
                n += 1
                i += p.count
            } else {
                i += 1
            }
        }
        return n
    }

    static func replace(_ s: String, _ old: String, _ new: String, _ count: Int = -1) -> String {
        let a = scalars(s), p = scalars(old), r = scalars(new)
        var out: [Unicode.Scalar] = []
        var n = 0, i = 0
        if p.isEmpty {
            // Python inserts `new` between every character (and at both ends).
            for c in a {
                if count >= 0 && n >= count { out.append(c); continue }
                out.append(contentsOf: r)
                out.append(c)
                n += 1
            }
            if count < 0 || n < count { out.append(contentsOf: r) }
            return make(out)
        }
        while i < a.count {
            if (count < 0 || n < count), i + p.count <= a.count, a[i..<i + p.count].elementsEqual(p) {
                out.append(contentsOf: r)
                i += p.count
                n += 1
            } else {
                out.append(a[i])
                i += 1
            }
        }
        return make(out)
    }

    static func upper(_ s: String) -> String { s.uppercased() }
    static func lower(_ s: String) -> String { s.lowercased() }

    static func isCased(_ c: Unicode.Scalar) -> Bool { c.properties.isCased }

    /// `str.capitalize`: first character title-cased, the rest lower-cased.
    static func capitalize(_ s: String) -> String {
        guard let first = s.unicodeScalars.first else { return s }
        return first.properties.titlecaseMapping + make(s.unicodeScalars.dropFirst()).lowercased()
    }

    /// `str.title`: upper-cases letters that follow an uncased character.
    static func title(_ s: String) -> String {
        var out = ""
        var prevCased = false
        for c in s.unicodeScalars {
            if prevCased {
                out += c.properties.lowercaseMapping
            } else {
                out += c.properties.titlecaseMapping
            }
            prevCased = isCased(c)
        }
        return out
    }

    static func swapcase(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            if c.properties.isUppercase {
                out += c.properties.lowercaseMapping
            } else if c.properties.isLowercase {
                out += c.properties.uppercaseMapping
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func center(_ s: String, _ width: Int, _ fill: String = " ") -> String {
        let n = s.unicodeScalars.count
        guard width > n else { return s }
        let pad = width - n
        let left = pad / 2 + (pad & width & 1)
        return String(repeating: fill, count: left) + s + String(repeating: fill, count: pad - left)
    }

    static func isDigitString(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType == .digit || $0.properties.numericType == .decimal }
    }
}
