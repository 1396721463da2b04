import Foundation
import Support
import Yams

/// What a spec is read for, which decides what its variables must be.
public enum SpecPurpose: Sendable, Equatable {
    /// Everything bgctl does with the stack: every reference counts.
    case stack
    /// `bgctl watch`, which is given only the variables the keys it reads refer to
    /// (`DeploymentSpec.isWatcherKey`): elsewhere an unset variable reads as empty without a warning,
    /// `${VAR:?}` is no error, and a value it leaves invalid is not reported.
    case watcher
}

/// Loads `bgctl.yaml`: read → interpolate → decode → validate, reporting every problem at once.
public enum SpecLoader {
    static let resolver = Resolver.basic

    /// The largest spec (and `.env`) read: a spec is a few KiB; a larger file is the wrong file.
    public static let maxFileBytes = 1024 * 1024

    /// Reads the spec at `path`; variables come from `environment`, then from a `.env` beside the spec.
    /// `warn` hears of variables used without a default that are set nowhere, once each, whether or
    /// not the spec turns out valid: they read as empty, which is seldom what was meant. `purpose`
    /// says which references must be set (see `SpecPurpose`).
    public static func load(path: String, environment: [String: String], for purpose: SpecPurpose = .stack,
                            warn: (SpecIssue) -> Void = { _ in }) -> Result<DeploymentSpec, SpecError> {
        let display = path
        func failure(_ file: String, _ message: String, line: Int = 1) -> Result<DeploymentSpec, SpecError> {
            .failure(SpecError(issues: [SpecIssue(file: file, line: line, column: 1, path: "", message: message)]))
        }
        let data: Data
        switch readLimited(path) {
        case .success(let contents): data = contents
        case .failure(let problem): return failure(display, problem.message)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return failure(display, "the file is not valid UTF-8")
        }
        var variables: [String: String] = [:]
        var warned: Set<String> = []
        let dotEnvPath = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(".env").path
        if FileManager.default.fileExists(atPath: dotEnvPath) {
            switch readLimited(dotEnvPath) {
            case .failure(let problem): return failure(dotEnvPath, problem.message)
            case .success(let envData):
                switch DotEnv.resolve(String(decoding: envData, as: UTF8.self), environment: environment) {
                case .success(let resolved):
                    variables = resolved.values
                    for unset in resolved.unset {
                        warned.insert(unset.name)
                        // A .env value may be a secret that merely contains "$": the "name" after it is part of the
                        // secret, so only the line is named.
                        warn(SpecIssue(file: dotEnvPath, line: unset.line, column: 1, path: "", message: unsetMessage(nil)))
                    }
                case .failure(let problem): return failure(dotEnvPath, problem.message, line: problem.line)
                }
            }
        }
        variables.merge(environment) { _, fromEnvironment in fromEnvironment }
        return parse(yaml: text, file: display, variables: variables, for: purpose, warn: warn, warned: warned).map { spec in
            var spec = spec
            // The front is the host's: where it lives comes from the process environment, not the spec.
            if !spec.proxy.hosts.isEmpty { spec.front = FrontPlacement.from(environment: environment) }
            return spec
        }
    }

    /// `name` is nil where the value may be a secret (.env, alerts, env, headers): what follows a `$`
    /// there may be part of a password, so it is not repeated.
    static func unsetMessage(_ name: String?) -> String {
        guard let name else {
            return "a $ reference in this value names a variable that is not set (not shown: the value may be a secret), so it reads as empty; set the variable, or write $$ or single-quote the value in .env for a literal $"
        }
        return "variable \(name) is not set and has no default, so it reads as empty; set it in the environment or .env, or write ${\(name):-default}"
    }

    struct ReadProblem: Error {
        let message: String
    }

    /// The file's bytes, refused unread when the file is larger than `maxFileBytes` (and read no
    /// further than one byte past it, should the size change or lie, as with a pipe).
    /// Only a regular file is read: a FIFO or a device (`/dev/zero`) at the path is refused, not
    /// waited on (the open does not block, and `fstat` on the opened file decides).
    static func readLimited(_ path: String) -> Result<Data, ReadProblem> {
        let limit = "the limit is \(maxFileBytes / 1024) KiB; is this the right file?"
        switch BoundedRead.read(path, limit: maxFileBytes) {
        case .bytes(let bytes):
            return .success(Data(bytes))
        case .missing:
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read \(path): permission denied or not a file"
                : "cannot read \(path): no such file"
            return .failure(ReadProblem(message: "\(reason); pass -f FILE or set BGCTL_FILE"))
        case .notRegular:
            return .failure(ReadProblem(message: "cannot read \(path): not a regular file (a FIFO, a device or a folder); pass -f FILE or set BGCTL_FILE"))
        case .tooLarge(let size):
            return .failure(ReadProblem(message: "the file is \(size) bytes; \(limit)"))
        case .failed(let reason):
            return .failure(ReadProblem(message: "cannot read \(path): \(reason)"))
        }
    }

    /// Decodes and validates spec text; `file` is used only to label problems. `purpose` and `warn` as
    /// for `load`; variables in `warned` were warned about already.
    public static func parse(yaml: String, file: String, variables: [String: String], for purpose: SpecPurpose = .stack,
                             warn: (SpecIssue) -> Void = { _ in }, warned: Set<String> = []) -> Result<DeploymentSpec, SpecError> {
        guard yaml.utf8.count <= maxFileBytes else {
            return .failure(SpecError(issues: [SpecIssue(file: file, line: 1, column: 1, path: "",
                                                         message: "the spec is \(yaml.utf8.count) bytes; the limit is \(maxFileBytes / 1024) KiB")]))
        }
        // Checked on libyaml's events before Yams builds a tree: see YAMLGuard for why.
        let guardIssues = YAMLGuard.check(yaml, file: file)
        guard guardIssues.isEmpty else { return .failure(SpecError(issues: guardIssues)) }
        let root: Node
        do {
            // The loader reads every scalar's text itself and never a tag (aliases are refused before),
            // so no tag is resolved: the default resolver compiles a regex per type on every run.
            guard let node = try Yams.compose(yaml: yaml, Self.resolver) else {
                return .failure(SpecError(issues: [SpecIssue(file: file, line: 1, column: 1, path: "",
                                                             message: "the spec is empty")]))
            }
            root = node
        } catch let error as YamlError {
            return .failure(SpecError(issues: [syntaxIssue(error, file: file)]))
        } catch {
            return .failure(SpecError(issues: [SpecIssue(file: file, line: 1, column: 1, path: "",
                                                         message: "YAML error")]))
        }
        let reader = NodeReader(file: file, interpolator: Interpolator(variables: variables), warned: warned, purpose: purpose)
        var spec = SpecDecoder(reader: reader).decode(root)
        reader.warnings.forEach(warn)
        spec?.variables = Dictionary(uniqueKeysWithValues: reader.references.keys.compactMap { name in
            variables[name].map { (name, Secret($0)) }
        })
        spec?.references = reader.references
        guard reader.issues.isEmpty, let spec else {
            return .failure(SpecError(issues: reader.issues, omitted: reader.dropped))
        }
        return .success(spec)
    }

