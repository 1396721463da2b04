import Foundation
import Testing
@testable import Orchestrator

/// Hooks run as real processes: exactly the environment given, output line by line, the exit status,
/// and a timeout or a stop that reaches the hook's whole process group.
@Suite struct HookProcessTests {
    func run(_ script: String, timeout: Double = 10, environment: [String: String] = ["PATH": "/usr/bin:/bin"],
             cancelled: @escaping @Sendable () -> Bool = { false }) -> (HookOutcome, [String]) {
        var lines: [String] = []
        let outcome = HookProcess().run(["/bin/sh", "-c", script], environment: environment, directory: "/tmp",
                                        timeout: timeout, cancelled: cancelled) { lines.append($0) }
        return (outcome, lines)
    }

    @Test func itSeesExactlyTheEnvironmentItIsGivenAndStartsInItsFolder() {
        let (outcome, lines) = run("env | sort; pwd", environment: ["PATH": "/usr/bin:/bin", "BGCTL_TO": "green"])
        #expect(outcome.succeeded)
        #expect(lines.contains("BGCTL_TO=green") && lines.contains("/tmp"))
        #expect(!lines.contains { $0.hasPrefix("HOME=") || $0.hasPrefix("DB_PASSWORD=") }, "\(lines)")
    }

    @Test func itsOutputComesLineByLineBothStreamsAndTheLastLinesAreKept() {
        let (outcome, lines) = run("for i in $(seq 1 30); do echo out $i; done; echo err >&2; printf 'no newline'")
        #expect(lines.count == 32 && lines[0] == "out 1" && lines[30] == "err" && lines[31] == "no newline")
        #expect(outcome.tail.count == HookProcess.keptLines && outcome.tail.last == "no newline")
    }

    @Test(arguments: [0, 1, 3, 255])
    func itsExitStatusIsReported(_ code: Int32) {
        #expect(run("exit \(code)").0.end == .exited(code))
    }

    @Test func aHookPastItsTimeoutIsStoppedWithEveryProcessItStarted() throws {
        let marker = "/tmp/bgctl-hook-\(UUID().uuidString)"
        let nap = "30.\(Int.random(in: 100_000...999_999))"  // a duration no other process sleeps
        // A child that outlives the shell unless its group is signalled.
        let (outcome, _) = run("(sleep \(nap); touch \(marker)) & sleep \(nap)", timeout: 0.5)
        #expect(outcome.end == .timedOut && outcome.seconds < 7)
        usleep(200_000)
        // pgrep leaves itself out and exits 1 when nothing matches.
        let left = HookProcess().run(["/usr/bin/pgrep", "-f", "sleep \(nap)"], environment: [:], directory: "/tmp", timeout: 5,
                                     cancelled: { false }) { _ in }
        #expect(left.end == .exited(1), "still running: \(left.tail)")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func aStopRequestStopsTheHook() {
        let started = Date()
        let (outcome, _) = run("sleep 30", cancelled: { Date().timeIntervalSince(started) > 0.3 })
        #expect(outcome.end == .stopped && outcome.seconds < 7)
    }

    @Test func aCommandThatCannotStartSaysWhy() {
        let outcome = HookProcess().run(["/nonexistent/hook"], environment: [:], directory: "/tmp", timeout: 5, cancelled: { false }) { _ in }
        guard case .launchFailed(let reason) = outcome.end else { Issue.record("\(outcome)"); return }
        #expect(reason.contains("/nonexistent/hook"))
    }
}
