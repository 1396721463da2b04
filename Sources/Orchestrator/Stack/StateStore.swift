import Foundation
import NginxConfigGen
import Support
import Watcher

/// A release `bgctl deploy` put on a pool; it stands in for the spec's image, release and env of
/// that pool until the next deploy to it or `bgctl down`.
public struct DeployedRelease: Codable, Sendable, Equatable {
    public var image: String
    public var release: String
    public var env: [String: String]
    public var at: String
}

/// The `--env` a promoted release was deployed with, so `rollback --to` gives it exactly those again.
/// In state.json (0600) only: the history names the variables, never their values.
public struct ReleaseFlags: Codable, Sendable, Equatable {
    public var release: String
    public var env: [String: String]

    public init(release: String, env: [String: String]) {
        self.release = release
        self.env = env
    }

    /// How many releases' flags state.json keeps (the most recent promotions).
    public static let kept = 20

    /// `list` with `flags` as its newest entry (an earlier entry for the release replaced), at most `kept`.
    public static func adding(_ flags: ReleaseFlags, to list: [ReleaseFlags]?) -> [ReleaseFlags] {
        let others = (list ?? []).filter { $0.release != flags.release }
        return Array((others + [flags]).suffix(kept))
    }
}

/// What bgctl remembers about a stack between commands (state.json, mode 0600: deployed env may hold secrets).
public struct StackState: Codable, Sendable, Equatable {
    /// The version of this format. A change that an older bgctl would misread raises it; a file without
    /// one is from bgctl 0.1 and reads as 1. bgctl refuses a state.json newer than it knows.
    public static let schema = 1

    public var schema = StackState.schema
    public var project: String
    public var live: Pool
    public var updatedAt: String
    public var lastSwitch: HistoryEntry?
    public var deployed: [String: DeployedRelease]?
    /// During a canary deploy, each pool's percent of requests (`{"blue": 95, "green": 5}`); absent otherwise.
    public var weights: [String: Int]?
    /// During a sticky canary: true.
    public var sticky: Bool?
    /// The `--env` of the last promoted releases, newest last (see `ReleaseFlags`).
    public var releaseFlags: [ReleaseFlags]?

    public init(project: String, live: Pool, updatedAt: String, lastSwitch: HistoryEntry?, deployed: [String: DeployedRelease]? = nil,
                canary: CanaryRouting? = nil) {
        self.project = project
        self.live = live
        self.updatedAt = updatedAt
        self.lastSwitch = lastSwitch
        self.deployed = deployed
        self.weights = canary?.weights
        self.sticky = canary?.sticky == true ? true : nil
    }

    /// The canary in progress that `weights` describe beside the live pool; nil when none.
    public var canary: CanaryRouting? { CanaryRouting(weights: weights, live: live, sticky: sticky ?? false) }

    enum CodingKeys: String, CodingKey {
        case schema, project, live, deployed, weights, sticky
        case updatedAt = "updated_at"
        case lastSwitch = "last_switch"
        case releaseFlags = "release_flags"
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schema = try container.decodeIfPresent(Int.self, forKey: .schema) ?? 1
        project = try container.decode(String.self, forKey: .project)
        live = try container.decode(Pool.self, forKey: .live)
        updatedAt = try container.decode(String.self, forKey: .updatedAt)
        lastSwitch = try container.decodeIfPresent(HistoryEntry.self, forKey: .lastSwitch)
        deployed = try container.decodeIfPresent([String: DeployedRelease].self, forKey: .deployed)
        weights = try container.decodeIfPresent([String: Int].self, forKey: .weights)
        sticky = try container.decodeIfPresent(Bool.self, forKey: .sticky)
        releaseFlags = try container.decodeIfPresent([ReleaseFlags].self, forKey: .releaseFlags)
    }

