import Foundation
import Testing
@testable import Watcher

/// Events with explicit times: the book never reads a clock.
func event(_ action: ContainerEvent.Action, _ container: String, at seconds: Double, exit: Int? = nil,
           health: ContainerEvent.Health? = nil) -> ContainerEvent {
    let role: ContainerEvent.Role = container.hasSuffix("-proxy") ? .proxy : (container.hasSuffix("-blue") || container.hasSuffix("-green")) ? .pool : .service
    return ContainerEvent(timeNano: Int64(seconds * 1e9), container: container, role: role,
                          pool: role == .pool ? String(container.split(separator: "-").last!) : nil,
                          service: role == .service ? String(container.split(separator: "-").last!) : nil,
                          action: action, exitCode: action == .die ? exit ?? 137 : nil,
                          health: action == .healthStatus ? health ?? .unhealthy : nil)
}

extension ContainerEventBook {
    /// Each event at its own time, then a tick just past the removal grace, as the loop does.
    mutating func feed(_ events: [ContainerEvent], live: String? = "blue") -> [Detection] {
        events.flatMap { e in observe(e, live: live, at: e.time) + tick(now: e.time) }
            + tick(now: (events.last?.time ?? 0) + ContainerEventBook.serviceRemovalGrace)
    }
}

let t0 = 1_795_706_212.0

@Suite struct ContainerEventBookTests {
    @Test func theIdlePoolDyingIsAlertedAsNothingToFailOverTo() throws {
        var book = ContainerEventBook()
        let detections = book.feed([event(.kill, "shop-green", at: t0), event(.die, "shop-green", at: t0 + 0.01)])
        let down = try #require(detections.first)
        #expect(detections.count == 1)
        #expect(down.kind == .idlePoolDown && down.firing && down.pool == "green" && down.live == "blue" && down.subject == "green")
        #expect(down.detail == "exited with code 137")
        #expect(down.at == t0 + 0.01, "the event's own time")
    }

    @Test func theLivePoolDyingIsItsOwnAlert() {
        var book = ContainerEventBook()
        let detections = book.feed([event(.die, "shop-blue", at: t0)], live: "blue")
        #expect(detections.map(\.kind) == [.livePoolDown])
    }

    @Test func aDeathIsDecidedOnlyOnceTheRemovalGraceHasPassed() {
        var book = ContainerEventBook()
        #expect(book.observe(event(.die, "shop-green", at: t0), live: "blue", at: t0).isEmpty)
        #expect(book.tick(now: t0 + ContainerEventBook.removalGrace - 0.001).isEmpty)
        #expect(book.waiting)
        #expect(book.tick(now: t0 + ContainerEventBook.removalGrace).map(\.kind) == [.idlePoolDown])
        #expect(!book.waiting)
    }

    /// up and deploy recreate a pool (rm -f, then run): kill, die, destroy, start. That is no outage.
    @Test func aDeathFollowedByTheContainersRemovalRaisesNothing() {
        var book = ContainerEventBook()
        let detections = book.feed([event(.kill, "shop-green", at: t0), event(.die, "shop-green", at: t0 + 0.02),
                                    event(.destroy, "shop-green", at: t0 + 0.05), event(.start, "shop-green", at: t0 + 0.3)])
        #expect(detections.isEmpty)
    }

    @Test func anOOMKillThenItsDeathIsOneAlertToldAsTheOOM() {
        var book = ContainerEventBook()
        let detections = book.feed([event(.oom, "shop-green", at: t0), event(.die, "shop-green", at: t0 + 0.01)])
        #expect(detections.map(\.detail) == ["was OOM-killed"])
    }

    @Test func anUnhealthyIdlePoolIsDownAtOnceAndBackWhenHealthy() {
        var book = ContainerEventBook()
        let down = book.observe(event(.healthStatus, "shop-green", at: t0, health: .unhealthy), live: "blue", at: t0)
        #expect(down.map(\.kind) == [.idlePoolDown] && down.map(\.detail) == ["turned unhealthy"])
        let back = book.observe(event(.healthStatus, "shop-green", at: t0 + 5, health: .healthy), live: "blue", at: t0 + 5)
        #expect(back.map(\.firing) == [false] && back.map(\.kind) == [.idlePoolDown])
    }

