/// What a failed docker command's stderr says went wrong: the one reader of the engine's wording.
/// Callers decide what each kind means for them (a missing container to remove is done, a missing
/// image to run is `imageMissing`); anything not recognised is `.other`, reported with the stderr.
public enum DockerFailure: Sendable, Equatable {
    /// The client cannot reach the engine.
    case engineUnavailable
    /// A published port is taken on the host.
    case portInUse
    /// The subnet asked for overlaps a network the engine already has.
    case subnetOverlap
    /// The image is not there: not on the host, or the registry refuses or lacks it.
    case imageUnavailable
    /// The container or network named does not exist ("No such container", "network x not found").
    case noSuchObject
    case other

    /// Nil for a command that succeeded (or timed out: its stderr says nothing final).
    public init?(_ result: CommandResult) {
        guard !result.succeeded, !result.timedOut else { return nil }
        let stderr = result.stderr
        if stderr.contains("Cannot connect to the Docker daemon") || stderr.contains("Is the docker daemon running") {
            self = .engineUnavailable
        } else if stderr.contains("port is already allocated") || stderr.contains("address already in use") {
            self = .portInUse
        } else if stderr.contains("overlap") {
            self = .subnetOverlap
        } else if stderr.contains("No such image") || stderr.contains("pull access denied") || stderr.contains("manifest unknown")
                    || stderr.contains("repository does not exist") {
            self = .imageUnavailable
        } else if stderr.contains("No such") || stderr.lowercased().contains(/network \S+ not found/) {
            self = .noSuchObject
        } else {
            self = .other
        }
    }
}

extension CommandResult {
    /// What went wrong, as `DockerFailure` reads stderr; nil when the command succeeded.
    public var failure: DockerFailure? { DockerFailure(self) }

}
