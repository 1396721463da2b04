import Foundation
import Testing
@testable import Watcher

/// The events line both sides check: what the events container writes, the watcher reads back, and
/// a line with any one field out of bounds is no event at all.
@Suite struct ContainerEventLineTests {
    static let valid = #"{"action":"die","container":"shop-green","exit_code":137,"pool":"green","role":"pool","time_nano":1795706212123456789}"#

    @Test func aWrittenLineReadsBackAsTheSameEvent() throws {
        let event = ContainerEvent(timeNano: 1_795_706_212_123_456_789, container: "shop-green", role: .pool, pool: "green",
                                   action: .die, exitCode: 137)
        #expect(event.line == Self.valid)
        #expect(ContainerEvent.parse(Self.valid) == event)
        let health = ContainerEvent(timeNano: 1_795_706_212_000_000_000, container: "shop-blue", role: .pool, pool: "blue",
                                    action: .healthStatus, health: .unhealthy)
        #expect(ContainerEvent.parse(try #require(health.line)) == health)
        let service = ContainerEvent(timeNano: 1_795_706_212_000_000_000, container: "shop-worker-1", role: .service, service: "worker",
                                     action: .start)
        #expect(ContainerEvent.parse(try #require(service.line)) == service)
    }

    @Test func keysTheWatcherDoesNotKnowAreIgnored() {
        let line = Self.valid.replacingOccurrences(of: "{", with: #"{"later":"field","#)
        #expect(ContainerEvent.parse(line)?.container == "shop-green")
    }

    /// Each line differs from the valid one in one field only.
    @Test(arguments: [
        ("the action is not in the list", #""action":"die""#, #""action":"pause""#),
        ("the action is not a string", #""action":"die""#, #""action":1"#),
        ("the role is not bgctl's", #""role":"pool""#, #""role":"database""#),
        ("the container name starts with a dash", #""container":"shop-green""#, #""container":"-shop""#),
        ("the container name has a slash", #""container":"shop-green""#, #""container":"shop/green""#),
        ("the container name has a space", #""container":"shop-green""#, #""container":"shop green""#),
        ("the container name has a quote", #""container":"shop-green""#, #""container":"shop\"green""#),
        ("the container name has a newline", #""container":"shop-green""#, #""container":"shop\ngreen""#),
        ("the container name is empty", #""container":"shop-green""#, #""container":"""#),
        ("the container name is 129 bytes", #""container":"shop-green""#, "\"container\":\"\(String(repeating: "a", count: 129))\""),
        ("the exit code is a string", #""exit_code":137"#, #""exit_code":"137""#),
        ("the exit code is a fraction", #""exit_code":137"#, #""exit_code":137.5"#),
        ("the exit code is a whole double", #""exit_code":137"#, #""exit_code":137.0"#),
        ("the exit code is a boolean", #""exit_code":137"#, #""exit_code":true"#),
        ("the exit code is past Int32", #""exit_code":137"#, #""exit_code":2147483648"#),
        ("the pool is not blue or green", #""pool":"green""#, #""pool":"red""#),
        ("the pool is missing on a pool", #","pool":"green""#, ""),
        ("the time is a string", #""time_nano":1795706212123456789"#, #""time_nano":"1795706212123456789""#),
        ("the time is before 2000", #""time_nano":1795706212123456789"#, #""time_nano":946684799999999999"#),
        ("the time is missing", #","time_nano":1795706212123456789"#, ""),
    ])
    func aLineWithOneFieldOutOfBoundsIsNoEvent(_ why: String, _ field: String, _ replacement: String) {
        let line = Self.valid.replacingOccurrences(of: field, with: replacement)
        #expect(line != Self.valid, "\(why): the test changes nothing")
        #expect(ContainerEvent.parse(line) == nil, "\(why): \(line)")
    }

    @Test(arguments: [
        ("an exit code on a start", #"{"action":"start","container":"shop-blue","exit_code":0,"pool":"blue","role":"pool","time_nano":1795706212000000000}"#),
        ("a health event without a status", #"{"action":"health_status","container":"shop-blue","pool":"blue","role":"pool","time_nano":1795706212000000000}"#),
        ("a health status not in the list", #"{"action":"health_status","container":"shop-blue","health":"starting","pool":"blue","role":"pool","time_nano":1795706212000000000}"#),
        ("a status on a die", #"{"action":"die","container":"shop-blue","health":"healthy","pool":"blue","role":"pool","time_nano":1795706212000000000}"#),
        ("a pool on the proxy", #"{"action":"die","container":"shop-proxy","pool":"blue","role":"proxy","time_nano":1795706212000000000}"#),
        ("a service name with a slash", #"{"action":"die","container":"shop-worker","role":"service","service":"a/b","time_nano":1795706212000000000}"#),
        ("a service name on a pool", #"{"action":"die","container":"shop-blue","pool":"blue","role":"pool","service":"x","time_nano":1795706212000000000}"#),
        ("not an object", #"["die"]"#),
        ("not JSON", #"{"action":"die""#),
        ("empty", ""),
    ])
    func fieldsThatDoNotBelongTogetherAreNoEvent(_ why: String, _ line: String) {
        #expect(ContainerEvent.parse(line) == nil, "\(why)")
    }

    @Test func aContainerNameOf128BytesIsAcceptedAnd129IsNot() {
        let at128 = ContainerEvent(timeNano: 1_795_706_212_000_000_000, container: String(repeating: "a", count: 128), role: .proxy, action: .start)
        #expect(at128.line.flatMap(ContainerEvent.parse) == at128)
        var at129 = at128
        at129.container += "a"
        #expect(at129.line == nil, "the writer refuses what the reader would")
    }

    @Test func aLineOverTheBoundIsDroppedUnread() {
        let padded = Self.valid.replacingOccurrences(of: "{", with: "{\"pad\":\"\(String(repeating: "x", count: ContainerEvent.maxLine))\",")
        #expect(ContainerEvent.parse(padded) == nil)
        let fits = Self.valid.replacingOccurrences(of: "{", with: "{\"pad\":\"\(String(repeating: "x", count: ContainerEvent.maxLine - Self.valid.utf8.count - 10))\",")
        #expect(fits.utf8.count <= ContainerEvent.maxLine)
        #expect(ContainerEvent.parse(fits) != nil)
    }

    @Test func exitCodesAtInt32sBoundsAreAccepted() {
        for code in [Int(Int32.min), -1, 0, 255, Int(Int32.max)] {
            let line = Self.valid.replacingOccurrences(of: "\"exit_code\":137", with: "\"exit_code\":\(code)")
            #expect(ContainerEvent.parse(line)?.exitCode == code, "\(code)")
        }
    }
}