    /// What in the file breaks a rule the spec and the flags enforce for the same values, as
    /// "key.path: what is wrong" (values that may be secrets are not shown). state.json is written by
    /// bgctl, but anyone who can write the file would otherwise reach nginx's configuration (a release)
    /// and docker's argv (an image read as an option, an env key holding a newline).
    public func problems() -> [String] {
        var found: [String] = []
        if !Syntax.isProjectNameValue(project) { found.append("project: not a valid project name") }
        for (name, release) in (deployed ?? [:]).sorted(by: { $0.key < $1.key }) {
            let path = "deployed.\(Pool(rawValue: name) == nil ? "(key)" : name)"
            if Pool(rawValue: name) == nil { found.append("\(path): not a pool (blue or green)") }
            if !Syntax.isImageReferenceValue(release.image) { found.append("\(path).image: not a valid image reference") }
            if !release.release.isEmpty && !Syntax.isReleaseValue(release.release) {
                found.append("\(path).release: expected letters, digits and . _ : + / @ - only (at most 128)")
            }
            found += Self.envProblems(release.env, path: path + ".env")
        }
        for flags in releaseFlags ?? [] {
            if !Syntax.isReleaseValue(flags.release) { found.append("release_flags: a release is not a valid release label") }
            found += Self.envProblems(flags.env, path: "release_flags.env")
        }
        for (name, weight) in weights ?? [:] where Pool(rawValue: name) == nil || !(0...100).contains(weight) {
            found.append("weights: expected blue and green with percentages 0–100")
            break
        }
        return found
    }

    /// What is wrong with env read from the file: a key that is no variable name, a value docker's argv
    /// cannot carry (values are not shown: they may be secrets).
    static func envProblems(_ env: [String: String], path: String) -> [String] {
        env.sorted(by: { $0.key < $1.key }).compactMap { key, value in
            guard Syntax.isEnvironmentNameValue(key) else { return "\(path): a key is not a valid environment variable name" }
            return Syntax.isEnvironmentValue(value) ? nil : "\(path).\(key): holds a NUL or a line break (value not shown)"
        }
    }

    /// The spec as it runs: pools that a deploy changed take the deployed image, release and env.
    public func apply(to spec: DeploymentSpec) -> DeploymentSpec {
        var effective = spec
        for (name, release) in deployed ?? [:] {
            guard let pool = Pool(rawValue: name) else { continue }
            var poolSpec = spec.pool(pool)
            poolSpec.image = release.image
            poolSpec.release = release.release
            poolSpec.env = poolSpec.env.merging(release.env) { _, deployed in deployed }
            effective.pools[pool] = poolSpec
        }
        return effective
    }
}

/// One line of history.jsonl: an audit record of something bgctl changed.
public struct HistoryEntry: Codable, Sendable, Equatable {
    public var time: String
    public var action: String
    public var from: Pool?
    public var to: Pool?
    public var who: String
    public var reason: String?
    public var result: String
    public var durationMs: Int?
    public var detail: String?
    public var image: String?
    public var release: String?
    /// Analysis figures of a deploy: requests, errors, error_rate, retried, failovers, p95_ms, seconds;
    /// of a canary step: `CanaryFigures.dictionary` and its `weight`.
    public var figures: [String: Double]?
    /// A canary deploy's steps, on its verdict.
    public var steps: [CanaryStepRecord]?
    /// The names of the variables a deploy's `--env` set (their values are in state.json only).
    public var env: [String]?

    public init(time: String, action: String, from: Pool? = nil, to: Pool? = nil, who: String, reason: String? = nil,
                result: String, durationMs: Int? = nil, detail: String? = nil, image: String? = nil, release: String? = nil,
                figures: [String: Double]? = nil, steps: [CanaryStepRecord]? = nil, env: [String]? = nil) {
        self.env = env
        self.steps = steps
        self.image = image
        self.release = release
        self.figures = figures
        self.time = time
        self.action = action
        self.from = from
        self.to = to
        self.who = who
        self.reason = reason
        self.result = result
        self.durationMs = durationMs
        self.detail = detail
    }

    public init(_ draft: HistoryDraft, time: String, who: String, durationMs: Int?) {
        self.init(time: time, action: draft.action, from: draft.from, to: draft.to, who: who, reason: draft.reason,
                  result: draft.result, durationMs: durationMs, detail: draft.detail, image: draft.image,
                  release: draft.release, figures: draft.figures, steps: draft.steps, env: draft.env)
    }

    enum CodingKeys: String, CodingKey {
        case time, action, from, to, who, reason, result, detail, image, release, figures, steps, env
        case durationMs = "duration_ms"
    }
}

/// state.json and history.jsonl of one stack, through the file system port.
public struct StateStore: Sendable {
    public let paths: StackPaths
    public let files: FileSystem

    public init(paths: StackPaths, files: FileSystem = LocalFileSystem()) {
        self.paths = paths
        self.files = files
    }

