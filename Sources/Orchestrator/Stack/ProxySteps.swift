import Foundation
import NginxConfigGen

/// The steps that change the proxy's configuration: the candidate in nginx/next/, `nginx -t`, the
/// install over the live files, and the reload.
extension Stack {
    /// Writes the candidate into nginx/next/; the live files are untouched.
    func stage(_ config: RenderedConfig) throws {
        try ports.files.remove(paths.nextDir)
        try write(config, into: paths.nextDir)
    }

    /// `nginx -t` on nginx/next/ inside the proxy; a refused candidate is removed.
    func testCandidate() throws {
        let test = try ports.runner.run(StackPlan.nginxTest(spec, candidate: true), timeout: 30)
        guard test.succeeded else {
            try? ports.files.remove(paths.nextDir)
            throw OrchestratorError.configRejected(detail: (test.stderr + test.stdout).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        report(.done("nginx -t accepted the new configuration"))
        try testWholeSet()
    }

    /// Moves the tested candidate over the live files, one rename each.
    func install(_ config: RenderedConfig) throws {
        defer { try? ports.files.remove(paths.nextDir) }
        for name in RenderedConfig.writeOrder where config.files[name] != nil {
            try ports.files.rename((paths.nextDir as NSString).appendingPathComponent(name),
                                   to: (paths.nginxDir as NSString).appendingPathComponent(name))
        }
    }

    /// A graceful reload that returns once the proxy's workers are all of the new generation: the
    /// workers that accepted connections before the signal have stopped accepting (nginx titles them
    /// "is shutting down" as it closes their listening sockets) and a new one is there.
    func reload(_ proxy: ContainerInfo) throws {
        let before = ProxyWorkers(top: try? ports.runner.run(Docker.top(proxy.name), timeout: 10))
        let reload = try ports.signaller.send(.reload, to: proxy)
        guard reload.succeeded else {
            throw OrchestratorError.reloadFailed(detail: (reload.stderr + reload.stdout).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        // Without a listing to compare with, nothing can be waited for.
        guard let before, !before.accepting.isEmpty else { return }
        let start = ports.clock.monotonic()
        while true {
            if let now = ProxyWorkers(top: try? ports.runner.run(Docker.top(proxy.name), timeout: 10)),
               now.accepting.isDisjoint(with: before.accepting), !now.accepting.isEmpty {
                return
            }
            if ports.clock.monotonic() - start > reloadTimeout {
                throw OrchestratorError.reloadFailed(detail: "workers of the previous configuration still accept connections \(Waits.seconds(reloadTimeout)) after the reload")
            }
            ports.clock.sleep(0.02)
        }
    }

    /// Remembers that the proxy accepted these bytes; nil proxy: the one running now.
    func rememberTested(_ config: RenderedConfig, by proxy: ContainerInfo?) throws {
        let info = try proxy ?? inspect([spec.proxyContainerName])[spec.proxyContainerName]
        if let info { TestedConfigs.record(config, by: info, paths, files: ports.files) }
    }
}
