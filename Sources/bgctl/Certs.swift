import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator

extension Bgctl {
    struct Certs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Certificates obtained by ACME (proxy.tls.acme): their state, and renewal for a timer.",
            discussion: """
            bgctl up obtains the first certificate and renews one that is due; the stack's watcher renews
            too. certs renew is for a timer (a systemd timer, cron) on hosts that run no watcher.

            Examples:
              bgctl certs status
              bgctl certs renew
            """,
            subcommands: [CertsStatus.self, CertsRenew.self])

        @OptionGroup var output: OutputOptions

        /// One line for `up` and `certs renew`; nil when nothing happened worth saying.
        static func line(_ outcome: CertificateOutcome) -> String? {
            let until = outcome.notAfter.map { " valid until \(CertificateInfo.format($0))" } ?? ""
            let names = outcome.names.map(Terminal.field).joined(separator: ", ")
            switch outcome.result {
            case .current: return nil
            case .issued: return "certificate for \(names) issued,\(until)"
            case .renewed: return "certificate for \(names) renewed,\(until)"
            case .installed: return "certificate for \(names) installed (it was stored but not served),\(until)"
            case .pending: return "certificate for \(names): renewal pending" + (outcome.nextAttempt.map { " (next attempt from \(Clock.iso($0)))" } ?? "")
            case .planned: return nil
            }
        }

        static func json(_ outcome: CertificateOutcome) -> [String: Any] {
            ["result": outcome.result.rawValue, "names": outcome.names,
             "not_after": outcome.notAfter.map { Clock.iso($0) as Any } ?? NSNull(),
             "renew_at": outcome.renewAt.map { Clock.iso($0) as Any } ?? NSNull(),
             "next_attempt": outcome.nextAttempt.map { Clock.iso($0) as Any } ?? NSNull(),
             "detail": outcome.detail ?? NSNull()]
        }
    }

    struct CertsStatus: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Show the ACME certificate: names, issuer, validity, when it renews, and failed attempts.",
            discussion: """
            Exit status: 0 fine, 3 a problem is listed (expiry within 7 days, failed attempts, not
            installed, names proxy.hosts no longer lists), 4 no certificate yet, 65 the spec has no proxy.tls.acme.

            Examples:
              bgctl certs status
              bgctl certs status --json
            """)

        @OptionGroup var options: StackOptions
        @OptionGroup var output: OutputOptions
        @Flag(help: "Print one JSON object (schema 1, see the README).") var json = false

        func run() throws {
            try reporting(json: json ? "certs status" : nil) {
                let stack = try options.stack()
                guard stack.spec.proxy.tls?.acme != nil else {
                    throw SpecError(issues: [SpecIssue(file: options.spec.path, line: 1, column: 1, path: "proxy.tls.acme",
                                                       message: "not set: bgctl obtains no certificate for this project")])
                }
                let report = try stack.certificateReport()
                func iso(_ date: Date?) -> Any { date.map { Clock.iso($0) as Any } ?? NSNull() }
                if json {
                    JSONOutput.print("certs status", ["ok": report.problems.isEmpty, "names": report.names, "directory": report.directory,
                                                      "issuer": report.issuer ?? NSNull(), "not_before": iso(report.notBefore),
                                                      "not_after": iso(report.notAfter), "renew_at": iso(report.renewAt),
                                                      "next_attempt": iso(report.nextAttempt), "failures": report.failures,
                                                      "last_error": report.lastError ?? NSNull(), "installed": report.installed,
                                                      "problems": report.problems])
                } else {
                    Terminal.stdout("names:        " + report.names.map(Terminal.field).joined(separator: ", "))
                    Terminal.stdout("directory:    " + Terminal.field(report.directory))
                    Terminal.stdout("issuer:       " + (report.issuer.map(Terminal.field) ?? "-"))
                    Terminal.stdout("not after:    " + (report.notAfter.map(CertificateInfo.format) ?? "- (none yet)"))
                    Terminal.stdout("renews from:  " + (report.renewAt.map(CertificateInfo.format) ?? "-"))
                    Terminal.stdout("next attempt: " + (report.nextAttempt.map(CertificateInfo.format) ?? "any time"))
                    Terminal.stdout("installed:    " + (report.installed ? "yes" : "no"))
                    for problem in report.problems { Terminal.stdout("problem: " + Terminal.field(problem)) }
                }
                if report.notAfter == nil { throw CLIError.exit(ExitStatus.notServing) }
                if !report.problems.isEmpty { throw CLIError.exit(ExitStatus.degraded) }
            }
        }
    }

    struct CertsRenew: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "renew",
            abstract: "Renew the ACME certificate when it is due (30 days left, or a third of its lifetime), and install it.",
            discussion: """
            Does nothing when no renewal is due, except install a stored certificate the proxy does not
            serve yet. When the schedule kept after a failure allows no attempt yet, it says when
            (--force tries at once). Installs with nginx -t and one reload, and changes nothing else:
            when bgctl up has other changes to make here, it refuses and says to run up.
            Exit status: 0 renewed, installed or nothing due; 11 the renewal failed, is not allowed yet,
            or up has other changes (the current certificate keeps serving); 8 stopped by a signal.

            Examples:
              bgctl certs renew
              bgctl certs renew --force --json
            """)

        @OptionGroup var options: StackOptions
        @OptionGroup var output: OutputOptions
        @Flag(help: "Renew now, whatever the validity left and the schedule.") var force = false
        @Flag(help: "Print the result as one JSON object.") var json = false

        func run() throws {
            RunMode.live.begin()
            try reporting(json: json ? "certs renew" : nil) {
                let stack = try options.stack()
                let outcome = try stack.renewCertificate(force: force, lockWait: options.lockWaitSeconds())
                if json {
                    JSONOutput.print("certs renew", ["ok": true].merging(Certs.json(outcome)) { $1 })
                    return
                }
                if let line = Certs.line(outcome) {
                    Terminal.stdout("certs renew: " + line)
                } else {
                    Terminal.stdout("certs renew: nothing to do; the certificate renews from " + (outcome.renewAt.map(CertificateInfo.format) ?? "-"))
                }
            }
        }
    }
}
