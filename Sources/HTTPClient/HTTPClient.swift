import CCurl
import Foundation

/// One HTTP exchange's outcome. A non-2xx status is a response, not an error.
public struct HTTPResponse: Sendable {
    public let status: Int
    /// Header names lowercased; the last value wins.
    public let headers: [String: String]
    public let body: [UInt8]
    public let elapsedMilliseconds: Double

    public init(status: Int, headers: [String: String], body: [UInt8], elapsedMilliseconds: Double) {
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsedMilliseconds = elapsedMilliseconds
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A transport failure (no response). The message is libcurl's fixed text for the error code and the
/// time taken; it never contains the URL (URLs may carry secrets) nor anything the server sent.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case timeout, connect, other }
    public let kind: Kind
    public let message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// A request. Printing it (`description`, `debugDescription`, `dump`) shows the URL redacted to
/// `scheme://host/…` and header names without their values: both may be secrets.
public struct HTTPRequest: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]?
    public var timeout: Double
    public var connectTimeout: Double
    /// A unix socket to connect to instead of the URL's host (the Docker engine's API).
    public var unixSocket: String?
    /// A PEM file of the certificate authorities to trust for https instead of the system's.
    public var caFile: String?

    public init(method: String = "GET", url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
                timeout: Double = 5, connectTimeout: Double = 2, unixSocket: String? = nil, caFile: String? = nil) {
        self.unixSocket = unixSocket
        self.caFile = caFile
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
    }

    public var description: String {
        "\(method) \(Redact.url(url))" + (headers.isEmpty ? "" : " (headers: \(headers.map { "\($0.0): …" }.joined(separator: ", ")))")
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["method": method, "url": Redact.url(url), "headers": headers.map { "\($0.0): …" },
                                "body": "\(body?.count ?? 0) bytes", "timeout": timeout, "connectTimeout": connectTimeout])
    }

    /// Seconds as libcurl's milliseconds: at least 1 (0 would mean "no limit"), at most a day; NaN is 1.
    static func milliseconds(_ seconds: Double) -> Int {
        guard !seconds.isNaN else { return 1 }
        return Int(min(max(seconds, 0.001), 86_400) * 1000)
    }
}

/// Blocking HTTP over libcurl, one fresh connection per request (a probe must not ride a kept-alive
/// connection to an nginx worker of an older configuration). Call it off the cooperative pool.
public struct HTTPClient: Sendable {
    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// libcurl's `HOST:PORT:ADDRESS` entries: a name that connects to a fixed address (the shared
    /// front is probed by a project's host name, on the front's address, without DNS).
    public var resolve: [String] = []

    public init(resolve: [String] = []) {
        _ = Self.globalInit
        self.resolve = resolve
    }

    public func perform(_ request: HTTPRequest) -> Result<HTTPResponse, HTTPError> {
        guard let handle = curl_easy_init() else {
            return .failure(HTTPError(kind: .other, message: "libcurl could not create a handle"))
        }
        defer { curl_easy_cleanup(handle) }
        let sink = ResponseSink()
        let unmanaged = Unmanaged.passRetained(sink)
        defer { unmanaged.release() }

        bgctl_curl_setopt_string(handle, CURLOPT_URL, request.url)
        if let socket = request.unixSocket { bgctl_curl_setopt_string(handle, CURLOPT_UNIX_SOCKET_PATH, socket) }
        if let caFile = request.caFile { bgctl_curl_setopt_string(handle, CURLOPT_CAINFO, caFile) }
        bgctl_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        bgctl_curl_setopt_long(handle, CURLOPT_FORBID_REUSE, 1)
        bgctl_curl_setopt_long(handle, CURLOPT_FRESH_CONNECT, 1)
        bgctl_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, HTTPRequest.milliseconds(request.timeout))
        bgctl_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, HTTPRequest.milliseconds(request.connectTimeout))
        bgctl_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        bgctl_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        bgctl_curl_setopt_string(handle, CURLOPT_USERAGENT, "bgctl/0.1")
        bgctl_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
        if request.method == "HEAD" { bgctl_curl_setopt_long(handle, CURLOPT_NOBODY, 1) }
        if let body = request.body {
            bgctl_curl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
            body.withUnsafeBufferPointer { buffer in
                _ = bgctl_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: buffer.baseAddress))
            }
        }
        var list: UnsafeMutablePointer<curl_slist>?
        for (name, value) in request.headers {
            list = curl_slist_append(list, "\(name): \(value)")
        }
        if request.body != nil && !request.headers.contains(where: { $0.0.lowercased() == "expect" }) {
            list = curl_slist_append(list, "Expect:")
        }
        defer { curl_slist_free_all(list) }
        if let list { bgctl_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list)) }
        var resolved: UnsafeMutablePointer<curl_slist>?
        for entry in resolve { resolved = curl_slist_append(resolved, entry) }
        defer { curl_slist_free_all(resolved) }
        if let resolved {
            bgctl_curl_setopt_pointer(handle, CURLOPT_RESOLVE, UnsafeMutableRawPointer(resolved))
            // An http_proxy in the environment would carry the name to the real site, not the front.
            bgctl_curl_setopt_string(handle, CURLOPT_NOPROXY, "*")
        }

        let context = unmanaged.toOpaque()
        bgctl_curl_setopt_write_function(handle, CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
            let sink = Unmanaged<ResponseSink>.fromOpaque(userdata!).takeUnretainedValue()
            let length = size * count
            if let data, sink.body.count < ResponseSink.limit {
                sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: min(length, ResponseSink.limit - sink.body.count)))
            }
            return length
        }
        bgctl_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        bgctl_curl_setopt_write_function(handle, CURLOPT_HEADERFUNCTION) { data, size, count, userdata in
            let sink = Unmanaged<ResponseSink>.fromOpaque(userdata!).takeUnretainedValue()
            let length = size * count
            if let data {
                let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
                if line.hasPrefix("HTTP/") {
                    sink.headers = [:]
                } else if let colon = line.firstIndex(of: ":") {
                    let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
                    let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
                    sink.headers[name] = value
                }
            }
            return length
        }
        bgctl_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context)

        let started = DispatchTime.now()
        let code = curl_easy_perform(handle)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6
        guard code == CURLE_OK else {
            let text = String(cString: curl_easy_strerror(code))
            let kind: HTTPError.Kind = code == CURLE_OPERATION_TIMEDOUT ? .timeout
                : (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST) ? .connect : .other
            return .failure(HTTPError(kind: kind, message: "\(text) after \(Int(min(elapsed, 1e9))) ms"))
        }
        var status = 0
        bgctl_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: sink.headers, body: sink.body, elapsedMilliseconds: elapsed))
    }

    public func get(_ url: String, timeout: Double = 5) -> Result<HTTPResponse, HTTPError> {
        perform(HTTPRequest(url: url, timeout: timeout, connectTimeout: min(timeout, 2)))
    }
}

private final class ResponseSink {
    static let limit = 1 << 20
    var headers: [String: String] = [:]
    var body: [UInt8] = []
}
