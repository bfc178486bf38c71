import SwiftletFormats

/// The ways model families write tool calls, named as vLLM's `--tool-call-parser` names them.
public enum ToolCallFormat: String, Sendable, CaseIterable {
    /// Hermes and Qwen2.5: `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`, one
    /// block per call. Also what the generic tool prompt asks for.
    case hermes
    /// Llama 3.1/3.2: the whole answer is `{"name": ..., "parameters": {...}}` (optionally after
    /// `<|python_tag|>`), several separated by `;`.
    case llama3JSON = "llama3_json"
    /// Mistral: `[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]` after any text, or with
    /// newer tokenizers `[TOOL_CALLS]name[ARGS]{...}` per call.
    case mistral

    /// The format a chat template's own tool prompt asks for; hermes when it shows none (the
    /// generic prompt asks for hermes).
    public static func inferred(fromTemplate source: String) -> ToolCallFormat {
        if source.contains("[TOOL_CALLS]") { return .mistral }
        if source.contains("<tool_call>") { return .hermes }
        if source.contains("<|python_tag|>") || source.contains("ipython") { return .llama3JSON }
        return .hermes
    }
}

/// One call read from the output, possibly still growing.
struct ParsedToolCall: Equatable {
    /// Known once the name's string is complete.
    var name: String?
    /// The arguments' JSON text as generated so far (all of it once `complete`).
    var arguments: String
    var complete: Bool
}

/// The output split into text for `content` and tool calls.
struct ToolCallParse: Equatable {
    var content: String
    var calls: [ParsedToolCall]
}

/// Splits generated text into content and tool calls in one format.
///
/// `parse(_:final:)` reads the whole text generated so far. While the output is still growing
/// (`final` false) text that may be the start of a call marker, and whitespace that may turn out
/// to precede a call, is held back from `content`, so content and every call's arguments only
/// ever grow from one parse to the next and a stream can send the difference. A call whose JSON
/// turns out malformed is given back as content, as vLLM's parsers do.
struct ToolCallParser: Sendable {
    let format: ToolCallFormat
    /// Whether the output is grammar-constrained to calls only: Mistral's calls may then come as
    /// a bare JSON array without the `[TOOL_CALLS]` token.
    var callsOnly = false

    func parse(_ text: String, final: Bool) -> ToolCallParse {
        let b = Array(text.utf8)
        switch format {
        case .hermes: return hermes(b, final: final)
        case .llama3JSON: return llama3(b, final: final)
        case .mistral: return mistral(b, final: final)
        }
    }

    private static let open = Array("<tool_call>".utf8), close = Array("</tool_call>".utf8)
    private static let pythonTag = Array("<|python_tag|>".utf8), mistralTag = Array("[TOOL_CALLS]".utf8)

    private func hermes(_ b: [UInt8], final: Bool) -> ToolCallParse {
        var out = Output(final: final)
        var pos = 0
        while true {
            guard let start = find(Self.open, in: b, from: pos) else {
                out.text(b[pos...], holdingBack: final ? [] : Self.open)
                break
            }
            let bodyStart = start + Self.open.count
            if let end = find(Self.close, in: b, from: bodyStart) {
                let body = Array(b[bodyStart..<end])
                if let call = Self.call(body, argumentKeys: ["arguments", "parameters"], complete: true) {
                    out.text(b[pos..<start], beforeCall: true)
                    out.calls.append(call)
                } else {
                    out.text(b[pos..<(end + Self.close.count)])
                }
                pos = end + Self.close.count
                continue
            }
            // Unclosed: the last block, still being written or cut off at the end. Until it is
            // known to be a call the whitespace before it stays held back, not dropped.
            let body = Array(b[bodyStart...])
            if final {
                if let call = Self.call(body, argumentKeys: ["arguments", "parameters"], complete: true) {
                    out.text(b[pos..<start], beforeCall: true)
                    out.calls.append(call)
                } else {
                    out.text(b[pos...])
                }
            } else {
                out.text(b[pos..<start])
                if let call = Self.call(body, argumentKeys: ["arguments", "parameters"], complete: false) { out.calls.append(call) }
            }
            break
        }
        return out.result
    }

