import Foundation
import Testing
@testable import SwiftletTokenizers
@testable import SwiftletJinja

/// Small templates, one language feature each, compared with what Python's jinja2 renders.
@Suite struct JinjaFeatureTests {
    @Test func everyFeatureSnippetMatchesJinja2() throws {
        let features = try #require(try TemplateFixtures.json("features.json").arrayValue)
        #expect(features.count > 100)
        for case .object(let f) in features {
            let source = f["template"]!.pythonStr
            let label = source.debugDescription
            if case .string(let want)? = f["syntax_error"] {
                do {
                    _ = try JinjaTemplate(source: source)
                    Issue.record("\(label): parsed, but jinja2 says \(want)")
                } catch let e as JinjaError {
                    #expect(e.kind == .syntax, "\(label)")
                    let line = Int(want.dropFirst(5).prefix { $0.isNumber })
                    #expect(e.position?.line == line, "\(label): \(e) vs \(want)")
                }
                continue
            }
            var context: [String: JinjaValue] = [:]
            for (k, v) in f["context"]?.objectValue?.pairs ?? [] { context[k] = v }
            let result = Result { try JinjaTemplate(source: source).render(context) }
            TemplateFixtures.check(result, against: f, label)
        }
    }
}
