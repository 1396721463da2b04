import Foundation
import Testing

/// The harness itself: a hung bgctl must fail its test, not hang the run.
@Suite struct SandboxTests {
    @Test func aRunThatOutlivesItsTimeoutIsStoppedAndRecorded() throws {
        let sandbox = try Sandbox()
        try sandbox.writeMinimalSpec()
        let log = try sandbox.write("", to: "access.log")
        let started = Date()
        // Without --once or --for, watch follows the log until it is signalled.
        withKnownIssue {
            _ = try sandbox.run(["watch", "--log", log], timeout: 1)
        }
        #expect(Date().timeIntervalSince(started) < 5)
    }
}
