import Foundation
import SwiftletDistributed

/// Starts the ranks of `--tensor-parallel-size N` on this machine when the command was not run
/// under mpirun: the same command line, N times, under `mpirun --enable-recovery` (so that a
/// dying rank does not take rank 0 with it before it can report), then exits with rank 0's status.
enum TensorParallelLauncher {
    static func relaunch(size: Int) -> Never {
        guard let mpirun = which("mpirun") else {
            writeLogLine("error: --tensor-parallel-size \(size) needs Open MPI's mpirun (scripts/bootstrap.sh installs openmpi-bin)")
            exit(2)
        }
        var environment = ProcessInfo.processInfo.environment
        let given = environment[TensorParallelRun.runDirectoryVariable]
        let runDirectory = given ?? makeRunDirectory()
        environment[TensorParallelRun.runDirectoryVariable] = runDirectory
        // The ranks share this machine's cores unless told otherwise.
        if environment["SWIFTLET_THREADS"] == nil {
            environment["SWIFTLET_THREADS"] = String(max(1, ProcessInfo.processInfo.activeProcessorCount / size))
        }
        var arguments = ["-n", String(size), "--enable-recovery", "--oversubscribe", "--bind-to", "none",
                         "--mca", "btl_base_warn_component_unused", "0"]
        if getuid() == 0 { arguments.append("--allow-run-as-root") }
        arguments += [executablePath()] + CommandLine.arguments.dropFirst()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun)
        process.arguments = arguments
        process.environment = environment
        // SIGTERM and SIGINT go to rank 0 alone, which stops the others once it has drained;
        // mpirun would kill every rank at once.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        var sources: [DispatchSourceSignal] = []
        for s in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: s, queue: .global())
            source.setEventHandler { forwardToRankZero(runDirectory, fallback: process) }
            source.resume()
            sources.append(source)
        }
        do {
            try process.run()
        } catch {
            writeLogLine("error: cannot start \(mpirun): \(error)")
            exit(2)
        }
        process.waitUntilExit()
        _ = sources
        let status = (try? String(contentsOfFile: "\(runDirectory)/status", encoding: .utf8))
            .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        if given == nil { try? FileManager.default.removeItem(atPath: runDirectory) }
        // Without rank 0's own word, a clean-looking mpirun status is not trusted: --enable-recovery
        // makes mpirun exit 0 even when ranks died.
        exit(status ?? (process.terminationStatus != 0 ? process.terminationStatus : 1))
    }

    private static func forwardToRankZero(_ runDirectory: String, fallback: Process) {
        if let text = try? String(contentsOfFile: "\(runDirectory)/rank0.pid", encoding: .utf8),
           let pid = pid_t(text.split(separator: " ").first ?? "") {
            kill(pid, SIGTERM)
        } else if fallback.isRunning {
            kill(fallback.processIdentifier, SIGTERM)
        }
    }

    private static func makeRunDirectory() -> String {
        var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("swiftlet-tp-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else {
            writeLogLine("error: cannot create a directory for the ranks' status in \(NSTemporaryDirectory())")
            exit(2)
        }
        return String(cString: template)
    }

    private static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    private static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