    @Test func aPoolWithoutAHealthCheckIsBackWhenItStarts() {
        var book = ContainerEventBook()
        let detections = book.feed([event(.die, "shop-green", at: t0), event(.start, "shop-green", at: t0 + 2)])
        #expect(detections.map(\.firing) == [true, false])
        #expect(detections.last?.detail == "running again")
    }

    /// A start is not yet healthy: a pool whose health events were seen is back when healthy.
    @Test func aPoolWithAHealthCheckIsBackWhenHealthyNotWhenStarted() {
        var book = ContainerEventBook()
        _ = book.feed([event(.healthStatus, "shop-green", at: t0 - 60, health: .healthy)])
        #expect(book.feed([event(.die, "shop-green", at: t0), event(.start, "shop-green", at: t0 + 1)]).map(\.firing) == [true])
        #expect(book.feed([event(.healthStatus, "shop-green", at: t0 + 4, health: .healthy)]).map(\.firing) == [false])
    }

    @Test func aPoolThatIsDownIsNotAnnouncedAgainByItsNextDeath() {
        var book = ContainerEventBook()
        #expect(book.feed([event(.die, "shop-green", at: t0)]).count == 1)
        #expect(book.feed([event(.die, "shop-green", at: t0 + 1)]).isEmpty)
    }

    @Test func aFiringPoolIsWhatTheRepeatsDescribe() throws {
        var book = ContainerEventBook()
        _ = book.feed([event(.die, "shop-green", at: t0)])
        let current = try #require(book.current(.idlePoolDown, subject: "green", at: t0 + 300))
        #expect(current.at == t0 + 300 && current.firing && current.detail == "exited with code 137")
        #expect(book.current(.idlePoolDown, subject: "blue", at: t0 + 300) == nil)
        #expect(book.current(.livePoolDown, subject: "green", at: t0 + 300) == nil)
    }

    @Test func threeDeathsOfAServiceWithin60SecondsAreACrashLoop() {
        var book = ContainerEventBook()
        let detections = book.feed([event(.die, "shop-worker", at: t0, exit: 1), event(.start, "shop-worker", at: t0 + 1),
                                    event(.die, "shop-worker", at: t0 + 30, exit: 1), event(.start, "shop-worker", at: t0 + 31),
                                    event(.die, "shop-worker", at: t0 + 60, exit: 1)])
        #expect(detections.map(\.kind) == [.crashLoop])
        #expect(detections.first?.subject == "worker" && detections.first?.at == t0 + 60)
        #expect(detections.first?.detail == "it died 3 times within 60 s (last: exited with code 1)")
    }

    @Test func theThirdDeathJustPast60SecondsIsNoCrashLoop() {
        var book = ContainerEventBook()
        let detections = book.feed([event(.die, "shop-worker", at: t0), event(.die, "shop-worker", at: t0 + 30),
                                    event(.die, "shop-worker", at: t0 + 60.001)])
        #expect(detections.isEmpty)
    }

    @Test func twoDeathsAreNoCrashLoop() {
        var book = ContainerEventBook()
        #expect(book.feed([event(.die, "shop-worker", at: t0), event(.die, "shop-worker", at: t0 + 1)]).isEmpty)
    }

    @Test func servicesLoopEachOnTheirOwn() {
        var book = ContainerEventBook()
        let deaths = (0..<3).flatMap { i in [event(.die, "shop-worker", at: t0 + Double(i)), event(.die, "shop-mailer", at: t0 + Double(i) + 0.5)] }
        #expect(Set(book.feed(deaths).map(\.subject)) == ["worker", "mailer"])
    }

