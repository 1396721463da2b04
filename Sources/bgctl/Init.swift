import ArgumentParser
import Foundation
import NginxConfigGen
import Support

extension Bgctl {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a commented bgctl.yaml for your image that validates as written (never overwrites).",
            discussion: """
            Examples:
              bgctl init --image registry.example.com/shop:1.4 --port 8000 --health /ready
              bgctl -f deploy/bgctl.yaml init --image shop:latest --project shop
            """)

        @OptionGroup var spec: SpecOptions
        @OptionGroup var output: OutputOptions
        static let defaultImage = ImageArgument(reference: "my-app:latest")
        // With a transform argument-parser shows no default: the help says it.
        @Option(help: "The app's image (both pools start with it; default: \(defaultImage)).", transform: ImageArgument.parse)
        var image = defaultImage
        @Option(help: "The port the app listens on inside its container.") var port = 3000
        @Option(help: "The app's health path (answers 2xx when it can take traffic).") var health = "/healthz"
        @Option(help: "The project name (container, network and log names derive from it; default: the folder's name).")
        var project: String?
        @Flag(help: "Print the result as one JSON object (schema 1).") var json = false

        func validate() throws {
            guard (1...65535).contains(port) else { throw ValidationError("--port: expected 1–65535") }
            guard Syntax.isURLPathValue(health) else { throw ValidationError("--health: expected a path such as /healthz") }
            if let project, !Syntax.isProjectNameValue(project) {
                throw ValidationError("--project: lowercase letters, digits, - and _ (starting with a letter or digit)")
            }
        }

        func run() throws {
            try reporting(json: json ? "init" : nil) {
                let path = spec.path
                let name = project ?? Self.projectName(from: spec.directory)
                let text = Self.text(project: name, image: image.reference, port: port, health: health)
                // Checked before anything is written: what init writes validates as written.
                _ = try SpecLoader.parse(yaml: text, file: path, variables: [:]).get()
                let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
                guard fd >= 0 else {
                    throw CLIError.failed(errno == EEXIST ? "\(path) exists; bgctl init never overwrites a spec (remove it, or use -f OTHER.yaml)"
                                                          : "cannot create \(path): \(String(cString: strerror(errno)))")
                }
                let bytes = Array(text.utf8)
                let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
                guard written == bytes.count else { throw CLIError.failed("cannot write \(path)") }
                if json {
                    JSONOutput.print("init", ["ok": true, "file": path, "project": name, "image": image.reference])
                } else {
                    Terminal.stdout("init: wrote \(path) (project \(name)); next: bgctl -f \(path) validate, then bgctl -f \(path) up")
                }
            }
        }

        /// The folder's name made a project name ([a-z0-9][a-z0-9_-]*), else "app".
        static func projectName(from directory: String) -> String {
            let base = URL(fileURLWithPath: directory).standardizedFileURL.lastPathComponent.lowercased()
            let kept = String(base.unicodeScalars.filter { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" || $0 == "_" }.prefix(40))
            guard let first = kept.unicodeScalars.first, (first >= "a" && first <= "z") || (first >= "0" && first <= "9") else { return "app" }
            return kept
        }

        static func text(project: String, image: String, port: Int, health: String) -> String {
            """
            # bgctl.yaml — blue-green for \(project). Reference: the README's "The spec" section.
            # bgctl validate checks it; bgctl up starts it; bgctl deploy --image NEW ships a release.
            version: 1
            project: \(project)              # names: \(project)-blue, \(project)-green, \(project)-proxy, \(project)-net
            pull: missing                 # missing | always | never

            proxy:
              image: nginx:1.28           # the official image (pulled once); any nginx >= 1.19.5 works
              listen: "0.0.0.0:8080"      # where clients connect
              connect_timeout: 250ms      # a stopped pool costs a request at most this
              read_timeout: 3s            # set just above your slowest normal response
              # tls: {listen: "0.0.0.0:8443", cert: fullchain.pem, key: privkey.pem}   # HTTPS; plain HTTP then redirects

            app:
              port: \(port)                  # the port your app listens on in its container
              health: {path: "\(health)", interval: 5s, timeout: 3s, retries: 3, start_period: 10s}
              env: {}                     # shared by both pools; ${VAR} reads the environment or .env

            pools:
              blue:  {image: "\(image)", release: "initial", preview_port: 8081}
              green: {image: "\(image)", release: "initial", preview_port: 8082}
            active: blue                  # the live pool when the stack is first brought up

            # Alerts: set SLACK_WEBHOOK_URL (in the environment or .env) and a watcher container runs.
            alerts:
              slack: {webhook_url: "${SLACK_WEBHOOK_URL:-}"}

            deploy:
              analyze: 60s                # how long a new release is watched before it is promoted
              canary: []                  # e.g. [5, 25, 50]: move traffic in steps, each judged against the live pool
              step: 60s                   # how long each canary step is watched

            logs: {max_size: 100MiB, keep: 5}
            state_dir: .bgctl             # state, logs and history, beside this file

            """
        }
    }
}