    private static func syntaxIssue(_ error: YamlError, file: String) -> SpecIssue {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            var message = "YAML syntax error: \(problem)"
            if let context { message += " (\(context.text) at \(context.mark.line):\(context.mark.column))" }
            return SpecIssue(file: file, line: mark.line, column: mark.column, path: "", message: message)
        case let .reader(problem, offset, _, _):
            return SpecIssue(file: file, line: 1, column: 1, path: "",
                             message: "YAML error: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
        case let .duplicatedKeysInMapping(duplicates, context):
            return SpecIssue(file: file, line: context.mark.line, column: context.mark.column, path: "",
                             message: "duplicate keys: \(duplicates.joined(separator: ", "))")
        default:
            // Other cases carry the source text in their description; the kind is enough here.
            return SpecIssue(file: file, line: 1, column: 1, path: "", message: "YAML error")
        }
    }
}

/// Turns the YAML tree into a `DeploymentSpec`, one section at a time.
private struct SpecDecoder {
    let reader: NodeReader

    static let topKeys = ["version", "project", "network", "pull", "proxy", "app", "pools", "active",
                          "watch", "alerts", "deploy", "logs", "preview", "state_dir", "templates_dir", "hooks",
                          "services", "services_order", "hosts", "fleet"]

    func decode(_ root: Node) -> DeploymentSpec? {
        guard let top = reader.mapping(root, [], allowed: Self.topKeys) else { return nil }
        if top.isEmpty {
            reader.report(root, [], "the spec is empty")
            return nil
        }
        var project = "bgctl"
        if let node = top["project"] {
            if let value = reader.string(node, ["project"]) {
                if Syntax.isProjectName(value) {
                    project = value
                } else {
                    reader.report(node, ["project"], "expected lowercase letters, digits, \"_\" or \"-\" starting with a letter or digit (at most 40), found \(reader.quoted(value))")
                }
            }
        } else {
            reader.report(root, ["project"], "missing; name the project, e.g. \"project: shop\"")
        }
        var spec = DeploymentSpec(project: project)

        if let node = top["version"], let version = reader.int(node, ["version"], in: 1...1, what: "version") {
            spec.version = version
        }
        if let node = top["network"] { decodeNetwork(node, into: &spec) }
        if let node = top["pull"], let text = reader.string(node, ["pull"]) {
            if let policy = PullPolicy(rawValue: text) {
                spec.pull = policy
            } else {
                reader.report(node, ["pull"], "expected missing, always or never, found \(reader.quoted(text))")
            }
        }
        if let node = top["proxy"] { decodeProxy(node, into: &spec.proxy) }
        if let node = top["app"] { decodeApp(node, into: &spec.app) }
        if let node = top["pools"] {
            decodePools(node, into: &spec)
        } else {
            reader.report(root, ["pools"], "missing; define pools.blue and pools.green")
        }
        if let node = top["active"], let text = reader.string(node, ["active"]) {
            if let pool = Pool(rawValue: text.trimmingCharacters(in: .whitespaces)) {
                spec.active = pool
            } else {
                reader.report(node, ["active"], "expected blue or green, found \(reader.quoted(text))")
            }
        }
        if let node = top["watch"] { decodeWatch(node, into: &spec.watch) }
        if let node = top["alerts"] { decodeAlerts(node, into: &spec.alerts) }
        if let node = top["deploy"] { decodeDeploy(node, into: &spec.deploy) }
        if let node = top["hooks"] { decodeHooks(node, into: &spec.hooks) }
        if let node = top["services"] { spec.services = decodeServices(node) }
        if let node = top["hosts"] { spec.fleet = decodeFleet(node, top["fleet"]) } else if let node = top["fleet"] {
            reader.report(node, ["fleet"], "fleet settings need hosts: list the Docker engines, e.g. hosts: [{name: web1, docker: \"ssh://deploy@10.0.0.11\"}]")
        }
        if let node = top["services_order"], let text = reader.string(node, ["services_order"]) {
            if let order = ServicesOrder(rawValue: text) { spec.servicesOrder = order } else {
                reader.report(node, ["services_order"], "expected stop-first or start-first, found \(reader.quoted(text))")
            }
        }
        if let node = top["logs"] { decodeLogs(node, into: &spec.logs) }
        if let node = top["preview"] { spec.preview = decodePreview(node) }
        if let node = top["state_dir"], let text = reader.string(node, ["state_dir"]) {
            if !Syntax.isFilePath(text) {
                reader.report(node, ["state_dir"], "expected a folder path (not empty, no control characters, at most 4096 bytes), found \(reader.quoted(text))")
            } else {
                spec.stateDir = text
            }
        }
        if let node = top["templates_dir"], let text = reader.string(node, ["templates_dir"]) {
            if !Syntax.isFilePath(text) {
                reader.report(node, ["templates_dir"], "expected a folder path (not empty, no control characters, at most 4096 bytes), found \(reader.quoted(text))")
            } else {
                spec.templatesDir = text
            }
        }
        if spec.fleet != nil, let hostsNode = top["hosts"] {
            // What needs files from the machine running bgctl, or a host's own front, is not carried to a fleet's hosts yet.
            for (key, present) in [("proxy.tls", spec.proxy.tls != nil), ("proxy.hosts", !spec.proxy.hosts.isEmpty),
                                   ("templates_dir", spec.templatesDir != nil), ("hooks", !spec.hooks.commands.isEmpty),
                                   ("state_dir", top["state_dir"] != nil)] where present {
                reader.report(hostsNode, ["hosts"], "\(key) is not supported with hosts yet: a fleet's hosts keep their files under fleet.state_root; remove \(key) or the hosts")
            }
        }
        crossCheck(spec, top: top, root: root)
        return spec
    }

    private func decodeNetwork(_ node: Node, into spec: inout DeploymentSpec) {
        let path = ["network"]
        guard let map = reader.mapping(node, path, allowed: ["name", "subnet"]) else { return }
        if let n = map["name"], let name = reader.string(n, path + ["name"]) {
            let valid = name.unicodeScalars.first.map(Syntax.isAlnum) == true && name.count <= 64
                && name.unicodeScalars.allSatisfy { Syntax.isAlnum($0) || "_.-".unicodeScalars.contains($0) }
            if valid { spec.network.name = name } else {
                reader.report(n, path + ["name"], "expected letters, digits, \"_\", \".\" or \"-\", found \(reader.quoted(name))")
            }
        }
        if let n = map["subnet"], let text = reader.string(n, path + ["subnet"]) {
            if let subnet = IPv4Subnet(parsing: text) { spec.network.subnet = subnet } else {
                reader.report(n, path + ["subnet"], "expected an IPv4 network such as 172.29.10.0/24 (prefix /16–/28, host bits zero), found \(reader.quoted(text))")
            }
        }
    }

    private func decodeHooks(_ node: Node, into hooks: inout HooksSpec) {
        let path = ["hooks"]
        guard let map = reader.mapping(node, path, allowed: ["timeout"] + HooksSpec.Point.allCases.map(\.rawValue)) else { return }
        if let n = map["timeout"], let v = reader.duration(n, path + ["timeout"], minimum: .seconds(1)) {
            if v.milliseconds <= 3_600_000 { hooks.timeout = v } else {
                reader.report(n, path + ["timeout"], "at most 1h, found \(reader.quoted(v.description))")
            }
        }
        for point in HooksSpec.Point.allCases {
            guard let n = map[point.rawValue], let argv = argv(n, path + [point.rawValue]) else { continue }
            hooks.commands[point] = argv
        }
    }

