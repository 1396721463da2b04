import Foundation

/// Parses one access-log line: a flat JSON object as bgctl's nginx writes it (or the older setup's
/// lines with `status`, `pool`, `release`, `upstream_status`). Reads only the keys the analysis uses,
/// skips the rest with memchr, never throws and never traps on any byte sequence: a line that is not a
/// JSON object with a numeric status is `nil` (malformed).
public enum LineParser {
    public static func parse(_ line: UnsafeRawBufferPointer) -> LogRecord? {
        guard let base = line.baseAddress?.assumingMemoryBound(to: UInt8.self), line.count > 1 else { return nil }
        return parse(base, count: line.count)
    }

    public static func parse(_ base: UnsafePointer<UInt8>, count: Int) -> LogRecord? {
        var record = LogRecord()
        var i = skipSpace(base, 0, count)
        guard i < count, base[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        var sawStatus = false
        var time: Double = 0
        var first = true
        while true {
            i = skipSpace(base, i, count)
            guard i < count else { return nil }
            if first && base[i] == UInt8(ascii: "}") { break }
            first = false
            guard base[i] == quote else { return nil }
            let keyStart = i + 1
            guard let keyEnd = stringEnd(base, keyStart, count) else { return nil }
            i = skipSpace(base, keyEnd + 1, count)
            guard i < count, base[i] == UInt8(ascii: ":") else { return nil }
            i = skipSpace(base, i + 1, count)
            guard i < count else { return nil }
            let key = Key(base + keyStart, keyEnd - keyStart)
            // A string's contents, or a bare number/literal; nginx quotes list-valued fields.
            let value: Range<Int>
            if base[i] == quote {
                guard let valueEnd = stringEnd(base, i + 1, count) else { return nil }
                value = (i + 1)..<valueEnd
                i = valueEnd + 1
            } else {
                guard let valueEnd = scalarEnd(base, i, count) else { return nil }
                value = i..<valueEnd
                i = valueEnd
            }
            switch key {
            case .status:
                guard let status = integer(base, value) else { return nil }
                record.status = status
                sawStatus = true
            case .pool: record.pool = poolTag(base, value)
            case .live: record.live = poolTag(base, value)
            case .release: record.release = value
            case .uri: record.uri = value
            case .method: record.method = value
            case .upstreamStatus:
                record.upstreamStatus = value
                record.upstreamAttempts = attempts(base, value)
            case .upstreamAddr: record.upstreamAddr = value
            case .msec: time = decimal(base, value) ?? time
            case .time: if time == 0 { time = isoTime(base, value) ?? 0 }
            case .requestTime: record.requestTime = decimal(base, value) ?? -1
            case .route: record.previewRouted = !value.isEmpty
            case .other: break
            }
            i = skipSpace(base, i, count)
            guard i < count else { return nil }
            if base[i] == UInt8(ascii: ",") {
                i += 1
            } else if base[i] == UInt8(ascii: "}") {
                break
            } else {
                return nil
            }
        }
        guard sawStatus, (100...599).contains(record.status) else { return nil }
        record.time = time
        return record
    }

    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    private enum Key {
        case status, pool, live, release, uri, method, upstreamStatus, upstreamAddr, msec, time, requestTime, route, other

        init(_ p: UnsafePointer<UInt8>, _ n: Int) {
            // Length first, then the bytes: one or two comparisons for most keys.
            switch n {
            case 3: self = Key.equal(p, n, "uri") ? .uri : .other
            case 4:
                if Key.equal(p, n, "pool") { self = .pool }
                else if Key.equal(p, n, "live") { self = .live }
                else if Key.equal(p, n, "msec") { self = .msec }
                else if Key.equal(p, n, "time") { self = .time }
                else { self = .other }
            case 5: self = Key.equal(p, n, "route") ? .route : .other
            case 6:
                if Key.equal(p, n, "status") { self = .status }
                else if Key.equal(p, n, "method") { self = .method }
                else { self = .other }
            case 7: self = Key.equal(p, n, "release") ? .release : .other
            case 12: self = Key.equal(p, n, "request_time") ? .requestTime : .other
            case 13: self = Key.equal(p, n, "upstream_addr") ? .upstreamAddr : .other
            case 15: self = Key.equal(p, n, "upstream_status") ? .upstreamStatus : .other
            default: self = .other
            }
        }

        static func equal(_ p: UnsafePointer<UInt8>, _ n: Int, _ literal: StaticString) -> Bool {
            literal.utf8CodeUnitCount == n && memcmp(p, literal.utf8Start, n) == 0
        }
    }

    @inline(__always)
    private static func skipSpace(_ p: UnsafePointer<UInt8>, _ start: Int, _ count: Int) -> Int {
        var i = start
        while i < count, p[i] == 0x20 || p[i] == 0x09 || p[i] == 0x0D { i += 1 }
        return i
    }

    /// Index of the quote closing a string whose contents start at `start` (escaped quotes skipped).
    @inline(__always)
    private static func stringEnd(_ p: UnsafePointer<UInt8>, _ start: Int, _ count: Int) -> Int? {
        var i = start
        while i < count {
            guard let found = memchr(p + i, Int32(quote), count - i) else { return nil }
            let at = UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - p
            var slashes = 0
            var j = at - 1
            while j >= start, p[j] == backslash {
                slashes += 1
                j -= 1
            }
            if slashes % 2 == 0 { return at }
            i = at + 1
        }
        return nil
    }

    /// End of a number, true, false or null; nested objects and arrays are skipped whole.
    private static func scalarEnd(_ p: UnsafePointer<UInt8>, _ start: Int, _ count: Int) -> Int? {
        var i = start
        var depth = 0
        while i < count {
            let c = p[i]
            if c == quote {
                guard depth > 0, let end = stringEnd(p, i + 1, count) else { return nil }
                i = end + 1
                continue
            }
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { depth += 1 }
            else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                if depth == 0 { return i > start ? i : nil }
                depth -= 1
                if depth == 0 { return i + 1 }
            } else if depth == 0 && (c == UInt8(ascii: ",") || c == 0x20 || c == 0x09) {
                return i > start ? i : nil
            }
            i += 1
        }
        return depth == 0 && i > start ? i : nil
    }

