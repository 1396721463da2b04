import NginxConfigGen

/// One thing an operation does. Plans are lists of steps; the executor runs them, a dry run prints
/// them, and the journal records them by `name` — one list, three readers.
public struct Step: Sendable, Equatable {
    /// Short and stable, e.g. `reload`: what the journal records and tests match on.
    public var name: String
    /// One line for a person: what this step does to this stack.
    public var description: String
    public var action: StepAction

    public init(_ name: String, _ description: String, _ action: StepAction) {
        self.name = name
        self.description = description
        self.action = action
    }
}

/// What a step does. Everything it needs was decided by the plan; the executor only acts.
public indirect enum StepAction: Sendable, Equatable {
    case createNetwork(name: String, subnet: String, project: String)
    case removeNetwork(String)
    case createDirectories([String])
    case runContainer(ContainerConfig)
    case startContainer(String)
    case stopContainer(String, timeout: Int)
    case removeContainer(String)
    /// Steps run at the same time; the first failure is reported once all have finished.
    case together([Step])
    /// Steps run in order, as one step of a `together`.
    case sequence([Step])
    /// Waits until the pools are running, healthy and answer their health path. A required pool
    /// that never does fails the step; an optional one is reported as a warning.
    case waitHealthy(required: [Pool], optional: [Pool])
    case smokeChecks(Pool)
    /// Waits until nginx has nothing in flight to the pool (see `deploy.drain_quiet`).
    case drain(Pool)
    /// Writes a configuration over the live files (only before the proxy starts on them).
    case writeConfig(RenderedConfig)
    /// Copies a checked certificate and key into tls/<fingerprint>/ (the key mode 0600), each by temp
    /// file and rename. No configuration names that folder before this plan installs one that does, so
    /// the files the proxy loads now are never touched.
    case writeTLS(TLSMaterial)
    /// Removes what else is in tls/ (pairs installed before): after the record step, when the installed
    /// configuration names the kept folder. What cannot be removed is left for a later up.
    case pruneTLS(keep: String)
    /// With proxy.tls.acme: points tls/live at the pair's folder (one rename), which the configuration
    /// names; the proxy loads it at the next reload. Undone, with the rest, if a later step fails.
    case linkTLS(String)
    /// Writes the candidate into nginx/next/; the live files are untouched.
    case stageConfig(RenderedConfig)
    /// `nginx -t` on nginx/next/ inside the proxy.
    case testConfig
    /// Moves the tested candidate over the live files. Undone by restoring the previous files and reloading.
    case installConfig(RenderedConfig, proxy: ContainerInfo)
    /// SIGHUP to the proxy's master, done only once no worker of an older generation accepts
    /// connections (a request sent after it returns meets the new configuration).
    case reload(proxy: ContainerInfo)
    /// Renames nginx/route/current onto this route: from the next request on, the proxy serves it.
    /// Undone on a later failure by setting the route before again.
    case setRoute(Route)
    /// Writes the route before the proxy starts on it (nothing serves yet: nothing to undo).
    case writeRoute(Route)
    /// Fresh requests through the proxy reach this pool.
    case verify(Pool)
    /// Fresh requests through the proxy are answered by one of these pools (a canary's weights).
    case verifyPools([Pool])
    /// The new proxy answers its health path and routes to this pool.
    case waitProxy(Pool)
    /// Remembers that the proxy accepted these bytes; nil proxy: the one running now.
    case rememberTested(RenderedConfig, proxy: ContainerInfo?)
    /// Reads the proxy's log from the switch on and judges the release (deploy.* thresholds).
    case analyse(seconds: Double)
    /// Compares the canary pool with the baseline in the proxy's log for `seconds` (extended while too
    /// few requests reached the canary, up to deploy.extend_limit) and judges it (deploy.canary_*).
    case analyseCanary(CanaryRouting, seconds: Double)
    case record(Record)
    case removeFiles([String])
    case removeFolderIfEmpty(String)
    /// `docker image rm` (never forced): an image some container uses is refused, reported, and left.
    case removeImage(String, bytes: Int64?)
    /// deploy.before_switch: each command in order inside the container, all within `timeout` seconds;
    /// a failure, a timeout or a signal stops the deploy before any traffic moves.
    case beforeSwitch(container: String, commands: [[String]], timeout: Double)
    case warn(String)
    /// The shared front: attach it to the project's network (to reach its pools), or detach it.
    /// `required: false`: another project's network, which may be gone; a failure is a warning.
    case connectNetwork(network: String, container: String, required: Bool)
    case disconnectNetwork(network: String, container: String)
    /// Writes the front's wrapper configuration (before the front starts on it).
    case writeFrontWrapper(String)
    /// Records the project's names in the front's registry, or removes them.
    case claimFront
    case releaseFront
    /// The project's part of the front is removed: its route (its names answer 404 at once), then its
    /// files; no reload.
    case leaveFront

    /// The step moves traffic by itself: from its start, an interrupted operation may have changed
    /// what the proxy serves (the journal records it; recovery finishes or undoes it).
    public var movesTraffic: Bool {
        switch self {
        case .installConfig, .setRoute: true
        default: false
        }
    }

    /// The executor reports the step's description as it starts: the steps that take a while or
    /// change containers; the others report what they found instead.
    var isAnnounced: Bool {
        switch self {
        case .createNetwork, .removeNetwork, .runContainer, .startContainer, .stopContainer, .removeContainer, .drain, .removeFiles,
             .connectNetwork, .disconnectNetwork, .leaveFront: true
        default: false
        }
    }

    /// The docker commands this step runs, in order; what a dry run prints under the step.
    public func commands(_ spec: DeploymentSpec) -> [DockerCommand] {
        switch self {
        case .createNetwork(let name, let subnet, let project): return [Docker.createNetwork(name, subnet: subnet, project: project)]
        case .removeNetwork(let name): return [Docker.removeNetwork(name)]
        case .connectNetwork(let network, let container, _): return [Docker.connectNetwork(network, container)]
        case .disconnectNetwork(let network, let container): return [Docker.disconnectNetwork(network, container)]
        case .runContainer(let config): return [Docker.run(config)]
        case .startContainer(let name): return [Docker.start(name)]
        case .stopContainer(let name, let timeout): return [Docker.stop(name, timeout: timeout)]
        case .removeContainer(let name): return [Docker.remove(name)]
        case .testConfig: return [StackPlan.nginxTest(spec, candidate: true)]
        case .reload: return [StackPlan.nginxReload(spec)]
        case .removeImage(let image, _): return [Docker.removeImage(image)]
        case .beforeSwitch(let container, let commands, _): return commands.map { Docker.exec(container, $0) }
        case .together(let steps), .sequence(let steps): return steps.flatMap { $0.action.commands(spec) }
        default: return []
        }
    }
}

