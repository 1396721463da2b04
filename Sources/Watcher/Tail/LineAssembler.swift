import Foundation

/// Joins the bytes a tailer reads into lines of at most `maxLine` bytes, in bounded memory.
///
/// A longer line is not lost: nginx's `escape=json` can turn an 8 KiB request line or header into
/// 64 KiB of `\"` and `\u0001`, and the client who sent it must not keep its own errors out of the
/// figures. Such a line is kept *shortened*: every JSON string value in it is cut to `keptString`
/// bytes (at a character boundary, never inside an escape), so it stays a JSON object whose status,
/// pool and upstream fields parse. Only a line still over `maxLine` after that is dropped and counted.
struct LineAssembler {
    let maxLine: Int
    let keptString: Int
    private var pending: [UInt8] = []
    private var mode = Mode.whole

    private enum Mode {
        case whole
        case shortening(Shortener)
        case skipping
    }

    init(maxLine: Int, keptString: Int) {
        self.maxLine = max(1, maxLine)
        self.keptString = max(1, keptString)
    }

    /// Where a JSON text is, byte by byte: enough to find string values and cut them safely.
    private struct Shortener {
        var inString = false
        var afterBackslash = false
        var hexLeft = 0
        var hexValue: UInt32 = 0
        /// Just after a `\uD800`–`\uDBFF` escape: its low half follows, and the pair is one character
        /// (cut between them, the line would hold a lone surrogate, which strict JSON readers refuse).
        var highSurrogate = false
        var kept = 0
        var dropping = false

        /// Whether `byte` is kept.
        mutating func keep(_ byte: UInt8, cap: Int) -> Bool {
            guard inString else {
                if byte == 0x22 { (inString, kept, dropping) = (true, 0, false) }
                return true
            }
            // A byte where a character begins: the string may be cut before it.
            let boundary: Bool
            if afterBackslash {
                afterBackslash = false
                if byte == UInt8(ascii: "u") { (hexLeft, hexValue) = (4, 0) }
                boundary = false
            } else if hexLeft > 0 {
                hexLeft -= 1
                hexValue = hexValue << 4 | UInt32(Self.hexDigit(byte))
                if hexLeft == 0 { highSurrogate = (0xD800...0xDBFF).contains(hexValue) }
                boundary = false
            } else if byte == 0x22 {
                (inString, highSurrogate) = (false, false)
                return true
            } else {
                if byte == UInt8(ascii: "\\") { afterBackslash = true }
                boundary = byte & 0xC0 != 0x80 && !highSurrogate
                highSurrogate = false
            }
            if !dropping && boundary && kept >= cap { dropping = true }
            guard !dropping else { return false }
            kept += 1
            return true
        }

        /// A hex digit's value; 0 for any other byte (the parser judges the escape, not the shortener).
        static func hexDigit(_ byte: UInt8) -> UInt8 {
            switch byte {
            case 0x30...0x39: return byte - 0x30
            case 0x41...0x46: return byte - 0x37
            case 0x61...0x66: return byte - 0x57
            default: return 0
            }
        }
    }

    /// Empties the line being assembled (truncation, rotation).
    mutating func reset() {
        pending.removeAll(keepingCapacity: true)
        mode = .whole
    }

    /// Adds `bytes`; each complete line goes to `onLine` without its newline. Returns lines delivered.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, counters: inout Tailer.Counters,
                       _ onLine: (UnsafeRawBufferPointer) -> Void) -> Int {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        var lines = 0
        var start = 0
        while start < bytes.count {
            let newline = memchr(base + start, 0x0A, bytes.count - start)
            let end = newline.map { UnsafeRawPointer($0) - base } ?? bytes.count
            let piece = UnsafeRawBufferPointer(start: base + start, count: end - start)
            if newline != nil, pending.isEmpty, case .whole = mode, piece.count <= maxLine {
                // The common case: a whole line in the buffer, delivered without a copy.
                onLine(piece)
                lines += 1
            } else {
                add(piece, counters: &counters)
                if newline != nil { lines += deliver(counters: &counters, onLine) }
            }
            start = end + 1
        }
        return lines
    }

    /// Delivers a last line that has no newline (a file rotated or a stream ended after it).
    mutating func flush(counters: inout Tailer.Counters, _ onLine: (UnsafeRawBufferPointer) -> Void) {
        if !pending.isEmpty { _ = deliver(counters: &counters, onLine) }
        reset()
    }

    private mutating func deliver(counters: inout Tailer.Counters, _ onLine: (UnsafeRawBufferPointer) -> Void) -> Int {
        defer { reset() }
        switch mode {
        case .skipping: return 0
        case .shortening: counters.shortened += 1
        case .whole: break
        }
        pending.withUnsafeBytes { onLine($0) }
        return 1
    }

    private mutating func add(_ piece: UnsafeRawBufferPointer, counters: inout Tailer.Counters) {
        switch mode {
        case .skipping:
            return
        case .whole:
            if pending.count + piece.count <= maxLine {
                pending.append(contentsOf: piece)
                return
            }
            // Over the cap: what was kept so far goes through the shortener from its start.
            let kept = pending
            pending.removeAll(keepingCapacity: true)
            mode = .shortening(Shortener())
            kept.withUnsafeBytes { shorten($0, counters: &counters) }
            shorten(piece, counters: &counters)
        case .shortening:
            shorten(piece, counters: &counters)
        }
    }

    private mutating func shorten(_ bytes: UnsafeRawBufferPointer, counters: inout Tailer.Counters) {
        guard case .shortening(var state) = mode else { return }
        for byte in bytes where state.keep(byte, cap: keptString) {
            guard pending.count < maxLine else {
                counters.tooLong += 1
                pending.removeAll(keepingCapacity: true)
                mode = .skipping
                return
            }
            pending.append(byte)
        }
        mode = .shortening(state)
    }
}
