import Crypto
import Foundation
import SwiftASN1
import Testing
import X509
@testable import ACME

/// A whole issuance against a CA that checks every request as a real one would.
@Suite struct IssuanceTests {
    static let nameSets = [oneName, threeNames]

    private func issue(_ names: [String]) throws -> (Harness, IssuedCertificate) {
        let harness = Harness()
        let issued = try harness.obtain(names).get()
        return (harness, issued)
    }

    @Test(arguments: nameSets)
    func theEventsOfAnIssuanceArriveInOrder(_ names: [String]) throws {
        let (harness, _) = try issue(names)
        let tokens = harness.ca.published
        #expect(tokens.count == names.count)
        let challenges = zip(names, tokens).map { ACMEEvent.challenge(name: $0, url: "http://\($0)/.well-known/acme-challenge/\($1)") }
        let expected: [ACMEEvent] = [.account(created: true), .ordered(names: names)] + challenges
            + names.map { .validated(name: $0) } + [.finalizing, .issued]
        #expect(harness.recorder.events == expected)
    }

    @Test(arguments: nameSets)
    func theCAFindsNothingToRefuseInAnyRequest(_ names: [String]) throws {
        let (harness, _) = try issue(names)
        #expect(harness.ca.violations == [])
    }

    @Test func theRequestsFollowRFC8555sOrder() throws {
        let (harness, _) = try issue(oneName)
        #expect(harness.ca.requests.map(\.endpoint) == [.directory, .newNonce, .newAccount, .newOrder, .authorization, .challenge,
                                                        .authorization, .order, .finalize, .certificate])
        #expect(harness.ca.requests.map(\.method) == ["GET", "HEAD"] + Array(repeating: "POST", count: 8))
    }

    @Test(arguments: nameSets)
    func theChainReturnedIsTheOneTheCAServedForTheNames(_ names: [String]) throws {
        let (harness, issued) = try issue(names)
        #expect(harness.ca.chains == [issued.chainPEM])
        #expect(issued.names == names)
        let leaf = try leafOf(issued.chainPEM)
        let sans = try #require(try leaf.extensions.subjectAlternativeNames)
        #expect(sans.map { name -> String in if case .dnsName(let value) = name { value } else { "?" } } == names)
        #expect(issued.chainPEM.contains(harness.ca.caCertificatePEM))
    }

    @Test(arguments: nameSets)
    func theKeyIsAFreshP256KeyWhosePublicKeyIsTheCertificates(_ names: [String]) throws {
        let (harness, issued) = try issue(names)
        let key = try P256.Signing.PrivateKey(pemRepresentation: issued.keyPEM)
        let leaf = try leafOf(issued.chainPEM)
        #expect(leaf.publicKey == Certificate.PublicKey(key.publicKey))
        #expect(harness.ca.csrKeys == [Certificate.PublicKey(key.publicKey)])
        #expect(key.rawRepresentation != harness.key.key.rawRepresentation)
        #expect(issued.keyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
    }

    @Test(arguments: nameSets)
    func theCSRNamesEveryOrderedNameAsASubjectAlternativeName(_ names: [String]) throws {
        let (harness, _) = try issue(names)
        #expect(harness.ca.csrNames == [names])
    }

    @Test(arguments: nameSets)
    func everyTokenPublishedIsUnpublished(_ names: [String]) throws {
        let (harness, _) = try issue(names)
        #expect(harness.ca.published.count == names.count)
        #expect(Set(harness.ca.published).count == names.count)
        #expect(harness.ca.unpublished.sorted() == harness.ca.published.sorted())
        #expect(harness.ca.webroot.isEmpty)
    }

    @Test func theKeyAuthorizationPublishedIsTheTokenDotTheThumbprint() throws {
        let harness = Harness()
        let seen = Box<[String: String]>([:])
        _ = try harness.obtain(oneName, publish: { token, keyAuthorization in
            seen.value[token] = keyAuthorization
            harness.ca.publish(token, keyAuthorization)
        }).get()
        let token = try #require(harness.ca.published.first)
        #expect(seen.value == [token: "\(token).\(harness.key.thumbprint)"])
    }

    @Test(arguments: nameSets)
    func newAccountIsSignedWithTheJWKAndEveryOtherRequestWithTheAccountURL(_ names: [String]) throws {
        let (harness, _) = try issue(names)
        let signed = harness.ca.requests.filter { $0.method == "POST" }
        let account = try #require(harness.ca.requests(to: .newAccount).first?.header)
        #expect(account.jwk == harness.key.jwk)
        #expect(account.kid == nil)
        let accountURL = try #require(harness.ca.accountURLs.first)
        let others = signed.filter { $0.endpoint != .newAccount }
        #expect(others.count == signed.count - 1)
        #expect(others.allSatisfy { $0.header?.kid == accountURL && $0.header?.jwk == nil })
        #expect(signed.allSatisfy { $0.header?.alg == "ES256" && $0.header?.url == $0.url })
    }

    @Test func newAccountAgreesToTheTermsAndGivesTheEmailAsContact() throws {
        let (harness, _) = try issue(oneName)
        let payload = try #require(harness.ca.requests(to: .newAccount).first?.payload)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any])
        #expect(object["termsOfServiceAgreed"] as? Bool == true)
        #expect(object["contact"] as? [String] == ["mailto:ops@example.com"])
    }

    @Test func newAccountWithoutAnEmailSendsNoContact() throws {
        let harness = Harness(email: nil)
        _ = try harness.obtain(oneName).get()
        let payload = try #require(harness.ca.requests(to: .newAccount).first?.payload)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any])
        #expect(object["contact"] == nil)
    }

    @Test func theOrderListsEveryNameAsADNSIdentifier() throws {
        let (harness, _) = try issue(threeNames)
        let payload = try #require(harness.ca.requests(to: .newOrder).first?.payload)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: [[String: String]]])
        #expect(object["identifiers"] == threeNames.map { ["type": "dns", "value": $0] })
    }

    @Test(arguments: nameSets)
    func fetchesArePostAsGetWithAnEmptyPayload(_ names: [String]) throws {
        let (harness, _) = try issue(names)
        let fetches = harness.ca.requests.filter { [.authorization, .order, .certificate].contains($0.endpoint) }
        #expect(fetches.count == 2 * names.count + 2)
        #expect(fetches.allSatisfy { $0.method == "POST" && $0.payload == "" })
    }

    @Test func theChallengeIsStartedWithAnEmptyObject() throws {
        let (harness, _) = try issue(threeNames)
        #expect(harness.ca.requests(to: .challenge).map(\.payload) == ["{}", "{}", "{}"])
    }

    @Test func theDownloadAsksForAPEMChainAndNothingElseDoes() throws {
        let (harness, _) = try issue(oneName)
        #expect(harness.ca.requests(to: .certificate).map(\.accept) == ["application/pem-certificate-chain"])
        #expect(harness.ca.requests.filter { $0.endpoint != .certificate }.allSatisfy { $0.accept == nil })
    }

    @Test(arguments: nameSets)
    func noNonceIsUsedTwiceAndEveryOneWasIssuedByTheCA(_ names: [String]) throws {
        let (harness, _) = try issue(names)
        let nonces = harness.ca.requests.compactMap { $0.header?.nonce }
        #expect(nonces.count == harness.ca.requests.filter { $0.method == "POST" }.count)
        #expect(Set(nonces).count == nonces.count)
        #expect(Set(nonces).isSubset(of: harness.ca.issuedNonces))
    }

    @Test func onlyTheFirstNonceIsFetchedTheRestRideOnAnswers() throws {
        let (harness, _) = try issue(threeNames)
        #expect(harness.ca.requests(to: .newNonce).count == 1)
    }

    @Test func anAccountTheCAAlreadyKnowsIsFoundNotCreated() throws {
        let first = Harness()
        let created = try first.account().get()
        let second = first.again()
        let found = try second.account().get()
        #expect(found == created)
        #expect(found.directory == first.ca.directoryURL)
        #expect(first.recorder.events == [.account(created: true)])
        #expect(second.recorder.events == [.account(created: false)])
        #expect(first.ca.accountURLs == [created.url])
    }

    @Test func aKnownAccountWithTheSameEmailIsNotUpdated() throws {
        let first = Harness()
        var second = first.again()
        second.known = try first.account().get()
        #expect(try second.account().get().email == "ops@example.com")
        #expect(first.ca.requests(to: .account).isEmpty)
    }

    @Test func aChangedEmailIsSentToTheCAAsTheAccountsContact() throws {
        let first = Harness()
        var second = first.again()
        second.known = try first.account().get()
        second.options.email = "new@example.com"
        let updated = try second.account().get()
        #expect(updated.email == "new@example.com")
        let updates = first.ca.requests(to: .account)
        #expect(updates.count == 1)
        let payload = try #require(updates.first?.payload)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: [String]])
        #expect(object == ["contact": ["mailto:new@example.com"]])
        #expect(updates.first?.header?.kid == updated.url)
    }

    @Test func anEmailRemovedFromTheSpecClearsTheContact() throws {
        let first = Harness()
        var second = first.again()
        second.known = try first.account().get()
        second.options.email = nil
        _ = try second.account().get()
        let payload = try #require(first.ca.requests(to: .account).first?.payload)
        #expect(payload.replacingOccurrences(of: " ", with: "") == #"{"contact":[]}"#)
    }

    @Test func anIssuanceWithAKnownAccountReportsItFound() throws {
        let first = Harness()
        _ = try first.account().get()
        let second = first.again()
        _ = try second.obtain(oneName).get()
        #expect(second.recorder.events.first == .account(created: false))
        #expect(second.recorder.events.last == .issued)
    }

    @Test func aCertificateStillProcessingIsPolledUntilValidHonouringRetryAfter() throws {
        var script = FakeCA.Script()
        script.processingPolls = 2
        script.pollRetryAfter = "1"
        let harness = Harness(script)
        let issued = try harness.obtain(oneName).get()
        #expect(harness.ca.chains == [issued.chainPEM])
        #expect(harness.ca.requests(to: .order).count == 4)
        #expect(abs(harness.clock.totalSlept - 2) < 1e-9)
    }

    @Test func aCAUnderTestOnLocalhostOverPlainHTTPIsUsable() throws {
        var script = FakeCA.Script()
        script.base = "http://127.0.0.1:14000"
        let harness = Harness(script)
        _ = try harness.obtain(oneName).get()
        #expect(harness.ca.violations == [])
        #expect(harness.ca.requests.allSatisfy { $0.url.hasPrefix("http://127.0.0.1:14000/") })
    }

    @Test(arguments: [0, 101])
    func anOrderOfNoneOrMoreThan100NamesIsRefusedBeforeAnyRequest(_ count: Int) {
        let harness = Harness()
        let error = harness.obtain((0..<count).map { "n\($0).example.com" }).failure
        #expect(error?.kind == "protocolViolation")
        #expect(error.map { "\($0)" }?.hasPrefix("acme: an order needs 1 to 100 names, not \(count)") == true)
        #expect(harness.ca.requests.isEmpty)
    }
}

/// The first certificate of a PEM chain.
func leafOf(_ chain: String) throws -> Certificate {
    let documents = try PEMDocument.parseMultiple(pemString: chain)
    #expect(documents.count == 2)
    return try Certificate(derEncoded: try #require(documents.first).derBytes)
}