    private func decodeFleet(_ node: Node, _ settings: Node?) -> FleetSpec? {
        let path = ["hosts"]
        guard let items = reader.sequence(node, path) else { return nil }
        guard !items.isEmpty else { return nil }
        guard items.count <= FleetSpec.maxHosts else {
            reader.report(node, path, "at most \(FleetSpec.maxHosts) hosts, found \(items.count)")
            return nil
        }
        var hosts: [FleetHost] = []
        var seen: Set<String> = []
        for (index, item) in items.enumerated() {
            let itemPath = ["hosts[\(index)]"]
            guard let map = reader.mapping(item, itemPath, allowed: ["name", "docker", "context", "socket", "state_root"]) else { continue }
            var socket: String?, stateRoot: String?
            if let n = map["socket"], let text = reader.string(n, itemPath + ["socket"]) {
                if FleetHost.isMountPath(text) { socket = text } else {
                    reader.report(n, itemPath + ["socket"], "expected the engine's socket as an absolute path on that host (no \":\", \",\" or \"..\"), found \(reader.quoted(text))")
                }
            }
            if let n = map["state_root"], let text = reader.string(n, itemPath + ["state_root"]) {
                if FleetHost.isMountPath(text) { stateRoot = text.count > 1 && text.hasSuffix("/") ? String(text.dropLast()) : text } else {
                    reader.report(n, itemPath + ["state_root"], "expected an absolute folder path on that host (no \":\", \",\" or \"..\"), found \(reader.quoted(text))")
                }
            }
            guard let n = map["name"], let name = reader.string(n, itemPath + ["name"]) else {
                if map["name"] == nil { reader.report(item, itemPath + ["name"], "missing; name the host, e.g. name: web1") }
                continue
            }
            guard FleetHost.isName(name) else {
                reader.report(n, itemPath + ["name"], "expected lowercase letters, digits and \"-\", starting with a letter or digit (at most 32), found \(reader.quoted(name))")
                continue
            }
            guard seen.insert(name).inserted else {
                reader.report(n, itemPath + ["name"], "\(reader.quoted(name)) names another host already")
                continue
            }
            switch (map["docker"], map["context"]) {
            case (let d?, nil):
                guard let url = reader.string(d, itemPath + ["docker"]) else { continue }
                if let problem = FleetHost.addressProblem(url) {
                    reader.report(d, itemPath + ["docker"], "\(problem), found \(reader.quoted(url))")
                } else {
                    hosts.append(FleetHost(name: name, endpoint: .host(url), socket: socket, stateRoot: stateRoot))
                }
            case (nil, let c?):
                guard let context = reader.string(c, itemPath + ["context"]) else { continue }
                if FleetHost.isContextName(context) { hosts.append(FleetHost(name: name, endpoint: .context(context), socket: socket, stateRoot: stateRoot)) } else {
                    reader.report(c, itemPath + ["context"], "expected a docker context name (letters, digits, \"_\", \".\", \"+\", \"-\"), found \(reader.quoted(context))")
                }
            case (nil, nil):
                reader.report(item, itemPath, "say how to reach it: docker: \"ssh://USER@HOST\" or context: NAME")
            case (_?, _?):
                reader.report(item, itemPath, "docker and context both set; give one")
            }
        }
        guard hosts.count == items.count else { return nil }
        var fleet = FleetSpec(hosts: hosts)
        if let settings, let map = reader.mapping(settings, ["fleet"], allowed: ["flip_timeout", "state_root", "strategy", "batch", "health_path"]) {
            if let n = map["strategy"], let text = reader.string(n, ["fleet", "strategy"]) {
                if let strategy = FleetSpec.Strategy(rawValue: text) { fleet.strategy = strategy } else {
                    reader.report(n, ["fleet", "strategy"], "expected all or rolling, found \(reader.quoted(text))")
                }
            }
            if let n = map["batch"], let batch = reader.int(n, ["fleet", "batch"], in: 1...FleetSpec.maxHosts) {
                if fleet.strategy != .rolling {
                    reader.report(n, ["fleet", "batch"], "a batch is for strategy: rolling; add it, or remove batch")
                } else if batch > hosts.count {
                    reader.report(n, ["fleet", "batch"], "at most the number of hosts (\(hosts.count)), found \(batch)")
                } else {
                    fleet.batch = batch
                }
            }
            if let n = map["flip_timeout"], let v = reader.duration(n, ["fleet", "flip_timeout"], minimum: .seconds(1)) {
                if v.milliseconds <= 300_000 { fleet.flipTimeout = v } else {
                    reader.report(n, ["fleet", "flip_timeout"], "at most 5m, found \(reader.quoted(v.description))")
                }
            }
            if let n = map["state_root"], let text = reader.string(n, ["fleet", "state_root"]) {
                if FleetHost.isMountPath(text) {
                    fleet.stateRoot = text.count > 1 && text.hasSuffix("/") ? String(text.dropLast()) : text
                } else {
                    reader.report(n, ["fleet", "state_root"], "expected an absolute folder path on the hosts (no \":\", \",\" or \"..\"), found \(reader.quoted(text))")
                }
            }
            if let n = map["health_path"], let text = healthPath(n, ["fleet", "health_path"], example: FleetSpec.defaultHealthPath) {
                fleet.healthPath = text
            }
        }
        return fleet
    }

    private func decodeServices(_ node: Node) -> [ServiceSpec] {
        let path = ["services"]
        guard let entries = reader.freeMapping(node, path) else { return [] }
        guard entries.count <= ServiceSpec.maxServices else {
            reader.report(node, path, "at most \(ServiceSpec.maxServices) services, found \(entries.count)")
            return []
        }
        var services: [ServiceSpec] = []
        for entry in entries {
            let servicePath = path + [entry.key]
            guard ServiceSpec.isName(entry.key) else {
                reader.report(entry.keyNode, servicePath, "expected a service name of lowercase letters, digits and \"-\", starting with a letter (at most 30), found \(reader.quoted(entry.key))")
                continue
            }
            guard let map = reader.mapping(entry.value, servicePath, allowed: ["command", "replicas", "stop_timeout", "env"]) else { continue }
            guard let c = map["command"] else {
                reader.report(entry.value, servicePath + ["command"], "missing; a service needs a command, e.g. [worker, --queue, default]")
                continue
            }
            guard let command = argv(c, servicePath + ["command"]) else {
                if reader.sequence(c, servicePath + ["command"])?.isEmpty == true {
                    reader.report(c, servicePath + ["command"], "an empty command; a service needs one, e.g. [worker, --queue, default]")
                }
                continue
            }
            var service = ServiceSpec(name: entry.key, command: command)
            if let n = map["replicas"], let v = reader.int(n, servicePath + ["replicas"], in: 0...ServiceSpec.maxReplicas) { service.replicas = v }
            if let n = map["stop_timeout"], let v = reader.duration(n, servicePath + ["stop_timeout"], minimum: SpecDuration(milliseconds: 0)) {
                if v.milliseconds <= ServiceSpec.longestStopTimeout.milliseconds && v.milliseconds % 1000 == 0 { service.stopTimeout = v } else {
                    reader.report(n, servicePath + ["stop_timeout"], "expected whole seconds up to 10m, found \(reader.quoted(v.description))")
                }
            }
            if let n = map["env"], let env = environment(n, servicePath + ["env"]) { service.env = env }
            services.append(service)
        }
        return services.sorted { $0.name < $1.name }
    }

