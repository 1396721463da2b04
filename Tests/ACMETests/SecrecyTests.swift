import Foundation
import HTTPClient
import Testing
@testable import ACME

/// No failure's description carries the account key, a nonce or what a non-problem answer said.
@Suite struct SecrecyTests {
    enum Scenario: String, CaseIterable, Sendable {
        case sixBadNonces, rateLimitedForADay, busyWithoutRetryAfter, challenge404, challengeRefusedWithoutReason, certificateNotPEM
        case newOrderWithoutLocation, answerNotJSON, serverErrorPage, unreachable, deadlinePassed, pendingForever, notHTTPS

        var script: FakeCA.Script {
            var script = FakeCA.Script()
            let page = "<html><title>Error</title>nonce=Nn99999Qz key=MIGHAgEAMBMGByqGSM49 /srv/wfe.go:1234</html>"
            switch self {
            case .sixBadNonces: script.faults = [badNonce(on: .finalize, times: 6)]
            case .rateLimitedForADay: script.faults = [rateLimited(retryAfter: "86400")]
            case .busyWithoutRetryAfter: script.faults = [busy(on: .newOrder, retryAfter: nil)]
            case .challenge404: script.challengeError = ("urn:ietf:params:acme:error:unauthorized", "Invalid response: 404")
            case .challengeRefusedWithoutReason:
                script.faults = [FakeCA.Fault(endpoint: .challenge, answer: .raw(status: 400, body: page))]
            case .certificateNotPEM: script.certificateBody = page
            case .newOrderWithoutLocation: script.omitLocation = [.newOrder]
            case .answerNotJSON:
                script.faults = [FakeCA.Fault(endpoint: .authorization, answer: .raw(status: 200, body: page))]
            case .serverErrorPage: script.faults = [FakeCA.Fault(endpoint: .newAccount, answer: .raw(status: 500, body: page))]
            case .unreachable:
                script.faults = [FakeCA.Fault(endpoint: .order, answer: .transport(HTTPError(kind: .connect, message: "Couldn't connect to server")))]
            case .deadlinePassed:
                script.faults = [FakeCA.Fault(endpoint: .finalize, answer: .transport(HTTPError(kind: .timeout, message: "Timeout was reached"), seconds: 500))]
            case .pendingForever: script.pendingForever = true
            case .notHTTPS: script.directoryOverrides = ["newAccount": "http://ca.test/new-account?nonce=Nn00001Qz"]
            }
            return script
        }
    }

    @Test(arguments: Scenario.allCases)
    func aFailureDescriptionCarriesNoKeyNonceOrRawBody(_ scenario: Scenario) throws {
        let harness = Harness(scenario.script)
        let error = try #require(harness.obtain(threeNames).failure)
        let text = "\(error)"
        #expect(text.hasPrefix("acme: "))
        let keyLines = harness.key.pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }
        #expect(!keyLines.isEmpty)
        for line in keyLines { #expect(!text.contains(line)) }
        #expect(!text.contains("PRIVATE"))
        #expect(!text.contains(harness.key.thumbprint))
        for nonce in harness.ca.issuedNonces.union(["Nn99999Qz", "Nn00001Qz"]) { #expect(!text.contains(nonce)) }
        for body in harness.ca.rawBodies where !body.isEmpty { #expect(!text.contains(body)) }
        #expect(!text.contains("<html>") && !text.contains("wfe.go") && !text.contains("MIGHAgEA"))
    }

    @Test func theScenariosFailInTheWaysTheyAreMeantTo() {
        let kinds = Scenario.allCases.map { Harness($0.script).obtain(threeNames).failure?.kind ?? "issued" }
        #expect(kinds == ["problem", "rateLimited", "problem", "challengeFailed", "problem", "protocolViolation",
                          "protocolViolation", "protocolViolation", "problem", "transport", "timeout", "timeout", "protocolViolation"])
    }
}
