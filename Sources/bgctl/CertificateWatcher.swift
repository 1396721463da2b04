import Foundation
import HTTPClient
import NginxConfigGen
import Orchestrator
import Watcher

/// The stack's watcher's side of proxy.tls.acme: every `interval` (and soon after it starts) one
/// `CertificateRenewal.tick` — renew when due and the schedule on disk allows, reload a proxy that
/// missed an install, warn of a close expiry — turned into alerts and metrics. Its own thread: an
/// issuance waits on the CA for up to acme.timeout, and the log loop must not.
final class CertificateWatcher: @unchecked Sendable {
    static let interval = 600.0
    static let firstLook = 5.0

    private var renewal: CertificateRenewal
    private let report: (Detection) -> Void
    private let metrics: WatchMetrics?
    private let say: (String) -> Void
    private let loop = BackgroundLoop(name: "bgctl-certificates")
    private var firing = false

    init(renewal: CertificateRenewal, metrics: WatchMetrics?, report: @escaping (Detection) -> Void, say: @escaping (String) -> Void) {
        self.renewal = renewal
        self.metrics = metrics
        self.report = report
        self.say = say
    }

    /// The renewal for a spec with proxy.tls.acme, on the watcher container's mounts below `root`:
    /// acme/ (the store), acme-challenge/ and tls/ (the proxy's); `caFile` as mounted.
    static func renewal(_ spec: DeploymentSpec, root: String, caFile: String?, cancelled: @escaping @Sendable () -> Bool,
                        say: @escaping @Sendable (String) -> Void) -> CertificateRenewal? {
        guard let tls = spec.proxy.tls, let acme = tls.acme, !spec.proxy.hosts.isEmpty else { return nil }
        let workspace = ACMEWorkspace(storeDir: root + "/acme", challengeDir: root + "/" + FrontConfig.challengeFolder, tlsDir: root + "/tls")
        let issuer = CertificateIssuer(acme: acme, names: spec.proxy.hosts, workspace: workspace, files: LocalFileSystem(), clock: .system,
                                       transport: HTTPClient(), caFile: caFile, cancelled: cancelled) { event in
            if case .done(let text) = event { say(text) }
        }
        // The proxy's HTTPS address as this host reaches it (the watcher shares the host's network).
        let host = tls.listen.host == "0.0.0.0" ? "127.0.0.1" : tls.listen.host
        return CertificateRenewal(issuer: issuer, tlsHost: host, tlsPort: tls.listen.port, reload: { NginxMaster.reload(pid: 1) })
    }

    func start() { loop.start { [self] in run() } }

    /// Returns once the thread has ended; an issuance in flight stops at its next check of the signal.
    func stop() { loop.stop() }

    private func run() {
        var wait = Self.firstLook
        while true {
            guard loop.pause(wait) else { return }
            wait = Self.interval
            let events = renewal.tick()
            handle(events)
            let served = renewal.installedCertificate()
            if let served { metrics?.certificate(notAfter: served.notAfter.timeIntervalSince1970) }
            // Installed by up (or by this watcher after an earlier failure) and nothing wrong this look: resolved.
            if firing, let served, renewal.servesStored, !events.contains(where: { event in
                switch event {
                case .failed, .obtainedForUp, .expiring: return true
                default: return false
                }
            }) {
                firing = false
                report(.certificate(firing: false, detail: "\(renewal.issuer.names.joined(separator: ", ")), valid until \(CertificateInfo.format(served.notAfter))",
                                    at: Date().timeIntervalSince1970))
            }
        }
    }

    private func handle(_ events: [CertificateRenewal.Event]) {
        let now = Date().timeIntervalSince1970
        let names = renewal.issuer.names.joined(separator: ", ")
        for event in events {
            switch event {
            case .installed(let notAfter):
                metrics?.certificateRenewal("installed")
                say("the stored certificate for \(names) (valid until \(CertificateInfo.format(notAfter))) was not served; installed it")
            case .renewed(let notAfter):
                metrics?.certificateRenewal("renewed")
                say("certificate for \(names) renewed, valid until \(CertificateInfo.format(notAfter))")
                if firing {
                    firing = false
                    report(.certificate(firing: false, detail: "\(names), valid until \(CertificateInfo.format(notAfter))", at: now))
                }
            case .obtainedForUp(let notAfter):
                metrics?.certificateRenewal("obtained")
                let text = "a certificate for \(names) (valid until \(CertificateInfo.format(notAfter))) is ready; the stack serves no HTTPS yet: run bgctl up to install it"
                say(text)
                firing = true
                report(.certificate(firing: true, detail: text, at: now))
            case .failed(let detail, let next):
                metrics?.certificateRenewal("failed")
                let text = "renewal for \(names) failed: \(detail)" + (next.map { " (next attempt from \(CertificateInfo.format($0)))" } ?? "")
                say(text)
                firing = true
                report(.certificate(firing: true, detail: text, at: now))
            case .expiring(let days, let notAfter):
                firing = true
                report(.certificate(firing: true, detail: "the certificate for \(names) expires on \(CertificateInfo.format(notAfter)) (\(days) day\(days == 1 ? "" : "s") left)", at: now))
            case .repaired:
                say("the proxy served another certificate than tls/live names (an install stopped before its reload); reloaded it")
            }
        }
    }
}
