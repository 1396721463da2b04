import Foundation
import Testing
@testable import Watcher

/// A folder of real files named like the proxy's logs; each file's contents name where it came from.
final class LogFolder: @unchecked Sendable {
    let dir: String
    let log: String
    let files = LocalRotationFiles()

    init() {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("bgctl-rotate-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        log = dir + "/access.log"
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    func put(_ name: String, _ text: String) {
        FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(text.utf8))
    }

    /// Log file name → contents, lock file left out.
    var contents: [String: String] {
        var result: [String: String] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where !name.hasPrefix(".") {
            result[name] = (try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)) ?? "?"
        }
        return result
    }

    func rotate(maxSize: Int64 = 10, keep: Int) throws -> LogRotation.Outcome {
        try LogRotation.rotate(log, policy: .init(maxSize: maxSize, keep: keep), files: files)
    }
}

@Suite struct LogRotationDecisionTests {
    let policy = LogRotation.Policy(maxSize: 1024, keep: 5)

    @Test func aLogOfExactlyMaxSizeStays() {
        let decision = LogRotation.decide(path: "/l/access.log", size: 1024, rotated: [1, 2], policy: policy)
        #expect(decision.actions.isEmpty && !decision.reopen)
    }

    @Test func oneBytePastMaxSizeShiftsFromTheOldestDownThenRenamesTheLog() {
        let decision = LogRotation.decide(path: "/l/access.log", size: 1025, rotated: [1, 2], policy: policy)
        #expect(decision.actions == [.rename(from: "/l/access.log.2", to: "/l/access.log.3"),
                                     .rename(from: "/l/access.log.1", to: "/l/access.log.2"),
                                     .rename(from: "/l/access.log", to: "/l/access.log.1")])
        #expect(decision.reopen)
    }

    @Test func withEveryFileKeptTheOldestIsOverwrittenByTheOneBelowIt() {
        let decision = LogRotation.decide(path: "/l/access.log", size: 5000, rotated: [1, 2, 3, 4, 5], policy: policy)
        #expect(decision.actions.first == .rename(from: "/l/access.log.4", to: "/l/access.log.5"))
        #expect(decision.actions.count == 5)
    }

    @Test func theShiftStopsAtTheFirstMissingNumber() {
        let decision = LogRotation.decide(path: "/l/access.log", size: 5000, rotated: [1, 2, 4, 5], policy: policy)
        #expect(decision.actions == [.rename(from: "/l/access.log.2", to: "/l/access.log.3"),
                                     .rename(from: "/l/access.log.1", to: "/l/access.log.2"),
                                     .rename(from: "/l/access.log", to: "/l/access.log.1")])
    }

    @Test func filesPastKeepAreRemovedEvenWhenTheLogIsSmall() {
        let decision = LogRotation.decide(path: "/l/access.log", size: 1, rotated: [1, 2, 6, 7], policy: policy)
        #expect(decision.actions == [.remove("/l/access.log.7"), .remove("/l/access.log.6")])
        #expect(!decision.reopen)
    }

    @Test func removalsPerCallAreBounded() {
        let decision = LogRotation.decide(path: "/l/access.log", size: 1, rotated: Set(1...500), policy: policy)
        #expect(decision.actions.count == LogRotation.maxRemovalsPerCall)
        #expect(decision.actions.first == .remove("/l/access.log.500"))
    }

    @Test func aMissingLogBesideARotatedOneOnlyAsksForAReopen() {
        #expect(LogRotation.decide(path: "/l/access.log", size: nil, rotated: [1], policy: policy) == .init(actions: [], reopen: true))
        #expect(LogRotation.decide(path: "/l/access.log", size: nil, rotated: [], policy: policy) == .init(actions: [], reopen: false))
    }

    @Test func onlyPlainNumberedNamesCount() {
        let names = ["access.log", "access.log.1", "access.log.12", "access.log.01", "access.log.1.gz", "access.log.",
                     "error.log.3", ".access.log.rotate-lock", "access.log.x"]
        #expect(LogRotation.rotatedNumbers(in: names, base: "access.log") == [1, 12])
    }
}