/// What an operation writes to state.json and the history when it gets there.
public struct Record: Sendable, Equatable {
    /// The live pool to save; nil leaves state.json as it is.
    public var live: Pool?
    /// Releases deployed onto pools (saved with `live`).
    public var deployed: [String: DeployedRelease]?
    /// The history entry; its time, author and duration are filled in when the step runs.
    public var history: HistoryDraft?
    /// The entry becomes state.json's `last_switch`; otherwise the previous one is kept.
    public var isSwitch: Bool
    public var previousSwitch: HistoryEntry?
    /// The canary in progress, saved with `live` (its weights in state.json); nil: none.
    public var canary: CanaryRouting?
    /// A promoted release's `--env`, kept in state.json for `rollback --to`.
    public var flags: ReleaseFlags?

    public init(live: Pool?, deployed: [String: DeployedRelease]? = nil, history: HistoryDraft?, isSwitch: Bool = false,
                previousSwitch: HistoryEntry? = nil, canary: CanaryRouting? = nil, flags: ReleaseFlags? = nil) {
        self.flags = flags
        self.live = live
        self.deployed = deployed
        self.history = history
        self.isSwitch = isSwitch
        self.previousSwitch = previousSwitch
        self.canary = canary
    }
}

/// A history entry before it is written: the executor adds time, who and duration.
public struct HistoryDraft: Sendable, Equatable {
    public var action: String
    public var from: Pool?
    public var to: Pool?
    public var reason: String?
    public var result: String
    public var detail: String?
    public var image: String?
    public var release: String?
    public var figures: [String: Double]?
    /// A canary deploy's steps, on its verdict.
    public var steps: [CanaryStepRecord]?
    /// The names of the variables the deploy's `--env` set; never their values.
    public var env: [String]?

    public init(action: String, from: Pool? = nil, to: Pool? = nil, reason: String? = nil, result: String,
                detail: String? = nil, image: String? = nil, release: String? = nil, figures: [String: Double]? = nil,
                steps: [CanaryStepRecord]? = nil, env: [String]? = nil) {
        self.env = env
        self.steps = steps
        self.action = action
        self.from = from
        self.to = to
        self.reason = reason
        self.result = result
        self.detail = detail
        self.image = image
        self.release = release
        self.figures = figures
    }
}

/// An operation decided: the steps it takes, or why it takes none.
public struct Plan: Sendable, Equatable {
    /// e.g. "switch blue → green".
    public var title: String
    public var steps: [Step]
    /// Said instead of acting when there are no steps.
    public var nothingToDo: String?

    public init(title: String, steps: [Step], nothingToDo: String? = nil) {
        self.title = title
        self.steps = steps
        self.nothingToDo = nothingToDo
    }

    public var isEmpty: Bool { steps.isEmpty }

    /// Step names in order, sub-steps of `together` inline: what tests compare.
    public var names: [String] { Self.names(steps) }

    static func names(_ steps: [Step]) -> [String] {
        steps.flatMap { step -> [String] in
            switch step.action {
            case .together(let inner), .sequence(let inner): return names(inner)
            default: return [step.name]
            }
        }
    }

    /// The plan as a person reads it: numbered steps with the docker commands under them.
    public func listing(_ spec: DeploymentSpec) -> [String] {
        guard !steps.isEmpty else { return ["\(title): \(nothingToDo ?? "nothing to do")"] }
        var lines = ["\(title): \(steps.count) step\(steps.count == 1 ? "" : "s")"]
        func add(_ step: Step, number: String) {
            lines.append("  \(number) \(step.name): \(step.description)")
            switch step.action {
            case .together(let inner), .sequence(let inner):
                for (index, sub) in inner.enumerated() { add(sub, number: "\(number)\(index + 1).") }
                return
            default:
                break
            }
            for command in step.action.commands(spec) { lines.append("       \(command.description)") }
        }
        for (index, step) in steps.enumerated() { add(step, number: "\(index + 1).") }
        return lines
    }
}
