import Foundation

/// ISO 8601 times as state, history and the engine write them, on gmtime_r and timegm: Foundation's
/// ISO8601DateFormatter loads the time zone database and costs milliseconds on a switch's path.
enum ISOTime {
    /// `2026-11-26T15:16:52.123Z`, years 0…9999 (a time outside them is clamped).
    static func format(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        let clamped = seconds.isFinite ? min(max(seconds, -62_167_219_200), 253_402_300_799.999) : 0
        // To the nearest millisecond, as Foundation's formatter does: x.492 is stored as x.49199….
        let total = Int64((clamped * 1000).rounded())
        let whole = total >= 0 ? total / 1000 : (total - 999) / 1000
        let millis = Int(total - whole * 1000)
        var t = time_t(whole)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    /// `YYYY-MM-DDTHH:MM:SS`, an optional fraction of any length (the engine prints nanoseconds), then
    /// `Z` or `±HH:MM`. Nil for anything else, including fields out of range.
    static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 64 else { return nil }
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[from..<(from + count)] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        func at(_ index: Int, _ char: UInt8) -> Bool { index < bytes.count && bytes[index] == char }
        guard let year = number(0, 4), at(4, 0x2D), let month = number(5, 2), at(7, 0x2D), let day = number(8, 2),
              at(10, 0x54), let hour = number(11, 2), at(13, 0x3A), let minute = number(14, 2), at(16, 0x3A),
              let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var index = 19
        var fraction = 0.0
        if at(index, 0x2E) {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                fraction += Double(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        if at(index, 0x5A) {
            index += 1
        } else if at(index, 0x2B) || at(index, 0x2D) {
            let sign = bytes[index] == 0x2B ? 1 : -1
            guard let hours = number(index + 1, 2), at(index + 3, 0x3A), let minutes = number(index + 4, 2),
                  hours < 24, minutes < 60 else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
            index += 6
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        // timegm normalises 31 February into March: a day that does not exist is no time.
        var check = seconds
        var back = tm()
        gmtime_r(&check, &back)
        guard back.tm_mday == Int32(day), back.tm_mon == Int32(month - 1) else { return nil }
        return Date(timeIntervalSince1970: Double(seconds - offset) + fraction)
    }
}