    private func llama3(_ b: [UInt8], final: Bool) -> ToolCallParse {
        var out = Output(final: final)
        var i = PartialJSON.skipSpace(b, 0)
        if hasPrefix(b, Self.pythonTag, at: i) {
            i = PartialJSON.skipSpace(b, i + Self.pythonTag.count)
        } else if i == b.count || (!final && isPrefix(b[i...], of: Self.pythonTag)) {
            return final ? ToolCallParse(content: String(decoding: b, as: UTF8.self), calls: []) : out.result
        } else if b[i] != UInt8(ascii: "{") {
            out.text(b[0...])
            return out.result
        }
        // From here the answer is calls only; anything else makes all of it content.
        while true {
            guard let o = PartialJSON.object(b, from: i) else { return Self.allContent(b, out, final: final) }
            guard let end = o.end else {
                if let call = Self.call(o, argumentKeys: ["parameters", "arguments"], complete: false) { out.calls.append(call) }
                if final { return Self.allContent(b, out, final: final) }
                return out.result
            }
            guard let call = Self.call(Array(b[i..<end]), argumentKeys: ["parameters", "arguments"], complete: true) else {
                return Self.allContent(b, out, final: final)
            }
            out.calls.append(call)
            i = PartialJSON.skipSpace(b, end)
            if i == b.count { return out.result }
            guard b[i] == UInt8(ascii: ";") else { return Self.allContent(b, out, final: final) }
            i = PartialJSON.skipSpace(b, i + 1)
            if i == b.count { return out.result }
        }
    }

    private func mistral(_ b: [UInt8], final: Bool) -> ToolCallParse {
        var out = Output(final: final)
        var i: Int
        if let tag = find(Self.mistralTag, in: b, from: 0) {
            out.text(b[0..<tag], beforeCall: true)
            i = PartialJSON.skipSpace(b, tag + Self.mistralTag.count)
        } else if callsOnly {
            i = PartialJSON.skipSpace(b, 0)
        } else {
            out.text(b[0...], holdingBack: final ? [] : Self.mistralTag)
            return out.result
        }
        guard i < b.count else { return final ? Self.allContent(b, out, final: true) : out.result }
        guard b[i] == UInt8(ascii: "[") else { return mistralNamed(b, from: i, out) }
        i = PartialJSON.skipSpace(b, i + 1)
        while i < b.count {
            guard let o = PartialJSON.object(b, from: i) else { return Self.allContent(b, out, final: final) }
            guard let end = o.end else {
                if final { return Self.allContent(b, out, final: true) }
                if let call = Self.call(o, argumentKeys: ["arguments", "parameters"], complete: false) { out.calls.append(call) }
                return out.result
            }
            guard let call = Self.call(Array(b[i..<end]), argumentKeys: ["arguments", "parameters"], complete: true) else {
                return Self.allContent(b, out, final: final)
            }
            out.calls.append(call)
            i = PartialJSON.skipSpace(b, end)
            guard i < b.count else { break }
            if b[i] == UInt8(ascii: "]") { return out.result }
            guard b[i] == UInt8(ascii: ",") else { return Self.allContent(b, out, final: final) }
            i = PartialJSON.skipSpace(b, i + 1)
        }
        return final ? Self.allContent(b, out, final: true) : out.result
    }

    private static let argsTag = Array("[ARGS]".utf8)

    /// Newer Mistral tokenizers (v11 and on) write each call as `[TOOL_CALLS]name[ARGS]{...}`.
    private func mistralNamed(_ b: [UInt8], from start: Int, _ output: Output) -> ToolCallParse {
        var out = output
        var i = start
        let final = out.final
        while true {
            guard let tag = find(Self.argsTag, in: b, from: i) else {
                // The name may still be arriving.
                let partialName = b[i...].allSatisfy { isNameByte($0) || $0 == UInt8(ascii: "[") }
                return !final && partialName ? out.result : Self.allContent(b, out, final: final)
            }
            let name = String(decoding: b[i..<tag], as: UTF8.self)
            guard !name.isEmpty, b[i..<tag].allSatisfy(isNameByte) else { return Self.allContent(b, out, final: final) }
            let argsStart = PartialJSON.skipSpace(b, tag + Self.argsTag.count)
            switch PartialJSON.valueExtent(b, from: argsStart) {
            case .invalid: return Self.allContent(b, out, final: final)
            case .incomplete:
                if final { return Self.allContent(b, out, final: true) }
                let raw = argsStart < b.count && b[argsStart] == UInt8(ascii: "{") ? String(decoding: b[argsStart...], as: UTF8.self) : ""
                out.calls.append(ParsedToolCall(name: name, arguments: raw, complete: false))
                return out.result
            case .complete(let end):
                let args = String(decoding: b[argsStart..<end], as: UTF8.self)
                guard case .object? = try? JSONValue.parse(args) else { return Self.allContent(b, out, final: final) }
                out.calls.append(ParsedToolCall(name: name, arguments: args, complete: true))
                i = PartialJSON.skipSpace(b, end)
                if i == b.count { return out.result }
                guard hasPrefix(b, Self.mistralTag, at: i) else { return Self.allContent(b, out, final: final) }
                i = PartialJSON.skipSpace(b, i + Self.mistralTag.count)
            }
        }
    }

