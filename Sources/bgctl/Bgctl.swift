import ArgumentParser
import Foundation
import NginxConfigGen

@main
struct Bgctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bgctl",
        abstract: "Blue-green deployments on a plain Docker host: two pools, one nginx, zero dropped requests.",
        discussion: ExitStatus.help,
        version: BuildInfo.versionLine,
        subcommands: [Validate.self, Render.self, Up.self, Switch.self, Status.self, Down.self, Watch.self, Events.self, Maintenance.self, Deploy.self, Rollback.self, Prune.self, Recover.self, History.self, Unlock.self, Init.self, Front.self, Certs.self,
                      Agent.self]
    )

    /// `-f` given before the subcommand (`bgctl -f FILE switch green`); a subcommand's own `-f` wins.
    @Option(name: [.customShort("f"), .customLong("file")],
            help: ArgumentHelp("The spec to read (default: $BGCTL_FILE, else bgctl.yaml).", valueName: "FILE"),
            completion: .file(extensions: ["yaml", "yml"]))
    var file: String?

    @Option(help: ArgumentHelp("When to colour the output; auto: on a terminal, unless NO_COLOR is set or TERM=dumb.", valueName: "WHEN"))
    var color: Terminal.ColourMode?
}

/// `--color`, which every subcommand takes (after its name, or before it as `bgctl --color never status`).
struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("When to colour the output; auto: on a terminal, unless NO_COLOR is set or TERM=dumb.", valueName: "WHEN"))
    var color: Terminal.ColourMode?

    @ParentCommand var root: Bgctl

    /// ArgumentParser runs this for every parsed command before `run()`: the one point where the
    /// choice is known and nothing has been printed yet.
    func validate() throws {
        Terminal.choose(color ?? root.color ?? .auto)
    }
}

/// Options every command that reads the spec takes.
struct SpecOptions: ParsableArguments {
    @Option(name: [.customShort("f"), .customLong("file")],
            help: ArgumentHelp("The spec to read (default: $BGCTL_FILE, else bgctl.yaml).", valueName: "FILE"),
            completion: .file(extensions: ["yaml", "yml"]))
    var file: String?

    @ParentCommand var root: Bgctl

    var path: String { named ?? "bgctl.yaml" }

    /// The spec a person named (`-f`, before or after the subcommand, or $BGCTL_FILE); nil for the default.
    var named: String? {
        if let file { return file }
        if let file = root.file { return file }
        if let env = ProcessInfo.processInfo.environment["BGCTL_FILE"], !env.isEmpty { return env }
        return nil
    }

    /// The spec; warnings (variables set nowhere) go to stderr.
    func load(for purpose: SpecPurpose = .stack) throws -> DeploymentSpec {
        try loadCollecting(for: purpose).spec
    }

    /// The spec and its warnings, which are also printed on stderr as they are found.
    func loadCollecting(for purpose: SpecPurpose = .stack) throws -> (spec: DeploymentSpec, warnings: [SpecIssue]) {
        var warnings: [SpecIssue] = []
        let environment = ProcessInfo.processInfo.environment
        var spec = try SpecLoader.load(path: path, environment: environment, for: purpose) { warning in
            warnings.append(warning)
            Self.printWarning(warning)
        }.get()
        // Inside a fleet host's agent, the spec is that host's alone; its proxy still answers the fleet's health path.
        if let host = environment["BGCTL_FLEET_HOST"], let fleet = spec.fleet {
            guard fleet.hosts.contains(where: { $0.name == host }) else {
                throw CLIError.failed("BGCTL_FLEET_HOST=\(Terminal.safe(String(host.prefix(40)))) names none of the spec's hosts")
            }
            spec.fleet = nil
            spec.fleetMember = FleetMember(host: host, healthPath: fleet.healthPath)
        }
        return (spec, warnings)
    }

    static func printWarning(_ warning: SpecIssue) {
        let location = "\(warning.file):\(warning.line):\(warning.column)"
        let text = warning.path.isEmpty ? warning.message : "\(warning.path): \(warning.message)"
        Terminal.stderr(Terminal.safe(location) + ": " + Terminal.style("warning:", .yellow) + " " + Terminal.safe(text))
    }

