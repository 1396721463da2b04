import NginxConfigGen
import Watcher

extension Stack {
    /// The rotation policy of the proxy's access log, from `logs`.
    var logPolicy: LogRotation.Policy {
        LogRotation.Policy(maxSize: spec.logs.maxSize.bytes, keep: spec.logs.keep)
    }

    /// Rotates the proxy's access log when it is past `logs.max_size` (see `LogRotation`) and sends
    /// USR1 to nginx through the same signaller as reloads, when the proxy runs (a proxy that starts
    /// later opens a fresh log by itself). Mutating commands call it under the stack's lock; the
    /// rotation's own lock keeps it apart from the watcher's. It never fails the command: a problem is
    /// a warning, and the next command or the watcher's next tick finishes the job. Not in a dry run.
    @discardableResult
    func rotateProxyLog(proxy: ContainerInfo?) -> LogRotation.Outcome? {
        guard dryRun == nil, ports.files.exists(paths.logsDir) else { return nil }
        do {
            let outcome = try LogRotation.rotate(paths.accessLog, policy: logPolicy, files: ports.files)
            if outcome.rotated {
                report(.detail("rotated \(paths.relative(paths.accessLog)) (past \(spec.logs.maxSize); keeping \(spec.logs.keep))"))
            }
            guard outcome.reopen, let proxy, proxy.isRunning else { return outcome }
            let result = try ports.signaller.send(.reopen, to: proxy)
            if !result.succeeded {
                report(.warning("nginx was not told to reopen its log (USR1 to \(proxy.name) failed: \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))); it writes into \(paths.relative(paths.accessLog)).1 until the next command or the watcher retries"))
            }
            return outcome
        } catch {
            report(.warning("\(error); the next command retries"))
            return nil
        }
    }
}
