import Foundation
import FuzzSupport
import Testing
@testable import NginxConfigGen

/// Property tests of the spec loader on random input. BGCTL_FUZZ_ITERATIONS sets how many inputs
/// each property tries (default 300, a few seconds in all); BGCTL_FUZZ_SEED changes the seed.
@Suite struct SpecFuzzTests {
    static let iterations = ProcessInfo.processInfo.environment["BGCTL_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 300
    static let seed = ProcessInfo.processInfo.environment["BGCTL_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x6267_6374_6C

    /// Generous: a hang detector, not a benchmark. Each input is parsed in milliseconds.
    static let timeBound = Duration.seconds(2)

    static let yamlPieces = ["version", "project", "pools", "blue", "green", "image", "watch", "log", "proxy",
                             "connect_timeout", "env", "alerts", "webhooks", "url", ":", ": ", " ", "  ", "\n", "\n  ",
                             "- ", "[", "]", "{", "}", ", ", "&a ", "*a", "&b ", "*b", "!foo ", "!!str ", "!!int ", "? ",
                             "'", "\"", "# c", "${", "$", "}", ":-", "${A:-", "$$", "\\0", "\\n", "\t", "---\n", "...",
                             "|", ">", "12", "0x1F", "+4", "-1", "007", "9223372036854775808", "1h30m", "٣", "é", "\u{85}",
                             "https://hooks.example/T0/SECRET", "~", "null", "<<: *a"]

    /// `secretsIntact`: the secret URL piece was not cut by mutation, so it must never show.
    static func check(_ yaml: String, variables: [String: String] = [:], secretsIntact: Bool = true) {
        let start = ContinuousClock.now
        let result = SpecLoader.parse(yaml: yaml, file: "fuzz.yaml", variables: variables)
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < timeBound, "took \(elapsed) on \(yaml.debugDescription.prefix(300))")
        if case .failure(let error) = result {
            #expect(!error.issues.isEmpty, "a failure with no issue on \(yaml.debugDescription.prefix(300))")
            #expect(error.issues.count <= SpecError.maxIssues)
            for issue in error.issues {
                #expect(issue.line >= 1 && issue.column >= 1, "\(issue) on \(yaml.debugDescription.prefix(300))")
                #expect(!secretsIntact || !issue.description.contains("SECRET"), "\(issue)")
            }
        }
    }

    @Test func randomYAMLNeverCrashesAndEveryIssueHasAPosition() {
        var random = SplitMix64(seed: Self.seed)
        for _ in 0..<Self.iterations {
            let count = Int.random(in: 1...60, using: &random)
            let yaml = (0..<count).map { _ in Self.yamlPieces.randomElement(using: &random)! }.joined()
            Self.check(yaml, variables: ["A": "x", "SECRET": "https://hooks.example/T0/SECRET"])
        }
    }

    @Test func mutatedValidSpecsNeverCrash() {
        var random = SplitMix64(seed: Self.seed &+ 1)
        let base = Array(baseSpec.unicodeScalars)
        for _ in 0..<Self.iterations {
            var scalars = base
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                let at = Int.random(in: 0..<scalars.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: scalars.remove(at: at)
                case 1: scalars.insert(contentsOf: Self.yamlPieces.randomElement(using: &random)!.unicodeScalars, at: at)
                default: scalars[at] = Unicode.Scalar(UInt8.random(in: 0x20...0x7e, using: &random))
                }
                if scalars.isEmpty { scalars = base }
            }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            // A mutation can split a URL (a space inside it), after which it no longer looks like one.
            Self.check(String(view), secretsIntact: false)
        }
    }

    static let interpolationPieces = ["$", "{", "}", ":-", "-", ":?", "?", ":+", "+", "A", "B", "UNSET", "$$", "x",
                                      "${A:-", "${UNSET:-", "${", "1", " ", "é", "\\"]

    @Test func randomInterpolationNeverCrashesAndStaysBounded() {
        var random = SplitMix64(seed: Self.seed &+ 2)
        let interpolator = Interpolator(variables: ["A": "a", "B": String(repeating: "b", count: 4096), "EMPTY": ""])
        for _ in 0..<(Self.iterations * 4) {
            let count = Int.random(in: 1...80, using: &random)
            var text = (0..<count).map { _ in Self.interpolationPieces.randomElement(using: &random)! }.joined()
            if Bool.random(using: &random) {
                let depth = Int.random(in: 0...40, using: &random)
                text = String(repeating: "${UNSET:-", count: depth) + text + String(repeating: "}", count: depth)
            }
            switch interpolator.interpolate(text) {
            case .success(let result): #expect(result.value.utf8.count <= Interpolator.maxOutputBytes)
            case .failure(let failure): #expect(!failure.message.isEmpty)
            }
        }
    }

    static let digitPieces = ["0", "1", "9", "00", "007", "9223372036854775807", "9223372036854775808", "99999999999999999999",
                              "+", "-", " ", "_", "٣", "１", "²", ".", "e"]

    @Test func randomIntegersParseOnlyWhenCanonical() {
        var random = SplitMix64(seed: Self.seed &+ 3)
        for _ in 0..<(Self.iterations * 4) {
            let text = (0..<Int.random(in: 1...4, using: &random)).map { _ in Self.digitPieces.randomElement(using: &random)! }.joined()
            if let value = Syntax.integer(text) {
                #expect(String(value) == text, "\(text.debugDescription) parsed as \(value)")
            }
        }
    }

    @Test func randomDurationsParseToTheirMillisecondsOrNotAtAll() {
        var random = SplitMix64(seed: Self.seed &+ 4)
        let units: [(String, Int)] = [("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)]
        for _ in 0..<(Self.iterations * 4) {
            // Well-formed combinations, with values from tiny to overflowing.
            var text = ""
            var expected: Int? = 0
            var lastUnit = -1
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let unit = Int.random(in: 0..<4, using: &random)
                let value = [Int.random(in: 0...999, using: &random), Int.random(in: 0...Int.max / 1000, using: &random),
                             Int.random(in: 0...800, using: &random)].randomElement(using: &random)!
                text += "\(value)\(units[unit].0)"
                if unit <= lastUnit { expected = nil }
                lastUnit = unit
                if let sum = expected {
                    let (product, o1) = value.multipliedReportingOverflow(by: units[unit].1)
                    let (total, o2) = sum.addingReportingOverflow(product)
                    expected = o1 || o2 ? nil : total
                }
            }
            if let sum = expected, sum > SpecDuration.maximum.milliseconds { expected = nil }
            let parsed = SpecDuration(parsing: text)
            #expect(parsed?.milliseconds == expected, "\(text)")
            if let parsed {
                #expect(SpecDuration(parsing: parsed.description) == parsed, "\(text) → \(parsed.description)")
            }
            // Noise: signs, spaces, unicode digits, leading zeros; whatever parses stays in range.
            let noise = (0..<Int.random(in: 1...5, using: &random)).map { _ in
                (Self.digitPieces + ["h", "m", "s", "ms"]).randomElement(using: &random)!
            }.joined()
            if let value = SpecDuration(parsing: noise) {
                #expect((0...SpecDuration.maximum.milliseconds).contains(value.milliseconds), "\(noise)")
            }
        }
    }
}
