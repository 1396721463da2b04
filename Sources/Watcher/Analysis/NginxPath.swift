/// The path of a request URI as nginx matches it against its locations (ngx_http_parse_complex_uri
/// with merge_slashes on): %XX decoded, "//" merged, "." and ".." segments resolved. The watcher
/// judges a path by what nginx did with it, not by how the client spelled it.
enum NginxPath {
    private static let slash = UInt8(ascii: "/"), dot = UInt8(ascii: "."), percent = UInt8(ascii: "%")
    private static let query = UInt8(ascii: "?")

    /// False for the common URI whose path has no "%", "/." or "//": it is its own normal form.
    /// Only the path counts; a query string is compared as logged.
    @inline(__always)
    static func needsNormalising(_ uri: UnsafeRawBufferPointer) -> Bool {
        guard uri.first == slash else { return false }
        var previous: UInt8 = 0
        for byte in uri {
            if byte == query { return false }
            if byte == percent || (previous == slash && (byte == dot || byte == slash)) { return true }
            previous = byte
        }
        return false
    }

    /// Writes the normal form of `uri` (path normalised, then "?…" as logged) into `output`, which
    /// holds at least `uri.count` bytes, and returns its length and where its path ends; nil where
    /// nginx answers 400: a bad or NUL %-escape, or ".." above the root.
    static func normalise(_ uri: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> (count: Int, pathEnd: Int)? {
        var count = 0
        var index = 0
        while index < uri.count, uri[index] != query {
            var byte = uri[index]
            index += 1
            if byte == percent {
                guard index + 1 < uri.count, let high = hexValue(uri[index]), let low = hexValue(uri[index + 1]) else { return nil }
                byte = high << 4 | low
                index += 2
                guard byte != 0 else { return nil }
            }
            if byte == slash {
                guard let resolved = resolvingDotSegment(output, count) else { return nil }
                count = resolved
                // Merged: the resolved path already ends in "/".
                if count > 0 && output[count - 1] == slash { continue }
            }
            output[count] = byte
            count += 1
        }
        guard let resolved = resolvingDotSegment(output, count) else { return nil }
        count = resolved
        let pathEnd = count
        while index < uri.count {
            output[count] = uri[index]
            count += 1
            index += 1
        }
        return (count, pathEnd)
    }

    /// At the end of a segment: "…/." becomes "…/", "…/x/.." becomes "…/"; nil for ".." at the root.
    private static func resolvingDotSegment(_ path: UnsafeMutableRawBufferPointer, _ count: Int) -> Int? {
        if count >= 2 && path[count - 1] == dot && path[count - 2] == slash { return count - 1 }
        guard count >= 3 && path[count - 1] == dot && path[count - 2] == dot && path[count - 3] == slash else { return count }
        var start = count - 3
        guard start > 0 else { return nil }
        start -= 1
        while path[start] != slash { start -= 1 }
        return start + 1
    }

    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