    @inline(__always)
    private static func integer(_ p: UnsafePointer<UInt8>, _ r: Range<Int>) -> Int? {
        guard !r.isEmpty, r.count <= 9 else { return nil }
        var value = 0
        for i in r {
            let d = Int(p[i]) - 48
            guard d >= 0 && d <= 9 else { return nil }
            value = value * 10 + d
        }
        return value
    }

    /// A non-negative decimal such as 1795706212.295; nil for anything else ("-", empty).
    @inline(__always)
    private static func decimal(_ p: UnsafePointer<UInt8>, _ r: Range<Int>) -> Double? {
        guard !r.isEmpty, r.count <= 32 else { return nil }
        var whole: Int64 = 0
        var fraction: Int64 = 0
        var scale: Double = 1
        var seenDot = false
        var digits = 0
        for i in r {
            let c = p[i]
            if c == UInt8(ascii: ".") && !seenDot {
                seenDot = true
                continue
            }
            let d = Int64(c) - 48
            guard d >= 0 && d <= 9 else { return nil }
            digits += 1
            guard digits <= 18 else { return nil }
            if seenDot {
                fraction = fraction * 10 + d
                scale *= 10
            } else {
                whole = whole * 10 + d
            }
        }
        guard digits > 0 else { return nil }
        return Double(whole) + Double(fraction) / scale
    }

