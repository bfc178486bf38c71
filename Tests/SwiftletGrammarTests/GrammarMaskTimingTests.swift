import Foundation
import Testing
@testable import SwiftletGrammar

/// Compile and mask times on SmolLM2's vocabulary, printed (never asserted: they depend on the
/// machine). 32 streams on one schema walk different valid documents token by token in lock
/// step, as 32 concurrent requests do; every mask is also checked against the next token.
@Suite struct GrammarMaskTimingTests {
    static let person = #"""
        {"type":"object","properties":{
          "name":{"type":"string","maxLength":40},"age":{"type":"integer","minimum":0,"maximum":150},
          "email":{"type":"string","format":"email"},"role":{"enum":["admin","editor","viewer"]},
          "active":{"type":"boolean"},"score":{"type":"number"},
          "tags":{"type":"array","items":{"type":"string"},"maxItems":5},
          "address":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"},"zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["street","city","zip"]},
          "created":{"type":"string","format":"date-time"},
          "scores":{"type":"array","items":{"type":"object","properties":{"k":{"type":"string"},"v":{"type":"integer"}},"required":["k","v"]}}},
         "required":["name","age","email","role","active","score","tags","address","created","scores"]}
        """#

    static func personDocument(_ i: Int) -> String {
        let names = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Ken Thompson", "Zoë Ångström", "Tim Berners-Lee"]
        let pretty = i % 4 == 3
        let sep = pretty ? ",\n  " : ", "
        let fields = [
            #""name": "\#(names[i % names.count]) \#(i)""#, #""age": \#(20 + i)"#, #""email": "user\#(i)@example.org""#,
            #""role": "\#(["admin", "editor", "viewer"][i % 3])""#, #""active": \#(i % 2 == 0)"#, #""score": \#(Double(i) * 1.25 - 3)"#,
            #""tags": ["t\#(i)", "swift", "grammar"]"#,
            #""address": {"street": "\#(i) Main Street", "city": "Springfield", "zip": "\#(10000 + i * 37)"}"#,
            #""created": "2024-0\#(1 + i % 9)-1\#(i % 10)T12:3\#(i % 10):00Z""#,
            #""scores": [{"k": "math", "v": \#(i * 3)}, {"k": "art", "v": \#(100 - i)}]"#,
        ]
        return (pretty ? "{\n  " : "{") + fields.joined(separator: sep) + (pretty ? "\n}" : "}")
    }

    @Test func compileAndMaskTimes() throws {
        guard let (vocabulary, tokenizer) = RealVocabulary.loaded, vocabulary.count > 10_000 else { return }
        let cases: [(String, GrammarSpec, (Int) -> String)] = [
            ("person schema (10 properties, nested)", .jsonSchema(Self.person), Self.personDocument),
            ("json_object", .jsonObject, Self.personDocument),
        ]
        let words = (vocabulary.count + 31) / 32
        for (label, spec, document) in cases {
            let compiler = GrammarCompiler(vocabulary: vocabulary)
            let grammar = try compiler.compile(spec)
            let streams = (0..<32).map { tokenizer.encode(document($0), addSpecialTokens: false, parseSpecial: false) }
            var matchers = [GrammarMatcher](repeating: GrammarMatcher(grammar), count: streams.count)
            var mask = [UInt32](repeating: 0, count: words)
            var times: [Double] = []
            var firstStream: [Double] = []
            for step in 0..<streams.map(\.count).max()! {
                for s in streams.indices where step < streams[s].count {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    mask.withUnsafeMutableBufferPointer { matchers[s].fillNextTokenMask($0) }
                    let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
                    times.append(dt)
                    if s == 0 { firstStream.append(dt) }
                    let id = streams[s][step]
                    #expect((mask[id >> 5] >> UInt32(id & 31)) & 1 == 1, "stream \(s) token \(step) masked out")
                    let accepted = matchers[s].accept(id)
                    #expect(accepted)
                }
            }
            for m in matchers { #expect(m.canEnd) }
            let sorted = times.sorted()
            let mean = times.reduce(0, +) / Double(times.count)
            let p99 = sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
            let coldMean = firstStream.reduce(0, +) / Double(firstStream.count)
            let stats = grammar.automaton.statistics
            print(String(format: "grammar timing | %@ | compile %.2f ms | %d masks over 32 streams: mean %.4f ms, p99 %.4f ms, max %.2f ms | stream 0 alone (cold): mean %.4f ms | %d DFA states, %d masks cached, %d resets",
                         label, grammar.compileSeconds * 1000, times.count, mean, p99, sorted.last!, coldMean, stats.states, stats.masks, stats.resets))
        }
    }
}
