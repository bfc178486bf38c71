import Testing
@testable import SwiftletGrammar

@Suite struct JSONSchemaGrammarTests {
    func check(_ schema: String, valid: [String], invalid: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        for doc in valid {
            #expect(try TestVocabulary.matches(.jsonSchema(schema), doc), "should accept \(doc)", sourceLocation: sourceLocation)
            #expect(try TestVocabulary.matchesGreedy(.jsonSchema(schema), doc), "should accept \(doc) in multi-byte tokens", sourceLocation: sourceLocation)
        }
        for doc in invalid {
            #expect(try !TestVocabulary.matches(.jsonSchema(schema), doc), "should reject \(doc)", sourceLocation: sourceLocation)
        }
    }

    @Test func objectsKeepSchemaOrderAndRequiredMembers() throws {
        let schema = #"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},"c":{"type":"boolean"}},"required":["a","c"]}"#
        try check(schema,
            valid: [#"{"a":1,"c":true}"#, #"{"a": -5, "b": "x", "c": false}"#, "{\n  \"a\": 0,\n  \"c\": true\n}"],
            invalid: [#"{"c":true,"a":1}"#, #"{"a":1}"#, #"{"a":1,"c":true,"d":1}"#, #"{"a":"1","c":true}"#, #"{"a":1,,"c":true}"#, #"{"a":1,"c":true,}"#])
    }

    @Test func optionalMembersOnlyAndEmptyObjects() throws {
        let schema = #"{"type":"object","properties":{"x":{"type":"null"},"y":{"type":"number"}}}"#
        try check(schema, valid: ["{}", #"{"x":null}"#, #"{"y":2.5e3}"#, #"{"x":null,"y":-1}"#],
                  invalid: [#"{,"y":1}"#, #"{"y":1,"x":null}"#, #"{"z":1}"#])
    }

    @Test func additionalProperties() throws {
        try check(#"{"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":{"type":"string"}}"#,
                  valid: [#"{"a":1,"k":"v"}"#, #"{"k":"v","m":"w"}"#], invalid: [#"{"a":1,"k":2}"#])
        try check(#"{"type":"object","additionalProperties":false}"#, valid: ["{}"], invalid: [#"{"a":1}"#])
        try check(#"{"type":"object"}"#, valid: [#"{"any":[1,{"b":null}]}"#], invalid: ["[]"])
    }

    @Test func typesListsNullableEnumAndConst() throws {
        try check(#"{"type":["string","null"]}"#, valid: [#""a""#, "null"], invalid: ["1", "true"])
        try check(#"{"type":"integer","nullable":true}"#, valid: ["7", "null"], invalid: ["7.5"])
        try check(#"{"enum":["red",2,null,{"k":[true]}]}"#, valid: [#""red""#, "2", "null", #"{"k":[true]}"#], invalid: [#""blue""#, "3"])
        try check(#"{"const":"fixed"}"#, valid: [#""fixed""#], invalid: [#""fixe""#])
    }

    @Test func anyOfOneOfAndAllOf() throws {
        try check(#"{"anyOf":[{"type":"integer"},{"type":"array","items":{"type":"boolean"}}]}"#,
                  valid: ["3", "[true,false]", "[]"], invalid: [#""3""#, "[1]"])
        try check(#"{"oneOf":[{"const":1},{"const":2}]}"#, valid: ["1", "2"], invalid: ["3"])
        let allOf = #"{"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},{"properties":{"b":{"type":"string"}},"required":["b"]}]}"#
        try check(allOf, valid: [#"{"a":1,"b":"x"}"#], invalid: [#"{"a":1}"#, #"{"b":"x"}"#])
    }

    @Test func arrays() throws {
        try check(#"{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3}"#,
                  valid: ["[1,2]", "[1, 2, 3]"], invalid: ["[1]", "[1,2,3,4]", "[]", "[1,\"a\"]"])
        try check(#"{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}"#,
                  valid: [#"["a",1]"#, #"["a"]"#, "[]"], invalid: [#"["a",1,2]"#, #"[1]"#])
        try check(#"{"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"null"},"minItems":2}"#,
                  valid: [#"["a",null]"#, #"["a",null,null]"#], invalid: [#"["a"]"#, #"["a",1]"#])
    }

    @Test func stringLengthsPatternsAndFormats() throws {
        try check(#"{"type":"string","minLength":2,"maxLength":3}"#, valid: [#""ab""#, #""a\"c""#, #""éé""#], invalid: [#""a""#, #""abcd""#])
        try check(#"{"type":"string","pattern":"^[a-z]+-\\d{2}$"}"#, valid: [#""ab-12""#], invalid: [#""ab-1""#, #""Ab-12""#, #""xab-12x""#])
        try check(#"{"type":"string","pattern":"b\"c"}"#, valid: [#""ab\"cd""#, #""b\"c""#], invalid: [#""bc""#])
        try check(#"{"type":"string","format":"date"}"#, valid: [#""2024-02-29""#], invalid: [#""2024-13-01""#, #""24-01-01""#])
        try check(#"{"type":"string","format":"time"}"#, valid: [#""23:59:60Z""#, #""01:02:03.5+05:30""#], invalid: [#""24:00:00Z""#])
        try check(#"{"type":"string","format":"date-time"}"#, valid: [#""2024-01-31T10:00:00Z""#], invalid: [#""2024-01-31 10:00""#])
        try check(#"{"type":"string","format":"uuid"}"#, valid: [#""123e4567-e89b-12d3-a456-426614174000""#], invalid: [#""123e4567e89b12d3a456426614174000""#])
        try check(#"{"type":"string","format":"email"}"#, valid: [#""a.b+c@example.co.uk""#], invalid: [#""a@b""#, #""@example.com""#])
    }

    @Test func integerBoundsAreExact() throws {
        try check(#"{"type":"integer","minimum":-15,"maximum":130}"#,
                  valid: ["-15", "-1", "0", "9", "10", "99", "100", "130"], invalid: ["-16", "131", "200", "-0", "01", "1000"])
        try check(#"{"type":"integer","exclusiveMinimum":7,"exclusiveMaximum":20}"#, valid: ["8", "19"], invalid: ["7", "20"])
        try check(#"{"type":"integer","minimum":1234}"#, valid: ["1234", "9999", "10000", "123456"], invalid: ["1233", "999", "-1234"])
        try check(#"{"type":"integer","maximum":-10}"#, valid: ["-10", "-99", "-100000"], invalid: ["-9", "0", "5"])
        try check(#"{"type":"integer","minimum":0,"maximum":0}"#, valid: ["0"], invalid: ["1", "-1"])
        for n in -40...40 {
            let inRange = (-13...27).contains(n)
            #expect(try TestVocabulary.matches(.jsonSchema(#"{"type":"integer","minimum":-13,"maximum":27}"#), String(n)) == inRange, "\(n)")
        }
    }

    @Test func numberBoundsHold() throws {
        try check(#"{"type":"number","minimum":0}"#, valid: ["0", "1.5", "12345.25"], invalid: ["-1", "-0.5", "2e3"])
        try check(#"{"type":"number","exclusiveMaximum":0}"#, valid: ["-1", "-0.5", "-100.75"], invalid: ["0", "1", "0.5"])
        try check(#"{"type":"number","minimum":-2.5,"maximum":100}"#, valid: ["100", "99.99", "-2", "-1.5", "0.25", "-0.5"],
                  invalid: ["100.5", "101", "1000", "-3", "-2.75"])
        try check(#"{"type":"number","exclusiveMinimum":1,"exclusiveMaximum":3}"#, valid: ["2", "1.5", "2.999"],
                  invalid: ["1", "3", "1.0", "3.0", "0.5", "3.5"])
        // Sound everywhere: whatever the grammar lets through lies within the bounds.
        let schemas: [(String, Double?, Bool, Double?, Bool)] = [
            (#"{"type":"number","minimum":-13,"maximum":27}"#, -13, false, 27, false),
            (#"{"type":"number","exclusiveMinimum":-4.5,"maximum":6.25}"#, -4.5, true, 6.25, false),
            (#"{"type":"number","minimum":3}"#, 3, false, nil, false),
            (#"{"type":"number","exclusiveMaximum":-7}"#, nil, false, -7, true),
        ]
        for (schema, lo, loExclusive, hi, hiExclusive) in schemas {
            for whole in -40...40 {
                for tail in ["", ".0", ".25", ".5", ".999"] {
                    let text = "\(whole)\(tail)"
                    let value = Double(text)!
                    let inside = (lo.map { loExclusive ? value > $0 : value >= $0 } ?? true) && (hi.map { hiExclusive ? value < $0 : value <= $0 } ?? true)
                    let accepted = try TestVocabulary.matches(.jsonSchema(schema), text)
                    if accepted { #expect(inside, "\(schema) accepted \(text)") }
                    if inside && tail.isEmpty { #expect(accepted, "\(schema) refused the whole number \(text)") }
                }
            }
        }
        #expect(TestVocabulary.error(.jsonSchema(#"{"type":"number","minimum":0.1,"maximum":0.9}"#))?.contains("too narrow") == true)
        #expect(TestVocabulary.error(.jsonSchema(#"{"type":"number","minimum":5,"maximum":1}"#))?.contains("no number") == true)
    }

    @Test func refsDefsAndRecursion() throws {
        let tree = ##"{"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}}}"##
        try check(tree, valid: [#"{"v":1}"#, #"{"v":1,"kids":[{"v":2,"kids":[{"v":3}]},{"v":4}]}"#], invalid: [#"{"v":1,"kids":[{}]}"#])
        try check(##"{"definitions":{"s":{"type":"string"}},"type":"array","items":{"$ref":"#/definitions/s"}}"##,
                  valid: [#"["a","b"]"#], invalid: ["[1]"])
    }

    @Test func emptySchemaIsAnyValueAndRequiredNamesBeyondProperties() throws {
        try check("{}", valid: ["1", #""s""#, "[null]", #"{"a":{}}"#], invalid: ["nul", "[1,]"])
        try check("true", valid: ["false"], invalid: ["tru"])
        try check(#"{"type":"object","properties":{"a":{"type":"integer"}},"required":["a","b"],"additionalProperties":true}"#,
                  valid: [#"{"a":1,"b":[2]}"#], invalid: [#"{"a":1}"#])
        #expect(TestVocabulary.error(.jsonSchema(#"{"type":"object","properties":{},"required":["b"],"additionalProperties":false}"#))?.contains("'required'") == true)
    }

    @Test func aClosedDocumentIsComplete() throws {
        var m = GrammarMatcher(try TestVocabulary.compiler.compile(.jsonSchema(#"{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}"#)))
        var accepted = true
        for b in #"{"a": 12"#.utf8 { accepted = accepted && m.accept(Int(b)) }
        let openEnded = (m.canEnd, m.isComplete)
        accepted = accepted && m.accept(Int(UInt8(ascii: "}")))
        #expect(accepted && openEnded == (false, false) && m.canEnd && m.isComplete)
    }

    @Test func unsupportedKeywordsAreNamed() {
        for keyword in ["not", "if", "patternProperties", "multipleOf", "propertyNames"] {
            let message = TestVocabulary.error(.jsonSchema("{\"type\":\"object\",\"\(keyword)\":{}}"))
            #expect(message == "unsupported JSON Schema keyword '\(keyword)' at #", "\(keyword)")
        }
        #expect(TestVocabulary.error(.jsonSchema(#"{"type":"array","uniqueItems":true}"#))?.contains("uniqueItems") == true)
        #expect(TestVocabulary.error(.jsonSchema(#"{"properties":{"a":{"not":{}}}}"#)) == "unsupported JSON Schema keyword 'not' at #/properties/a")
        #expect(TestVocabulary.error(.jsonSchema(##"{"$ref":"#/$defs/missing"}"##)) == "$ref '#/$defs/missing' points to nothing")
        #expect(TestVocabulary.error(.jsonSchema(#"{"type":"strnig"}"#)) == "unknown type 'strnig' at #")
        #expect(TestVocabulary.error(.jsonSchema("{"))?.hasPrefix("the JSON schema is not valid JSON") == true)
        let deep = String(repeating: #"{"type":"array","items":"#, count: 80) + "{}" + String(repeating: "}", count: 80)
        #expect(TestVocabulary.error(.jsonSchema(deep))?.contains("nested more than 64 deep") == true)
        #expect(TestVocabulary.error(.jsonSchema(#"{"allOf":[{"type":"string"},{"type":"integer"}]}"#))?.contains("allOf") == true)
    }

    @Test func rulesComposeUnderTheirPrefix() throws {
        let a = try JSONSchemaGrammar.gbnfRules(schemaText: #"{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}"#, rootRule: "args-a")
        let b = try JSONSchemaGrammar.gbnfRules(schemaText: #"{"type":"array","items":{"type":"string"}}"#, rootRule: "args-b")
        let doc = "root ::= \"a:\" args-a | \"b:\" args-b\n" + a + b
        #expect(try TestVocabulary.matches(.gbnf(doc), #"a:{"n":3}"#))
        #expect(try TestVocabulary.matches(.gbnf(doc), #"b:["x"]"#))
        #expect(try !TestVocabulary.matches(.gbnf(doc), #"a:["x"]"#))
        for line in (a + b).split(separator: "\n") { #expect(line.hasPrefix("args-a") || line.hasPrefix("args-b")) }
    }
}
