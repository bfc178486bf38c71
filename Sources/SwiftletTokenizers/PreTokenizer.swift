/// Unicode classes the split rules need, per scalar, as bit flags.
///
/// The rules are written in the regex dialect of Hugging Face `tokenizers` (Oniguruma), where
/// `\p{L}` is general category L*, `\p{N}` is N* and `\s` is the White_Space property.
/// They are matched by hand over these flags because a regex engine is far too slow here.
enum ScalarClass {
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    /// White_Space, including CR and LF.
    static let space: UInt8 = 4
    /// CR or LF only (`[\r\n]` in the rules).
    static let newline: UInt8 = 8

    /// Classes of the Basic Multilingual Plane, built once: almost all text lives there, and a table
    /// read is far cheaper than asking the Unicode property tables per scalar.
    static let bmp: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 0x10000)
        for v in 0..<0x10000 {
            guard let s = Unicode.Scalar(UInt32(v)) else { continue }
            table[v] = compute(s)
        }
        return table
    }()

    static func compute(_ s: Unicode.Scalar) -> UInt8 {
        let p = s.properties
        var c: UInt8 = 0
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: c = letter
        case .decimalNumber, .letterNumber, .otherNumber: c = number
        default: break
        }
        if p.isWhitespace { c |= space }
        if s.value == 0x0A || s.value == 0x0D { c |= newline }
        return c
    }

    @inline(__always) static func of(_ v: UInt32) -> UInt8 {
        if v < 0x10000 { return bmp.withUnsafeBufferPointer { $0[Int(v)] } }
        guard let s = Unicode.Scalar(v) else { return 0 }
        return compute(s)
    }
}

/// A run of text decoded into scalars, with their classes and where each starts in the UTF-8.
///
/// The buffers are reused across words and segments so that splitting allocates nothing per word.
struct ScalarRun {
    var scalars: [UInt32] = []
    var classes: [UInt8] = []
    /// Byte offset of each scalar; one extra entry holds the end offset.
    var offsets: [Int32] = []

    var count: Int { scalars.count }

    /// Decodes `bytes` (valid UTF-8, as it comes from a `String`).
    mutating func load(_ bytes: UnsafeBufferPointer<UInt8>) {
        scalars.removeAll(keepingCapacity: true)
        classes.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        scalars.reserveCapacity(bytes.count)
        classes.reserveCapacity(bytes.count)
        offsets.reserveCapacity(bytes.count + 1)
        let n = bytes.count
        var i = 0
        ScalarClass.bmp.withUnsafeBufferPointer { table in
            while i < n {
                let b0 = UInt32(bytes[i])
                var v: UInt32
                var len: Int
                if b0 < 0x80 {
                    v = b0; len = 1
                } else if b0 < 0xE0 {
                    v = (b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F); len = 2
                } else if b0 < 0xF0 {
                    v = (b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F); len = 3
                } else {
                    v = (b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12
                        | UInt32(bytes[i + 2] & 0x3F) << 6 | UInt32(bytes[i + 3] & 0x3F)
                    len = 4
                }
                scalars.append(v)
                classes.append(v < 0x10000 ? table[Int(v)] : ScalarClass.of(v))
                offsets.append(Int32(i))
                i += len
            }
        }
        offsets.append(Int32(n))
    }
}

/// The regex a byte-level BPE vocabulary was trained with to cut text into words.
public enum SplitRule: String, Sendable, CaseIterable {
    /// GPT-2's: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    /// (also `ByteLevel(use_regex: true)`, SmolLM2 and StarCoder).
    case gpt2
    /// Llama 3's: case-insensitive contractions, `[^\r\n\p{L}\p{N}]?\p{L}+`, `\p{N}{1,3}`,
    /// ` ?[^\s\p{L}\p{N}]+[\r\n]*`, `\s*[\r\n]+`, `\s+(?!\S)`, `\s+`.
    case llama3
    /// Qwen2's: Llama 3's with single digits (`\p{N}`).
    case qwen2

    /// The pattern strings (as found in `tokenizer.json` `Split` pre-tokenizers) each rule stands for.
    static let knownPatterns: [String: SplitRule] = [
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: .gpt2,
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .llama3,
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: .qwen2,
    ]

    /// The rule a GGUF `tokenizer.ggml.pre` value selects, as transformers maps it
    /// (names it does not map keep plain `ByteLevel`, i.e. GPT-2's rule).
    public static func forGGUFPre(_ name: String?) -> SplitRule {
        switch name ?? "" {
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
             "jina-v5-nano", "dbrx", "smaug-bpe":
            return .llama3
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez":
            return .qwen2
        default:
            return .gpt2
        }
    }
}

/// Cuts a run of text into the pieces BPE merges within, following a `SplitRule`.
///
/// Each rule is a leftmost-first alternation; `nextEnd` tries the alternatives in the regex's order
/// at one position and returns where the match ends. Every scalar matches some alternative, so the
/// cut is total, and each step looks at most at the run it consumes plus a few scalars, so a
/// whole split is linear in the text.
struct Splitter: Sendable {
    var rule: SplitRule
    /// `Digits(individual_digits: true)` before the rule: every \p{N} scalar stands alone.
    var isolateDigits: Bool = false