    /// One command as an argv (never a shell line): a non-empty first item, at most
    /// `HooksSpec.maxArguments` items, none with control characters or over 4096 bytes. Nil when it
    /// breaks a rule (reported) or is an empty list.
    private func argv(_ node: Node, _ keyPath: [String]) -> [String]? {
        guard let items = reader.sequence(node, keyPath), !items.isEmpty else { return nil }
        guard items.count <= HooksSpec.maxArguments else {
            reader.report(node, keyPath, "at most \(HooksSpec.maxArguments) arguments, found \(items.count)")
            return nil
        }
        var argv: [String] = []
        for (index, item) in items.enumerated() {
            guard let text = reader.string(item, keyPath + ["[\(index)]"]) else { continue }
            if text.isEmpty && index == 0 {
                reader.report(item, keyPath, "the command (the first item) is empty")
            } else if !Syntax.isFilePath(text) && !(text.isEmpty && index > 0) {
                reader.report(item, keyPath, "argument \(index): no control characters, at most 4096 bytes")
            } else {
                argv.append(text)
            }
        }
        return argv.count == items.count ? argv : nil
    }

    private func decodeProxy(_ node: Node, into proxy: inout ProxySpec) {
        let path = ["proxy"]
        let keys = ["image", "listen", "connect_timeout", "read_timeout", "retry_on", "retry_non_idempotent",
                    "retry_tries", "retry_timeout", "max_fails", "fail_timeout", "keepalive", "shutdown_timeout",
                    "health_path", "worker_processes", "worker_connections", "tls", "hosts"]
        guard let map = reader.mapping(node, path, allowed: keys) else { return }
        if let n = map["image"], let image = image(n, path + ["image"]) { proxy.image = image }
        if let n = map["listen"], let text = reader.string(n, path + ["listen"]) {
            if let listen = parseListen(text) { proxy.listen = listen } else {
                reader.report(n, path + ["listen"], "expected PORT or IPV4:PORT with a port 1–65535, found \(reader.quoted(text))")
            }
        }
        if let n = map["connect_timeout"], let v = reader.duration(n, path + ["connect_timeout"]) { proxy.connectTimeout = v }
        if let n = map["read_timeout"], let v = reader.duration(n, path + ["read_timeout"]) { proxy.readTimeout = v }
        if let n = map["retry_on"], let items = reader.sequence(n, path + ["retry_on"]) {
            let allowed = ["error", "timeout", "invalid_header", "http_500", "http_502", "http_503",
                           "http_504", "http_403", "http_404", "http_429"]
            var conditions: [String] = []
            for (index, item) in items.enumerated() {
                let itemPath = path + ["retry_on[\(index)]"]
                guard let text = reader.string(item, itemPath) else { continue }
                if allowed.contains(text) {
                    if !conditions.contains(text) { conditions.append(text) }
                } else if text == "non_idempotent" {
                    reader.report(item, itemPath, "use proxy.retry_non_idempotent: true instead of listing non_idempotent")
                } else {
                    var message = "unknown retry condition \(reader.quoted(text))"
                    if let s = Suggestion.closest(to: text, in: allowed) { message += "; did you mean \"\(s)\"?" }
                    reader.report(item, itemPath, message + " (one of: \(allowed.joined(separator: ", ")))")
                }
            }
            proxy.retryOn = conditions
        }
        if let n = map["retry_non_idempotent"], let v = reader.bool(n, path + ["retry_non_idempotent"]) { proxy.retryNonIdempotent = v }
        if let n = map["retry_tries"], let v = reader.int(n, path + ["retry_tries"], in: 1...10) { proxy.retryTries = v }
        if let n = map["retry_timeout"], let v = reader.duration(n, path + ["retry_timeout"]) { proxy.retryTimeout = v }
        if let n = map["max_fails"], let v = reader.int(n, path + ["max_fails"], in: 0...100) { proxy.maxFails = v }
        if let n = map["fail_timeout"], let v = reader.duration(n, path + ["fail_timeout"], minimum: .seconds(1)) {
            // nginx reads fail_timeout in whole seconds and rejects "ms" there.
            if v.milliseconds % 1000 == 0 { proxy.failTimeout = v } else {
                reader.report(n, path + ["fail_timeout"], "must be whole seconds (nginx reads it in seconds), found \(reader.quoted(v.description))")
            }
        }
        if let n = map["keepalive"], let v = reader.int(n, path + ["keepalive"], in: 0...10_000) { proxy.keepalive = v }
        if let n = map["shutdown_timeout"], let v = reader.duration(n, path + ["shutdown_timeout"]) { proxy.shutdownTimeout = v }
        if let n = map["health_path"], let text = healthPath(n, path + ["health_path"], example: "/_bgctl/health") { proxy.healthPath = text }
        if let n = map["worker_processes"], let text = reader.string(n, path + ["worker_processes"]) {
            if text == "auto" || (Syntax.integer(text).map { (1...64).contains($0) } ?? false) { proxy.workerProcesses = text } else {
                reader.report(n, path + ["worker_processes"], "expected auto or an integer 1–64, found \(reader.quoted(text))")
            }
        }
        if let n = map["worker_connections"], let v = reader.int(n, path + ["worker_connections"], in: 16...65_536) { proxy.workerConnections = v }
        // `tls:` left empty means no TLS, as a missing section does.
        if let n = map["tls"], !reader.isNull(n) { proxy.tls = decodeTLS(n) }
        if let n = map["hosts"], let items = reader.sequence(n, path + ["hosts"]) {
            if items.count > ProxySpec.maxHosts {
                reader.report(n, path + ["hosts"], "at most \(ProxySpec.maxHosts) names, found \(items.count)")
            }
            var hosts: [String] = []
            for (index, item) in items.prefix(ProxySpec.maxHosts).enumerated() {
                let itemPath = path + ["hosts[\(index)]"]
                guard let text = reader.string(item, itemPath) else { continue }
                if let why = Syntax.hostNameProblem(text) {
                    reader.report(item, itemPath, "\(why), found \(reader.quoted(text))")
                } else if hosts.contains(text) {
                    reader.report(item, itemPath, "\(reader.quoted(text)) is listed twice")
                } else {
                    hosts.append(text)
                }
            }
            proxy.hosts = hosts
        }
    }

    /// A path the proxy answers itself (`location = PATH`, never passed to the app): a URL path, not "/".
    private func healthPath(_ node: Node, _ path: [String], example: String) -> String? {
        guard let text = reader.string(node, path) else { return nil }
        guard Syntax.isURLPath(text) && text.count > 1 else {
            reader.report(node, path, "expected a URL path such as \(example) (letters, digits, / . _ ~ - %), found \(reader.quoted(text))")
            return nil
        }
        return text
    }

