import NginxConfigGen
import Watcher

/// `bgctl maintenance on|off`: the watcher's maintenance.json (it rereads it while running) and a
/// line in the history.
public enum MaintenanceMode {
    /// On when the file says so, else the spec's `watch.maintenance`.
    public static func isOn(_ paths: StackPaths, spec: DeploymentSpec) -> Bool {
        MaintenanceState.load(path: paths.maintenanceFile)?.on ?? spec.watch.maintenance
    }

    public static func set(_ on: Bool, reason: String?, paths: StackPaths, who: String, clock: Clock = .system,
                           files: FileSystem = LocalFileSystem()) throws {
        let now = clock.timestamp()
        try paths.checkFolder()
        try files.createDirectory(paths.watcherDir)
        try MaintenanceState(on: on, by: who, at: now, reason: reason ?? "").save(to: paths.maintenanceFile)
        try StateStore(paths: paths, files: files).append(HistoryEntry(time: now, action: "maintenance", who: who, reason: reason,
                                                                       result: on ? "on" : "off"))
    }
}
