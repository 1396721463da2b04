import Crypto
import Foundation
import HTTPClient
import SwiftASN1
import X509
@testable import ACME

/// A scripted ACME (RFC 8555) CA behind `ACMETransport`: it serves a directory, gives a Replay-Nonce
/// with every answer, checks every JWS (ES256 signature with the account's JWK, an issued and unused
/// nonce, `url` equal to the request's URL, `jwk` for newAccount and the account's `kid` otherwise),
/// keeps accounts, orders, authorizations and challenges, checks the key authorization published in
/// its "webroot" on the challenge POST, and issues a real certificate for the CSR's key. Whatever a
/// well-behaved CA would refuse is answered as such *and* written to `violations`, which a test
/// expects empty. `Script` holds the faults to play.
final class FakeCA: ACMETransport, @unchecked Sendable {
    enum Endpoint: String, Sendable, CaseIterable {
        case directory, newNonce, newAccount, account, newOrder, order, authorization, challenge, finalize, certificate
    }

    /// The next `times` requests to `endpoint` get `answer` instead of the CA's own (after the JWS checks).
    struct Fault: Sendable {
        var endpoint: Endpoint
        var times: Int = 1
        var answer: Answer
    }

    enum Answer: Sendable {
        case problem(status: Int, type: String, detail: String? = nil, headers: [String: String] = [:])
        case raw(status: Int, body: String, headers: [String: String] = [:])
        /// No answer; the request took `seconds` of the fake clock first.
        case transport(HTTPError, seconds: Double = 0)
    }

    struct Script: Sendable {
        var base = "https://ca.test"
        /// Directory members replaced ("newOrder": "http://ca.test/new-order").
        var directoryOverrides: [String: String] = [:]
        /// What authorization URLs in orders start with instead of `base`.
        var authorizationBase: String?
        var faults: [Fault] = []
        /// Fetches of an authorization that still answer "pending" after its challenge was started.
        var pendingPolls = 0
        var pendingForever = false
        /// Retry-After on "pending" authorizations and "processing" orders.
        var pollRetryAfter: String?
        /// Fetches of a finalized order that answer "processing".
        var processingPolls = 0
        /// The problem the CA reports when it fetches the challenge (instead of reading the webroot).
        var challengeError: (type: String, detail: String)?
        var offerHTTP01 = true
        /// Every challenge token, instead of a random base64url one.
        var token: String?
        var omitLocation: Set<Endpoint> = []
        /// The certificate download's body instead of the PEM chain.
        var certificateBody: String?
    }

    struct ProtectedHeader: Sendable, Equatable {
        var alg: String?
        var nonce: String?
        var url: String?
        var kid: String?
        var jwk: [String: String]?
    }

    struct Request: Sendable {
        var method: String
        var url: String
        var endpoint: Endpoint?
        var accept: String?
        var header: ProtectedHeader?
        /// The decoded payload: "" for POST-as-GET; nil when the request was no JWS.
        var payload: String?
        /// The fake clock's time when it arrived.
        var at: Double?
    }

    private struct AuthorizationState {
        var name: String
        var token: String
        var status = "pending"
        var started = false
        var pollsLeft: Int
        var outcome: (status: String, error: [String: String]?)?
        var error: [String: String]?
    }

    private struct OrderState {
        var account: String
        var names: [String]
        var authorizations: [Int]
        var finalized = false
        var processingLeft = 0
        var chain: String?
    }

    private struct State {
        var faults: [Fault]
        var nonceCounter = 0
        var issuedNonces: Set<String> = []
        var usedNonces: Set<String> = []
        var accounts: [String: (thumbprint: String, key: P256.Signing.PublicKey)] = [:]
        var orders: [OrderState] = []
        var authorizations: [AuthorizationState] = []
        var webroot: [String: String] = [:]
        var published: [String] = []
        var unpublished: [String] = []
        var requests: [Request] = []
        var violations: [String] = []
        var chains: [String] = []
        var csrNames: [[String]] = []
        var csrKeys: [Certificate.PublicKey] = []
        var rawBodies: [String] = []
    }

