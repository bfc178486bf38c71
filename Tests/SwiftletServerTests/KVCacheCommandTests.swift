import Foundation
import Testing
import SwiftletKernels
import SwiftletModels
import SwiftletTestSupport

/// The CLI's KV cache options as a user meets them, the binary run as a process: a budget too
/// small for one block is refused with a message, and `--swa-full` keeps sliding-window layers
/// whole instead of laying the cache out in KV cache groups.
@Suite struct KVCacheCommandTests {
    /// Runs the built binary to completion with standard output and standard error kept apart (in
    /// files, so that neither pipe can fill while the other is read).
    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let binary = try #require(TestPaths.swiftletBinary, "build the swiftlet binary first")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-kv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("stdout"), err = directory.appendingPathComponent("stderr")
        for url in [out, err] { FileManager.default.createFile(atPath: url.path, contents: nil) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try runToExit(process)
        return (process.terminationStatus, try String(contentsOf: out, encoding: .utf8), try String(contentsOf: err, encoding: .utf8))
    }

    /// `serve --kv-cache-memory 100`: 100 bytes buy no block of stories260K's KV, so the command
    /// stops with a usage error that says so, on standard error, before it listens.
    @Test func aBudgetThatHoldsNoBlockIsRefused() throws {
        let r = try Self.run(["serve", "--port", "0", "--model", TestPaths.stories260K, "--kv-cache-memory", "100"])
        // ArgumentParser's exit status for a validation error (EX_USAGE).
        #expect(r.status == 64, "status \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("--kv-cache-memory 100 bytes holds no block of"), "\(r.stderr)")
        #expect(!(r.stdout + r.stderr).contains("http://"), "it should not have listened: \(r.stdout)\n\(r.stderr)")
    }

    /// On the tiny Gemma 3 checkpoint (sliding, full, sliding layers) the same budget buys three
    /// times the blocks laid out in KV cache groups (a block holds one layer) as with --swa-full,
    /// which keeps one group of all three layers, as the start-up line says; both generate.
    @Test func swaFullKeepsOneGroupOfEveryLayer() throws {
        let model = TestPaths.fixtures.appendingPathComponent("families/gemma3").path
        let c = try ModelConfig(directory: URL(fileURLWithPath: model))
        // Exactly 80 blocks of every layer, so that no rounding hides the ratio.
        let budget = 80 * 16 * PagedKVCache.bytesPerToken(numLayers: c.numLayers, numKVHeads: c.numKVHeads, headDim: c.headDim, dtype: .fp32)
        let common = ["generate", "--model", model, "--prompt", "Hello", "--max-tokens", "3", "--precision", "fp32",
                      "--kv-cache-dtype", "fp32", "--block-size", "16", "--kv-cache-memory", String(budget), "--swap-space", "0"]
        let grouped = try Self.run(common), whole = try Self.run(common + ["--swa-full"])
        #expect(grouped.status == 0 && whole.status == 0, "\(grouped.stderr)\n\(whole.stderr)")
        func blocks(_ stderr: String) -> Int? {
            guard let r = stderr.range(of: #"kv cache: \d+ blocks"#, options: .regularExpression) else { return nil }
            return Int(stderr[r].split(separator: " ")[2])
        }
        let g = try #require(blocks(grouped.stderr), "\(grouped.stderr)"), w = try #require(blocks(whole.stderr), "\(whole.stderr)")
        #expect(w == 80 && g == 3 * w, "\(g) grouped blocks, \(w) whole")
        #expect(grouped.stderr.contains("blocks of 1 of 3 layers") && grouped.stderr.contains("groups: 2 sliding (window"),
                "\(grouped.stderr)")
        #expect(whole.stderr.contains("(\(w * 16) tokens") && !whole.stderr.contains("groups"), "\(whole.stderr)")
        #expect(!grouped.stdout.isEmpty && !whole.stdout.isEmpty)
        print("gemma3 fixture, \(budget) bytes of fp32 KV: \(g) blocks in groups, \(w) with --swa-full")
    }

    /// `bench model` lays its cache out as the engine does: on the tiny Gemma 3 checkpoint in KV
    /// cache groups (one sliding group's blocks freed behind the window of 6 as the single stream
    /// decodes 40 tokens, which the attention kernel would abort on if a window still covered
    /// one), and as one group with --swa-full; both print the same figures.
    @Test func benchModelRunsTheEnginesLayout() throws {
        let model = TestPaths.fixtures.appendingPathComponent("families/gemma3").path
        let common = ["bench", "model", "--model", model, "--prefill", "16", "--decode", "40", "--batch", "3", "--context", "20",
                      "--repetitions", "1", "--block-size", "4", "--kv-cache-memory", "200000"]
        let layouts = [([String](), #"kv cache: \d+ blocks of 4 tokens \(blocks of 1 of 3 layers.*groups: 2 sliding \(window 6\) \+ 1 full"#),
                       (["--swa-full"], #"kv cache: \d+ blocks of 4 tokens \(\d+ tokens, [^)]*\)\n"#)]
        for (extra, layout) in layouts {
            let r = try Self.run(common + extra)
            #expect(r.status == 0, "\(extra): \(r.stderr)")
            #expect(r.stderr.range(of: layout, options: .regularExpression) != nil, "\(extra): \(r.stderr)")
            for figure in ["pp16: ", "tg40: ", "batched decode step: 3 sequences x 20 context: "] {
                #expect(r.stdout.contains(figure), "\(extra): \(r.stdout)")
            }
        }
    }
}
