import CCurl
import Foundation

extension HTTPClient {
    /// The leaf certificate a TLS server presents for `name` at `host:port`, as PEM; nil when no
    /// handshake completed within `timeout`. The chain is read, not trusted (verification is off): the
    /// caller compares it with the certificate it installed. Nothing but a HEAD request is sent.
    public static func peerCertificate(host: String, port: Int, name: String, timeout: Double = 3) -> String? {
        _ = HTTPClient(resolve: [])
        guard let handle = curl_easy_init() else { return nil }
        defer { curl_easy_cleanup(handle) }
        bgctl_curl_setopt_string(handle, CURLOPT_URL, "https://\(name):\(port)/")
        let resolved = curl_slist_append(nil, "\(name):\(port):\(host)")
        defer { curl_slist_free_all(resolved) }
        bgctl_curl_setopt_pointer(handle, CURLOPT_RESOLVE, UnsafeMutableRawPointer(resolved))
        bgctl_curl_setopt_string(handle, CURLOPT_NOPROXY, "*")
        bgctl_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        bgctl_curl_setopt_long(handle, CURLOPT_FORBID_REUSE, 1)
        bgctl_curl_setopt_long(handle, CURLOPT_FRESH_CONNECT, 1)
        bgctl_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
        bgctl_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
        bgctl_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
        bgctl_curl_setopt_long(handle, CURLOPT_CERTINFO, 1)
        bgctl_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "https")
        bgctl_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, HTTPRequest.milliseconds(timeout))
        bgctl_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, HTTPRequest.milliseconds(min(timeout, 2)))
        bgctl_curl_setopt_write_function(handle, CURLOPT_WRITEFUNCTION) { _, size, count, _ in size * count }
        bgctl_curl_setopt_write_function(handle, CURLOPT_HEADERFUNCTION) { _, size, count, _ in size * count }
        // The handshake is what counts: an HTTP error (or none at all after it) still leaves the chain.
        _ = curl_easy_perform(handle)
        var info: UnsafeMutablePointer<curl_certinfo>?
        guard bgctl_curl_getinfo_certinfo(handle, &info) == CURLE_OK, let info, info.pointee.num_of_certs > 0,
              var item = info.pointee.certinfo?[0] else { return nil }
        while true {
            if let data = item.pointee.data {
                let text = String(cString: data)
                if text.hasPrefix("Cert:") { return String(text.dropFirst(5)) }
            }
            guard let next = item.pointee.next else { return nil }
            item = next
        }
    }

    /// The first certificate block of PEM text, with line breaks normalised: what two copies of one
    /// certificate have in common however they were written.
    public static func firstCertificateBlock(_ pem: String) -> String? {
        guard let start = pem.range(of: "-----BEGIN CERTIFICATE-----"),
              let end = pem.range(of: "-----END CERTIFICATE-----", range: start.upperBound..<pem.endIndex) else { return nil }
        return String(pem[start.upperBound..<end.lowerBound]).filter { !$0.isWhitespace }
    }
}