    /// proxy.tls's certificate and key, read and checked now (nil without proxy.tls). A problem is an
    /// invalid spec (exit 65) pointing at the key that names the file; a certificate that expires
    /// within `CertificateInfo.warningDays` days, or a key file others can read, is a warning,
    /// printed and returned.
    func checkedTLS(_ spec: DeploymentSpec, warnings: inout [SpecIssue]) throws -> TLSMaterial? {
        // ACME's pair is the stack's own, in its state folder: `up` reads and checks it there. Its CA
        // file is read here, as the pair's files are.
        if let acme = spec.proxy.tls?.acme, let caFile = acme.caFile, let problem = Self.caFileProblem(TLSSpec.resolve(caFile, in: directory)) {
            throw SpecError(issues: [SpecIssue(file: path, line: acme.caFileMark.line, column: acme.caFileMark.column,
                                               path: "proxy.tls.acme.ca_file", message: "\(caFile) \(problem)")])
        }
        guard let tls = spec.proxy.tls?.files else { return nil }
        let now = Date()
        switch tlsFiles(tls, now: now) {
        case .success(let material):
            if material.info.expiresSoon(at: now) {
                let days = material.info.daysLeft(at: now)
                let warning = SpecIssue(file: path, line: tls.certMark.line, column: tls.certMark.column, path: "proxy.tls.cert",
                                        message: "the certificate in \(tls.cert) expires on \(CertificateInfo.format(material.info.notAfter)) (in \(days) day\(days == 1 ? "" : "s")); renew it, replace the file and run bgctl up")
                warnings.append(warning)
                Self.printWarning(warning)
            }
            for issue in material.warnings {
                let mark = issue.file == .cert ? tls.certMark : tls.keyMark
                let warning = SpecIssue(file: path, line: mark.line, column: mark.column, path: "proxy.tls.\(issue.file.rawValue)",
                                        message: issue.message)
                warnings.append(warning)
                Self.printWarning(warning)
            }
            return material
        case .failure(let issue):
            let mark = issue.file == .cert ? tls.certMark : tls.keyMark
            throw SpecError(issues: [SpecIssue(file: path, line: mark.line, column: mark.column, path: "proxy.tls.\(issue.file.rawValue)",
                                               message: issue.message)])
        }
    }

    /// Why the CA file cannot be used (nil when it can): a regular file (the watcher bind-mounts it;
    /// a folder, socket or device never), at most 1 MiB, holding a PEM certificate.
    static func caFileProblem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return "cannot be read: \(String(cString: strerror(errno)))" }
        guard info.st_mode & S_IFMT == S_IFREG else { return "is not a regular file" }
        guard info.st_size <= TLSFiles.maxFileBytes else { return "is larger than 1 MiB" }
        guard let data = FileManager.default.contents(atPath: path) else { return "cannot be read" }
        guard String(decoding: data, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
            return "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        }
        return nil
    }

    /// The files proxy.tls names (relative to the spec's folder), read and checked at `now`.
    func tlsFiles(_ tls: TLSFileSource, now: Date) -> Result<TLSMaterial, TLSIssue> {
        TLSFiles.load(cert: TLSSpec.resolve(tls.cert, in: directory), key: TLSSpec.resolve(tls.key, in: directory), now: now)
    }

    var directory: String {
        let dir = (path as NSString).deletingLastPathComponent
        return dir.isEmpty ? "." : dir
    }

    /// The built-in templates, or the spec's `templates_dir:` (said on stderr: custom templates are
    /// not checked by bgctl's tests).
    func renderer(for spec: DeploymentSpec) throws -> ConfigRenderer {
        guard let dir = spec.templatesDir else { return try ConfigRenderer.builtin() }
        let folder = dir.hasPrefix("/") ? dir : (directory as NSString).appendingPathComponent(dir)
        Terminal.stderr(Terminal.style("!", .yellow) + " custom templates in use: \(folder) (templates_dir)")
        return try ConfigRenderer(templatesDirectory: folder)
    }
}
