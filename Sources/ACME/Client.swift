import Foundation
import HTTPClient

/// How the client reaches the CA; `HTTPClient` in production, a scripted server in tests.
public protocol ACMETransport: Sendable {
    func perform(_ request: HTTPRequest) -> Result<HTTPResponse, HTTPError>
}

extension HTTPClient: ACMETransport {}

public struct ACMEOptions: Sendable {
    /// The directory URL: https, or http to 127.0.0.1/localhost (a CA under test).
    public var directory: String
    public var email: String?
    /// PEM of the CAs to trust for the directory's TLS, instead of the system's.
    public var caFile: String?
    /// Seconds the whole issuance may take, account included.
    public var deadline: Double
    /// Seconds one request may take.
    public var requestTimeout: Double

    public init(directory: String, email: String?, caFile: String?, deadline: Double = 120, requestTimeout: Double = 15) {
        self.directory = directory
        self.email = email
        self.caFile = caFile
        self.deadline = deadline
        self.requestTimeout = requestTimeout
    }
}

/// The account the CA knows this key by.
public struct ACMEAccount: Sendable, Codable, Equatable {
    public var directory: String
    public var url: String
    /// The contact the CA has on record for it, as bgctl last set it.
    public var email: String?

    public init(directory: String, url: String, email: String? = nil) {
        self.directory = directory
        self.url = url
        self.email = email
    }
}

public struct IssuedCertificate: Sendable, CustomStringConvertible {
    /// The leaf first, then the intermediates, as the CA sent them (application/pem-certificate-chain).
    public let chainPEM: String
    /// The certificate's own P-256 key (PKCS#8 PEM), never the account's.
    public let keyPEM: String
    public let names: [String]

    public var description: String { "IssuedCertificate(names: \(names))" }
}

/// Progress, for the caller to print.
public enum ACMEEvent: Sendable, Equatable {
    case account(created: Bool)
    case ordered(names: [String])
    /// bgctl published the key authorization at `url` and told the CA to fetch it.
    case challenge(name: String, url: String)
    case validated(name: String)
    case finalizing
    case waiting(what: String, seconds: Double)
    /// The CA refused the request's nonce (badNonce, RFC 8555 §6.5); it is sent again with a new one.
    case nonceRefused
    case issued
}

/// Time as the client sees it: `monotonic` seconds and a `sleep`; tests pass a clock that advances
/// when slept.
public struct ACMEClock: Sendable {
    public var monotonic: @Sendable () -> Double
    public var sleep: @Sendable (Double) -> Void

    public init(monotonic: @escaping @Sendable () -> Double, sleep: @escaping @Sendable (Double) -> Void) {
        self.monotonic = monotonic
        self.sleep = sleep
    }
}

/// An ACME (RFC 8555) client for one issuance with HTTP-01: the account, the order, each name's
/// challenge, the finalization with a fresh key and the chain's download. Everything is bounded by
/// `options.deadline` from the client's creation; `interrupted` is asked before each request and
/// every 0.2 s of a wait. Nothing here writes a file: `publish` does, for the caller's folder.
public struct ACMEClient {
    public let options: ACMEOptions
    let accountKey: ACMEAccountKey
    let transport: ACMETransport
    let clock: ACMEClock
    let interrupted: @Sendable () -> Bool
    let report: @Sendable (ACMEEvent) -> Void
    let started: Double
    var directory: Directory?
    var nonce: String?
    var accountURL: String?
    let known: ACMEAccount?

    /// badNonce answers retried per request (RFC 8555 §6.5: the client should retry with the new nonce).
    static let nonceRetries = 5
    /// Busy or rate-limited answers waited out per request when the CA's Retry-After fits the deadline.
    static let busyRetries = 3
    static let longestPoll = 60.0
    static let chainLimit = 256 * 1024

