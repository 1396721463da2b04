import Foundation
import HTTPClient
import Watcher

/// Follows the engine's `GET /events` for one project over its unix socket and hands each checked
/// event to `deliver`, until `stop` says so. When the stream ends or fails (dockerd restarted, the
/// socket went away) it asks again after a backoff (`initialBackoff` doubling to `maxBackoff`; a
/// response from the engine starts it over), with `since` the time of the last event it delivered,
/// so nothing in the gap is lost; the event at exactly that time, which the engine sends again, is
/// delivered once. Before the first event, `since` is the time the follower started.
///
/// The engine keeps its recent events in memory only: what happened while dockerd itself was down
/// or restarting is not in its answer.
public final class EventFollower {
    public static let initialBackoff = 0.2
    public static let maxBackoff = 5.0

    public let project: String
    public let socket: String
    private let http: HTTPClient
    private let pause: (Double) -> Bool
    private let stop: () -> Bool
    private let deliver: (ContainerEvent) -> Void
    private let say: (String) -> Void
    /// Nanoseconds: the events at and after it are asked for at the next connection.
    public private(set) var since: Int64
    /// Keys of the events delivered last (at most `remembered`), oldest first: what a reconnection's
    /// replay from `since` repeats is dropped by key, never by time — the engine may stamp events of
    /// concurrent operations slightly out of order, and a live event older than the newest is news.
    private var recent: Set<String> = []
    private var recentOrder: [String] = []
    static let remembered = 4096
    public private(set) var connections = 0
    public private(set) var delivered = 0
    /// Lines of the stream that were not an event to keep (too long, malformed, out of bounds).
    public private(set) var dropped = 0

    /// `clock`: nanoseconds since the epoch, read once, at the start. `pause` waits that many seconds
    /// and returns false when the follower is to stop (at once, whatever is left of the wait).
    public init(project: String, socket: String, http: HTTPClient = HTTPClient(), clock: () -> Int64,
                pause: @escaping (Double) -> Bool, stop: @escaping () -> Bool,
                deliver: @escaping (ContainerEvent) -> Void, say: @escaping (String) -> Void = { _ in }) {
        self.project = project
        self.socket = socket
        self.http = http
        self.since = clock()
        self.pause = pause
        self.stop = stop
        self.deliver = deliver
        self.say = say
    }

    /// Returns when `stop` says so: at most about a second after, while the stream is quiet.
    public func run() {
        var wait = Self.initialBackoff
        var failing = false
        while !stop() {
            connections += 1
            let outcome = followOnce()
            if stop() { return }
            switch outcome {
            case .success(let end) where end.status == 200:
                if failing { say("following the engine's events again") }
                failing = false
                wait = Self.initialBackoff
                say("the engine's events stream \(end.broken.map { "broke (\($0))" } ?? "ended"); asking again from \(EngineEvents.sinceText(since))")
            case .success(let end):
                let body = String(decoding: end.errorBody.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                if !failing { say("the engine answered \(end.status) to GET /events\(body.isEmpty ? "" : ": \(SafeLine.clip(body))"); retrying with backoff up to \(Int(Self.maxBackoff)) s") }
                failing = true
            case .failure(let error):
                if !failing { say("cannot reach the engine at \(socket) (\(error)); retrying with backoff up to \(Int(Self.maxBackoff)) s") }
                failing = true
            }
            guard pause(wait) else { return }
            if failing { wait = min(wait * 2, Self.maxBackoff) }
        }
    }

    private func followOnce() -> Result<HTTPStreamEnd, HTTPError> {
        let request = HTTPRequest(url: "http://localhost" + EngineEvents.path(project: project, since: since),
                                  timeout: 0, connectTimeout: 2, unixSocket: socket)
        var lines = StreamLines(maxLine: EngineEvents.maxMessage)
        let result = http.stream(request, keepGoing: { !stop() }) { bytes in
            lines.feed(bytes) { line in take(line) }
            return true
        }
        dropped += lines.dropped
        return result
    }

    private func take(_ line: UnsafeRawBufferPointer) {
        guard let message = EngineEvents.parse(line, project: project) else {
            dropped += 1
            return
        }
        let time = message.event.timeNano
        guard !recent.contains(message.key) else { return }
        recent.insert(message.key)
        recentOrder.append(message.key)
        if recentOrder.count > Self.remembered { recent.remove(recentOrder.removeFirst()) }
        since = max(since, time)
        delivered += 1
        deliver(message.event)
    }
}

enum SafeLine {
    /// The engine's error text on one line: controls dropped, at most 200 characters.
    static func clip(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }).prefix(200))
    }
}