    private func decodeTLS(_ node: Node) -> TLSSpec? {
        let path = ["proxy", "tls"]
        guard let map = reader.mapping(node, path, allowed: ["listen", "cert", "key", "acme", "redirect_http", "http2"]) else { return nil }
        func file(_ key: String, _ what: String) -> (String, SpecMark)? {
            guard let n = map[key] else {
                reader.report(node, path + [key], "missing; name the \(what) file, e.g. \"\(key): certs/\(key == "cert" ? "fullchain" : "privkey").pem\" (or obtain both with acme:)")
                return nil
            }
            guard let text = reader.string(n, path + [key]) else { return nil }
            guard Syntax.isFilePath(text) else {
                reader.report(n, path + [key], "expected a file path (not empty, no control characters, at most 4096 bytes), found \(reader.quoted(text))")
                return nil
            }
            return (text, SpecMark(line: n.mark?.line ?? 1, column: n.mark?.column ?? 1))
        }
        var source: TLSSpec.Source?
        if let acmeNode = map["acme"] {
            for key in ["cert", "key"] where map[key] != nil {
                reader.report(map[key], path + [key], "acme: obtains the certificate and key; name files with cert: and key: or use acme:, not both")
            }
            if let acme = decodeACME(acmeNode) { source = .acme(acme) }
        } else {
            let cert = file("cert", "certificate")
            let key = file("key", "private key")
            if let cert, let key {
                source = .files(TLSFileSource(cert: cert.0, key: key.0, certMark: cert.1, keyMark: key.1))
            }
        }
        var listen: ListenAddress?
        if let n = map["listen"], let text = reader.string(n, path + ["listen"]) {
            listen = parseListen(text)
            if listen == nil {
                reader.report(n, path + ["listen"], "expected PORT or IPV4:PORT with a port 1–65535, found \(reader.quoted(text))")
            }
        }
        let redirect = map["redirect_http"].flatMap { reader.bool($0, path + ["redirect_http"]) }
        let http2 = map["http2"].flatMap { reader.bool($0, path + ["http2"]) }
        guard let source else { return nil }
        var tls: TLSSpec
        switch source {
        case .files(let files): tls = TLSSpec(cert: files.cert, key: files.key, certMark: files.certMark, keyMark: files.keyMark)
        case .acme(let acme): tls = TLSSpec(acme: acme)
        }
        if let listen { tls.listen = listen }
        if let redirect { tls.redirectHTTP = redirect }
        if let http2 { tls.http2 = http2 }
        return tls
    }

    /// `proxy.tls.acme`: `{}` (or nothing after the colon) takes every default: Let's Encrypt, no contact.
    private func decodeACME(_ node: Node) -> ACMESpec? {
        let path = ["proxy", "tls", "acme"]
        var acme = ACMESpec()
        if reader.isNull(node) { return acme }
        guard let map = reader.mapping(node, path, allowed: ["email", "directory", "ca_file", "timeout"]) else { return nil }
        var valid = true
        if let n = map["email"], let text = reader.string(n, path + ["email"]) {
            if let why = Syntax.acmeEmailProblem(text) {
                reader.report(n, path + ["email"], "\(why), found \(reader.quoted(text))")
                valid = false
            } else {
                acme.email = text
            }
        }
        if let n = map["directory"], let text = reader.string(n, path + ["directory"]) {
            if let why = Syntax.acmeDirectoryProblem(text) {
                reader.report(n, path + ["directory"], "\(why), found \(reader.quoted(text))")
                valid = false
            } else {
                acme.directory = text
            }
        }
        if let n = map["ca_file"], let text = reader.string(n, path + ["ca_file"]) {
            if !Syntax.isFilePath(text) {
                reader.report(n, path + ["ca_file"], "expected a file path (not empty, no control characters, at most 4096 bytes), found \(reader.quoted(text))")
                valid = false
            } else if let bad = text.first(where: { $0 == ":" || $0 == "," }) {
                // The watcher mounts it, and docker's volume syntax splits on these.
                reader.report(n, path + ["ca_file"], "a path without '\(bad)' (docker's mount syntax uses it), found \(reader.quoted(text))")
                valid = false
            } else {
                acme.caFile = text
                acme.caFileMark = SpecMark(line: n.mark?.line ?? 1, column: n.mark?.column ?? 1)
            }
        }
        if let n = map["timeout"], let value = reader.duration(n, path + ["timeout"]) {
            if (10_000...1_800_000).contains(value.milliseconds) { acme.timeout = value } else {
                reader.report(n, path + ["timeout"], "expected a duration from 10s to 30m, found \(value)")
                valid = false
            }
        }
        return valid ? acme : nil
    }

    private func decodeApp(_ node: Node, into app: inout AppSpec) {
        let path = ["app"]
        guard let map = reader.mapping(node, path, allowed: ["port", "health", "env"]) else { return }
        if let n = map["port"], let v = reader.int(n, path + ["port"], in: 1...65535) { app.port = v }
        if let n = map["env"], let env = environment(n, path + ["env"]) { app.env = env }
        guard let h = map["health"] else { return }
        let hp = path + ["health"]
        guard let health = reader.mapping(h, hp, allowed: ["path", "interval", "timeout", "retries", "start_period"]) else { return }
        if let n = health["path"], let text = reader.string(n, hp + ["path"]) {
            if Syntax.isURLPath(text) { app.health.path = text } else {
                reader.report(n, hp + ["path"], "expected a URL path such as /healthz, found \(reader.quoted(text))")
            }
        }
        if let n = health["interval"], let v = reader.duration(n, hp + ["interval"]) { app.health.interval = v }
        if let n = health["timeout"], let v = reader.duration(n, hp + ["timeout"]) { app.health.timeout = v }
        if let n = health["retries"], let v = reader.int(n, hp + ["retries"], in: 1...100) { app.health.retries = v }
        if let n = health["start_period"], let v = reader.duration(n, hp + ["start_period"], minimum: SpecDuration(milliseconds: 0)) {
            app.health.startPeriod = v
        }
    }

    private func decodePools(_ node: Node, into spec: inout DeploymentSpec) {
        guard let entries = reader.freeMapping(node, ["pools"]) else { return }
        var seen: Set<Pool> = []
        for entry in entries {
            guard let pool = Pool(rawValue: entry.key) else {
                reader.report(entry.keyNode, ["pools", entry.key], "pool names are blue and green only")
                continue
            }
            seen.insert(pool)
            let path = ["pools", pool.rawValue]
            guard let map = reader.mapping(entry.value, path, allowed: ["image", "release", "preview_port", "env"]) else { continue }
            var poolSpec = PoolSpec()
            if let n = map["image"] {
                if let value = image(n, path + ["image"]) { poolSpec.image = value }
            } else {
                reader.report(entry.value, path + ["image"], "missing; every pool needs an image")
            }
            if let n = map["release"], let text = reader.string(n, path + ["release"]) {
                if Syntax.isRelease(text) { poolSpec.release = text } else {
                    reader.report(n, path + ["release"], "expected letters, digits and . _ : + / @ - only (at most 128), found \(reader.quoted(text))")
                }
            }
            if let n = map["preview_port"], let v = reader.int(n, path + ["preview_port"], in: 1...65535) {
                poolSpec.previewPort = v
            } else if map["preview_port"] == nil {
                poolSpec.previewPort = pool == .blue ? 8081 : 8082
            }
            if let n = map["env"], let env = environment(n, path + ["env"]) { poolSpec.env = env }
            spec.pools[pool] = poolSpec
        }
        for pool in Pool.allCases where !seen.contains(pool) {
            reader.report(node, ["pools", pool.rawValue], "missing; both blue and green must be defined")
        }
    }

