import Foundation

/// BERT's normalizer (`BertNormalizer` in Hugging Face `tokenizers`).
///
/// The character classes follow `tokenizers`, whose tables for "other" (Cc/Cf/Co), punctuation and
/// non-spacing marks are Unicode 8.0's: a character assigned later is none of them there, so it is
/// neither removed, nor split off, nor stripped as an accent. `age` reproduces that.
public struct BertNormalizer: Sendable, Equatable {
    /// Remove control characters and U+FFFD; map white space to a plain space.
    public var cleanText = true
    /// Put spaces around CJK ideographs, so each becomes its own word.
    public var handleChineseChars = true
    /// Remove non-spacing marks after canonical decomposition; nil follows `lowercase`.
    public var stripAccents: Bool? = nil
    public var lowercase = true

    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents
        self.lowercase = lowercase
    }

    static func assignedByUnicode8(_ s: Unicode.Scalar) -> Bool {
        guard let age = s.properties.age else { return false }
        return age.major < 8 || (age.major == 8 && age.minor == 0)
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control: return true
        case .format, .privateUse: return assignedByUnicode8(s)
        default: return false
        }
    }

    static func isChinese(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 {
            return (0x21...0x2F).contains(v) || (0x3A...0x40).contains(v) || (0x5B...0x60).contains(v)
                || (0x7B...0x7E).contains(v)
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return assignedByUnicode8(s)
        default:
            return false
        }
    }

    // Per-scalar flags, tabled for the Basic Multilingual Plane.
    static let control: UInt8 = 1
    static let whitespace: UInt8 = 2
    static let chinese: UInt8 = 4
    static let punctuation: UInt8 = 8
    static let accent: UInt8 = 16
    /// Lowercase mapping is not a single scalar (or differs from the table's single value).
    static let multiLower: UInt8 = 32
    static let mayDecompose: UInt8 = 64

    static func computeFlags(_ s: Unicode.Scalar) -> UInt8 {
        var f: UInt8 = 0
        if s.value == 0 || s.value == 0xFFFD || isControl(s) { f |= control }
        if s.properties.isWhitespace || s == "\t" || s == "\n" || s == "\r" { f |= whitespace }
        if isChinese(s.value) { f |= chinese }
        if isPunctuation(s) { f |= punctuation }
        if s.properties.generalCategory == .nonspacingMark && assignedByUnicode8(s) { f |= accent }
        if s.properties.lowercaseMapping.unicodeScalars.count != 1 { f |= multiLower }
        if changesUnderNFD(s) { f |= mayDecompose }
        return f
    }

    /// Whether NFD may rewrite or reorder `s`: it has a canonical decomposition, or is a combining mark.
    static func changesUnderNFD(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0xC0 { return false }
        if s.properties.canonicalCombiningClass.rawValue != 0 { return true }
        if (0xAC00...0xD7A3).contains(v) { return true }  // Hangul syllables decompose to jamo
        // Large blocks with no decompositions, skipped to keep the one-time table build short.
        if (0x3400...0x4DBF).contains(v) || (0x4E00...0x9FFF).contains(v) || (0xD800...0xF8FF).contains(v)
            || (0xA000...0xABFF).contains(v) {
            return false
        }
        let nfd = String(Character(s)).decomposedStringWithCanonicalMapping.unicodeScalars
        return nfd.count != 1 || nfd.first != s
    }

    /// (flags, single-scalar lowercase) for every BMP scalar.
    static let table: (flags: [UInt8], lower: [UInt32]) = {
        var flags = [UInt8](repeating: 0, count: 0x10000)
        var lower = [UInt32](repeating: 0, count: 0x10000)
        for v in 0..<0x10000 {
            guard let s = Unicode.Scalar(UInt32(v)) else { continue }
            flags[v] = computeFlags(s)
            let l = s.properties.lowercaseMapping.unicodeScalars
            lower[v] = l.count == 1 ? l.first!.value : UInt32(v)
        }
        return (flags, lower)
    }()

    @inline(__always) static func flags(_ v: UInt32) -> UInt8 {
        if v < 0x10000 { return table.flags[Int(v)] }
        return astralFlags.flags(v)
    }

    /// Flags of scalars past the BMP (emoji, rare ideographs), computed once each: computing them
    /// takes a canonical decomposition, far too slow to repeat per occurrence.
    final class AstralFlags: @unchecked Sendable {
        private let lock = NSLock()
        private var known: [UInt32: UInt8] = [:]

        func flags(_ v: UInt32) -> UInt8 {
            lock.lock()
            let cached = known[v]
            lock.unlock()
            if let cached { return cached }
            let f = Unicode.Scalar(v).map(BertNormalizer.computeFlags) ?? 0
            lock.lock()
            known[v] = f
            lock.unlock()
            return f
        }
    }

    static let astralFlags = AstralFlags()

    /// Normalizes `text` into scalar values.
    public func normalize(_ text: Substring) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(text.utf8.count)
        var nonASCII = false
        let (flagTable, lowerTable) = BertNormalizer.table
        for s in text.unicodeScalars {
            let v = s.value
            if v < 0x80 {
                if cleanText {
                    if v == 0 || (v < 0x20 && v != 9 && v != 10 && v != 13) || v == 0x7F { continue }
                    if v == 9 || v == 10 || v == 13 || v == 0x20 { out.append(0x20); continue }
                }
                out.append(v)
                continue
            }
            nonASCII = true
            let f = v < 0x10000 ? flagTable[Int(v)] : BertNormalizer.flags(v)
            if cleanText {
                if f & BertNormalizer.control != 0 { continue }
                if f & BertNormalizer.whitespace != 0 { out.append(0x20); continue }
            }
            if handleChineseChars && f & BertNormalizer.chinese != 0 {
                out.append(0x20)
                out.append(v)
                out.append(0x20)
                continue
            }
            out.append(v)
        }
        if nonASCII && (stripAccents ?? lowercase) {
            out = BertNormalizer.stripAccents(out)
        }
        if lowercase {
            var i = 0
            var lowered: [UInt32]? = nil
            while i < out.count {
                let v = out[i]
                if v < 0x80 {
                    if v >= 0x41 && v <= 0x5A { out[i] = v + 32 }
                } else if v < 0x10000 && flagTable[Int(v)] & BertNormalizer.multiLower == 0 {
                    out[i] = lowerTable[Int(v)]
                } else {
                    lowered = []
                    break
                }
                i += 1
            }
            if lowered != nil {
                // Rare (e.g. U+0130, astral letters): finish with the general mapping.
                var rest: [UInt32] = Array(out[..<i])
                for v in out[i...] {
                    if v < 0x80 {
                        rest.append(v >= 0x41 && v <= 0x5A ? v + 32 : v)
                    } else if let s = Unicode.Scalar(v) {
                        rest.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars.map(\.value))
                    }
                }
                out = rest
            }
        }
        return out
    }

    /// NFD, then non-spacing marks removed. Runs of scalars that cannot change under NFD are kept as they
    /// are; the rest goes through Foundation's decomposition.
    static func stripAccents(_ text: [UInt32]) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(text.count)
        var i = 0
        let flagTable = table.flags
        while i < text.count {
            let v = text[i]
            let f = v < 0x80 ? 0 : (v < 0x10000 ? flagTable[Int(v)] : flags(v))
            if f & (mayDecompose | accent) == 0 {
                out.append(v)
                i += 1
                continue
            }
            // Decompose the run up to the next ASCII scalar, so combining sequences stay together.
            var j = i + 1
            while j < text.count && text[j] >= 0x80 { j += 1 }
            var view = String.UnicodeScalarView()
            for w in text[i..<j] { view.append(Unicode.Scalar(w) ?? "\u{FFFD}") }
            for s in String(view).decomposedStringWithCanonicalMapping.unicodeScalars {
                let g = s.value < 0x10000 ? flagTable[Int(s.value)] : flags(s.value)
                if g & accent == 0 { out.append(s.value) }
            }
            i = j
        }
        return out
    }
}
