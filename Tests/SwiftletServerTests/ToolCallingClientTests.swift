import Foundation
import Testing
import SwiftletTestSupport
@testable import SwiftletServer

/// Tool calling through the official `openai` package (Tests/ServerClients/openai_tools.py)
/// against SmolLM2 on a loopback server: enforced calls validate against their schemas, a
/// streamed call assembles in the client, tool messages round-trip, bad requests are 400s.
@Suite(.serialized, .enabled(if: TestPaths.smolLM2IfInstalled != nil, "SmolLM2 not installed; run scripts/bootstrap.sh"))
struct ToolCallingClientTests {
    @Test func officialClientCallsTools() async throws {
        let server = try await TestServer(model: TestPaths.smolLM2, apiKey: "tools-key", servedName: "smollm2")
        let (status, output) = try await runProcess("/usr/bin/env", [
            "python3", TestPaths.clientScript("openai_tools.py"), server.baseURL + "/v1", "tools-key", "smollm2",
        ])
        print(output)
        await server.stop()
        #expect(status == 0, "\(output)")
        #expect(output.contains(" 0 failing"))
    }
}