    private func decodeWatch(_ node: Node, into watch: inout WatchSpec) {
        let path = ["watch"]
        let keys = ["enabled", "image", "log", "window", "window_seconds", "min_requests", "error_rate_threshold",
                    "count_4xx", "ignore_paths", "cooldown", "maintenance", "metrics"]
        guard let map = reader.mapping(node, path, allowed: keys) else { return }
        if let m = map["metrics"], let metrics = reader.mapping(m, path + ["metrics"], allowed: ["enabled", "listen"]) {
            let mp = path + ["metrics"]
            if let n = metrics["enabled"], let v = reader.bool(n, mp + ["enabled"]) { watch.metrics.enabled = v }
            if let n = metrics["listen"], let text = reader.string(n, mp + ["listen"]) {
                if let listen = ListenAddress(hostPort: text) { watch.metrics.listen = listen } else {
                    reader.report(n, mp + ["listen"], "expected IPV4:PORT such as 127.0.0.1:9464 (port 1–65535), found \(reader.quoted(text))")
                }
            }
        }
        if let n = map["enabled"], !reader.isNull(n), let v = reader.bool(n, path + ["enabled"]) { watch.enabled = v }
        if let n = map["image"], let v = image(n, path + ["image"]) { watch.image = v }
        if let n = map["log"], let v = reader.string(n, path + ["log"]) {
            // Empty means the default: the proxy's access log.
            if v.isEmpty || Syntax.isFilePath(v) { watch.log = v } else {
                reader.report(n, path + ["log"], "expected a file path (no control characters, at most 4096 bytes), found \(reader.quoted(v))")
            }
        }
        if let n = map["window"], let v = reader.int(n, path + ["window"], in: 1...1_000_000) { watch.window = v }
        if let n = map["window_seconds"], let v = reader.int(n, path + ["window_seconds"], in: 1...86_400) { watch.windowSeconds = v }
        if let n = map["min_requests"], let v = reader.int(n, path + ["min_requests"], in: 1...1_000_000) { watch.minRequests = v }
        if let n = map["error_rate_threshold"], let v = reader.double(n, path + ["error_rate_threshold"], in: 0.01...100) {
            watch.errorRateThreshold = v
        }
        if let n = map["count_4xx"], let v = reader.bool(n, path + ["count_4xx"]) { watch.count4xx = v }
        if let n = map["ignore_paths"], let items = reader.sequence(n, path + ["ignore_paths"]) {
            watch.ignorePaths = items.enumerated().compactMap { index, item in
                let itemPath = path + ["ignore_paths[\(index)]"]
                guard let text = reader.string(item, itemPath) else { return nil }
                guard Syntax.isURLPath(text) else {
                    reader.report(item, itemPath, "expected a URL path starting with /, found \(reader.quoted(text))")
                    return nil
                }
                return text
            }
        }
        if let n = map["cooldown"], let v = reader.duration(n, path + ["cooldown"], minimum: SpecDuration(milliseconds: 0)) { watch.cooldown = v }
        if let n = map["maintenance"], let v = reader.bool(n, path + ["maintenance"]) { watch.maintenance = v }
    }

    private func decodeAlerts(_ node: Node, into alerts: inout AlertsSpec) {
        let path = ["alerts"]
        guard let map = reader.mapping(node, path, allowed: ["slack", "webhooks"]) else { return }
        if let s = map["slack"], let slack = reader.mapping(s, path + ["slack"], allowed: ["webhook_url"]),
           let n = slack["webhook_url"], let url = secretURL(n, path + ["slack", "webhook_url"]) {
            alerts.slackWebhookURL = url
        }
        if let w = map["webhooks"], let items = reader.sequence(w, path + ["webhooks"]) {
            for (index, item) in items.enumerated() {
                let itemPath = path + ["webhooks[\(index)]"]
                guard let hook = reader.mapping(item, itemPath, allowed: ["url", "headers"]) else { continue }
                guard let u = hook["url"] else {
                    reader.report(item, itemPath + ["url"], "missing; every webhook needs a url")
                    continue
                }
                guard let url = secretURL(u, itemPath + ["url"]), !url.isEmpty else {
                    if let text = reader.string(u, itemPath + ["url"]), text.isEmpty {
                        reader.report(u, itemPath + ["url"], "is empty")
                    }
                    continue
                }
                var headers: [String: Secret] = [:]
                if let h = hook["headers"], let entries = reader.freeMapping(h, itemPath + ["headers"]) {
                    for entry in entries {
                        let headerPath = itemPath + ["headers", entry.key]
                        guard Syntax.isHeaderName(entry.key) else {
                            reader.report(entry.keyNode, headerPath, "not a valid HTTP header name")
                            continue
                        }
                        guard let value = reader.string(entry.value, headerPath) else { continue }
                        guard Syntax.isHeaderValue(value) else {
                            reader.report(entry.value, headerPath, "header values must be printable ASCII on one line")
                            continue
                        }
                        headers[entry.key] = Secret(value)
                    }
                }
                alerts.webhooks.append(WebhookSpec(url: url, headers: headers))
            }
        }
    }

