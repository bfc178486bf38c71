import Foundation
import Testing
@testable import SwiftletTokenizers
@testable import SwiftletFormats
@testable import SwiftletJinja

@Suite struct JinjaTemplateTests {
    private func render(_ source: String, _ context: [String: JinjaValue] = [:]) throws -> String {
        try JinjaTemplate(source: source).render(context)
    }

    private func error(_ source: String, _ context: [String: JinjaValue] = [:]) -> JinjaError? {
        do {
            _ = try render(source, context)
            return nil
        } catch {
            return error as? JinjaError
        }
    }

    @Test func syntaxErrorsGiveLineAndColumn() throws {
        let e = try #require(error("Hello\n  {% if x %}\n{{ 1 + }}{% endif %}"))
        #expect(e.kind == .syntax)
        #expect(e.position == JinjaPosition(line: 3, column: 8))
        #expect(e.description.contains("3:8"))

        let unclosed = try #require(error("{% for m in messages %}\n{{ m }}"))
        #expect(unclosed.kind == .syntax)
        #expect(unclosed.message.contains("'endfor'"))
        #expect(unclosed.position?.line == 2)

        let wrongEnd = try #require(error("{% for m in x %}{% endif %}"))
        #expect(wrongEnd.message.contains("unknown tag 'endif'"))
        #expect(wrongEnd.position == JinjaPosition(line: 1, column: 20))

        let badChar = try #require(error("ok\n\n   {{ a ? b }}"))
        #expect(badChar.position == JinjaPosition(line: 3, column: 9))
        #expect(badChar.message.contains("'?'"))
    }

    @Test func runtimeErrorsPointAtTheExpression() throws {
        let e = try #require(error("line one\n  {{ message.content.strip() }}"))
        #expect(e.kind == .runtime)
        #expect(e.message == "'message' is undefined")
        #expect(e.position?.line == 2)

        let typeError = try #require(error("{{ 'a' + n }}", ["n": 1]))
        #expect(typeError.message.contains("unsupported operand"))
        #expect(typeError.position == JinjaPosition(line: 1, column: 8))

        let unknownFilter = try #require(error("\n{{ x | shout }}", ["x": "a"]))
        #expect(unknownFilter.message.contains("no filter named 'shout'"))
        #expect(unknownFilter.position == JinjaPosition(line: 2, column: 8))
    }

    @Test func raiseExceptionCarriesTheTemplatesMessage() throws {
        let e = try #require(error("{% if messages | length == 0 %}{{ raise_exception('No messages: ' ~ 0) }}{% endif %}", ["messages": []]))
        #expect(e.kind == .raised)
        #expect(e.message == "No messages: 0")
        #expect(e.position?.line == 1)
    }

    @Test func generationBlocksRenderTheirBody() throws {
        #expect(try render("{% generation %}A{{ 1 }}{% endgeneration %}B") == "A1B")
    }

    @Test func runawayTemplatesFailInsteadOfCrashing() throws {
        let recursion = try #require(error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"))
        #expect(recursion.message.contains("recursed"))
        #expect(error("{{ range(100000000) | length }}")?.message.contains("range too big") == true)
        #expect(try render("{{ range(0, -100000000) | length }}{{ range(5, 0, -2) | list }}") == "0[5, 3, 1]")
        #expect(error("{{ 'x' * 1000000000 }}")?.message.contains("too long") == true)
        let deep = String(repeating: "(", count: 500) + "1" + String(repeating: ")", count: 500)
        #expect(error("{{ \(deep) }}")?.kind == .syntax)
    }

    @Test func valuesFromSwiftAndJSON() throws {
        let v = try JinjaValue(json: #"{"z": 1, "a": 1.0, "m": [true, null, "é\u00e9\ud83d\ude00"], "n": -2.5e3}"#)
        #expect(v.objectValue?.keys == ["z", "a", "m", "n"])
        #expect(try render("{{ v }}", ["v": v]) == "{'z': 1, 'a': 1.0, 'm': [True, None, 'éé😀'], 'n': -2500.0}")
        #expect(try render("{{ v | tojson }}", ["v": v]) == #"{"z": 1, "a": 1.0, "m": [true, null, "éé😀"], "n": -2500.0}"#)
        let literal: JinjaValue = ["name": "f", "args": [1, 2.5, false, nil]]
        #expect(try render("{{ x.name }}{{ x.args }}", ["x": literal]) == "f[1, 2.5, False, None]")
        #expect(throws: JinjaError.self) { try JinjaValue(json: "{\"a\": }") }
        let parsed = try JSONValue.parse(#"{"b": true, "i": 3, "d": 2.0, "n": null, "a": [false, 0]}"#)
        #expect(JinjaValue(parsed).pythonRepr == "{'b': True, 'i': 3, 'd': 2.0, 'n': None, 'a': [False, 0]}")
        #expect(try JinjaValue(parsed).jsonValue() == parsed)
        let f = JinjaFunction(name: "twice") { args, _ in .string((args.first?.pythonStr ?? "") + (args.first?.pythonStr ?? "")) }
        #expect(try render("{{ twice('ab') }}", ["twice": .function(f)]) == "abab")
    }

    @Test func strftimeFormatsLikePython() throws {
        let date = Date(timeIntervalSince1970: 1_721_995_200)  // 2024-07-26 12:00:00 UTC, a Friday
        let utc = TimeZone(identifier: "UTC")!
        #expect(Strftime.format("%d %b %Y", date, timeZone: utc) == "26 Jul 2024")
        #expect(Strftime.format("%A, %B %-d %H:%M:%S %j %%", date, timeZone: utc) == "Friday, July %-d 12:00:00 208 %")
        #expect(Strftime.format("%Y-%m-%d", date, timeZone: utc) == "2024-07-26")
        let today = try render("{{ strftime_now('%Y') }}")
        #expect(today.count == 4 && Int(today) != nil)
    }
}