    /// The state read back and checked like a spec (`StackState.problems`); nil when there is none.
    /// A file that is too large, not a regular file, or breaks a rule is `stateUnreadable`.
    public func load() throws -> StackState? {
        let read: Data?
        do {
            read = try files.read(paths.stateFile, limit: FileLimits.stateFile)
        } catch let error as FileError {
            throw OrchestratorError.stateUnreadable(path: paths.stateFile, reason: error.reason)
        }
        guard let data = read else { return nil }
        let state: StackState
        do {
            state = try JSONDecoder().decode(StackState.self, from: data)
        } catch {
            throw OrchestratorError.stateUnreadable(path: paths.stateFile, reason: "\(error)")
        }
        // Refused before anything acts on it: an older bgctl would drop what it does not know and save the rest.
        guard state.schema <= StackState.schema else {
            throw OrchestratorError.stateTooNew(path: paths.stateFile, schema: state.schema, reads: StackState.schema)
        }
        let problems = state.problems()
        guard problems.isEmpty else {
            throw OrchestratorError.stateUnreadable(path: paths.stateFile, reason: problems.joined(separator: "; "))
        }
        return state
    }

    public func save(_ state: StackState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(state)
        try files.write(String(decoding: data, as: UTF8.self) + "\n", to: paths.stateFile, mode: 0o600)
    }

    /// Appends one JSON line with O_APPEND, so concurrent writers never interleave within a line.
    public func append(_ entry: HistoryEntry) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(entry)
        data.append(0x0A)
        try files.createDirectory(paths.stateDir)
        try files.append(data, to: paths.historyFile)
    }

    /// The entries in the last `FileLimits.historyTail` bytes of history.jsonl (it only grows).
    public func history() -> [HistoryEntry] {
        guard let bytes = BoundedRead.tail(of: paths.historyFile, limit: FileLimits.historyTail) else { return [] }
        let data = Data(bytes)
        return data.split(separator: 0x0A).compactMap { try? JSONDecoder().decode(HistoryEntry.self, from: Data($0)) }
    }

    /// The person or pipeline acting: $USER, with a CI run id when one is present.
    public static func who(environment: [String: String]) -> String {
        let user = environment["USER"] ?? environment["LOGNAME"] ?? getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(getuid())"
        let ci = [("GITHUB_RUN_ID", "github run"), ("CI_PIPELINE_ID", "gitlab pipeline"), ("BUILD_ID", "build")]
            .first { environment[$0.0] != nil }
        if let (key, label) = ci, let id = environment[key] { return "\(user) (\(label) \(id))" }
        return user
    }
}

extension Stack {
    /// Writes `record` now: state.json (with the watcher's copy of the live pool) and the history entry,
    /// stamped with the time, who, and the duration since `started` (monotonic). What a `record` step
    /// does, and what an operation calls directly to record its verdict: nothing can stop it halfway.
    func record(_ record: Record, started: Double) throws {
        let now = ports.clock.timestamp()
        let duration = Int(((ports.clock.monotonic() - started) * 1000).rounded())
        let entry = record.history.map { HistoryEntry($0, time: now, who: who, durationMs: duration) }
        if let live = record.live {
            let deployed = record.deployed?.mapValues { release -> DeployedRelease in
                var stamped = release
                if stamped.at.isEmpty { stamped.at = now }
                return stamped
            }
            var state = StackState(project: spec.project, live: live, updatedAt: now,
                                   lastSwitch: record.isSwitch ? entry : record.previousSwitch, deployed: deployed, canary: record.canary)
            let previous = try store.load()?.releaseFlags
            state.releaseFlags = record.flags.map { ReleaseFlags.adding($0, to: previous) } ?? previous
            try store.save(state)
            sharePools(live, weights: record.canary?.weights)
        } else if let flags = record.flags, var state = try store.load() {
            state.releaseFlags = ReleaseFlags.adding(flags, to: state.releaseFlags)
            try store.save(state)
        }
        if let entry { try store.append(entry) }
    }

    /// Copies the live pool into the watcher's folder, when there is one. A copy that cannot be written
    /// is removed rather than left stale: the watcher then leaves the weights out instead of misreporting them.
    private func sharePools(_ live: Pool, weights: [String: Int]?) {
        guard ports.files.exists(paths.watcherDir) else { return }
        let text = String(decoding: PoolWeights.snapshot(live: live.rawValue, weights: weights), as: UTF8.self) + "\n"
        do {
            try ports.files.write(text, to: paths.watcherPoolsFile, mode: 0o644)
        } catch {
            try? ports.files.remove(paths.watcherPoolsFile)
            report(.warning("could not give the watcher the live pool (\(error)); its bgctl_pool_weight metric is left out until the next record"))
        }
    }
}
