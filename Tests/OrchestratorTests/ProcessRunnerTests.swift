import Foundation
import Testing
@testable import Orchestrator

/// The real runner with a stand-in `docker` script: what the docker client process actually receives.
@Suite struct ProcessRunnerTests {
    let folder = Fixture.tempDir()

    /// A `docker` that records its argv, its environment, and the env file it was given.
    func fakeDocker() throws -> ProcessRunner {
        let script = """
        #!/bin/sh
        printf '%s\\n' "$@" > "\(folder)/argv"
        /usr/bin/env > "\(folder)/environ"
        while [ $# -gt 0 ]; do
          if [ "$1" = "--env-file" ]; then /bin/cp "$2" "\(folder)/envfile"; /usr/bin/stat -c %a "$2" > "\(folder)/mode"; echo "$2" > "\(folder)/path"; fi
          shift
        done
        exit 0
        """
        let path = folder + "/docker"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return try ProcessRunner(environment: ["PATH": folder, "HOME": "/root", "LD_PRELOAD": "/evil.so"])
    }

    /// A `docker` that runs `body` (a shell script) and nothing else, with the output cap given.
    func docker(_ body: String, outputLimit: Int = 4 << 20) throws -> ProcessRunner {
        let path = folder + "/docker"
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return try ProcessRunner(environment: ["PATH": folder], outputLimit: outputLimit)
    }

    /// Whether the process `pid` (written by a script into `name`) is gone.
    func isGone(_ name: String) -> Bool {
        guard let pid = Int32(read(name).trimmingCharacters(in: .whitespacesAndNewlines)) else { return false }
        return kill(pid, 0) == -1 && errno == ESRCH
    }

    func read(_ name: String) -> String {
        (try? String(contentsOfFile: folder + "/" + name, encoding: .utf8)) ?? ""
    }

    @Test func containerEnvironmentTravelsInAPrivateEnvFileNeverInArgvOrTheClientsEnvironment() throws {
        let runner = try fakeDocker()
        let command = DockerCommand(["run", "--env-file", DockerCommand.envFileToken, "image"],
                                    secretEnvironment: ["DB_PASSWORD": "s3cret", "LD_PRELOAD": "/x.so", "DOCKER_HOST": "tcp://evil:2375"])
        let result = try runner.run(command, timeout: 10)
        #expect(result.succeeded)
        #expect(!read("argv").contains("s3cret") && !read("argv").contains(DockerCommand.envFileToken))
        let environ = read("environ")
        #expect(!environ.contains("s3cret") && !environ.contains("DOCKER_HOST") && !environ.contains("LD_PRELOAD"),
                "neither the container's values nor the host's LD_PRELOAD reach the docker client")
        #expect(read("envfile") == "DB_PASSWORD=s3cret\nDOCKER_HOST=tcp://evil:2375\nLD_PRELOAD=/x.so\n")
        #expect(read("mode").trimmingCharacters(in: .whitespacesAndNewlines) == "600")
        let used = read("path").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!used.isEmpty && !FileManager.default.fileExists(atPath: used), "the env file is gone after the run")
        #expect(!FileManager.default.fileExists(atPath: (used as NSString).deletingLastPathComponent), "and so is its folder")
    }

    // "\r\n" is one Character: a check by Character let it into the env file, where docker reads B=two.
    @Test(arguments: ["one\nB=two", "one\r\nB=two"])
    func aValueWithALineBreakIsRefusedBeforeDockerRuns(_ value: String) throws {
        let runner = try fakeDocker()
        let command = DockerCommand(["run", "--env-file", DockerCommand.envFileToken, "image"],
                                    secretEnvironment: ["A": value])
        #expect(throws: OrchestratorError.self) { try runner.run(command, timeout: 10) }
        #expect(read("argv").isEmpty, "docker never ran")
    }

    @Test func theDockerClientGetsOnlyTheAllowListedEnvironment() throws {
        let runner = try fakeDocker()
        _ = try runner.run(DockerCommand(["version"]), timeout: 10)
        let names = read("environ").split(separator: "\n").compactMap { $0.split(separator: "=").first.map(String.init) }
        #expect(Set(names).isSubset(of: Set(ProcessRunner.allowedEnvironment + ["PWD", "SHLVL", "_"])))
        #expect(names.contains("PATH") && !names.contains("LD_PRELOAD"))
    }

    @Test func aCommandPastItsTimeoutIsTerminatedAndSaysSo() throws {
        let runner = try docker("echo $$ > \(folder)/pid\nexec /bin/sleep 60")
        let result = try runner.run(DockerCommand(["version"]), timeout: 0.2)
        #expect(result.timedOut && !result.succeeded, "\(result)")
        #expect(isGone("pid"), "the process is reaped before run returns")
    }

    // SIGTERM first; a process that ignores it is killed after the grace period.
    @Test func aCommandThatIgnoresTerminateIsKilled() throws {
        let runner = try docker("trap '' TERM\necho $$ > \(folder)/pid\nwhile :; do /bin/sleep 1; done")
        let result = try runner.run(DockerCommand(["version"]), timeout: 0.2)
        #expect(result.timedOut && !result.succeeded, "\(result)")
        #expect(isGone("pid"))
    }

    @Test func eachStreamIsCappedAndSaysHowMuchItDropped() throws {
        let runner = try docker("/usr/bin/head -c 1048576 /dev/zero | /usr/bin/tr '\\0' a\n/usr/bin/head -c 5000 /dev/zero | /usr/bin/tr '\\0' e >&2",
                                outputLimit: 1000)
        let result = try runner.run(DockerCommand(["version"]), timeout: 60)
        #expect(result.succeeded)
        #expect(result.stdout == String(repeating: "a", count: 1000) + "\n[1047576 more bytes not kept]")
        #expect(result.stderr == String(repeating: "e", count: 1000) + "\n[4000 more bytes not kept]")
    }

    @Test func aNonZeroExitIsAResultWithItsStatusAndStderr() throws {
        let runner = try docker("echo 'Error: No such container: x' >&2\nexit 3")
        let result = try runner.run(DockerCommand(["inspect", "x"]), timeout: 10)
        #expect(result.status == 3 && !result.timedOut)
        #expect(result.stderr == "Error: No such container: x\n")
        #expect(result.failure == .noSuchObject)
    }
}
