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

    @Test func aTemplatesFolderWithoutTheTemplatesIsAClearError() throws {
        #expect { try ConfigRenderer(templatesDirectory: "/nonexistent") } throws: {
            "\($0)".contains("/nonexistent/nginx.conf.mustache")
        }
    }
}