    /// Appends the (start, end) scalar indices of each piece of `run[from..<to]`.
    func split(_ run: ScalarRun, into pieces: inout [(Int32, Int32)]) {
        run.scalars.withUnsafeBufferPointer { s in
            run.classes.withUnsafeBufferPointer { c in
                let n = s.count
                if isolateDigits {
                    var start = 0
                    var i = 0
                    while i < n {
                        if c[i] & ScalarClass.number != 0 {
                            if start < i { splitRange(s, c, start, i, &pieces) }
                            pieces.append((Int32(i), Int32(i + 1)))
                            start = i + 1
                        }
                        i += 1
                    }
                    if start < n { splitRange(s, c, start, n, &pieces) }
                } else {
                    splitRange(s, c, 0, n, &pieces)
                }
            }
        }
    }

    private func splitRange(_ s: UnsafeBufferPointer<UInt32>, _ c: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int,
                            _ pieces: inout [(Int32, Int32)]) {
        var i = from
        while i < to {
            let e: Int
            switch rule {
            case .gpt2: e = gpt2End(s, c, i, to)
            case .llama3: e = llamaEnd(s, c, i, to, maxDigits: 3)
            case .qwen2: e = llamaEnd(s, c, i, to, maxDigits: 1)
            }
            pieces.append((Int32(i), Int32(e)))
            i = e
        }
    }

    private static let otherMask = ScalarClass.letter | ScalarClass.number | ScalarClass.space

    @inline(__always) private func run(_ c: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int, _ mask: UInt8) -> Int {
        var j = i
        while j < n && c[j] & mask != 0 { j += 1 }
        return j
    }

    /// Scalars in none of L, N, White_Space: `[^\s\p{L}\p{N}]`.
    @inline(__always) private func otherRun(_ c: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        var j = i
        while j < n && c[j] & Splitter.otherMask == 0 { j += 1 }
        return j
    }

    /// `\s+(?!\S)|\s+` at a White_Space scalar.
    @inline(__always) private func spaceEnd(_ c: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let j = run(c, i, n, ScalarClass.space)
        if j == n || j - i < 2 { return j }
        return j - 1
    }

    private func gpt2End(_ s: UnsafeBufferPointer<UInt32>, _ c: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let v = s[i]
        if v == 0x27, i + 1 < n {  // '
            switch s[i + 1] {
            case 0x73, 0x74, 0x6D, 0x64: return i + 2  // s t m d
            case 0x72, 0x76:  // re ve
                if i + 2 < n && s[i + 2] == 0x65 { return i + 3 }
            case 0x6C:  // ll
                if i + 2 < n && s[i + 2] == 0x6C { return i + 3 }
            default: break
            }
        }
        // ` ?X+` for X in L, N, other: the space is taken only if X follows it.
        var p = i
        if v == 0x20 && i + 1 < n && c[i + 1] & ScalarClass.space == 0 { p = i + 1 }
        let k = c[p]
        if k & ScalarClass.letter != 0 { return run(c, p, n, ScalarClass.letter) }
        if k & ScalarClass.number != 0 { return run(c, p, n, ScalarClass.number) }
        if k & ScalarClass.space == 0 { return otherRun(c, p, n) }
        return spaceEnd(c, i, n)
    }

    private func llamaEnd(_ s: UnsafeBufferPointer<UInt32>, _ c: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int,
                          maxDigits: Int) -> Int {
        let v = s[i]
        let k = c[i]
        if v == 0x27, i + 1 < n {
            switch s[i + 1] | 0x20 {  // ASCII case-insensitive; other scalars never land on these
            case 0x73, 0x74, 0x6D, 0x64:
                if s[i + 1] < 0x80 { return i + 2 }
            case 0x72, 0x76:
                if s[i + 1] < 0x80 && i + 2 < n && s[i + 2] | 0x20 == 0x65 && s[i + 2] < 0x80 { return i + 3 }
            case 0x6C:
                if s[i + 1] < 0x80 && i + 2 < n && s[i + 2] | 0x20 == 0x6C && s[i + 2] < 0x80 { return i + 3 }
            default: break
            }
        }
        // `[^\r\n\p{L}\p{N}]?\p{L}+`
        if k & ScalarClass.letter != 0 { return run(c, i, n, ScalarClass.letter) }
        if k & (ScalarClass.newline | ScalarClass.number) == 0 && i + 1 < n && c[i + 1] & ScalarClass.letter != 0 {
            return run(c, i + 1, n, ScalarClass.letter)
        }
        // `\p{N}{1,maxDigits}`
        if k & ScalarClass.number != 0 {
            var j = i + 1
            while j < n && j - i < maxDigits && c[j] & ScalarClass.number != 0 { j += 1 }
            return j
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        var p = i
        if v == 0x20 && i + 1 < n && c[i + 1] & Splitter.otherMask == 0 { p = i + 1 }
        if c[p] & Splitter.otherMask == 0 {
            let j = otherRun(c, p, n)
            return run(c, j, n, ScalarClass.newline)
        }
        // `\s*[\r\n]+`: up to and through the last CR/LF of the whitespace run.
        let j = run(c, i, n, ScalarClass.space)
        var last = -1
        var q = j - 1
        while q >= i {
            if c[q] & ScalarClass.newline != 0 { last = q; break }
            q -= 1
        }
        if last >= 0 { return last + 1 }
        if j == n || j - i < 2 { return j }
        return j - 1
    }
}
