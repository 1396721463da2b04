import Foundation

/// What `docker container inspect` says about one container, reduced to what bgctl reads.
public struct ContainerInfo: Sendable, Equatable {
    public var name: String
    public var id: String
    /// created, running, restarting, exited, paused, dead.
    public var state: String
    /// healthy, unhealthy, starting; nil when the container has no health check.
    public var health: String?
    public var healthLog: [String]
    public var image: String
    public var labels: [String: String]
    public var startedAt: Date?
    public var exitCode: Int
    /// PID 1 of the container as the engine's host sees it; 0 when not running.
    public var pid: Int = 0
    /// The networks it is attached to (the shared front joins each of its projects' networks).
    public var networks: Set<String> = []

    public var isRunning: Bool { state == "running" }
    /// Running and, when it has a health check, healthy.
    public var isHealthy: Bool { isRunning && (health == nil || health == "healthy") }

    /// Parses the JSON array `docker container inspect` prints (also when some names were missing).
    public static func parseInspect(_ json: String) -> [ContainerInfo] {
        guard let data = json.data(using: .utf8),
              let array = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [] }
        return array.compactMap { object in
            guard let rawName = object["Name"] as? String else { return nil }
            let state = object["State"] as? [String: Any] ?? [:]
            let config = object["Config"] as? [String: Any] ?? [:]
            let health = state["Health"] as? [String: Any]
            let log = (health?["Log"] as? [[String: Any]] ?? []).compactMap { entry -> String? in
                guard let output = entry["Output"] as? String else { return nil }
                let code = entry["ExitCode"] as? Int ?? -1
                return "exit \(code): \(output.trimmingCharacters(in: .whitespacesAndNewlines))"
            }
            return ContainerInfo(
                name: rawName.hasPrefix("/") ? String(rawName.dropFirst()) : rawName,
                id: object["Id"] as? String ?? "",
                state: state["Status"] as? String ?? "unknown",
                health: health?["Status"] as? String,
                healthLog: log,
                image: config["Image"] as? String ?? "",
                labels: config["Labels"] as? [String: String] ?? [:],
                startedAt: (state["StartedAt"] as? String).flatMap(Self.parseDate),
                exitCode: state["ExitCode"] as? Int ?? 0,
                pid: state["Pid"] as? Int ?? 0,
                networks: Set(((object["NetworkSettings"] as? [String: Any])?["Networks"] as? [String: Any] ?? [:]).keys)
            )
        }
    }

    /// Docker prints nanoseconds: `2026-11-26T10:00:00.123456789Z`.
    static func parseDate(_ text: String) -> Date? { ISOTime.parse(text) }
}

/// What `docker network inspect` says about one network, reduced to what bgctl reads.
struct NetworkInfo {
    var labels: [String: String]
    var subnets: [String]

    init?(inspectOutput: String) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(inspectOutput.utf8)) as? [[String: Any]])?.first else { return nil }
        labels = object["Labels"] as? [String: String] ?? [:]
        let configs = ((object["IPAM"] as? [String: Any])?["Config"] as? [[String: Any]]) ?? []
        subnets = configs.compactMap { $0["Subnet"] as? String }
    }
}

/// The proxy's nginx workers as `docker top` lists them.
struct ProxyWorkers: Equatable {
    /// Workers that accept connections: not (yet) told to shut down.
    var accepting: Set<String>
    var shuttingDown: Set<String>

    /// Nil when the listing is missing, failed, or has no PID column.
    init?(top result: CommandResult?) {
        guard let result, result.succeeded else { return nil }
        let lines = result.stdout.split(separator: "\n")
        guard let header = lines.first?.split(whereSeparator: { $0 == " " || $0 == "\t" }),
              let column = header.firstIndex(of: "PID") else { return nil }
        accepting = []
        shuttingDown = []
        for line in lines.dropFirst() where line.contains("nginx: worker process") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count > column else { continue }
            let pid = String(fields[column])
            if line.contains("is shutting down") { shuttingDown.insert(pid) } else { accepting.insert(pid) }
        }
    }
}
