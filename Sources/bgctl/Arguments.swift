import ArgumentParser
import NginxConfigGen

// Flag values as types, each parsed with the rule of the spec key it stands for, so that a flag and its
// key cannot drift apart. argument-parser's failable `init?(argument:)` cannot say why a value is
// refused, so flags name `parse` as their `transform`: a refused value is a usage error (exit 64),
// "The value '500ms' is invalid for '--analyze <DURATION>': must be at least 1s".

/// Why a flag's value was refused; argument-parser prints it after the value and the flag.
struct ArgumentProblem: Error, CustomStringConvertible {
    let description: String
}

/// A flag's value type with the check that decides it.
protocol CheckedArgument: ExpressibleByArgument {
    static func parse(_ text: String) throws(ArgumentProblem) -> Self
}

extension CheckedArgument {
    init?(argument: String) {
        guard let value = try? Self.parse(argument) else { return nil }
        self = value
    }
}

/// A duration flag: `SpecDuration`'s syntax, at least `minimum`.
protocol DurationArgument: CheckedArgument, CustomStringConvertible {
    static var minimum: SpecDuration { get }
    var duration: SpecDuration { get }
    init(checked: SpecDuration)
}

extension DurationArgument {
    static func parse(_ text: String) throws(ArgumentProblem) -> Self {
        switch SpecDuration.parse(text, atLeast: minimum) {
        case .success(let duration): return Self(checked: duration)
        case .failure(let problem): throw ArgumentProblem(description: problem.message(found: nil))
        }
    }

    var seconds: Double { duration.seconds }
    var description: String { duration.description }
}

/// `deploy --analyze`, `--step` and `rollback --to --analyze`: as deploy.analyze and deploy.step.
struct AnalysisDuration: DurationArgument {
    static let minimum = DeploySpec.shortestAnalysis
    let duration: SpecDuration
    init(checked: SpecDuration) { duration = checked }
}

/// A time limit that must leave some time (`deploy --timeout`, `watch --for`).
struct PositiveDuration: DurationArgument {
    static let minimum = SpecDuration(milliseconds: 1)
    let duration: SpecDuration
    init(checked: SpecDuration) { duration = checked }
}

/// A wait that may be zero: do not wait (`--lock-wait`, `up --timeout`).
struct WaitDuration: DurationArgument {
    static let minimum = SpecDuration.zero
    let duration: SpecDuration
    init(checked: SpecDuration) { duration = checked }
}

/// `deploy --canary 5,25,50` or `none`, with deploy.canary's rules (`CanarySteps`).
struct CanaryStepsArgument: CheckedArgument {
    /// Empty for `none`: a blue-green deploy.
    let steps: [Int]

    static func parse(_ text: String) throws(ArgumentProblem) -> Self {
        switch CanarySteps.parse(text) {
        case .success(let steps): return Self(steps: steps)
        case .failure(let problem): throw ArgumentProblem(description: problem.message)
        }
    }
}

/// An image reference, as the spec's `image:` keys take it.
struct ImageArgument: CheckedArgument, CustomStringConvertible {
    let reference: String

    static func parse(_ text: String) throws(ArgumentProblem) -> Self {
        guard Syntax.isImageReferenceValue(text) else {
            throw ArgumentProblem(description: "not a valid image reference (expected \(Syntax.imageReferenceForm))")
        }
        return Self(reference: text)
    }

    var description: String { reference }
}

/// `--env KEY=VALUE`. Parsing only splits at the first "=": the command checks `problem` in its
/// `validate()`, because argument-parser's own message would show the value, which may be a secret.
struct EnvironmentPair: ExpressibleByArgument {
    let name: String
    let value: String

    init?(argument: String) {
        guard let eq = argument.firstIndex(of: "=") else { return nil }
        name = String(argument[..<eq])
        value = String(argument[argument.index(after: eq)...])
    }

    /// What is wrong, as the spec's env keys are judged; never quotes the value.
    var problem: String? {
        guard Syntax.isEnvironmentNameValue(name) else {
            return "--env: expected KEY=VALUE with a valid variable name, found \"\(Terminal.safe(String(name.prefix(40))))\""
        }
        guard Syntax.isEnvironmentValue(value) else { return "--env \(name): a value cannot hold a line break or NUL" }
        return nil
    }
}
