import Foundation
import HTTPClient
import NginxConfigGen
import Orchestrator
import Support
import Watcher

/// The stack's watcher's active check of the live pool: every `interval` it asks the live pool's
/// health path on its preview port (short timeout); when the live pool stops answering while the
/// other pool answers (`LiveGuard`), it moves the route to the other pool — one rename, as a switch
/// does — writes what it did to failover.json in the watcher's folder, and alerts. It never moves the
/// route back: a person does, with `bgctl switch`. Runs on its own thread beside the log loop.
final class LiveProber: @unchecked Sendable {
    /// Between two probes of the live pool.
    static let interval = 0.25
    /// A health path that takes longer than this is not answering (capped by app.health.timeout).
    static let timeout = 0.5
    /// Failed probes in a row before the route moves: one slow answer is not a hung pool.
    static let failures = 2

    private let spec: DeploymentSpec
    private let folder: RouteFolder
    private let recordPath: String?
    private let report: (Detection) -> Void
    private let say: (String) -> Void
    private let http = HTTPClient()
    private let loop = BackgroundLoop(name: "bgctl-live-probe")

    init(spec: DeploymentSpec, routeFolder: String, watcherDir: String?, report: @escaping (Detection) -> Void,
         say: @escaping (String) -> Void) {
        self.spec = spec
        self.folder = RouteFolder(folder: routeFolder)
        self.recordPath = watcherDir.map { ($0 as NSString).appendingPathComponent("failover.json") }
        self.report = report
        self.say = say
    }

    func start() { loop.start { [self] in run() } }

    /// Returns once the probe thread has ended (at most one probe's timeout later).
    func stop() { loop.stop() }

    private func answers(_ pool: Pool) -> Bool {
        let url = "http://127.0.0.1:\(spec.pool(pool).previewPort)\(spec.app.health.path)"
        guard case .success(let response) = http.get(url, timeout: min(Self.timeout, spec.app.health.timeout.seconds)) else { return false }
        return (200..<300).contains(response.status)
    }

    private func run() {
        var guardState = LiveGuard(failures: Self.failures)
        while true {
            guard loop.pause(Self.interval) else { return }
            // No route (a stack from before routes, or a damaged one): nothing this prober may move.
            guard let route = folder.read().route else { continue }
            let liveAnswered = route.canary != nil || answers(route.live)
            let otherAnswered = !liveAnswered && answers(route.live.other)
            switch guardState.observe(live: route.live.rawValue, other: route.live.other.rawValue, canary: route.canary != nil,
                                      liveAnswered: liveAnswered, otherAnswered: otherAnswered) {
            case .none:
                break
            case .move(let from, let to):
                guard let target = Pool(rawValue: to) else { continue }
                do {
                    guard try folder.install(Route(live: target), ifStill: route) else {
                        // A person moved the route meanwhile: theirs stands.
                        guardState.forget()
                        continue
                    }
                } catch {
                    say("could not move the route off \(from): \(error)")
                    guardState.forget()
                    continue
                }
                let now = Date().timeIntervalSince1970
                say("the live pool \(from) stopped answering \(spec.app.health.path) (\(Self.failures) probes of \(Int(Self.timeout * 1000)) ms); moved traffic to \(to)")
                record(from: from, to: to, at: now)
                report(.routeMoved(from: from, to: to, firing: true, at: now))
            case .released(let from, let to):
                report(.routeMoved(from: from, to: to, firing: false, at: Date().timeIntervalSince1970))
            }
        }
    }

    /// failover.json: what the watcher did, for `bgctl status` and the next switch's record.
    private func record(from: String, to: String, at: Double) {
        guard let recordPath else { return }
        let text = "{\"at\":\(String(format: "%.3f", at)),\"from\":\"\(from)\",\"to\":\"\(to)\",\"reason\":\"the live pool stopped answering its health path\"}\n"
        do { try AtomicFile.write(text, to: recordPath, mode: 0o644) } catch { say("could not write \(recordPath): \(error)") }
    }
}
