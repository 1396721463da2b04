import CYaml

/// Reads the spec's YAML events once, before Yams builds a tree, and refuses what would make that
/// tree unsafe or ambiguous to read: aliases and collections used as keys (Yams hashes every key,
/// so an aliased "billion laughs" key costs minutes), alias expansion past `maxNodes`, nesting past
/// `maxDepth`, duplicate keys (reported at the duplicate), unknown tags and extra documents.
enum YAMLGuard {
    /// A spec nests five levels deep; anything past this is not a deployment spec.
    static let maxDepth = 32
    /// Nodes counted with every alias expanded; a spec has a few hundred.
    static let maxNodes = 20_000
    static let maxAliases = 1_000
    /// The core-schema tags: they only restate what a plain value already is, and bgctl reads every
    /// value as text. Any other tag (`!foo`, `!!python/object`) is refused.
    static let allowedTags: Set<String> = ["str", "int", "bool", "float", "null", "map", "seq"]
        .reduce(into: []) { $0.insert("tag:yaml.org,2002:" + $1) }

    private struct Frame {
        let isMapping: Bool
        let anchor: String?
        var expectingKey = true
        var size = 1
        var keys: [String: (line: Int, column: Int)] = [:]
    }

    /// Problems found, in file order; empty when Yams may compose the text.
    static func check(_ text: String, file: String) -> [SpecIssue] {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { return [] }
        bytes.append(0)
        return bytes.withUnsafeBufferPointer { buffer in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return [] }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count - 1)
            return walk(&parser, bytes: buffer, file: file)
        }
    }

    private static func walk(_ parser: inout yaml_parser_t, bytes: UnsafeBufferPointer<UInt8>, file: String) -> [SpecIssue] {
        var issues: [SpecIssue] = []
        var stack: [Frame] = []
        var anchors: [String: Int] = [:]
        var total = 0, aliases = 0, documents = 0
        func issue(_ mark: yaml_mark_t, _ message: String) {
            issues.append(SpecIssue(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1, path: "", message: message))
        }
        /// A node of `size` is complete: add it to its parent and move the parent past a key or value.
        func finish(size: Int) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].size += size
            if stack[stack.count - 1].isMapping { stack[stack.count - 1].expectingKey.toggle() }
        }
        var keyPosition: Bool { stack.last.map { $0.isMapping && $0.expectingKey } ?? false }
        func checkTag(_ tag: UnsafeMutablePointer<yaml_char_t>?, _ mark: yaml_mark_t) {
            guard let tag else { return }
            let name = String(cString: tag)
            if !allowedTags.contains(name) {
                let written = name.hasPrefix("tag:yaml.org,2002:") ? "!!" + name.dropFirst(18) : name
                issue(mark, "unsupported YAML tag \(Quote.value(written)); bgctl reads every value as text: remove the tag")
            }
        }

        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) == 1 else {
                issues.append(syntaxIssue(parser, bytes: bytes, file: file))
                return issues
            }
            defer { yaml_event_delete(&event) }
            let mark = event.start_mark
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return issues
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 {
                    issue(mark, "a second YAML document (after \"---\"); a spec is one document: remove it")
                    return issues
                }
            case YAML_ALIAS_EVENT:
                aliases += 1
                let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
                if keyPosition {
                    issue(mark, "an alias (*\(Quote.clip(name))) used as a key; keys must be written out")
                }
                let size = anchors[name] ?? 1
                total += size
                guard aliases <= maxAliases, total <= maxNodes else {
                    issue(mark, aliases > maxAliases
                          ? "more than \(maxAliases) aliases; write the values out or use fewer anchors"
                          : "the spec expands to more than \(maxNodes) YAML nodes with its aliases; use fewer or smaller aliases")
                    return issues
                }
                finish(size: size)
            case YAML_SCALAR_EVENT:
                total += 1
                guard total <= maxNodes else {
                    issue(mark, "more than \(maxNodes) YAML values; this is not a deployment spec")
                    return issues
                }
                checkTag(event.data.scalar.tag, mark)
                if keyPosition {
                    let key = String(decoding: UnsafeBufferPointer(start: event.data.scalar.value, count: event.data.scalar.length), as: UTF8.self)
                    if let first = stack[stack.count - 1].keys[key] {
                        issue(mark, "duplicate key \(Quote.value(key)) (first at line \(first.line), column \(first.column)); keep one")
                    } else {
                        stack[stack.count - 1].keys[key] = (Int(mark.line) + 1, Int(mark.column) + 1)
                    }
                }
                if let anchor = event.data.scalar.anchor { anchors[String(cString: anchor)] = 1 }
                finish(size: 1)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                total += 1
                guard total <= maxNodes else {
                    issue(mark, "more than \(maxNodes) YAML values; this is not a deployment spec")
                    return issues
                }
                guard stack.count < maxDepth else {
                    issue(mark, "nested more than \(maxDepth) levels deep; this is not a deployment spec")
                    return issues
                }
                if keyPosition {
                    issue(mark, "a \(isMapping ? "mapping" : "list") used as a key; keys must be plain strings")
                }
                let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
                checkTag(isMapping ? event.data.mapping_start.tag : event.data.sequence_start.tag, mark)
                stack.append(Frame(isMapping: isMapping, anchor: anchor.map { String(cString: $0) }))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let frame = stack.popLast() else { break }
                if let anchor = frame.anchor { anchors[anchor] = frame.size }
                finish(size: frame.size)
            default:
                break
            }
        }
    }

    /// libyaml's own message with its position; reader errors carry a byte offset instead of a mark.
    private static func syntaxIssue(_ parser: yaml_parser_t, bytes: UnsafeBufferPointer<UInt8>, file: String) -> SpecIssue {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
        var line = Int(parser.problem_mark.line) + 1, column = Int(parser.problem_mark.column) + 1
        var message = "YAML syntax error: \(problem)"
        if parser.error == YAML_READER_ERROR {
            let offset = min(Int(parser.problem_offset), bytes.count)
            line = 1 + bytes[..<offset].lazy.filter { $0 == 0x0A }.count
            let lineStart = bytes[..<offset].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
            column = 1 + String(decoding: UnsafeBufferPointer(rebasing: bytes[lineStart..<offset]), as: UTF8.self).count
            message = "YAML error: \(problem)"
            if parser.problem_value != -1 { message += " (U+\(String(parser.problem_value, radix: 16, uppercase: true)))" }
        } else if let context = parser.context.map({ String(cString: $0) }) {
            message += " (\(context) at \(parser.context_mark.line + 1):\(parser.context_mark.column + 1))"
        }
        return SpecIssue(file: file, line: line, column: column, path: "", message: message)
    }
}