    public init(options: ACMEOptions, accountKey: ACMEAccountKey, account: ACMEAccount?, transport: ACMETransport, clock: ACMEClock,
                interrupted: @escaping @Sendable () -> Bool = { false }, report: @escaping @Sendable (ACMEEvent) -> Void = { _ in }) {
        self.options = options
        self.accountKey = accountKey
        self.transport = transport
        self.clock = clock
        self.interrupted = interrupted
        self.report = report
        self.started = clock.monotonic()
        // The account is always looked up by key (newAccount answers 200 for a known key), so a CA that
        // forgot it costs nothing; what is on record only says whether its contact needs an update.
        self.known = account
    }

    var remaining: Double { options.deadline - (clock.monotonic() - started) }

    // MARK: - The flow

    /// Registers the key, or finds the account the CA has for it (RFC 8555 §7.3, §7.3.1).
    public mutating func account() throws(ACMEError) -> ACMEAccount {
        let directory = try loadDirectory()
        var payload: [String: Any] = ["termsOfServiceAgreed": true]
        if let email = options.email { payload["contact"] = ["mailto:\(email)"] }
        let response = try post("register the ACME account", url: directory.newAccount, payload: JSON.data(payload), useJWK: true)
        guard let location = response.header("location") else {
            throw .protocolViolation("the CA's answer to newAccount has no Location")
        }
        try checkResource(location, what: "the account")
        accountURL = location
        let created = response.status == 201
        // An existing account keeps the contact it was made with (RFC 8555 §7.3.1): a changed email is an update (§7.3.2).
        let recorded = known.flatMap { $0.url == location ? $0 : nil }
        if !created && (recorded == nil ? options.email != nil : recorded?.email != options.email) {
            let contact = options.email.map { ["mailto:\($0)"] } ?? []
            _ = try post("update the ACME account's contact", url: location, payload: JSON.data(["contact": contact]))
        }
        report(.account(created: created))
        return ACMEAccount(directory: options.directory, url: location, email: options.email)
    }