    private func decodeDeploy(_ node: Node, into deploy: inout DeploySpec) {
        let path = ["deploy"]
        let keys = ["analyze", "inconclusive", "extend_limit", "max_p95", "drain_timeout", "drain_quiet", "smoke", "lock_ttl",
                    "canary", "step", "canary_min_requests", "canary_max_error_diff", "canary_max_retry_diff", "canary_p95_ratio",
                    "canary_p95_floor", "sticky", "before_switch", "before_switch_timeout"]
        guard let map = reader.mapping(node, path, allowed: keys) else { return }
        if let n = map["analyze"], let v = reader.duration(n, path + ["analyze"], minimum: DeploySpec.shortestAnalysis) { deploy.analyze = v }
        if let n = map["inconclusive"], let text = reader.string(n, path + ["inconclusive"]) {
            if let policy = InconclusivePolicy(rawValue: text) { deploy.inconclusive = policy } else {
                reader.report(n, path + ["inconclusive"], "expected promote, rollback or extend, found \(reader.quoted(text))")
            }
        }
        if let n = map["extend_limit"], let v = reader.duration(n, path + ["extend_limit"], minimum: DeploySpec.shortestAnalysis) { deploy.extendLimit = v }
        if let n = map["max_p95"], !reader.isNull(n), let v = reader.duration(n, path + ["max_p95"]) { deploy.maxP95 = v }
        if let n = map["drain_timeout"], let v = reader.duration(n, path + ["drain_timeout"], minimum: SpecDuration(milliseconds: 0)) { deploy.drainTimeout = v }
        if let n = map["drain_quiet"], let v = reader.duration(n, path + ["drain_quiet"], minimum: SpecDuration(milliseconds: 0)) { deploy.drainQuiet = v }
        if let n = map["lock_ttl"], let v = reader.duration(n, path + ["lock_ttl"], minimum: .seconds(1)) { deploy.lockTTL = v }
        if let n = map["canary"] { decodeCanary(n, path + ["canary"], into: &deploy) }
        if let n = map["step"], let v = reader.duration(n, path + ["step"], minimum: DeploySpec.shortestAnalysis) { deploy.step = v }
        if let n = map["canary_min_requests"], let v = reader.int(n, path + ["canary_min_requests"], in: 1...1_000_000) {
            deploy.canaryMinRequests = v
        }
        if let n = map["canary_max_error_diff"], let v = reader.double(n, path + ["canary_max_error_diff"], in: 0...100) {
            deploy.canaryMaxErrorDiff = v
        }
        if let n = map["canary_max_retry_diff"], let v = reader.double(n, path + ["canary_max_retry_diff"], in: 0...100) {
            deploy.canaryMaxRetryDiff = v
        }
        if let n = map["canary_p95_ratio"], let v = reader.double(n, path + ["canary_p95_ratio"], in: 1...100) { deploy.canaryP95Ratio = v }
        if let n = map["canary_p95_floor"], let v = reader.duration(n, path + ["canary_p95_floor"], minimum: SpecDuration(milliseconds: 0)) {
            deploy.canaryP95Floor = v
        }
        if let n = map["sticky"], !reader.isNull(n), let text = reader.string(n, path + ["sticky"]) {
            // YAML's false reads as "off" too: `sticky: false` is what many will write.
            if let mode = StickyMode(rawValue: text) { deploy.sticky = mode } else if ["false", "no"].contains(text) { deploy.sticky = .off } else {
                reader.report(n, path + ["sticky"], "expected cookie or off, found \(reader.quoted(text))")
            }
        }
        if let n = map["before_switch"], !reader.isNull(n), let items = reader.sequence(n, path + ["before_switch"]) {
            if items.count > DeploySpec.maxBeforeSwitch {
                reader.report(n, path + ["before_switch"], "at most \(DeploySpec.maxBeforeSwitch) commands, found \(items.count)")
            } else {
                for (index, item) in items.enumerated() {
                    let itemPath = path + ["before_switch[\(index)]"]
                    if let argv = argv(item, itemPath) { deploy.beforeSwitch.append(argv) } else if reader.sequence(item, itemPath)?.isEmpty == true {
                        reader.report(item, itemPath, "an empty command; write the command and its arguments, e.g. [/app/migrate, --up]")
                    }
                }
            }
        }
        if let n = map["before_switch_timeout"], let v = reader.duration(n, path + ["before_switch_timeout"], minimum: .seconds(1)) {
            if v.milliseconds <= DeploySpec.longestBeforeSwitch.milliseconds { deploy.beforeSwitchTimeout = v } else {
                reader.report(n, path + ["before_switch_timeout"], "at most 6h, found \(reader.quoted(v.description))")
            }
        }
        if let n = map["smoke"], let items = reader.sequence(n, path + ["smoke"]) {
            for (index, item) in items.enumerated() {
                let itemPath = path + ["smoke[\(index)]"]
                guard let check = reader.mapping(item, itemPath, allowed: ["path", "status"]) else { continue }
                guard let p = check["path"], let text = reader.string(p, itemPath + ["path"]) else {
                    if check["path"] == nil { reader.report(item, itemPath + ["path"], "missing; a smoke check needs a path") }
                    continue
                }
                let parts = text.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
                guard Syntax.isURLPath(String(parts[0])), parts.count == 1 || Syntax.isURLQuery(parts[1]) else {
                    reader.report(p, itemPath + ["path"], "expected a URL path starting with /, found \(reader.quoted(text))")
                    continue
                }
                var status = 200
                if let st = check["status"], let v = reader.int(st, itemPath + ["status"], in: 100...599, what: "an HTTP status") { status = v }
                deploy.smoke.append(SmokeCheck(path: text, status: status))
            }
        }
    }

    /// `deploy.canary`: a list of percentages (see `CanarySteps`); null or [] is no canary.
    private func decodeCanary(_ node: Node, _ path: [String], into deploy: inout DeploySpec) {
        guard let items = reader.sequence(node, path) else { return }
        func itemPath(_ index: Int) -> [String] { Array(path.dropLast()) + ["\(path.last ?? "canary")[\(index)]"] }
        var steps: [Int] = []
        for (index, item) in items.enumerated() {
            guard let text = reader.string(item, itemPath(index)) else { continue }
            guard let value = Syntax.integer(text) else {
                reader.report(item, itemPath(index), "expected a percentage \(CanarySteps.percents.lowerBound)–\(CanarySteps.percents.upperBound), found \(reader.quoted(text))")
                continue
            }
            steps.append(value)
        }
        // Range and order are judged only on a list read whole, with the same words as the flag's.
        guard steps.count == items.count else { return }
        let problems = CanarySteps.problems(steps)
        for problem in problems {
            if let index = problem.index {
                reader.report(items[index], itemPath(index), problem.message)
            } else {
                reader.report(node, path, problem.message)
            }
        }
        if problems.isEmpty { deploy.canary = steps }
    }

    private func decodeLogs(_ node: Node, into logs: inout LogsSpec) {
        let path = ["logs"]
        guard let map = reader.mapping(node, path, allowed: ["max_size", "keep"]) else { return }
        if let n = map["max_size"], let text = reader.string(n, path + ["max_size"]) {
            let range = "\(LogsSpec.minimumSize)–\(ByteSize.maximum)"
            if let size = ByteSize(parsing: text) {
                if size >= LogsSpec.minimumSize { logs.maxSize = size } else {
                    reader.report(n, path + ["max_size"], "must be at least \(LogsSpec.minimumSize), found \(reader.quoted(text))")
                }
            } else {
                reader.report(n, path + ["max_size"], "expected a size such as 64KiB, 100MiB or 1GiB (units B, KiB, MiB, GiB, TiB; \(range)), found \(reader.quoted(text))")
            }
        }
        if let n = map["keep"], let v = reader.int(n, path + ["keep"], in: LogsSpec.keepRange) { logs.keep = v }
    }

    private func decodePreview(_ node: Node) -> PreviewSpec? {
        let path = ["preview"]
        guard let map = reader.mapping(node, path, allowed: ["header", "cookie", "allow"]) else { return nil }
        var preview = PreviewSpec()
        if let n = map["header"] {
            if reader.isNull(n) { preview.header = nil } else if let text = reader.string(n, path + ["header"]) {
                if Syntax.isPreviewHeader(text) { preview.header = text } else {
                    reader.report(n, path + ["header"], "expected a header name of letters, digits and \"-\" (at most 64; not Host, Cookie or Connection), found \(reader.quoted(text))")
                }
            }
        }
        if let n = map["cookie"] {
            if reader.isNull(n) { preview.cookie = nil } else if let text = reader.string(n, path + ["cookie"]) {
                if Syntax.isPreviewCookie(text) { preview.cookie = text } else {
                    reader.report(n, path + ["cookie"], "expected a cookie name of letters, digits and \"_\" (at most 64), found \(reader.quoted(text))")
                }
            }
        }
        if preview.header == nil && preview.cookie == nil {
            reader.report(node, path, "names neither a header nor a cookie; remove preview: to turn preview routing off")
        }
        guard let n = map["allow"] else {
            reader.report(node, path + ["allow"], "missing; list the client addresses that may choose a pool, e.g. allow: [10.0.0.0/8]")
            return nil
        }
        guard let items = reader.sequence(n, path + ["allow"]) else { return nil }
        if items.isEmpty { reader.report(n, path + ["allow"], "is empty; list at least one address range such as 10.0.0.0/8") }
        if items.count > PreviewSpec.maxSources {
            reader.report(n, path + ["allow"], "has \(items.count) ranges; at most \(PreviewSpec.maxSources)")
            return nil
        }
        for (index, item) in items.enumerated() {
            let itemPath = path + ["allow", "\(index)"]
            guard let text = reader.string(item, itemPath) else { continue }
            if let range = SourceRange(parsing: text) {
                preview.allow.append(range)
                if range.isWide {
                    reader.warn(item, itemPath, "\(range) lets anyone on the internet reach the idle pool (often the previous release) by naming it; list only the testers' addresses, such as 10.0.0.0/8 or 203.0.113.7/32")
                }
            } else {
                reader.report(item, itemPath, "expected an address range such as 10.0.0.0/8 or fd00::/8 (host bits zero), found \(reader.quoted(text))")
            }
        }
        return preview.allow.count == items.count && !items.isEmpty ? preview : nil
    }