    let script: Script
    private let clock: FakeClock?
    private let lock = NSLock()
    private var state: State
    private let caKey = P256.Signing.PrivateKey()
    private let caName: DistinguishedName
    let caCertificatePEM: String

    init(_ script: Script = Script(), clock: FakeClock? = nil) {
        self.script = script
        self.clock = clock
        state = State(faults: script.faults)
        caName = try! DistinguishedName { CommonName("Fake ACME CA") }
        let now = Date()
        let ca = try! Certificate(version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey),
                                  notValidBefore: now - 3600, notValidAfter: now + 86_400 * 365, issuer: caName, subject: caName,
                                  signatureAlgorithm: .ecdsaWithSHA256,
                                  extensions: try! Certificate.Extensions {
                                      Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                                      KeyUsage(keyCertSign: true)
                                  },
                                  issuerPrivateKey: .init(caKey))
        caCertificatePEM = try! ca.serializeAsPEM().pemString
    }

    var directoryURL: String { script.base + "/directory" }

    // MARK: - What tests read

    var requests: [Request] { lock.withLock { state.requests } }
    var violations: [String] { lock.withLock { state.violations } }
    var issuedNonces: Set<String> { lock.withLock { state.issuedNonces } }
    var published: [String] { lock.withLock { state.published } }
    var unpublished: [String] { lock.withLock { state.unpublished } }
    var webroot: [String: String] { lock.withLock { state.webroot } }
    var chains: [String] { lock.withLock { state.chains } }
    var csrNames: [[String]] { lock.withLock { state.csrNames } }
    var csrKeys: [Certificate.PublicKey] { lock.withLock { state.csrKeys } }
    /// Every body the CA sent that was not JSON it wrote itself (fault bodies, certificates).
    var rawBodies: [String] { lock.withLock { state.rawBodies } }
    var accountURLs: [String] { lock.withLock { Array(state.accounts.keys) } }

    func requests(to endpoint: Endpoint) -> [Request] { requests.filter { $0.endpoint == endpoint } }

    // MARK: - The webroot the client publishes into (what http://NAME/.well-known/acme-challenge/ serves)

    func publish(_ token: String, _ keyAuthorization: String) {
        lock.withLock {
            state.published.append(token)
            state.webroot[token] = keyAuthorization
        }
    }

    func unpublish(_ token: String) {
        lock.withLock {
            state.unpublished.append(token)
            state.webroot[token] = nil
        }
    }

    // MARK: - The transport

    func perform(_ request: HTTPRequest) -> Result<HTTPResponse, HTTPError> {
        lock.withLock { handle(request) }
    }

    private func handle(_ request: HTTPRequest) -> Result<HTTPResponse, HTTPError> {
        let located = Self.endpoint(of: request.url, base: script.base)
        let accept = request.headers.last { $0.0.lowercased() == "accept" }?.1
        var record = Request(method: request.method, url: request.url, endpoint: located?.0, accept: accept, at: clock?.now)

        guard let found = located else {
            state.requests.append(record)
            state.violations.append("\(request.method) to an unknown URL \(request.url)")
            return .success(problem(404, "malformed", "no such resource"))
        }
        let (endpoint, id) = found

        var signer: (account: String?, jwk: [String: String]?, payload: String)?
        switch endpoint {
        case .directory, .newNonce:
            let allowed = endpoint == .directory ? ["GET"] : ["HEAD", "GET"]
            state.requests.append(record)
            if !allowed.contains(request.method) {
                state.violations.append("\(request.method) to \(endpoint)")
                return .success(problem(405, "malformed", "method not allowed"))
            }
        default:
            guard request.method == "POST" else {
                state.requests.append(record)
                state.violations.append("\(request.method) to \(endpoint) (RFC 8555 §6.3 wants POST-as-GET)")
                return .success(problem(405, "malformed", "method not allowed"))
            }
            switch verify(request, endpoint: endpoint, record: &record) {
            case .failure(let refusal):
                state.requests.append(record)
                return .success(refusal.response)
            case .success(let verified):
                state.requests.append(record)
                signer = verified
            }
        }

        if let index = state.faults.firstIndex(where: { $0.endpoint == endpoint && $0.times > 0 }) {
            state.faults[index].times -= 1
            switch state.faults[index].answer {
            case .transport(let error, let seconds):
                clock?.advance(seconds)
                return .failure(error)
            case .problem(let status, let type, let detail, let headers):
                return .success(problem(status, type, detail, headers: headers))
            case .raw(let status, let body, let headers):
                state.rawBodies.append(body)
                return .success(answer(status, text: body, headers: headers))
            }
        }

        switch endpoint {
        case .directory:
            var directory = ["newNonce": script.base + "/new-nonce", "newAccount": script.base + "/new-account",
                             "newOrder": script.base + "/new-order", "revokeCert": script.base + "/revoke-cert",
                             "keyChange": script.base + "/key-change"]
            directory.merge(script.directoryOverrides) { $1 }
            var response = answer(200, json: directory)
            // Like Let's Encrypt, the directory carries no nonce: the first one comes from newNonce.
            response = HTTPResponse(status: 200, headers: response.headers.filter { $0.key != "replay-nonce" }, body: response.body,
                                    elapsedMilliseconds: 1)
            return .success(response)
        case .newNonce:
            return .success(answer(request.method == "HEAD" ? 200 : 204, text: "", headers: ["cache-control": "no-store"]))
        case .newAccount:
            return .success(newAccount(jwk: signer!.jwk!, payload: signer!.payload))
        case .account:
            return .success(answer(200, json: ["status": "valid"]))
        case .newOrder:
            return .success(newOrder(account: signer!.account!, payload: signer!.payload))
        case .order:
            return .success(fetchOrder(id, account: signer!.account!, payload: signer!.payload))
        case .authorization:
            return .success(fetchAuthorization(id, payload: signer!.payload))
        case .challenge:
            return .success(startChallenge(id, account: signer!.account!, payload: signer!.payload))
        case .finalize:
            return .success(finalize(id, account: signer!.account!, payload: signer!.payload))
        case .certificate:
            return .success(download(id, accept: accept, payload: signer!.payload))
        }
    }

    /// The JWS checks of RFC 8555 §6.2–6.5; the refusal a CA would send when one fails.
    private func verify(_ request: HTTPRequest, endpoint: Endpoint, record: inout Request)
        -> Result<(account: String?, jwk: [String: String]?, payload: String), Refusal>
    {
        func refuse(_ violation: String, _ status: Int = 400, _ code: String = "malformed") -> Result<(account: String?, jwk: [String: String]?, payload: String), Refusal> {
            state.violations.append("\(endpoint): \(violation)")
            return .failure(Refusal(response: problem(status, code, "refused")))
        }
        let contentType = request.headers.last { $0.0.lowercased() == "content-type" }?.1
        guard contentType == "application/jose+json" else { return refuse("Content-Type is \(contentType ?? "missing")", 415) }
        guard let body = request.body,
              let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let protected = object["protected"] as? String, let payload = object["payload"] as? String,
              let signature = object["signature"] as? String, object.count == 3,
              let headerData = Self.base64URLDecode(protected),
              let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any],
              let payloadData = Self.base64URLDecode(payload), let signatureData = Self.base64URLDecode(signature)
        else { return refuse("the body is not a flattened JWS") }

        let decoded = ProtectedHeader(alg: header["alg"] as? String, nonce: header["nonce"] as? String, url: header["url"] as? String,
                                      kid: header["kid"] as? String, jwk: header["jwk"] as? [String: String])
        record.header = decoded
        let payloadText = String(decoding: payloadData, as: UTF8.self)
        record.payload = payloadText

        guard decoded.alg == "ES256" else { return refuse("alg is \(decoded.alg ?? "missing")", 400, "badSignatureAlgorithm") }
        guard let nonce = decoded.nonce else { return refuse("no nonce", 400, "badNonce") }
        guard state.issuedNonces.contains(nonce) else { return refuse("nonce \(nonce) was never issued", 400, "badNonce") }
        guard !state.usedNonces.contains(nonce) else { return refuse("nonce \(nonce) reused", 400, "badNonce") }
        state.usedNonces.insert(nonce)
        guard decoded.url == request.url else { return refuse("url \(decoded.url ?? "missing") is not \(request.url)", 401, "unauthorized") }

        let key: P256.Signing.PublicKey
        var account: String?
        if endpoint == .newAccount {
            guard decoded.kid == nil, let jwk = decoded.jwk else { return refuse("newAccount without jwk or with kid") }
            guard jwk["kty"] == "EC", jwk["crv"] == "P-256", let x = jwk["x"].flatMap(Self.base64URLDecode),
                  let y = jwk["y"].flatMap(Self.base64URLDecode), x.count == 32, y.count == 32,
                  let parsed = try? P256.Signing.PublicKey(rawRepresentation: x + y)
            else { return refuse("jwk is not a P-256 public key", 400, "badPublicKey") }
            key = parsed
        } else {
            guard decoded.jwk == nil, let kid = decoded.kid else { return refuse("no kid, or a jwk besides it") }
            guard let known = state.accounts[kid] else { return refuse("kid \(kid) is no account", 400, "accountDoesNotExist") }
            key = known.key
            account = kid
        }
        guard let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signatureData),
              key.isValidSignature(ecdsa, for: Data("\(protected).\(payload)".utf8))
        else { return refuse("the signature does not verify") }
        return .success((account, decoded.jwk, payloadText))
    }

    private struct Refusal: Error {
        let response: HTTPResponse
    }

    // MARK: - Resources

    private func newAccount(jwk: [String: String], payload: String) -> HTTPResponse {
        guard let object = Self.object(payload), object["termsOfServiceAgreed"] as? Bool == true else {
            state.violations.append("newAccount without termsOfServiceAgreed")
            return problem(403, "userActionRequired", "agree to the terms")
        }
        let thumbprint = Self.thumbprint(jwk)
        if let existing = state.accounts.first(where: { $0.value.thumbprint == thumbprint }) {
            return answer(200, json: ["status": "valid"], headers: ["location": existing.key])
        }
        let url = "\(script.base)/acct/\(state.accounts.count + 1)"
        let x = Self.base64URLDecode(jwk["x"]!)!, y = Self.base64URLDecode(jwk["y"]!)!
        state.accounts[url] = (thumbprint, try! P256.Signing.PublicKey(rawRepresentation: x + y))
        return answer(201, json: ["status": "valid"], headers: ["location": url])
    }

    private func newOrder(account: String, payload: String) -> HTTPResponse {
        guard let object = Self.object(payload), let identifiers = object["identifiers"] as? [[String: String]], !identifiers.isEmpty,
              identifiers.allSatisfy({ $0["type"] == "dns" && $0["value"] != nil }) else {
            state.violations.append("newOrder without dns identifiers: \(payload)")
            return problem(400, "malformed", "identifiers")
        }
        var ids: [Int] = []
        for identifier in identifiers {
            let token = script.token ?? Self.base64URL(Array((0..<16).map { _ in UInt8.random(in: 0...255) }))
            state.authorizations.append(AuthorizationState(name: identifier["value"]!, token: token, pollsLeft: script.pendingPolls))
            ids.append(state.authorizations.count - 1)
        }
        state.orders.append(OrderState(account: account, names: identifiers.map { $0["value"]! }, authorizations: ids))
        let id = state.orders.count - 1
        let headers = script.omitLocation.contains(.newOrder) ? [:] : ["location": "\(script.base)/order/\(id)"]
        return answer(201, json: orderJSON(id), headers: headers)
    }

    private func fetchOrder(_ id: Int?, account: String, payload: String) -> HTTPResponse {
        guard let id, state.orders.indices.contains(id), state.orders[id].account == account else { return problem(404, "malformed", "no order") }
        guard payload.isEmpty else { state.violations.append("order fetch with payload \(payload)"); return problem(400, "malformed", "payload") }
        let body = orderJSON(id)
        var headers: [String: String] = [:]
        if state.orders[id].finalized && state.orders[id].processingLeft > 0 {
            state.orders[id].processingLeft -= 1
            if let after = script.pollRetryAfter { headers["retry-after"] = after }
        }
        return answer(200, json: body, headers: headers)
    }

    private func fetchAuthorization(_ id: Int?, payload: String) -> HTTPResponse {
        guard let id, state.authorizations.indices.contains(id) else { return problem(404, "malformed", "no authorization") }
        guard payload.isEmpty else { state.violations.append("authorization fetch with payload \(payload)"); return problem(400, "malformed", "payload") }
        var headers: [String: String] = [:]
        if state.authorizations[id].started, state.authorizations[id].outcome != nil, !script.pendingForever {
            if state.authorizations[id].pollsLeft > 0 { state.authorizations[id].pollsLeft -= 1 } else { settle(id) }
        }
        if state.authorizations[id].status == "pending", let after = script.pollRetryAfter { headers["retry-after"] = after }
        return answer(200, json: authorizationJSON(id), headers: headers)
    }

    private func startChallenge(_ id: Int?, account: String, payload: String) -> HTTPResponse {
        guard let id, state.authorizations.indices.contains(id), script.offerHTTP01 else { return problem(404, "malformed", "no challenge") }
        guard Self.object(payload)?.isEmpty == true else {
            state.violations.append("challenge POST with payload \(payload)")
            return problem(400, "malformed", "payload")
        }
        var authorization = state.authorizations[id]
        if !authorization.started {
            authorization.started = true
            let display = "http://\(authorization.name)/.well-known/acme-challenge/\(authorization.token)"
            if let error = script.challengeError {
                authorization.outcome = ("invalid", ["type": error.type, "detail": error.detail])
            } else if let published = state.webroot[authorization.token] {
                let expected = "\(authorization.token).\(state.accounts[account]!.thumbprint)"
                if published == expected {
                    authorization.outcome = ("valid", nil)
                } else {
                    state.violations.append("\(authorization.name): the key authorization is \(published), not \(expected)")
                    authorization.outcome = ("invalid", ["type": "urn:ietf:params:acme:error:unauthorized",
                                                         "detail": "The key authorization file from the server did not match this challenge"])
                }
            } else {
                state.violations.append("\(authorization.name): nothing published for the token when the challenge started")
                authorization.outcome = ("invalid", ["type": "urn:ietf:params:acme:error:unauthorized",
                                                     "detail": "Invalid response from \(display): 404"])
            }
        }
        state.authorizations[id] = authorization
        if !script.pendingForever && authorization.pollsLeft == 0 { settle(id) }
        return answer(200, json: challengeJSON(id), headers: ["link": "<\(script.base)/authz/\(id)>;rel=\"up\""])
    }

    private func finalize(_ id: Int?, account: String, payload: String) -> HTTPResponse {
        guard let id, state.orders.indices.contains(id), state.orders[id].account == account else { return problem(404, "malformed", "no order") }
        guard orderStatus(id) == "ready" else {
            state.violations.append("finalize of an order that is \(orderStatus(id))")
            return problem(403, "orderNotReady", "not ready")
        }
        guard let object = Self.object(payload), object.count == 1, let csrText = object["csr"] as? String,
              let der = Self.base64URLDecode(csrText),
              let csr = try? CertificateSigningRequest(derEncoded: Array(der)) else {
            state.violations.append("finalize without a DER CSR")
            return problem(400, "badCSR", "no CSR")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            state.violations.append("the CSR's signature does not verify")
            return problem(400, "badCSR", "signature")
        }
        let names = ((try? csr.attributes.extensionRequest?.extensions.subjectAlternativeNames) ?? nil)?.compactMap { name -> String? in
            if case .dnsName(let value) = name { return value } else { return nil }
        } ?? []
        state.csrNames.append(names)
        state.csrKeys.append(csr.publicKey)
        guard names == state.orders[id].names else {
            state.violations.append("the CSR names \(names), the order \(state.orders[id].names)")
            return problem(400, "badCSR", "names")
        }
        if let accountKey = state.accounts[account]?.key, csr.publicKey == Certificate.PublicKey(accountKey) {
            state.violations.append("the CSR carries the account's key")
            return problem(400, "badCSR", "account key")
        }
        let now = Date()
        let leaf = try! Certificate(version: .v3, serialNumber: .init(), publicKey: csr.publicKey,
                                    notValidBefore: now - 60, notValidAfter: now + 86_400 * 90, issuer: caName, subject: csr.subject,
                                    signatureAlgorithm: .ecdsaWithSHA256,
                                    extensions: try! Certificate.Extensions { SubjectAlternativeNames(names.map { .dnsName($0) }) },
                                    issuerPrivateKey: .init(caKey))
        state.orders[id].chain = try! leaf.serializeAsPEM().pemString + "\n" + caCertificatePEM + "\n"
        state.orders[id].finalized = true
        state.orders[id].processingLeft = script.processingPolls
        var headers = ["location": "\(script.base)/order/\(id)"]
        if script.processingPolls > 0, let after = script.pollRetryAfter { headers["retry-after"] = after }
        return answer(200, json: orderJSON(id), headers: headers)
    }

    private func download(_ id: Int?, accept: String?, payload: String) -> HTTPResponse {
        guard let id, state.orders.indices.contains(id), let chain = state.orders[id].chain else { return problem(404, "malformed", "no certificate") }
        guard payload.isEmpty else { state.violations.append("certificate fetch with payload \(payload)"); return problem(400, "malformed", "payload") }
        guard accept == "application/pem-certificate-chain" else {
            state.violations.append("certificate fetch with Accept \(accept ?? "missing")")
            return problem(406, "malformed", "accept")
        }
        let body = script.certificateBody ?? chain
        state.chains.append(body)
        state.rawBodies.append(body)
        return answer(200, text: body, headers: ["content-type": "application/pem-certificate-chain"])
    }

    // MARK: - Objects

    private func settle(_ id: Int) {
        guard let outcome = state.authorizations[id].outcome, state.authorizations[id].status == "pending" else { return }
        state.authorizations[id].status = outcome.status
        state.authorizations[id].error = outcome.error
    }

    private func orderStatus(_ id: Int) -> String {
        let order = state.orders[id]
        let statuses = order.authorizations.map { state.authorizations[$0].status }
        if statuses.contains("invalid") { return "invalid" }
        if order.finalized { return order.processingLeft > 0 ? "processing" : "valid" }
        return statuses.allSatisfy { $0 == "valid" } ? "ready" : "pending"
    }

    private func orderJSON(_ id: Int) -> [String: Any] {
        let order = state.orders[id]
        let authorizationBase = script.authorizationBase ?? script.base
        var object: [String: Any] = [
            "status": orderStatus(id),
            "expires": "2030-01-01T00:00:00Z",
            "identifiers": order.names.map { ["type": "dns", "value": $0] },
            "authorizations": order.authorizations.map { "\(authorizationBase)/authz/\($0)" },
            "finalize": "\(script.base)/finalize/\(id)",
        ]
        if orderStatus(id) == "valid" { object["certificate"] = "\(script.base)/cert/\(id)" }
        return object
    }

    private func authorizationJSON(_ id: Int) -> [String: Any] {
        let authorization = state.authorizations[id]
        return ["identifier": ["type": "dns", "value": authorization.name], "status": authorization.status,
                "expires": "2030-01-01T00:00:00Z", "challenges": challenges(id)]
    }

    private func challenges(_ id: Int) -> [[String: Any]] {
        var list: [[String: Any]] = []
        if script.offerHTTP01 { list.append(challengeJSON(id)) }
        let token = state.authorizations[id].token
        list.append(["type": "dns-01", "url": "\(script.base)/chall/dns/\(id)", "token": token, "status": "pending"])
        list.append(["type": "tls-alpn-01", "url": "\(script.base)/chall/alpn/\(id)", "token": token, "status": "pending"])
        return list
    }

    private func challengeJSON(_ id: Int) -> [String: Any] {
        let authorization = state.authorizations[id]
        let status = authorization.status != "pending" ? authorization.status : authorization.started ? "processing" : "pending"
        var object: [String: Any] = ["type": "http-01", "url": "\(script.base)/chall/\(id)", "token": authorization.token, "status": status]
        if let error = authorization.error { object["error"] = error }
        return object
    }

    // MARK: - Answers

    private func nextNonce() -> String {
        state.nonceCounter += 1
        let nonce = String(format: "Nn%05dQz", state.nonceCounter)
        state.issuedNonces.insert(nonce)
        return nonce
    }

    private func answer(_ status: Int, text: String, headers: [String: String] = [:]) -> HTTPResponse {
        var all = headers
        all["replay-nonce"] = nextNonce()
        return HTTPResponse(status: status, headers: all, body: Array(text.utf8), elapsedMilliseconds: 1)
    }

    private func answer(_ status: Int, json: Any, headers: [String: String] = [:]) -> HTTPResponse {
        var all = headers
        all["content-type"] = "application/json"
        let data = try! JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        return answer(status, text: String(decoding: data, as: UTF8.self), headers: all)
    }

    private func problem(_ status: Int, _ type: String, _ detail: String?, headers: [String: String] = [:]) -> HTTPResponse {
        var object = ["type": type.contains(":") ? type : "urn:ietf:params:acme:error:\(type)"]
        if let detail { object["detail"] = detail }
        var all = headers
        all["content-type"] = "application/problem+json"
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return answer(status, text: String(decoding: data, as: UTF8.self), headers: all)
    }

    // MARK: - Helpers

    private static func endpoint(of url: String, base: String) -> (Endpoint, Int?)? {
        guard url.hasPrefix(base + "/") else { return nil }
        let parts = url.dropFirst(base.count + 1).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch (parts.first, parts.count) {
        case ("directory", 1): return (.directory, nil)
        case ("new-nonce", 1): return (.newNonce, nil)
        case ("new-account", 1): return (.newAccount, nil)
        case ("new-order", 1): return (.newOrder, nil)
        case ("acct", 2): return (.account, Int(parts[1]))
        case ("order", 2): return (.order, Int(parts[1]))
        case ("authz", 2): return (.authorization, Int(parts[1]))
        case ("chall", 2): return (.challenge, Int(parts[1]))
        case ("finalize", 2): return (.finalize, Int(parts[1]))
        case ("cert", 2): return (.certificate, Int(parts[1]))
        default: return nil
        }
    }

    /// RFC 7638, computed here from the JWK on the wire rather than by the client's code.
    static func thumbprint(_ jwk: [String: String]) -> String {
        let canonical = "{\"crv\":\"\(jwk["crv"] ?? "")\",\"kty\":\"\(jwk["kty"] ?? "")\",\"x\":\"\(jwk["x"] ?? "")\",\"y\":\"\(jwk["y"] ?? "")\"}"
        return base64URL(Array(SHA256.hash(data: Data(canonical.utf8))))
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func base64URLDecode(_ text: String) -> Data? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }

    private static func object(_ text: String) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    }
}
