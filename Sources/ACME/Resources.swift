import Foundation

/// The server's JSON objects (RFC 8555 §7.1), with only the fields bgctl reads. Every URL in them is
/// checked (`ACMEClient.checkURL`) before it is used.
struct Directory: Decodable {
    let newNonce: String
    let newAccount: String
    let newOrder: String
}

struct ProblemBody: Decodable {
    struct Sub: Decodable {
        let detail: String?
        let identifier: Identifier?
    }
    let type: String?
    let detail: String?
    let subproblems: [Sub]?

    var problem: ACMEProblem {
        var object: [String: Any] = ["type": type ?? "about:blank", "detail": detail ?? ""]
        if let sub = subproblems?.first {
            var entry: [String: Any] = ["detail": sub.detail ?? ""]
            if let identifier = sub.identifier { entry["identifier"] = ["value": identifier.value] }
            object["subproblems"] = [entry]
        }
        return ACMEProblem.from(object) ?? ACMEProblem(type: "about:blank", detail: "")
    }
}

struct Identifier: Decodable {
    let type: String
    let value: String
}

struct Order: Decodable {
    let status: String
    let authorizations: [String]?
    let finalize: String?
    let certificate: String?
    let error: ProblemBody?
}

struct Authorization: Decodable {
    let identifier: Identifier
    let status: String
    let challenges: [Challenge]?
}

struct Challenge: Decodable {
    let type: String
    let url: String
    let token: String?
    let status: String?
    let error: ProblemBody?
}