    @Test func aCrashLoopEndsOnceTheServiceRan60SecondsWithoutDying() {
        var book = ContainerEventBook()
        _ = book.feed((0..<3).flatMap { i in [event(.die, "shop-worker", at: t0 + Double(i)), event(.start, "shop-worker", at: t0 + Double(i) + 0.1)] })
        #expect(book.tick(now: t0 + 2 + 59.9).isEmpty)
        let resolved = book.tick(now: t0 + 2 + 60)
        #expect(resolved.map(\.firing) == [false] && resolved.map(\.subject) == ["worker"])
    }

    @Test func aServiceThatStaysDeadAfterLoopingStillFires() {
        var book = ContainerEventBook()
        _ = book.feed((0..<3).map { i in event(.die, "shop-worker", at: t0 + Double(i)) })
        #expect(book.tick(now: t0 + 600).isEmpty)
        #expect(book.current(.crashLoop, subject: "worker", at: t0 + 600) != nil)
    }

    @Test func theProxyDyingIsTheProxyRestartedResolvedWhenItStarts() {
        var book = ContainerEventBook()
        let detections = book.feed([event(.die, "shop-proxy", at: t0, exit: 1), event(.start, "shop-proxy", at: t0 + 0.2),
                                    event(.restart, "shop-proxy", at: t0 + 0.21)])
        #expect(detections.map(\.kind) == [.proxyRestarted, .proxyRestarted])
        #expect(detections.map(\.firing) == [true, false])
        #expect(detections.first?.detail == "its container exited with code 1")
    }

    @Test func theWatchersAndTheEventsContainersOwnEventsRaiseNothing() {
        var book = ContainerEventBook()
        let watcher = ContainerEvent(timeNano: Int64(t0 * 1e9), container: "shop-watcher", role: .watcher, action: .die, exitCode: 137)
        let events = ContainerEvent(timeNano: Int64(t0 * 1e9), container: "shop-events", role: .events, action: .die, exitCode: 0)
        #expect(book.feed([watcher, events]).isEmpty)
    }
}

/// The book's detections through the AlertBook: cooldown and subjects.
@Suite struct ContainerEventAlertTests {
    @Test func aPoolThatDiesAgainWithinTheCooldownIsNotAnnouncedAgain() {
        var events = ContainerEventBook()
        var alerts = AlertBook(cooldown: 60)
        let detections = events.feed([event(.die, "shop-green", at: t0), event(.start, "shop-green", at: t0 + 1),
                                      event(.die, "shop-green", at: t0 + 10), event(.start, "shop-green", at: t0 + 11),
                                      event(.die, "shop-green", at: t0 + 70)])
        let sent = detections.flatMap { alerts.process($0, maintenance: false) }
        #expect(sent.map(\.state) == [.firing, .resolved, .firing])
        #expect(sent.map(\.detection.at) == [t0, t0 + 1, t0 + 70])
    }

    @Test func twoSubjectsOfOneKindFireAndResolveApart() {
        var alerts = AlertBook(cooldown: 60)
        func loop(_ name: String, _ firing: Bool, _ at: Double) -> Detection {
            Detection(kind: .crashLoop, firing: firing, at: at, figures: .none, pool: "", live: "", samples: [], detail: "d", subject: name)
        }
        #expect(alerts.process(loop("worker", true, t0), maintenance: false).map(\.state) == [.firing])
        #expect(alerts.process(loop("mailer", true, t0 + 1), maintenance: false).map(\.state) == [.firing], "another service is its own alert")
        #expect(alerts.process(loop("worker", false, t0 + 90), maintenance: false).map(\.state) == [.resolved])
        #expect(alerts.isFiring(.crashLoop) && alerts.isFiring(.crashLoop, subject: "mailer") && !alerts.isFiring(.crashLoop, subject: "worker"))
        let repeats = alerts.tick(now: t0 + 61, current: { kind, subject in loop(subject, true, t0 + 61) }, maintenance: false)
        #expect(repeats.map(\.detection.subject) == ["mailer"])
    }

