import ArgumentParser
import Foundation
import NginxConfigGen
import Orchestrator

extension Bgctl {
    /// A fleet host's agent: what `<project>-agent` runs on each host of a fleet (bgctl starts it).
    struct Agent: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A fleet host's agent (bgctl runs it inside <project>-agent on each host).",
            discussion: """
            idle: the agent container's own process; waits until stopped.
            serve: one fleet operation's session: requests on stdin, replies on stdout, one line each; it holds
            this host's lock until its input ends, and undoes a flip it was not asked to record.
            """,
            shouldDisplay: false)

        enum Mode: String, ExpressibleByArgument, CaseIterable {
            case idle, serve
        }

        @Argument(help: "idle or serve.") var mode: Mode
        @OptionGroup var options: StackOptions

        func run() throws {
            switch mode {
            case .idle:
                StopSignal.install()
                while !StopSignal.requested { usleep(200_000) }
            case .serve:
                try serve()
            }
        }

        func serve() throws {
            // A signal does not end the session: its end is the coordinator's to decide (end of input).
            signal(SIGPIPE, SIG_IGN)
            let agent = FleetAgent(stack: try options.stack(.live))
            defer { agent.end() }
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            var quiet = 0.0
            // Requests until `end`, end of input, or none for `idleLimit` (a coordinator whose connection
            // died without closing it): then a flip never recorded is undone and the lock goes.
            while quiet < Self.idleLimit {
                var input = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
                guard poll(&input, 1, 1000) > 0 else {
                    quiet += 1
                    continue
                }
                quiet = 0
                let count = read(0, &buffer, buffer.count)
                guard count > 0 else { return }
                pending += buffer[0..<count]
                guard pending.count <= 1 << 20 else { return }
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    guard let request = AgentReply.fields(of: line) else { continue }
                    if request["op"] == "end" {
                        agent.end()
                        Terminal.stdout(AgentReply.line(["ok": "true"]))
                        return
                    }
                    let reply = Self.handle(request, agent: agent, lockWait: options.lockWaitSeconds())
                    Terminal.stdout(AgentReply.line(reply))
                }
            }
            Self.reportIdle()
        }

        /// The longest a session waits for the coordinator's next request.
        static let idleLimit = 180.0

        static func reportIdle() {
            Terminal.stderr("bgctl agent: no request for \(Int(Self.idleLimit)) s; ending the session (an unrecorded flip is undone)")
        }

        /// The deploy a `stage` request carries: its image, release, --env (a JSON object), analysis and reason,
        /// each checked as the deploy command checks its flags.
        static func deployRequest(_ fields: [String: String]) throws -> DeployRequest {
            guard let image = fields["image"], Syntax.isImageReferenceValue(image) else { throw CLIError.failed("stage needs an image") }
            var request = DeployRequest(image: image)
            if let release = fields["release"], !release.isEmpty {
                guard Syntax.isReleaseValue(release) else { throw CLIError.failed("stage: a release label bgctl does not take") }
                request.release = release
            }
            if let env = fields["env"], !env.isEmpty {
                guard let object = try? JSONSerialization.jsonObject(with: Data(env.utf8)) as? [String: String] else {
                    throw CLIError.failed("stage: env is not a JSON object of strings")
                }
                for (name, value) in object {
                    guard let pair = EnvironmentPair(argument: "\(name)=\(value)"), pair.name == name else { throw CLIError.failed("stage: a bad env name") }
                    if let problem = pair.problem { throw CLIError.failed("stage: \(problem)") }
                    request.env[pair.name] = pair.value
                }
            }
            request.analyze = fields["analyze"].flatMap(Double.init)
            request.reason = fields["reason"].map { String($0.prefix(2000)) }
            request.noSwitch = true
            request.canary = []
            return request
        }

        static func handle(_ request: [String: String], agent: FleetAgent, lockWait: Double) -> [String: String] {
            do {
                switch request["op"] {
                case "start":
                    try agent.start(wait: lockWait)
                    return ["ok": "true"]
                case "prepare":
                    guard let target = request["target"].flatMap(Pool.init(rawValue:)) else { return ["ok": "false", "error": "prepare needs a target pool"] }
                    let (live, changes) = try agent.prepare(target: target, force: request["force"] == "true")
                    return ["ok": "true", "live": live.rawValue, "changes": changes ? "true" : "false"]
                case "flip":
                    let seconds = try agent.flip()
                    return ["ok": "true", "ms": String(Int((seconds * 1000).rounded()))]
                case "record":
                    try agent.record()
                    return ["ok": "true"]
                case "unflip":
                    try agent.unflip()
                    return ["ok": "true"]
                case "stage":
                    var steps: [Int]?
                    if let text = request["canary"], !text.isEmpty {
                        let parsed = text.split(separator: ",").compactMap { Int($0) }
                        guard parsed.count == text.split(separator: ",").count, !parsed.isEmpty, parsed.count <= 10,
                              parsed.allSatisfy({ (1...99).contains($0) }), zip(parsed, parsed.dropFirst()).allSatisfy({ $0 < $1 }) else {
                            return ["ok": "false", "error": "stage: canary steps are 1–99, increasing, at most 10"]
                        }
                        steps = parsed
                    }
                    var deploy = try deployRequest(request)
                    if let step = request["step"].flatMap(Double.init), step > 0, step <= 86_400 { deploy.step = step }
                    if let sticky = request["sticky"] { deploy.sticky = sticky == "true" }
                    let (live, target) = try agent.stage(deploy, canarySteps: steps)
                    return ["ok": "true", "live": live.rawValue, "target": target.rawValue]
                case "before_switch":
                    try agent.beforeSwitch()
                    return ["ok": "true"]
                case "analyse":
                    guard let seconds = request["seconds"].flatMap(Double.init), seconds > 0, seconds <= 86_400,
                          let slice = request["slice"].flatMap(Double.init), slice > 0, slice <= 60 else {
                        return ["ok": "false", "error": "analyse needs seconds (at most a day) and a slice (at most 60)"]
                    }
                    let (state, why, figures) = try agent.analyse(seconds: seconds, slice: slice)
                    return FleetFigures.fields(figures).merging(["ok": "true", "state": state.rawValue, "why": why]) { _, own in own }
                case "verdict":
                    guard let result = request["result"].flatMap(DeployOutcome.Result.init(rawValue:)) else {
                        return ["ok": "false", "error": "verdict needs a result"]
                    }
                    try agent.verdict(result, reason: String((request["reason"] ?? "").prefix(2000)), figures: FleetFigures.parse(request),
                                      analysed: request["analysed"].flatMap(Double.init) ?? 0)
                    return ["ok": "true"]
                case "where":
                    let (live, since) = try agent.whereNow()
                    return ["ok": "true", "live": live.rawValue, "since": since ?? ""]
                case "weight":
                    guard let percent = request["percent"].flatMap(Int.init), (0...99).contains(percent) else {
                        return ["ok": "false", "error": "weight needs a percent (0–99)"]
                    }
                    try agent.weight(percent)
                    return ["ok": "true"]
                case "canary_analyse":
                    guard let percent = request["percent"].flatMap(Int.init), (1...99).contains(percent) else {
                        return ["ok": "false", "error": "canary_analyse needs a percent (1–99)"]
                    }
                    let (result, reason) = try agent.analyseStep(percent)
                    return ["ok": "true", "result": result, "why": reason]
                case "agree":
                    guard let pool = request["pool"].flatMap(Pool.init(rawValue:)) else { return ["ok": "false", "error": "agree needs a pool"] }
                    agent.agreeOn(pool)
                    return ["ok": "true"]
                case "previous":
                    return ["ok": "true", "previous": try agent.previous().rawValue]
                default:
                    return ["ok": "false", "error": "unknown request"]
                }
            } catch {
                return ["ok": "false", "error": Failure.report(error).message.map { String($0.prefix(2000)) } ?? "failed"]
            }
        }
    }
}