    /// Orders a certificate for `names` (all as SANs), answers each name's HTTP-01 challenge through
    /// `publish(token, keyAuthorization)`, finalizes with a new P-256 key and downloads the chain.
    /// `unpublish` is called for every token published, whatever the outcome.
    public mutating func obtain(names: [String], publish: (String, String) throws -> Void,
                                unpublish: (String) -> Void) throws(ACMEError) -> IssuedCertificate {
        guard (1...100).contains(names.count) else { throw .protocolViolation("an order needs 1 to 100 names, not \(names.count)") }
        if accountURL == nil { _ = try account() }
        let directory = try loadDirectory()
        let label = names.joined(separator: ", ")
        let identifiers = names.map { ["type": "dns", "value": $0] }
        let created = try post("create an order for \(label)", url: directory.newOrder, payload: JSON.data(["identifiers": identifiers]))
        guard let orderURL = created.header("location") else { throw .protocolViolation("the CA's answer to newOrder has no Location") }
        try checkResource(orderURL, what: "the order")
        var order = try decode(Order.self, created, what: "newOrder")
        report(.ordered(names: names))

        guard let authorizations = order.authorizations, (1...names.count).contains(authorizations.count) else {
            throw .protocolViolation("the CA's order lists \(order.authorizations?.count ?? 0) authorizations for \(names.count) names")
        }
        let ordered = Set(names.map { $0.lowercased() })
        var published: [String] = []
        defer { for token in published { unpublish(token) } }
        var waiting: [(name: String, authorization: String, challenge: String, display: String)] = []
        for url in authorizations {
            try checkResource(url, what: "an authorization")
            let authorization = try decode(Authorization.self, try post("fetch an authorization", url: url, payload: nil), what: "an authorization")
            let name = ACMEProblem.sanitize(authorization.identifier.value, limit: 253)
            guard authorization.identifier.type == "dns", ordered.contains(authorization.identifier.value.lowercased()) else {
                throw .protocolViolation("the CA's order holds an authorization for \(name), a name bgctl did not ask for")
            }
            switch authorization.status {
            case "valid":
                report(.validated(name: name))
            case "pending":
                let offered = authorization.challenges ?? []
                guard let challenge = offered.first(where: { $0.type == "http-01" }), let token = challenge.token else {
                    let types = offered.map { ACMEProblem.sanitize($0.type, limit: 40) }.joined(separator: ", ")
                    throw .protocolViolation("the CA offers no http-01 challenge for \(name) (it offers: \(types.isEmpty ? "none" : types))")
                }
                guard Self.isBase64URL(token) else { throw .protocolViolation("the CA sent \(name) a challenge token that is not base64url") }
                try checkResource(challenge.url, what: "\(name)'s challenge")
                published.append(token)  // before publishing: a half-written file is removed too
                do {
                    try publish(token, "\(token).\(accountKey.thumbprint)")
                } catch {
                    throw .notPublished(name: name, reason: ACMEProblem.sanitize(String(describing: error)))
                }
                let display = "http://\(name)/.well-known/acme-challenge/\(token)"
                if challenge.status == nil || challenge.status == "pending" {
                    _ = try post("start \(name)'s challenge", url: challenge.url, payload: Data("{}".utf8))
                }
                report(.challenge(name: name, url: display))
                waiting.append((name, url, challenge.url, display))
            default:
                let problem = authorization.challenges?.compactMap(\.error).first?.problem
                throw .challengeFailed(name: name, url: "http://\(name)/.well-known/acme-challenge/…", problem)
            }
        }
        for item in waiting {
            let authorization = try poll("\(item.name)'s validation", url: item.authorization, as: Authorization.self) { $0.status != "pending" }
            guard authorization.status == "valid" else {
                let challenge = authorization.challenges?.first(where: { $0.url == item.challenge })
                throw .challengeFailed(name: item.name, url: item.display, (challenge?.error ?? authorization.challenges?.compactMap(\.error).first)?.problem)
            }
            report(.validated(name: item.name))
        }

        order = try poll("the order to be ready", url: orderURL, as: Order.self) { $0.status != "pending" }
        if order.status == "ready" {
            guard let finalize = order.finalize else { throw .protocolViolation("the CA's order has no finalize URL") }
            try checkResource(finalize, what: "the order's finalize URL")
            let request = try CertificateRequest(names: names)
            report(.finalizing)
            let answer = try post("finalize the order for \(label)", url: finalize, payload: JSON.data(["csr": Base64URL.encode(request.der)]))
            order = try decode(Order.self, answer, what: "finalize")
            if order.status != "valid" && order.status != "invalid" {
                order = try poll("the certificate", url: orderURL, as: Order.self) { $0.status == "valid" || $0.status == "invalid" }
            }
            return try download(order, names: names, keyPEM: request.keyPEM)
        }
        throw orderFailure(order)
    }

    private mutating func download(_ order: Order, names: [String], keyPEM: String) throws(ACMEError) -> IssuedCertificate {
        guard order.status == "valid" else { throw orderFailure(order) }
        guard let url = order.certificate else { throw .protocolViolation("the CA's valid order has no certificate URL") }
        try checkResource(url, what: "the certificate")
        let response = try post("download the certificate", url: url, payload: nil, accept: "application/pem-certificate-chain")
        let text = response.bodyText
        guard response.body.count <= Self.chainLimit, text.hasPrefix("-----BEGIN CERTIFICATE-----"),
              response.body.allSatisfy({ ($0 >= 0x20 && $0 < 0x7f) || $0 == 0x0a || $0 == 0x0d }) else {
            throw .protocolViolation("the CA's certificate download is not a PEM certificate chain")
        }
        report(.issued)
        return IssuedCertificate(chainPEM: text, keyPEM: keyPEM, names: names)
    }

    private func orderFailure(_ order: Order) -> ACMEError {
        if let problem = order.error?.problem { return .problem(what: "issue the certificate", problem, status: 200, retryAfter: nil) }
        return .protocolViolation("the CA left the order \(ACMEProblem.sanitize(order.status, limit: 40))")
    }

    // MARK: - Requests

