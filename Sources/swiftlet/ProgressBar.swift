import Foundation
import SwiftletEngine

/// A one-line progress display on standard error for offline batches: requests done, output
/// tokens per second and KV cache use. Redraws at most ten times a second.
struct ProgressBar {
    var width = 24
    private var lastDraw = Date.distantPast
    private var lastLogged = Date()
    private let isTerminal = isatty(STDERR_FILENO) != 0

    mutating func update(_ p: GenerationProgress, force: Bool = false) {
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let fraction = p.totalRequests == 0 ? 1 : Double(p.finishedRequests) / Double(p.totalRequests)
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = String(format: "[%@] %d/%d requests | %.1f output tok/s | %d tokens out | KV %.1f%% | %.1f s",
                          bar, p.finishedRequests, p.totalRequests, p.outputTokensPerSecond, p.generatedTokens,
                          100 * p.statistics.kvUsage, p.elapsed)
        // On a terminal the line is redrawn in place; in a log, a line every ten seconds.
        if isTerminal {
            writeStandardError("\r\u{1B}[K" + line)
        } else if force || now.timeIntervalSince(lastLogged) >= 10 {
            lastLogged = now
            writeStandardError(line + "\n")
        }
    }

    func finish() {
        if isTerminal { writeStandardError("\n") }
    }
}