    private func crossCheck(_ spec: DeploymentSpec, top: [String: Node], root: Node) {
        let blue = spec.pool(.blue), green = spec.pool(.green)
        let pools = top["pools"].flatMap { reader.mapping($0, [], allowed: []) } ?? [:]
        func portNode(_ pool: Pool) -> Node? {
            pools[pool.rawValue].flatMap { reader.mapping($0, [], allowed: []) }?["preview_port"] ?? pools[pool.rawValue]
        }
        // With a redirect to HTTPS the app's health path stays proxied on plain HTTP (bgctl checks the
        // routing through it): "/" would serve the whole home page without TLS.
        if let tls = spec.proxy.tls, tls.redirectHTTP, spec.app.health.path == "/" {
            let app = top["app"].flatMap { reader.mapping($0, [], allowed: []) }
            let health = app?["health"].flatMap { reader.mapping($0, [], allowed: []) }?["path"] ?? app?["health"] ?? top["app"]
            reader.report(health ?? root, ["app", "health", "path"],
                          "is /, which proxy.tls.redirect_http keeps on plain HTTP for bgctl's routing check; give the app a health path of its own such as /healthz")
        }
        // The proxy answers the fleet's health path itself: shared with another path, one of them would
        // never be answered as its user expects.
        if let fleetPath = spec.fleet?.healthPath {
            let fleetNode = top["fleet"].flatMap { reader.mapping($0, [], allowed: []) }?["health_path"]
            let written = fleetNode == nil ? " (the default)" : ""
            for (key, other) in [("proxy.health_path", spec.proxy.healthPath), ("app.health.path", spec.app.health.path)] where other == fleetPath {
                reader.report(fleetNode ?? top["hosts"] ?? root, ["fleet", "health_path"],
                              "\(fleetPath)\(written) is also \(key); give the fleet's health path one of its own, e.g. fleet.health_path: \(fleetPath == FleetSpec.defaultHealthPath ? "/_bgctl/fleet-health" : FleetSpec.defaultHealthPath)")
            }
        }
        if blue.previewPort != 0 && blue.previewPort == green.previewPort {
            reader.report(portNode(.green), ["pools", "green", "preview_port"],
                          "\(green.previewPort) is also pools.blue.preview_port; each pool needs its own port")
        }
        for pool in Pool.allCases where spec.pool(pool).previewPort == spec.proxy.listen.port {
            reader.report(portNode(pool), ["pools", pool.rawValue, "preview_port"],
                          "\(spec.proxy.listen.port) is also the proxy's listen port")
        }
        guard let tls = spec.proxy.tls else { return }
        if tls.acme != nil && spec.proxy.hosts.isEmpty {
            let proxyNode = top["proxy"].flatMap { reader.mapping($0, [], allowed: []) }
            let acmeNode = proxyNode?["tls"].flatMap { reader.mapping($0, [], allowed: []) }?["acme"]
            reader.report(acmeNode ?? proxyNode?["tls"], ["proxy", "tls", "acme"],
                          "needs proxy.hosts: the names to certify (a project with acme: is served by the host's shared front), e.g. hosts: [shop.example.com]")
        }
        // Both servers listen inside one container: the ports must differ whatever the host addresses.
        let proxyMap = top["proxy"].flatMap { reader.mapping($0, [], allowed: []) } ?? [:]
        let tlsNode = proxyMap["tls"]
        let tlsListen = tlsNode.flatMap { reader.mapping($0, [], allowed: []) }?["listen"]
        let written = tlsListen == nil ? " (the default)" : ""
        if tls.listen.port == spec.proxy.listen.port {
            reader.report(tlsListen ?? tlsNode, ["proxy", "tls", "listen"],
                          "port \(tls.listen.port)\(written) is also proxy.listen's port; HTTPS needs a port of its own, e.g. 443 or 8443")
        }
        for pool in Pool.allCases where spec.pool(pool).previewPort == tls.listen.port {
            reader.report(portNode(pool), ["pools", pool.rawValue, "preview_port"],
                          "\(tls.listen.port) is also the proxy's HTTPS port (proxy.tls.listen)")
        }
    }

    private func image(_ node: Node, _ path: [String]) -> String? {
        guard let value = reader.scalar(node, path) else { return nil }
        guard !value.text.isEmpty else {
            let hint = value.unset.isEmpty ? "" : " (variable \(value.unset.joined(separator: ", ")) is not set)"
            reader.report(node, path, "is empty\(hint); expected an image reference such as app:1.4")
            return nil
        }
        guard Syntax.isImageReference(value.text) else {
            reader.report(node, path, "not a valid image reference: \(reader.quoted(value.text)) (expected \(Syntax.imageReferenceForm))")
            return nil
        }
        return value.text
    }

    private func environment(_ node: Node, _ path: [String]) -> [String: String]? {
        guard let entries = reader.freeMapping(node, path) else { return nil }
        var env: [String: String] = [:]
        for entry in entries {
            guard Syntax.isEnvironmentName(entry.key) else {
                reader.report(entry.keyNode, path + [entry.key], "not a valid environment variable name; expected letters, digits and _, not starting with a digit, at most \(Syntax.maxEnvironmentNameLength) characters")
                continue
            }
            if let value = reader.string(entry.value, path + [entry.key]) {
                // Docker's env files and `-e` cannot carry these; the value itself is not shown.
                guard Syntax.isEnvironmentValue(value) else {
                    reader.report(entry.value, path + [entry.key], "the value contains a NUL, carriage return or line feed, which a container's environment cannot carry (value not shown)")
                    continue
                }
                env[entry.key] = value
            }
        }
        return env
    }

    private func secretURL(_ node: Node, _ path: [String]) -> Secret? {
        guard let text = reader.string(node, path) else { return nil }
        if text.isEmpty { return Secret("") }
        // The URL is a secret: the message names the key, never the value.
        guard Syntax.isHTTPURL(text) else {
            reader.report(node, path, "expected an http:// or https:// URL (value not shown: it is a secret)")
            return nil
        }
        return Secret(text)
    }

    private func parseListen(_ text: String) -> ListenAddress? {
        if let port = Syntax.integer(text), (1...65535).contains(port) {
            return ListenAddress(host: "0.0.0.0", port: port)
        }
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let host = String(text[..<colon])
        guard let port = Syntax.integer(text[text.index(after: colon)...]), (1...65535).contains(port),
              IPv4Subnet.parseAddress(host) != nil else { return nil }
        return ListenAddress(host: host, port: port)
    }
}
