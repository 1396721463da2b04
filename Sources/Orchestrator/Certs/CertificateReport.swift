import Foundation
import NginxConfigGen

/// `bgctl certs status`: proxy.tls.acme's certificate as stored and as installed, and the schedule.
public struct CertificateReport: Sendable {
    public var names: [String]
    public var directory: String
    public var issuer: String?
    public var notBefore: Date?
    public var notAfter: Date?
    public var renewAt: Date?
    /// When the schedule allows the next attempt; nil: any time.
    public var nextAttempt: Date?
    public var failures: Int
    public var lastError: String?
    /// True when the proxy's tls/ holds the stored pair (what the installed configuration names).
    public var installed: Bool
    /// What a person should act on: no certificate, expiry close, renewals failing, names it lacks.
    public var problems: [String]
}

extension Stack {
    /// Reads the store and the proxy's copy; changes nothing, takes no lock.
    public func certificateReport() throws -> CertificateReport {
        guard let acme = spec.proxy.tls?.acme else { throw OrchestratorError.acmeNotConfigured }
        let store = certificateStore
        let now = ports.clock.now()
        let current = store.current()
        let record = store.renewal()
        let notBefore = current.flatMap { ISOTime.parse($0.notBefore) }
        let notAfter = current.flatMap { ISOTime.parse($0.notAfter) }
        var report = CertificateReport(names: current?.names ?? spec.proxy.hosts, directory: acme.directory, issuer: current?.issuer,
                                       notBefore: notBefore, notAfter: notAfter, renewAt: nil,
                                       nextAttempt: record.nextAttempt.flatMap(ISOTime.parse), failures: record.failures,
                                       lastError: record.lastError, installed: false, problems: [])
        if let notBefore, let notAfter { report.renewAt = RenewalPolicy.renewAt(notBefore: notBefore, notAfter: notAfter) }
        // Installed: the link the configuration names points at it (a copy left beside it after a failed install is not).
        if let current { report.installed = ports.files.readLink(paths.tlsLink) == current.fingerprint }
        guard let current, let notAfter else {
            report.problems.append("no certificate yet: the stack serves plain HTTP only" + (record.lastError.map { "; the last attempt failed: \($0)" } ?? ""))
            return report
        }
        let left = notAfter.timeIntervalSince(now)
        if left <= 0 {
            report.problems.append("the certificate expired on \(CertificateInfo.format(notAfter))")
        } else if left <= Double(RenewalPolicy.urgentDays) * 86_400 {
            report.problems.append("the certificate expires on \(CertificateInfo.format(notAfter)), in \(Int(left / 86_400)) days or fewer")
        }
        if record.failures > 0 {
            report.problems.append("\(record.failures) attempt\(record.failures == 1 ? "" : "s") in a row failed; the last: \(record.lastError ?? "unknown")")
        }
        if Set(current.names) != Set(spec.proxy.hosts) {
            report.problems.append("the certificate is for \(current.names.joined(separator: ", ")), proxy.hosts lists \(spec.proxy.hosts.joined(separator: ", ")); bgctl up obtains a new one")
        }
        if !report.installed { report.problems.append("the proxy does not serve this certificate yet; bgctl up or bgctl certs renew installs it") }
        return report
    }
}
