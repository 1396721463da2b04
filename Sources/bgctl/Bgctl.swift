import ArgumentParser
import Foundation
import NginxConfigGen

@main
struct Bgctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bgctl",
        abstract: "Blue-green deployments on a plain Docker host: two pools, one nginx, zero dropped requests.",
        discussion: ExitStatus.help,
        version: "0.1.0",
        subcommands: [Validate.self, Render.self, Up.self, Switch.self, Status.self, Down.self, Watch.self, Maintenance.self, Deploy.self, Rollback.self, Prune.self, Recover.self, History.self, Unlock.self, Init.self]
    )

    /// `-f` given before the subcommand (`bgctl -f FILE switch green`); a subcommand's own `-f` wins.
    @Option(name: [.customShort("f"), .customLong("file")],
            help: ArgumentHelp("The spec to read (default: $BGCTL_FILE, else bgctl.yaml).", valueName: "FILE"))
    var file: String?
}

/// Options every command that reads the spec takes.
struct SpecOptions: ParsableArguments {
    @Option(name: [.customShort("f"), .customLong("file")],
            help: ArgumentHelp("The spec to read (default: $BGCTL_FILE, else bgctl.yaml).", valueName: "FILE"))
    var file: String?

    @ParentCommand var root: Bgctl

    var path: String {
        if let file { return file }
        if let file = root.file { return file }
        if let env = ProcessInfo.processInfo.environment["BGCTL_FILE"], !env.isEmpty { return env }
        return "bgctl.yaml"
    }

    func load() throws -> DeploymentSpec {
        try SpecLoader.load(path: path, environment: ProcessInfo.processInfo.environment).get()
    }

    var directory: String {
        let dir = (path as NSString).deletingLastPathComponent
        return dir.isEmpty ? "." : dir
    }

    /// The built-in templates, or the spec's `templates_dir:` (said on stderr: custom templates are
    /// not checked by bgctl's tests).
    func renderer(for spec: DeploymentSpec) throws -> ConfigRenderer {
        guard let dir = spec.templatesDir else { return try ConfigRenderer.builtin() }
        let folder = dir.hasPrefix("/") ? dir : (directory as NSString).appendingPathComponent(dir)
        Terminal.stderr(Terminal.style("!", .yellow) + " custom templates in use: \(folder) (templates_dir)")
        return try ConfigRenderer(templatesDirectory: folder)
    }
}
