import Foundation
import NginxConfigGen

/// The operation in progress, written durably (temp file, fsync, rename) before each step acts, and
/// removed when the operation ends. A journal left behind by a holder that is gone — SIGKILL, power
/// loss — is an interrupted operation: any command sees it, and the next mutating command (or
/// `bgctl recover`) finishes or undoes it.
public struct JournalEntry: Codable, Sendable, Equatable {
    /// switch, rollback, deploy, up or down (`kind`).
    public var operation: String
    /// e.g. "switch blue → green".
    public var title: String
    public var pid: Int32
    public var who: String
    public var started: String
    /// The live pool when the operation began, and the pool it makes live.
    public var from: Pool?
    public var to: Pool?
    public var image: String?
    public var release: String?
    /// Steps that finished, as "phase/step" (`JournalPhase`; e.g. "canary-5/route").
    public var done: [String] = []
    /// The step acting now; it may or may not have taken effect.
    public var current: String?
    /// True once a step that moves traffic by itself (`StepAction.movesTraffic`) has started. Absent
    /// from a journal an older bgctl wrote: then its step names tell (`movedTraffic`).
    public var moved: Bool?

    public init(operation: String, title: String, pid: Int32, who: String, started: String, from: Pool? = nil, to: Pool? = nil,
                image: String? = nil, release: String? = nil) {
        self.operation = operation
        self.title = title
        self.pid = pid
        self.who = who
        self.started = started
        self.from = from
        self.to = to
        self.image = image
        self.release = release
    }

    /// True when the step may have acted: it finished, or it was acting when the journal was last written.
    public func reached(_ step: String) -> Bool { done.contains(step) || current == step }

    /// The operation, typed; nil for one this bgctl does not know.
    public var kind: OperationKind? { OperationKind(rawValue: operation) }

    /// The steps that may have acted, in order: those done, then the current one.
    var reachedSteps: [JournalStep] { (done + [current].compactMap { $0 }).map(JournalStep.init) }

    /// Traffic may have moved: a step that moves it started.
    var movedTraffic: Bool { moved ?? reachedSteps.contains { TrafficStep(rawValue: $0.name) != nil } }

    /// A phase that changes a canary's weights, or promotes it, started.
    var reachedCanary: Bool { reachedSteps.contains { $0.phase?.movesCanary == true } }

    /// What a person reads: "interrupted switch blue → green at 12:03:04, stopped after: reload".
    public var summary: String {
        let last = current.map { "while: \($0)" } ?? done.last.map { "stopped after: \($0)" } ?? "before its first step"
        return "interrupted \(title) started at \(started) by \(who) (pid \(pid)), \(last)"
    }
}

/// The operations a journal records.
public enum OperationKind: String, Sendable {
    case up, down, deploy, rollback
    case `switch`
}

/// The phases a journal names its steps by; the raw value is what the journal says ("canary-5").
public enum JournalPhase: Sendable, Equatable, RawRepresentable {
    case up, down, stage, beforeSwitch, `switch`, services, analyse, promote, rollback, resync, verdict, recover
    /// A canary's weight change and analysis at this percent.
    case canary(Int)

    private static let plain: [JournalPhase] = [.up, .down, .stage, .beforeSwitch, .switch, .services, .analyse, .promote, .rollback, .resync, .verdict, .recover]

    public init?(rawValue: String) {
        if rawValue.hasPrefix("canary-"), let percent = Int(rawValue.dropFirst("canary-".count)) {
            self = .canary(percent)
            return
        }
        guard let phase = Self.plain.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = phase
    }

    public var rawValue: String {
        switch self {
        case .up: "up"
        case .down: "down"
        case .stage: "stage"
        case .beforeSwitch: "before_switch"
        case .services: "services"
        case .switch: "switch"
        case .analyse: "analyse"
        case .promote: "promote"
        case .rollback: "rollback"
        case .resync: "resync"
        case .verdict: "verdict"
        case .recover: "recover"
        case .canary(let percent): "canary-\(percent)"
        }
    }

    /// Its steps set a canary's weights or make the canary live.
    var movesCanary: Bool {
        switch self {
        case .canary, .promote: true
        default: false
        }
    }
}

/// The names the planners give the steps that move traffic by themselves (`StepAction.movesTraffic`):
/// how a journal written before `moved` is read.
enum TrafficStep: String {
    /// The new configuration over the live files, reloaded after.
    case install
    /// nginx/route/current renamed onto another route.
    case route
}

/// One step as a journal names it: "canary-5/route".
struct JournalStep: Equatable {
    /// nil for a phase this bgctl does not know.
    var phase: JournalPhase?
    var name: String

    init(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        phase = parts.count == 2 ? JournalPhase(rawValue: parts[0]) : nil
        name = parts.last ?? text
    }

}

/// Reads and writes state/journal.json through the file system port.
public struct Journal: Sendable {
    public let paths: StackPaths
    public let files: FileSystem

    public init(paths: StackPaths, files: FileSystem) {
        self.paths = paths
        self.files = files
    }

    public func read() -> JournalEntry? {
        // A journal too large or not a regular file reads as none: it is no operation bgctl wrote.
        ((try? files.read(paths.journalFile, limit: FileLimits.stateFile)) ?? nil).flatMap { try? JSONDecoder().decode(JournalEntry.self, from: $0) }
    }

    func write(_ entry: JournalEntry) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try files.write(String(decoding: try encoder.encode(entry), as: UTF8.self) + "\n", to: paths.journalFile, mode: 0o600)
    }

    func remove() throws { try files.remove(paths.journalFile) }

    /// The journal of an operation whose holder is gone: it exists and nobody holds the stack's lock.
    public func interrupted() -> JournalEntry? {
        guard let entry = read(), StackLock.currentHolder(paths) == nil else { return nil }
        return entry
    }
}

/// One operation's journal while it runs: the executor reports each step before it acts.
final class JournalWriter {
    let journal: Journal
    private(set) var entry: JournalEntry
    /// Prefixes step names, so one journal can hold a deploy's several plans.
    var phase: JournalPhase

    /// The entry is written with its first step, not before: until a step starts nothing was done, so
    /// there is nothing to recover, and a switch saves a write and an fsync before its rename.
    init(journal: Journal, entry: JournalEntry, phase: JournalPhase) throws {
        self.journal = journal
        self.entry = entry
        self.phase = phase
    }

    func starting(_ step: Step) throws {
        if let current = entry.current { entry.done.append(current) }
        entry.current = "\(phase.rawValue)/\(step.name)"
        if step.action.movesTraffic { entry.moved = true }
        try journal.write(entry)
    }

    /// Set when the operation ends in a state nobody chose (a rollback that failed): the journal stays,
    /// so the next mutating command recovers.
    var keep = false

    /// The operation reached a state somebody chose: the journal goes.
    func finish() {
        guard !keep else { return }
        try? journal.remove()
    }
}