    @inline(__always)
    private static func poolTag(_ p: UnsafePointer<UInt8>, _ r: Range<Int>) -> PoolTag {
        switch r.count {
        case 0: return .none
        case 4: return memcmp(p + r.lowerBound, "blue", 4) == 0 ? .blue : .other
        case 5: return memcmp(p + r.lowerBound, "green", 5) == 0 ? .green : .other
        default: return .other
        }
    }

    /// Entries in an nginx list value: "502, 200" or "502 : 200" (after an internal redirect) is 2; "-" is 0.
    @inline(__always)
    private static func attempts(_ p: UnsafePointer<UInt8>, _ r: Range<Int>) -> Int {
        guard !r.isEmpty else { return 0 }
        if r.count == 1 && p[r.lowerBound] == UInt8(ascii: "-") { return 0 }
        var n = 1
        for i in r where p[i] == UInt8(ascii: ",") || p[i] == UInt8(ascii: ":") { n += 1 }
        return n
    }

    /// `2026-11-26T15:16:52+00:00` (nginx's $time_iso8601) as seconds since the epoch.
    private static func isoTime(_ p: UnsafePointer<UInt8>, _ r: Range<Int>) -> Double? {
        guard r.count >= 19 else { return nil }
        func num(_ offset: Int, _ length: Int) -> Int? { integer(p, (r.lowerBound + offset)..<(r.lowerBound + offset + length)) }
        guard let year = num(0, 4), let month = num(5, 2), let day = num(8, 2),
              let hour = num(11, 2), let minute = num(14, 2), let second = num(17, 2),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        var offsetSeconds = 0
        if r.count >= 25, let oh = num(20, 2), let om = num(23, 2) {
            offsetSeconds = (oh * 3600 + om * 60) * (p[r.lowerBound + 19] == UInt8(ascii: "-") ? -1 : 1)
        }
        // Days from the civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Double(days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds)
    }

    /// A JSON string value of `line` (escapes decoded, invalid UTF-8 replaced), for display only; at
    /// most `limit` scalars, the last one `…` when cut. Reads at most what `limit` scalars can take.
    public static func text(_ line: UnsafeRawBufferPointer, _ range: Range<Int>, limit: Int = Int.max) -> String {
        guard !range.isEmpty, range.lowerBound >= 0, range.upperBound <= line.count else { return "" }
        // A scalar is at most 12 bytes here (`\ud83d\ude00`); one more scalar tells that it was cut.
        let (most, overflow) = limit.multipliedReportingOverflow(by: 12)
        let cut = overflow ? range : range.lowerBound..<min(range.upperBound, range.lowerBound + most + 12)
        let bytes = line[cut]
        let decoded = bytes.contains(backslash) ? unescape(bytes) : String(decoding: bytes, as: UTF8.self)
        return limit == Int.max ? decoded : SafeText.clip(decoded, limit)
    }

    private static func unescape(_ bytes: Slice<UnsafeRawBufferPointer>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= bytes.endIndex else { return nil }
            var value: UInt32 = 0
            for j in at..<(at + 4) {
                let c = bytes[j]
                let digit: UInt8
                switch c {
                case 0x30...0x39: digit = c - 0x30
                case 0x41...0x46: digit = c - 0x41 + 10
                case 0x61...0x66: digit = c - 0x61 + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while i < bytes.endIndex {
            let c = bytes[i]
            if c == backslash, i + 1 < bytes.endIndex {
                let e = bytes[i + 1]
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard var code = hex4(i + 2) else {
                        out.append(e)
                        break
                    }
                    var used = 6
                    // A surrogate pair is one scalar; a lone surrogate is not text and becomes U+FFFD.
                    if (0xD800...0xDBFF).contains(code), i + 12 <= bytes.endIndex, bytes[i + 6] == backslash,
                       bytes[i + 7] == UInt8(ascii: "u"), let low = hex4(i + 8), (0xDC00...0xDFFF).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        used = 12
                    }
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(code) ?? "\u{FFFD}")).utf8))
                    i += used
                    continue
                default: out.append(e)
                }
                i += 2
                continue
            }
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
