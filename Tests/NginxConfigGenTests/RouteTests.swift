import Testing
@testable import NginxConfigGen

/// A route's folder name is what bgctl reads back as the route in force: every route has one, and
/// nothing else is taken for one (a planted or half-written entry names no route).
@Suite struct RouteTests {
    /// Every route there is: each live pool alone, and with the other pool as canary at every share,
    /// sticky or not.
    static let everyRoute: [Route] = Pool.allCases.flatMap { live in
        [Route(live: live)] + CanarySteps.percents.flatMap { percent in
            [false, true].map { Route(live: live, canary: CanaryRouting(pool: live.other, percent: percent, sticky: $0)) }
        }
    }

    @Test func everyRouteComesBackFromItsFolderName() {
        #expect(Self.everyRoute.count == 2 * (1 + 99 * 2))
        for route in Self.everyRoute {
            #expect(Route(folderName: route.folderName) == route, "\(route.folderName)")
        }
        #expect(Set(Self.everyRoute.map(\.folderName)).count == Self.everyRoute.count, "no two routes share a folder")
    }

    @Test(arguments: [
        ("blue", Route(live: .blue)),
        ("green", Route(live: .green)),
        ("green+5", Route(live: .green, canary: CanaryRouting(pool: .blue, percent: 5))),
        ("green+5s", Route(live: .green, canary: CanaryRouting(pool: .blue, percent: 5, sticky: true))),
        ("blue+99", Route(live: .blue, canary: CanaryRouting(pool: .green, percent: 99))),
        ("blue+1s", Route(live: .blue, canary: CanaryRouting(pool: .green, percent: 1, sticky: true))),
    ])
    func aFolderNameSaysTheLivePoolThenTheCanarysShareAndStickiness(_ name: String, _ route: Route) {
        #expect(Route(folderName: name) == route)
        #expect(route.folderName == name)
    }

    @Test(arguments: [
        ("purple", "an unknown pool"),
        ("Blue", "a pool's name in another case"),
        ("", "no name at all"),
        ("purple+5", "an unknown pool before a share"),
        ("green+0", "a share of 0"),
        ("green+100", "a share of 100"),
        ("green+05", "a leading zero"),
        ("green+5x", "a suffix other than s"),
        ("green+5ss", "two sticky marks"),
        ("green+", "nothing after +"),
        ("green+s", "a sticky mark without a share"),
        ("green+5+5", "an extra +"),
        ("+5", "no live pool"),
        ("green+-5", "a sign"),
        ("green+٥", "a digit that is not ASCII"),
        ("green.building", "a folder still being built"),
        ("current", "the link itself"),
    ])
    func aNameThatIsNoRouteIsRefused(_ name: String, _ why: String) {
        #expect(Route(folderName: name) == nil, "\(why): \(name)")
    }

    @Test func theLivePoolAloneHoldsOneFileNamedAfterIt() {
        #expect(Route(live: .blue).fileNames == ["blue"])
        #expect(Route(live: .green).fileNames == ["green"])
    }

    @Test func aCanaryHoldsOneBucketFilePerPercentAndStickyWhenSticky() {
        let weighted = Route(live: .green, canary: CanaryRouting(pool: .blue, percent: 3))
        #expect(weighted.fileNames == ["c0", "c1", "c2", "green"])
        let sticky = Route(live: .blue, canary: CanaryRouting(pool: .green, percent: 2, sticky: true))
        #expect(sticky.fileNames == ["blue", "c0", "c1", "sticky"])
    }

    /// The configuration's split hands out buckets 0 … 99; a canary at p% takes exactly p of them.
    @Test(arguments: CanarySteps.percents)
    func aCanaryTakesAsManyBucketsAsItsShare(_ percent: Int) {
        let names = Route(live: .blue, canary: CanaryRouting(pool: .green, percent: percent)).fileNames
        let buckets = names.filter { $0.hasPrefix("c") }
        #expect(buckets.count == percent)
        #expect(Set(buckets) == Set((0..<percent).map { "c\($0)" }))
        #expect(buckets.allSatisfy { Int($0.dropFirst())! < Route.buckets })
        #expect(names == names.sorted())
    }

    @Test func aRouteDescribesItselfForAPerson() {
        #expect(Route(live: .blue).description == "blue live")
        #expect(Route(live: .blue, canary: CanaryRouting(pool: .green, percent: 5)).description == "blue live, canary green 5%, blue 95%")
    }
}