@Suite struct LogRotationFileTests {
    @Test func keepOneReplacesTheSingleRotatedFile() throws {
        let folder = LogFolder()
        folder.put("access.log", "second batch")
        folder.put("access.log.1", "first batch")
        let outcome = try folder.rotate(keep: 1)
        #expect(outcome.rotated && outcome.reopen && !outcome.busy)
        #expect(folder.contents == ["access.log.1": "second batch"])
    }

    @Test func keepFiveShiftsEveryFileAndDropsTheOldest() throws {
        let folder = LogFolder()
        folder.put("access.log", "log more than ten bytes")
        for n in 1...5 { folder.put("access.log.\(n)", "was \(n)") }
        _ = try folder.rotate(keep: 5)
        #expect(folder.contents == ["access.log.1": "log more than ten bytes", "access.log.2": "was 1", "access.log.3": "was 2",
                                    "access.log.4": "was 3", "access.log.5": "was 4"])
    }

    @Test func aLogAtMaxSizeIsLeftAlone() throws {
        let folder = LogFolder()
        folder.put("access.log", "0123456789")
        let outcome = try folder.rotate(maxSize: 10, keep: 5)
        #expect(!outcome.rotated && !outcome.reopen)
        #expect(folder.contents == ["access.log": "0123456789"])
    }

    @Test func aLoweredKeepRemovesTheFilesPastIt() throws {
        let folder = LogFolder()
        folder.put("access.log", "small")
        for n in 1...4 { folder.put("access.log.\(n)", "was \(n)") }
        let outcome = try folder.rotate(keep: 2)
        #expect(outcome.removed == 2 && !outcome.rotated)
        #expect(folder.contents == ["access.log": "small", "access.log.1": "was 1", "access.log.2": "was 2"])
    }

    /// Killed after any number of the renames, the next call ends where an uninterrupted one would.
    @Test(arguments: 0...5)
    func aRotationKilledAfterSomeRenamesIsCompletedByTheNextCall(_ done: Int) throws {
        let folder = LogFolder()
        folder.put("access.log", "the current log, past max")
        for n in 1...5 { folder.put("access.log.\(n)", "was \(n)") }
        let decision = LogRotation.decide(path: folder.log, size: 30, rotated: Set(1...5), policy: .init(maxSize: 10, keep: 5))
        #expect(decision.actions.count == 5)
        for case .rename(let from, let to) in decision.actions.prefix(done) { try folder.files.rename(from, to: to) }
        if done < 5 {
            let outcome = try folder.rotate(keep: 5)
            #expect(outcome.rotated && outcome.reopen)
        }
        #expect(folder.contents == ["access.log.1": "the current log, past max", "access.log.2": "was 1", "access.log.3": "was 2",
                                    "access.log.4": "was 3", "access.log.5": "was 4"])
    }

    @Test func aRotationKilledBeforeTheReopenAsksForItAgain() throws {
        let folder = LogFolder()
        folder.put("access.log.1", "renamed, nginx still writing here")
        let outcome = try folder.rotate(keep: 5)
        #expect(!outcome.rotated && outcome.reopen)
        #expect(folder.contents == ["access.log.1": "renamed, nginx still writing here"])
    }

    @Test func aSecondRotatorWaitsItsTurnInsteadOfShiftingTheSameFiles() throws {
        let folder = LogFolder()
        folder.put("access.log", "log more than ten bytes")
        var inner: LogRotation.Outcome?
        let held = try LocalRotationFiles.exclusiveLock(LogRotation.lockPath(for: folder.log)) {
            inner = try folder.rotate(keep: 5)
        }
        #expect(held && inner?.busy == true && inner?.rotated == false)
        #expect(folder.contents == ["access.log": "log more than ten bytes"])
    }
}
