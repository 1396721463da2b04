import Foundation
import NginxConfigGen
import Orchestrator
import Watcher

/// The deploy's analysis over the proxy's log, with the watcher's tailer and parser.
final class LogAnalysis: AccessLogReading {
    let path: String
    let ignorePaths: [String]
    let count4xx: Bool
    private let tailer: Tailer
    private var seen = AnalysisFigures()
    private var times: [Double] = []
    private var byPool: [String: Int] = [:]

    init(path: String, ignorePaths: [String], count4xx: Bool) {
        self.path = path
        self.ignorePaths = ignorePaths
        self.count4xx = count4xx
        self.tailer = Tailer(path: path, fromStart: false)
    }

    func requests(to pool: Pool) -> Int { byPool[pool.rawValue] ?? 0 }

    func read() -> AnalysisFigures {
        tailer.readAvailable { line in
            guard let record = LineParser.parse(line) else { return }
            byPool[record.pool.name, default: 0] += 1
            if !ignorePaths.isEmpty, Analyzer.ignored(LineParser.text(line, record.uri), ignorePaths) { return }
            seen.requests += 1
            if record.status >= 500 || (count4xx && record.status >= 400) { seen.errors += 1 }
            if record.retried { seen.retried += 1 }
            if record.pool != .none, record.live != .none, record.pool != record.live { seen.failovers += 1 }
            if record.requestTime >= 0 { times.append(record.requestTime) }
        }
        if !times.isEmpty {
            let sorted = times.sorted()
            seen.p95 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.95).rounded(.up)) - 1)]
        }
        return seen
    }
}
