import CCurl
import Foundation

/// How a streamed response ended. A non-2xx status is an outcome, not an error; its body (at most
/// 4 KiB) is kept instead of being delivered.
public struct HTTPStreamEnd: Sendable, Equatable {
    public var status: Int
    /// The caller asked to stop (`keepGoing` false, or `onData` false) before the server ended it.
    public var stopped: Bool
    public var errorBody: [UInt8]
    /// The connection failed after the response began (the server went away mid-stream, without
    /// ending the body): libcurl's text for it; nil when the response ended as HTTP says it should.
    public var broken: String?

    public init(status: Int, stopped: Bool, errorBody: [UInt8] = [], broken: String? = nil) {
        self.status = status
        self.stopped = stopped
        self.errorBody = errorBody
        self.broken = broken
    }
}

extension HTTPClient {
    /// A response read as it arrives (the Docker engine's `GET /events`): the 2xx body's bytes go to
    /// `onData` in the pieces libcurl receives them (return false to stop). No time limit but the
    /// request's connect timeout: a stream may be quiet for hours. `keepGoing` is asked about once a
    /// second while it is, and whenever data arrives; false ends the transfer (a stop, not a failure).
    /// A transport failure before any response (refused, no such socket, reset) is the error; one
    /// after the response began is an end with `broken` set.
    public func stream(_ request: HTTPRequest, keepGoing: () -> Bool,
                       onData: (UnsafeRawBufferPointer) -> Bool) -> Result<HTTPStreamEnd, HTTPError> {
        withoutActuallyEscaping(keepGoing) { keepGoing in
            withoutActuallyEscaping(onData) { onData in
                runStream(request, StreamSink(keepGoing: keepGoing, onData: onData))
            }
        }
    }

    private func runStream(_ request: HTTPRequest, _ sink: StreamSink) -> Result<HTTPStreamEnd, HTTPError> {
        guard let handle = curl_easy_init() else {
            return .failure(HTTPError(kind: .other, message: "libcurl could not create a handle"))
        }
        defer { curl_easy_cleanup(handle) }
        sink.handle = handle
        let unmanaged = Unmanaged.passRetained(sink)
        defer { unmanaged.release() }
        bgctl_curl_setopt_string(handle, CURLOPT_URL, request.url)
        if let socket = request.unixSocket { bgctl_curl_setopt_string(handle, CURLOPT_UNIX_SOCKET_PATH, socket) }
        bgctl_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        bgctl_curl_setopt_long(handle, CURLOPT_FORBID_REUSE, 1)
        bgctl_curl_setopt_long(handle, CURLOPT_FRESH_CONNECT, 1)
        bgctl_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, HTTPRequest.milliseconds(request.connectTimeout))
        bgctl_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        bgctl_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        bgctl_curl_setopt_string(handle, CURLOPT_USERAGENT, "bgctl/0.1")
        bgctl_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
        var list: UnsafeMutablePointer<curl_slist>?
        for (name, value) in request.headers { list = curl_slist_append(list, "\(name): \(value)") }
        defer { curl_slist_free_all(list) }
        if let list { bgctl_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list)) }

        let context = unmanaged.toOpaque()
        bgctl_curl_setopt_write_function(handle, CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
            let sink = Unmanaged<StreamSink>.fromOpaque(userdata!).takeUnretainedValue()
            let length = size * count
            guard let data else { return length }
            var status = 0
            bgctl_curl_getinfo_long(sink.handle, CURLINFO_RESPONSE_CODE, &status)
            guard (200..<300).contains(status) else {
                let room = max(0, StreamSink.errorLimit - sink.errorBody.count)
                sink.errorBody.append(contentsOf: UnsafeRawBufferPointer(start: data, count: min(length, room)))
                return length
            }
            // Returning less than was given makes libcurl end the transfer (CURLE_WRITE_ERROR).
            guard sink.keepGoing(), sink.onData(UnsafeRawBufferPointer(start: data, count: length)) else {
                sink.stopped = true
                return 0
            }
            return length
        }
        bgctl_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        bgctl_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
        bgctl_curl_setopt_xferinfo_function(handle) { userdata, _, _, _, _ in
            let sink = Unmanaged<StreamSink>.fromOpaque(userdata!).takeUnretainedValue()
            guard sink.keepGoing() else {
                sink.stopped = true
                return 1
            }
            return 0
        }
        bgctl_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, context)

        let started = DispatchTime.now()
        let code = curl_easy_perform(handle)
        var status = 0
        bgctl_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        if sink.stopped { return .success(HTTPStreamEnd(status: status, stopped: true)) }
        if code != CURLE_OK && status != 0 {
            return .success(HTTPStreamEnd(status: status, stopped: false, errorBody: sink.errorBody,
                                          broken: String(cString: curl_easy_strerror(code))))
        }
        guard code == CURLE_OK else {
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6
            let text = String(cString: curl_easy_strerror(code))
            let kind: HTTPError.Kind = code == CURLE_OPERATION_TIMEDOUT ? .timeout
                : (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST) ? .connect : .other
            return .failure(HTTPError(kind: kind, message: "\(text) after \(Int(min(elapsed, 1e9))) ms"))
        }
        return .success(HTTPStreamEnd(status: status, stopped: false, errorBody: sink.errorBody))
    }
}

private final class StreamSink {
    static let errorLimit = 4096
    let keepGoing: () -> Bool
    let onData: (UnsafeRawBufferPointer) -> Bool
    var handle: UnsafeMutableRawPointer?
    var stopped = false
    var errorBody: [UInt8] = []

    init(keepGoing: @escaping () -> Bool, onData: @escaping (UnsafeRawBufferPointer) -> Bool) {
        self.keepGoing = keepGoing
        self.onData = onData
    }
}