    /// A malformed answer: all of it is content once it is complete; while it grows, only the
    /// content already read before it.
    private static func allContent(_ b: [UInt8], _ out: Output, final: Bool) -> ToolCallParse {
        ToolCallParse(content: final ? String(decoding: b, as: UTF8.self) : out.result.content, calls: [])
    }

    /// A call from a block's JSON. A complete one must parse as an object with a string `name`
    /// and object arguments (absent arguments are `{}`).
    private static func call(_ body: [UInt8], argumentKeys: [String], complete: Bool) -> ParsedToolCall? {
        let start = PartialJSON.skipSpace(body, 0)
        guard let o = PartialJSON.object(body, from: start) else { return nil }
        if complete {
            guard let end = o.end, PartialJSON.skipSpace(body, end) == body.count,
                  case .object? = try? JSONValue.parse(String(decoding: body[start..<end], as: UTF8.self)),
                  let name = o.string("name") else { return nil }
            let args = argumentKeys.lazy.compactMap { o.field($0) }.first
            if let args, case .object? = try? JSONValue.parse(String(decoding: args.raw, as: UTF8.self)) {
                return ParsedToolCall(name: name, arguments: String(decoding: args.raw, as: UTF8.self), complete: true)
            }
            return args == nil ? ParsedToolCall(name: name, arguments: "{}", complete: true) : nil
        }
        return call(o, argumentKeys: argumentKeys, complete: false)
    }

    /// A call still being written: its arguments so far, sent only once they have begun as an
    /// object (a scalar could not be streamed in pieces that stay a prefix of the final text).
    private static func call(_ o: PartialJSON.Object, argumentKeys: [String], complete: Bool) -> ParsedToolCall? {
        let args = argumentKeys.lazy.compactMap { o.field($0) }.first
        var text = ""
        if let args, args.raw.first == UInt8(ascii: "{") { text = String(decoding: args.raw, as: UTF8.self) }
        return ParsedToolCall(name: o.string("name"), arguments: text, complete: false)
    }

    /// Builds the content while holding back what a stream cannot send yet.
    private struct Output {
        let final: Bool
        var content: [UInt8] = []
        var calls: [ParsedToolCall] = []
        /// Whitespace at the end of the content, kept aside until text follows it.
        var pendingSpace: [UInt8] = []

        var result: ToolCallParse {
            var c = content
            if final, calls.isEmpty { c += pendingSpace }
            return ToolCallParse(content: String(decoding: c, as: UTF8.self), calls: calls)
        }

        /// Adds text; with `beforeCall` its trailing whitespace is dropped (a call follows);
        /// `holdingBack` keeps back a tail that may be the start of that marker.
        mutating func text(_ s: ArraySlice<UInt8>, beforeCall: Bool = false, holdingBack marker: [UInt8] = []) {
            var s = Array(s)
            if !marker.isEmpty {
                for n in stride(from: min(marker.count - 1, s.count), to: 0, by: -1)
                where Array(s.suffix(n)) == Array(marker.prefix(n)) {
                    s.removeLast(n)
                    break
                }
            }
            var end = s.count
            while end > 0, PartialJSON.isSpace(s[end - 1]) { end -= 1 }
            if end > 0 {
                content += pendingSpace + s[..<end]
                pendingSpace = Array(s[end...])
            } else {
                pendingSpace += s
            }
            if beforeCall { pendingSpace = [] }
        }
    }
}

private func find(_ needle: [UInt8], in b: [UInt8], from: Int) -> Int? {
    guard needle.count <= b.count else { return nil }
    var i = from
    while i + needle.count <= b.count {
        if b[i] == needle[0], hasPrefix(b, needle, at: i) { return i }
        i += 1
    }
    return nil
}

private func hasPrefix(_ b: [UInt8], _ p: [UInt8], at i: Int) -> Bool {
    i + p.count <= b.count && b[i..<(i + p.count)].elementsEqual(p)
}

private func isNameByte(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D || c == 0x2E
}

private func isPrefix(_ s: ArraySlice<UInt8>, of p: [UInt8]) -> Bool {
    s.count <= p.count && s.elementsEqual(p.prefix(s.count))
}
