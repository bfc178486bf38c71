import Foundation
import Testing
@testable import SwiftletFormats

@Suite struct JSONValueTests {
    @Test func parsingKeepsEveryScalarOrderAndNumberKind() throws {
        let v = try JSONValue.parse(#"{"a": "\ufeffx\ud83d\ude00", "b": [1, -2.5e1, true, null, 2.0], "z": {}, "a2": "é\n"}"#)
        #expect(v["a"].string?.unicodeScalars.map(\.value) == [0xFEFF, 0x78, 0x1F600])
        #expect(v["b"] == [1, -25.0, true, .null, 2.0])
        #expect(v["b"].array?[4].int == 2 && v["b"].array?[0].double == 1)
        #expect(v.object?.map(\.0) == ["a", "b", "z", "a2"])
        #expect(v["missing"].isNull && v["b"]["x"].isNull)
        // A BOM before the document is skipped; a duplicate key means its last value.
        #expect(try JSONValue.parse(Data([0xEF, 0xBB, 0xBF] + Array(#"{"k": 1, "k": 2}"#.utf8)))["k"] == 2)
    }

    @Test func malformedTextNamesTheByte() throws {
        let cases: [(String, Int)] = [
            ("", 0), ("{", 1), (#"{"a" 1}"#, 5), ("[1,]", 3), ("tru", 0), (#""abc"#, 4), ("1 2", 2),
            (#""\x""#, 2), ("NaN", 0), ("-", 0), ("1e999", 0), (String(repeating: "[", count: 600), 512),
        ]
        for (text, offset) in cases {
            #expect(throws: JSONError.self, "\(text.prefix(20))") { try JSONValue.parse(text) }
            do { _ = try JSONValue.parse(text) } catch let e as JSONError {
                #expect(e.offset == offset, "\(text.prefix(20)): \(e)")
            } catch { Issue.record("\(error)") }
        }
        #expect(try JSONValue.parse("[NaN, -Infinity]", allowNonFinite: true).array?.count == 2)
    }

    @Test func writingRoundTripsAndFollowsOptions() throws {
        let v: JSONValue = ["s": "q\"\\\u{1}\u{8}é😀", "n": [1, 0.5, -0.0, .null, false], "o": ["b": 1, "a": []]]
        let compact = v.serialized()
        #expect(compact == #"{"s":"q\"\\\u0001\bé😀","n":[1,0.5,-0.0,null,false],"o":{"b":1,"a":[]}}"#)
        #expect(try JSONValue.parse(compact) == v)
        let python = JSONWriteOptions(indent: "  ", sortKeys: true, ensureASCII: true, separators: (",", ": "))
        #expect(JSONValue.object([("o", ["b": 1, "a": 2]), ("e", "é😀")]).serialized(python)
                == "{\n  \"e\": \"\\u00e9\\ud83d\\ude00\",\n  \"o\": {\n    \"a\": 2,\n    \"b\": 1\n  }\n}")
        #expect(JSONValue.array([.double(.nan), .double(-.infinity)]).serialized() == "[null,-9999.0]")
        #expect(JSONValue.array([.double(.nan), .double(.infinity)]).serialized(JSONWriteOptions(nonFinite: .python))
                == "[NaN,Infinity]")
    }
}
