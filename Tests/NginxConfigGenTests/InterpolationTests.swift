import Testing
@testable import NginxConfigGen

@Suite struct InterpolationTests {
    let interpolator = Interpolator(variables: ["SET": "value", "EMPTY": "", "PORT": "8080"])

    @Test(arguments: [
        ("plain text", "plain text"),
        ("${SET}", "value"),
        ("$SET/x", "value/x"),
        ("a-${SET}-b", "a-value-b"),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${UNSET-fallback}", "fallback"),
        ("${SET:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${UNSET+alt}", ""),
        ("${UNSET:-${PORT}}", "8080"),
        ("$$SET", "$SET"),
        ("cost: $$5", "cost: $5"),
        ("trailing $", "trailing $"),
        ("${SET:?must be set}", "value"),
    ])
    func expandsLikeCompose(input: String, expected: String) throws {
        let result = try interpolator.interpolate(input).get()
        #expect(result.value == expected)
    }

    @Test func reportsUnsetVariablesReferencedWithoutDefault() throws {
        let result = try interpolator.interpolate("${NOPE}:$ALSO_NOPE").get()
        #expect(result.value == ":")
        #expect(result.unset == ["NOPE", "ALSO_NOPE"])
    }

    @Test(arguments: [
        ("${UNSET:?set UNSET to the image}", "UNSET: set UNSET to the image"),
        ("${EMPTY:?}", "required variable EMPTY is not set"),
        ("${UNSET?}", "required variable UNSET is not set"),
        ("${OPEN", "unterminated \"${\" at character 1 of the value; close it with \"}\" or write \"$$\" for a literal $"),
        ("ab${1BAD}", "invalid variable reference at character 3 of the value; expected ${NAME}, ${NAME:-default}, ${NAME:?message} or ${NAME:+alternative}"),
        ("${SET!x}", "invalid variable reference at character 1 of the value; expected ${NAME}, ${NAME:-default}, ${NAME:?message} or ${NAME:+alternative}"),
    ])
    func failsWithAMessage(input: String, message: String) {
        #expect(throws: Interpolator.Failure(message: message)) { try interpolator.interpolate(input).get() }
    }

    @Test func dotEnvReadsCommentsExportsAndQuotes() throws {
        let text = """
        # comment
        export A=1
        B = two words # trailing comment
        C='single $quoted'
        D="line\\nbreak"

        E=
        """
        let values = try DotEnv.parse(text).get()
        #expect(values == ["A": "1", "B": "two words", "C": "single $quoted", "D": "line\nbreak", "E": ""])
    }

    @Test func dotEnvRejectsALineWithoutEquals() {
        #expect(throws: DotEnv.Failure(line: 2, message: "expected NAME=VALUE (the line is not shown: it may hold a secret)")) { try DotEnv.parse("A=1\nnonsense").get() }
    }
}

@Suite struct DurationTests {
    @Test(arguments: [("500ms", 500), ("2s", 2000), ("5m", 300_000), ("1h", 3_600_000), ("1m30s", 90_000), ("10", 10_000), ("0s", 0)])
    func parses(text: String, milliseconds: Int) {
        #expect(SpecDuration(parsing: text)?.milliseconds == milliseconds)
    }

    @Test(arguments: ["", "5 minutes", "2x", "ms", "-1s", "1.5s", "s5"])
    func rejects(text: String) {
        #expect(SpecDuration(parsing: text) == nil)
    }
}
