import CBuildInfo

/// bgctl's version and where the binary came from, as `bgctl --version` prints it.
enum BuildInfo {
    static let version = "0.2.0"

    /// The commit the build was made from (12 hex digits, "-dirty" with local changes), or "unknown".
    static var commit: String { String(cString: bgctl_build_commit()) }

    /// The build day, YYYY-MM-DD, or nil when the build did not say.
    static var date: String? {
        let day = String(cString: bgctl_build_date())
        return day.isEmpty ? nil : day
    }

    /// `bgctl 0.2.0 (commit 1a2b3c4d5e6f, built 2026-11-27)`; `(commit unknown)` from a plain `swift build`.
    static var versionLine: String {
        "bgctl \(version) (commit \(commit)\(date.map { ", built \($0)" } ?? ""))"
    }
}
