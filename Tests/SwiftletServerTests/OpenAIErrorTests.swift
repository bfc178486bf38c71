import Foundation
import SwiftletAPI
import Testing
@testable import SwiftletServer

@Suite struct OpenAIErrorTests {
    @Test func bodyHasOpenAIShapeWithNulls() throws {
        let e = OpenAIError.invalidRequest("max_tokens must be at least 1", param: "max_tokens")
        #expect(e.status == 400)
        let object = try #require(JSONSerialization.jsonObject(with: e.jsonBody()) as? [String: Any])
        let inner = try #require(object["error"] as? [String: Any])
        #expect(inner["message"] as? String == "max_tokens must be at least 1")
        #expect(inner["type"] as? String == "invalid_request_error")
        #expect(inner["param"] as? String == "max_tokens")
        #expect(inner["code"] is NSNull)
        #expect(Set(inner.keys) == ["message", "type", "param", "code"])
    }

    @Test func statusesMatchTheirKinds() {
        #expect(OpenAIError.unauthorized().status == 401)
        #expect(OpenAIError.unauthorized().code == "invalid_api_key")
        #expect(OpenAIError.notFound("no model x").status == 404)
        #expect(OpenAIError.overloaded().status == 503)
    }
}
