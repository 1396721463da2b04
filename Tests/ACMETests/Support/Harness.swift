import Foundation
import HTTPClient
import Testing
@testable import ACME

/// One issuance against a `FakeCA`: the CA, a fake clock, an account key and what the client reported.
struct Harness {
    let ca: FakeCA
    let clock: FakeClock
    let key: ACMEAccountKey
    let recorder = Recorder()
    var options: ACMEOptions
    /// The account bgctl has on record (account.json), if any.
    var known: ACMEAccount?

    init(_ script: FakeCA.Script = FakeCA.Script(), key: ACMEAccountKey = .generate(), deadline: Double = 120, email: String? = "ops@example.com") {
        clock = FakeClock()
        ca = FakeCA(script, clock: clock)
        self.key = key
        options = ACMEOptions(directory: ca.directoryURL, email: email, caFile: nil, deadline: deadline)
    }

    /// Another harness on the same CA and key (a second run of bgctl).
    func again() -> Harness {
        Harness(ca: ca, clock: clock, key: key, options: options)
    }

    private init(ca: FakeCA, clock: FakeClock, key: ACMEAccountKey, options: ACMEOptions) {
        self.ca = ca
        self.clock = clock
        self.key = key
        self.options = options
    }

    func client(interrupted: @escaping @Sendable () -> Bool = { false }) -> ACMEClient {
        let recorder = self.recorder
        return ACMEClient(options: options, accountKey: key, account: known, transport: ca, clock: clock.clock,
                          interrupted: interrupted, report: { recorder.report($0) })
    }

    func obtain(_ names: [String], interrupted: @escaping @Sendable () -> Bool = { false },
                publish: ((String, String) throws -> Void)? = nil) -> Result<IssuedCertificate, ACMEError> {
        var client = client(interrupted: interrupted)
        let ca = self.ca
        do {
            return .success(try client.obtain(names: names, publish: publish ?? { ca.publish($0, $1) }, unpublish: { ca.unpublish($0) }))
        } catch {
            return .failure(error)
        }
    }

    func account() -> Result<ACMEAccount, ACMEError> {
        var client = client()
        do { return .success(try client.account()) } catch { return .failure(error) }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

extension ACMEError {
    /// The case's name, so a test can say which kind of failure it expects.
    var kind: String {
        switch self {
        case .interrupted: return "interrupted"
        case .timeout: return "timeout"
        case .transport: return "transport"
        case .problem: return "problem"
        case .challengeFailed: return "challengeFailed"
        case .protocolViolation: return "protocolViolation"
        case .accountKey: return "accountKey"
        case .notPublished: return "notPublished"
        case .rateLimited: return "rateLimited"
        }
    }
}

let oneName = ["example.com"]
let threeNames = ["a.example.com", "b.example.com", "c.example.org"]

/// A challenge token that is base64url, so tests can spell the URLs the client shows.
let fixedToken = "tok_ABC-123xyz"

func badNonce(on endpoint: FakeCA.Endpoint = .newAccount, times: Int) -> FakeCA.Fault {
    FakeCA.Fault(endpoint: endpoint, times: times, answer: .problem(status: 400, type: "badNonce", detail: "JWS has an invalid anti-replay nonce"))
}

func rateLimited(on endpoint: FakeCA.Endpoint = .newOrder, retryAfter: String, times: Int = 1) -> FakeCA.Fault {
    FakeCA.Fault(endpoint: endpoint, times: times,
                 answer: .problem(status: 429, type: "rateLimited", detail: "too many certificates already issued", headers: ["retry-after": retryAfter]))
}

func busy(on endpoint: FakeCA.Endpoint, retryAfter: String?, times: Int = 1) -> FakeCA.Fault {
    FakeCA.Fault(endpoint: endpoint, times: times,
                 answer: .problem(status: 503, type: "about:blank", detail: "service busy", headers: retryAfter.map { ["retry-after": $0] } ?? [:]))
}

/// An HTTP-date (RFC 9110 §5.6.7) `seconds` from now.
func httpDate(_ seconds: Double, from now: Date = Date()) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    return formatter.string(from: now + seconds)
}

func response(retryAfter: String?) -> HTTPResponse {
    HTTPResponse(status: 429, headers: retryAfter.map { ["retry-after": $0] } ?? [:], body: [], elapsedMilliseconds: 0)
}

/// A table entry with a short name, for arguments too long or too unprintable to name a test case.
struct Case<Value: Sendable>: Sendable, CustomTestStringConvertible {
    let label: String
    let value: Value
    init(_ label: String, _ value: Value) {
        self.label = label
        self.value = value
    }
    var testDescription: String { label }
}

/// A mutable value a non-escaping closure can write to.
final class Box<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