    @Test func theIdlePoolAlertSaysThereIsNothingToFailOverTo() throws {
        var events = ContainerEventBook()
        let down = try #require(events.feed([event(.die, "shop-green", at: t0)]).first)
        let settings = WatchSettings(project: "shop")
        let firing = AlertNotification(state: .firing, detection: down, suppressed: false)
        #expect(AlertMessage.headline(firing, settings: settings)
                == "shop: the idle pool green is down (exited with code 137): a failover has nothing to fail over to")
        let webhook = AlertMessage.webhookPayload(firing, settings: settings)
        #expect(webhook["kind"] as? String == "idle_pool_down" && webhook["pool"] as? String == "green" && webhook["subject"] as? String == "green")
        let slack = AlertMessage.slackPayload(firing, settings: settings)
        #expect((slack["text"] as? String)?.contains("nothing to fail over to") == true)
    }

    @Test func everyEventKindHasAHeadlineForEachState() {
        let settings = WatchSettings(project: "shop")
        for kind in AlertKind.allCases where kind.isContainerEvent {
            for state in [AlertNotification.State.firing, .repeating, .resolved] {
                let d = Detection(kind: kind, firing: state != .resolved, at: t0, figures: .none, pool: "green", live: "blue",
                                  samples: [], detail: "exited with code 1", subject: "green")
                let text = AlertMessage.headline(AlertNotification(state: state, detection: d, suppressed: false), settings: settings)
                #expect(text.hasPrefix("shop: ") && text.contains("exited with code 1"), "\(kind) \(state): \(text)")
            }
        }
    }
}

@Suite struct ContainerEventMetricsTests {
    @Test func eventsAreCountedByRoleAndAction() {
        let metrics = WatchMetrics(version: "t", targets: [])
        metrics.containerEvent(event(.die, "shop-green", at: t0))
        metrics.containerEvent(event(.die, "shop-blue", at: t0))
        metrics.containerEvent(event(.healthStatus, "shop-blue", at: t0, health: .unhealthy))
        metrics.containerEvent(event(.start, "shop-proxy", at: t0))
        let lines = samples(metrics.rendered())
        #expect(lines["bgctl_container_events_total{role=\"pool\",action=\"die\"}"] == "2")
        #expect(lines["bgctl_container_events_total{role=\"pool\",action=\"unhealthy\"}"] == "1")
        #expect(lines["bgctl_container_events_total{role=\"proxy\",action=\"start\"}"] == "1")
    }
}

/// A service retired by a switch (`docker stop`, then `docker rm` seconds later) is no crash.
@Suite struct ServiceRetirementTests {
    @Test func threeServiceDeathsEachRemovedWithinFiveSecondsAreNoCrashLoop() {
        var book = ContainerEventBook()
        var detections: [Detection] = []
        let t0 = 1_800_000_000.0
        for replica in 1...3 {
            let name = "shop-blue-worker\(replica)"
            let died = t0 + Double(replica)
            detections += book.observe(event(.die, name, at: died), live: "green", at: died)
            detections += book.tick(now: died + 4.9)
            detections += book.observe(event(.destroy, name, at: died + 4.9), live: "green", at: died + 4.9)
        }
        detections += book.tick(now: t0 + 60)
        #expect(detections.isEmpty, "\(detections.map(\.kind))")
    }

    @Test func aServiceDeathNotRemovedWithinFiveSecondsIsADeath() {
        var book = ContainerEventBook()
        let t0 = 1_800_000_000.0
        #expect(book.observe(event(.die, "shop-blue-worker", at: t0), live: "blue", at: t0).isEmpty)
        #expect(book.tick(now: t0 + ContainerEventBook.serviceRemovalGrace - 0.001).isEmpty && book.waiting)
        _ = book.tick(now: t0 + ContainerEventBook.serviceRemovalGrace)
        #expect(!book.waiting, "decided")
    }
}