    private mutating func loadDirectory() throws(ACMEError) -> Directory {
        if let directory { return directory }
        try Self.checkURL(options.directory, what: "the directory")  // the only URL that may be http to this machine
        var response = try send("fetch the ACME directory", url: options.directory, method: "GET", body: nil)
        var busy = 0
        while response.status == 503 || response.status == 429, busy < Self.busyRetries, let after = Self.retryAfter(response), after < remaining - 1 {
            busy += 1
            try pause(after, what: "the ACME directory")
            response = try send("fetch the ACME directory", url: options.directory, method: "GET", body: nil)
        }
        guard response.status == 200 else {
            throw .problem(what: "serve its directory", ACMEProblem.parse(response.body) ?? ACMEProblem(type: "about:blank", detail: ""),
                           status: response.status, retryAfter: Self.retryAfter(response))
        }
        let directory = try decode(Directory.self, response, what: "the directory")
        for url in [directory.newNonce, directory.newAccount, directory.newOrder] { try checkResource(url, what: "the directory's resources") }
        self.directory = directory
        return directory
    }

    /// A signed POST (RFC 8555 §6.2), retried on badNonce with the nonce the refusal carried and
    /// waited out on a busy or rate-limited answer whose Retry-After fits the deadline.
    private mutating func post(_ what: String, url: String, payload: Data?, useJWK: Bool = false,
                               accept: String? = nil) throws(ACMEError) -> HTTPResponse {
        var badNonces = 0
        var busy = 0
        while true {
            let nonce = try freshNonce()
            let kid: String? = useJWK ? nil : accountURL
            if !useJWK && kid == nil { throw .protocolViolation("no account for \(what)") }
            let body: Data
            do {
                body = try accountKey.sign(url: url, nonce: nonce, kid: kid, payload: payload)
            } catch {
                throw .accountKey("could not sign with the account key")
            }
            var headers = [("Content-Type", "application/jose+json")]
            if let accept { headers.append(("Accept", accept)) }
            let response = try send(what, url: url, method: "POST", body: body, headers: headers)
            if (200..<300).contains(response.status) { return response }
            let problem = ACMEProblem.parse(response.body) ?? ACMEProblem(type: "about:blank", detail: "")
            let after = Self.retryAfter(response)
            if problem.code == "badNonce" && badNonces < Self.nonceRetries {
                badNonces += 1
                report(.nonceRefused)
                continue
            }
            if problem.code == "rateLimited" || response.status == 429 {
                guard let after, after < remaining - 1, after <= Self.longestPoll, busy < Self.busyRetries else {
                    throw .rateLimited(what: what, problem, retryAfter: after)
                }
                busy += 1
                try pause(after, what: "the CA's rate limit")
                continue
            }
            if response.status == 503, let after, after < remaining - 1, after <= Self.longestPoll, busy < Self.busyRetries {
                busy += 1
                try pause(after, what: "the CA")
                continue
            }
            throw .problem(what: what, problem, status: response.status, retryAfter: after)
        }
    }

    /// POST-as-GET until `done`, waiting the CA's Retry-After (or 0.25 s doubling to 2 s) between
    /// fetches; past the deadline, `.timeout`.
    private mutating func poll<T: Decodable>(_ what: String, url: String, as type: T.Type,
                                             until done: (T) -> Bool) throws(ACMEError) -> T {
        var delay = 0.25
        while true {
            let response = try post("check \(what)", url: url, payload: nil)
            let value = try decode(type, response, what: what)
            if done(value) { return value }
            let wait = min(max(Self.retryAfter(response) ?? delay, 0.2), Self.longestPoll)
            delay = min(delay * 2, 2)
            guard wait < remaining else { throw .timeout(what: what, seconds: options.deadline) }
            if wait >= 2 { report(.waiting(what: what, seconds: wait)) }
            try pause(wait, what: what)
        }
    }

    private mutating func freshNonce() throws(ACMEError) -> String {
        if let nonce {
            self.nonce = nil
            return nonce
        }
        let directory = try loadDirectory()
        _ = try send("get a nonce", url: directory.newNonce, method: "HEAD", body: nil)
        guard let nonce else { throw .protocolViolation("the CA's newNonce answer has no usable Replay-Nonce") }
        self.nonce = nil
        return nonce
    }

