import Foundation

/// The rules for a canary's steps, shared by `deploy.canary` and `bgctl deploy --canary`: each step is
/// the percent of requests the new release gets, an integer 1–99 (0 is no canary and 100 is the
/// promotion, which always follows the last step), strictly increasing, at most `maxSteps` steps.
public enum CanarySteps {
    public static let percents = 1...99
    public static let maxSteps = 10

    public struct Problem: Error, Sendable, Equatable {
        /// The step concerned; nil: the list as a whole.
        public var index: Int?
        public var message: String
    }

    /// What is wrong with a list of percentages (empty when nothing is). Every problem is listed.
    public static func problems(_ steps: [Int]) -> [Problem] {
        var found: [Problem] = []
        if steps.count > maxSteps {
            found.append(Problem(index: nil, message: "at most \(maxSteps) steps, found \(steps.count)"))
        }
        for (index, percent) in steps.enumerated() {
            if !percents.contains(percent) {
                found.append(Problem(index: index, message: "expected a percentage \(percents.lowerBound)–\(percents.upperBound), found \(percent)"))
            } else if index > 0, percents.contains(steps[index - 1]), percent <= steps[index - 1] {
                found.append(Problem(index: index, message: "\(percent) is not above the step before it (\(steps[index - 1])); steps must be strictly increasing"))
            }
        }
        return found
    }

    /// A flag's value: `5,25,50`, or `none` for no canary ([]). A problem for anything else.
    public static func parse(_ text: String) -> Result<[Int], Problem> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "none" { return .success([]) }
        var steps: [Int] = []
        for (index, part) in trimmed.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            guard let value = Syntax.integer(part.trimmingCharacters(in: .whitespaces)) else {
                return .failure(Problem(index: index, message: "expected whole percentages separated by commas (e.g. 5,25,50) or none, found \(Quote.value(String(part)))"))
            }
            steps.append(value)
        }
        if let first = problems(steps).first { return .failure(first) }
        return .success(steps)
    }
}
