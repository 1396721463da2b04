import Testing
@testable import Watcher

/// When the watcher moves traffic off a live pool that stopped answering, and when it does not.
@Suite struct LiveGuardTests {
    @Test func twoFailedProbesInARowWithTheOtherPoolAnsweringMoveTheRoute() {
        var guardState = LiveGuard(failures: 2)
        #expect(guardState.observe(live: "blue", other: "green", canary: false, liveAnswered: false, otherAnswered: true) == .none)
        #expect(guardState.observe(live: "blue", other: "green", canary: false, liveAnswered: false, otherAnswered: true) == .move(from: "blue", to: "green"))
        #expect(guardState.holding)
    }

    @Test func oneFailedProbeIsNotAHungPool() {
        var guardState = LiveGuard(failures: 2)
        _ = guardState.observe(live: "blue", other: "green", canary: false, liveAnswered: false, otherAnswered: true)
        #expect(guardState.observe(live: "blue", other: "green", canary: false, liveAnswered: true, otherAnswered: false) == .none)
        #expect(guardState.observe(live: "blue", other: "green", canary: false, liveAnswered: false, otherAnswered: true) == .none)
    }

    @Test func noMoveWhenTheOtherPoolDoesNotAnswerEither() {
        var guardState = LiveGuard(failures: 2)
        for _ in 0..<5 {
            #expect(guardState.observe(live: "blue", other: "green", canary: false, liveAnswered: false, otherAnswered: false) == .none)
        }
        // The streak stands: the first probe the other pool answers moves the route.
        #expect(guardState.observe(live: "blue", other: "green", canary: false, liveAnswered: false, otherAnswered: true) == .move(from: "blue", to: "green"))
    }

    @Test func aCanaryIsNeverMovedByTheWatcher() {
        var guardState = LiveGuard(failures: 1)
        #expect(guardState.observe(live: "blue", other: "green", canary: true, liveAnswered: false, otherAnswered: true) == .none)
    }

    @Test func onceMovedItNeverMovesBackWhenTheOldPoolRecoversOrTheNewOneFails() {
        var guardState = LiveGuard(failures: 1)
        #expect(guardState.observe(live: "blue", other: "green", canary: false, liveAnswered: false, otherAnswered: true) == .move(from: "blue", to: "green"))
        for _ in 0..<5 {
            #expect(guardState.observe(live: "green", other: "blue", canary: false, liveAnswered: false, otherAnswered: true) == .none)
        }
    }

    @Test func aPersonsSwitchAfterTheMoveReleasesItAndTheGuardWatchesAgain() {
        var guardState = LiveGuard(failures: 1)
        _ = guardState.observe(live: "blue", other: "green", canary: false, liveAnswered: false, otherAnswered: true)
        #expect(guardState.observe(live: "blue", other: "green", canary: false, liveAnswered: true, otherAnswered: false) == .released(from: "blue", to: "green"))
        #expect(!guardState.holding)
        #expect(guardState.observe(live: "blue", other: "green", canary: false, liveAnswered: false, otherAnswered: true) == .move(from: "blue", to: "green"))
    }

    @Test func aMoveThatDidNotTakeIsForgotten() {
        var guardState = LiveGuard(failures: 1)
        _ = guardState.observe(live: "blue", other: "green", canary: false, liveAnswered: false, otherAnswered: true)
        guardState.forget()
        #expect(!guardState.holding)
    }

    @Test func theRouteMoveAlertSaysWhatHappenedAndResolvesWhenAPersonSwitches() {
        let settings = WatchSettings(project: "shop")
        let firing = AlertNotification(state: .firing, detection: .routeMoved(from: "blue", to: "green", firing: true, at: 1), suppressed: false)
        #expect(AlertMessage.headline(firing, settings: settings).contains("the live pool blue stopped answering its health path; the watcher moved traffic to green"))
        var book = AlertBook(cooldown: 60)
        #expect(book.process(.routeMoved(from: "blue", to: "green", firing: true, at: 1), maintenance: false).map(\.state) == [.firing])
        #expect(book.process(.routeMoved(from: "blue", to: "green", firing: false, at: 9), maintenance: false).map(\.state) == [.resolved])
    }
}