    /// One exchange, bounded by the deadline; keeps the answer's Replay-Nonce (RFC 8555 §6.5).
    private mutating func send(_ what: String, url: String, method: String, body: Data?,
                               headers: [(String, String)] = []) throws(ACMEError) -> HTTPResponse {
        if interrupted() { throw .interrupted }
        let left = remaining
        guard left > 0 else { throw .timeout(what: "the CA (to \(what))", seconds: options.deadline) }
        let timeout = min(options.requestTimeout, max(left, 0.5))
        let request = HTTPRequest(method: method, url: url, headers: headers, body: body.map { [UInt8]($0) },
                                  timeout: timeout, connectTimeout: min(5, timeout), caFile: options.caFile)
        switch transport.perform(request) {
        case .failure(let error):
            if error.kind == .timeout && remaining <= 0 { throw .timeout(what: "the CA (to \(what))", seconds: options.deadline) }
            throw .transport(what: what, url: url, message: error.message)
        case .success(let response):
            if let value = response.header("replay-nonce"), value.utf8.count <= 512, Self.isBase64URL(value) { nonce = value }
            return response
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse, what: String) throws(ACMEError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(response.body))
        } catch {
            throw .protocolViolation("the CA's answer for \(what) is not the JSON object RFC 8555 describes")
        }
    }

    /// Waits `seconds`, asking `interrupted` at least every 0.2 s.
    private func pause(_ seconds: Double, what: String) throws(ACMEError) {
        let end = clock.monotonic() + seconds
        while true {
            if interrupted() { throw .interrupted }
            let left = end - clock.monotonic()
            if left <= 0 { return }
            clock.sleep(min(0.2, left))
        }
    }

    // MARK: - Checks

    /// A URL the CA gave: https, or, when the directory itself is plain http to this machine (a CA
    /// under test), that same scheme, host and port. A CA on the internet can thus never point bgctl's
    /// signed requests at a service on this host's loopback.
    func checkResource(_ url: String, what: String) throws(ACMEError) {
        try Self.checkURL(url, what: what)
        guard let given = URLComponents(string: url), let directory = URLComponents(string: options.directory) else {
            throw .protocolViolation("the CA gave an unusable URL for \(what)")
        }
        if directory.scheme?.lowercased() == "http" {
            guard given.scheme?.lowercased() == "http" || given.scheme?.lowercased() == "https",
                  given.host?.lowercased() == directory.host?.lowercased(), given.port == directory.port else {
                throw .protocolViolation("the CA under test at \(Redact.url(options.directory)) gave a URL for \(what) elsewhere (\(Redact.url(url)))")
            }
        } else if given.scheme?.lowercased() != "https" {
            throw .protocolViolation("the CA gave a URL for \(what) that is not https (\(Redact.url(url)))")
        }
    }

    /// https with a host; http only to this machine (a CA under test). No whitespace or controls.
    static func checkURL(_ url: String, what: String) throws(ACMEError) {
        guard url.utf8.count <= 2048, url.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }),
              let components = URLComponents(string: url), let host = components.host, !host.isEmpty,
              components.user == nil, components.password == nil else {
            throw .protocolViolation("the CA gave an unusable URL for \(what)")
        }
        switch components.scheme?.lowercased() {
        case "https": return
        case "http" where ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased()): return
        default: throw .protocolViolation("the CA gave a URL for \(what) that is not https (\(Redact.url(url)))")
        }
    }

    static func isBase64URL(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { b in
            (0x30...0x39).contains(b) || (0x41...0x5a).contains(b) || (0x61...0x7a).contains(b) || b == 0x2d || b == 0x5f
        }
    }

    /// Retry-After as delta-seconds or an HTTP-date (RFC 9110 §10.2.3), at most 30 days; nil when absent or unreadable.
    static func retryAfter(_ response: HTTPResponse, now: Date = Date()) -> Double? {
        guard let value = response.header("retry-after")?.trimmingCharacters(in: .whitespaces), !value.isEmpty, value.count <= 64 else { return nil }
        let cap = 30.0 * 86_400
        if value.allSatisfy({ $0.isASCII && $0.isNumber }) {
            guard value.count <= 10, let seconds = Double(value) else { return cap }
            return min(seconds, cap)
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return min(max(date.timeIntervalSince(now), 0), cap)
    }
}
