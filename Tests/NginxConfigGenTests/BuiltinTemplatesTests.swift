import Foundation
import Testing
@testable import NginxConfigGen

/// The binary carries templates/*.mustache; they must not drift from the files people edit.
@Suite struct BuiltinTemplatesTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../templates").standardized.path

    @Test(arguments: [RenderedConfig.mainFile, RenderedConfig.siteFile])
    func theBuiltInTemplateIsTheFileInTemplates(_ name: String) throws {
        let file = try String(contentsOfFile: Self.folder + "/" + name + ".mustache", encoding: .utf8)
        #expect(BuiltinTemplates.files[name] == file, "templates/\(name).mustache changed: run make templates")
    }

    @Test func theBuiltInRendererRendersWhatTheFolderRenders() throws {
        let spec = try SpecLoader.parse(yaml: "version: 1\nproject: shop\npools:\n  blue: {image: a, release: r1, preview_port: 8081}\n  green: {image: b, release: r2, preview_port: 8082}\n",
                                        file: "bgctl.yaml", variables: [:]).get()
        #expect(try ConfigRenderer.builtin().render(spec) == ConfigRenderer(templatesDirectory: Self.folder).render(spec))
    }

    /// A deploy stages a release on the idle pool: a new image, release name and settings. None of
    /// it is anything nginx reads, so staging needs no reload and the switch after it is a rename.
    @Test(arguments: [
        "  green: {image: b, release: r2, preview_port: 8082}\n",
        "  green: {image: c, release: r2, preview_port: 8082}\n",
        "  green: {image: b, release: r3, preview_port: 8082}\n",
        "  green: {image: b, release: r2, preview_port: 8082, env: {MODE: error}}\n",
    ])
    func aReleaseStagedOnAPoolChangesNothingNginxReads(_ green: String) throws {
        func rendered(_ green: String) throws -> [String: String] {
            let yaml = "version: 1\nproject: shop\npools:\n  blue: {image: a, release: r1, preview_port: 8081}\n" + green
            return try ConfigRenderer.builtin().render(SpecLoader.parse(yaml: yaml, file: "bgctl.yaml", variables: [:]).get()).files
        }
        let before = try rendered("  green: {image: b, release: r2, preview_port: 8082}\n")
        #expect(try rendered(green) == before)
        #expect(before.values.allSatisfy { !$0.contains("r1") && !$0.contains("r2") }, "no release name in the configuration")
    }

    @Test func aTemplatesFolderWithoutTheTemplatesIsAClearError() throws {
        #expect { try ConfigRenderer(templatesDirectory: "/nonexistent") } throws: {
            "\($0)".contains("/nonexistent/nginx.conf.mustache")
        }
    }
}
