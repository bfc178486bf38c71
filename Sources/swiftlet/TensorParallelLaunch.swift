import ArgumentParser
import Foundation
import SwiftletDistributed
import SwiftletEngine
import SwiftletKernels
import SwiftletModels

/// `--tensor-parallel-size` and what goes with it (vLLM's parallel arguments).
struct TensorParallelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Ranks that split the model's heads and feed-forward columns between them (MPI processes).",
        discussion: "Alone, the command starts the ranks itself on this machine through mpirun; under `mpirun -n N --enable-recovery` (for several hosts, with a hostfile) each rank is one of mpirun's processes."))
    var tensorParallelSize = 1

    @Option(name: .long, help: "Seconds a collective may wait for the other ranks before rank 0 declares them gone, reports unhealthy and exits non-zero.")
    var tensorParallelTimeout: Double = 10

    func validate() throws {
        guard tensorParallelSize >= 1 else { throw ValidationError("--tensor-parallel-size must be at least 1") }
        guard tensorParallelTimeout > 0, tensorParallelTimeout.isFinite else {
            throw ValidationError("--tensor-parallel-timeout must be a positive number of seconds")
        }
    }
}

/// This process's part in a tensor-parallel run: rank 0 schedules and serves, the others run the
/// steps it sends (`TensorParallelWorker`).
///
/// Exit statuses: 0 after a clean stop; 3 when a rank died or stopped answering (rank 0 names it).
struct TensorParallelRun {
    let group: MPIGroup
    var shard: TensorShard { TensorShard(group: group) }
    var link: TensorParallelLink { TensorParallelLink(group: group) }
    var isRankZero: Bool { group.rank == 0 }

    /// Exit status of a run whose ranks lost one another.
    static let lostRankStatus: Int32 = 3
    /// The environment variable naming the directory where ranks leave their pids and rank 0 its
    /// exit status, for the launcher (mpirun under --enable-recovery loses the ranks' statuses).
    static let runDirectoryVariable = "SWIFTLET_TP_RUN_DIR"

    /// Nil for one rank. Started alone with more, relaunches this command under mpirun and
    /// exits with rank 0's status (never returns). Under mpirun, joins the group.
    static func start(_ options: TensorParallelOptions) throws -> TensorParallelRun? {
        guard options.tensorParallelSize > 1 else {
            // N copies of a one-rank server would each load the whole model and fight over the port.
            let env = ProcessInfo.processInfo.environment
            if let ranks = (env["OMPI_COMM_WORLD_SIZE"] ?? env["PMI_SIZE"]).flatMap(Int.init), ranks > 1 {
                throw ValidationError("mpirun started \(ranks) ranks: pass --tensor-parallel-size \(ranks)")
            }
            return nil
        }
        guard MPIGroup.isLaunchedByMPI else { TensorParallelLauncher.relaunch(size: options.tensorParallelSize) }
        let group = try MPIGroup(timeout: .milliseconds(Int64(options.tensorParallelTimeout * 1000)))
        guard group.size == options.tensorParallelSize else {
            throw ValidationError("--tensor-parallel-size \(options.tensorParallelSize) but mpirun started \(group.size) ranks")
        }
        let run = TensorParallelRun(group: group)
        run.writeRunFile("rank\(group.rank).pid", "\(getpid()) \(ProcessInfo.processInfo.hostName)\n")
        return run
    }

    /// A rank other than 0: loads its shard, runs the steps rank 0 sends until it says stop, and
    /// exits (0 after a clean stop, `lostRankStatus` when rank 0 or another rank is gone).
    func runWorker(model options: ModelOptions) -> Never {
        // Stopping is rank 0's decision: a Ctrl-C reaches every process of the terminal's group.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        do {
            let loaded = try options.load(quiet: true, shard: shard)
            let worker = TensorParallelWorker(model: loaded.model, link: link, dtype: options.kvCacheDtype)
            try worker.run()
            group.finalize()
            exit(0)
        } catch {
            writeLogLine("swiftlet rank \(group.rank): error: \(error)")
            exit(Self.lostRankStatus)
        }
    }

    /// Rank 0, after its engine failed: says which rank is gone, as far as it can tell, and exits.
    func exitAfterFailure(_ failure: String) -> Never {
        let gone = goneRanks()
        let who = gone.isEmpty ? "another rank" : gone.map { "rank \($0)" }.joined(separator: ", ")
        writeLogLine("error: tensor parallelism lost \(who) (\(failure)); exiting")
        finish(status: Self.lostRankStatus)
    }

    /// Rank 0: records its status for the launcher and exits.
    func finish(status: Int32) -> Never {
        if status == 0 { group.finalize() }
        writeRunFile("status", "\(status)\n")
        exit(status)
    }

    /// Ranks on this host whose process no longer exists (those elsewhere cannot be checked).
    private func goneRanks() -> [Int] {
        guard let dir = ProcessInfo.processInfo.environment[Self.runDirectoryVariable] else { return [] }
        let host = ProcessInfo.processInfo.hostName
        return (1..<group.size).filter { r in
            guard let text = try? String(contentsOfFile: "\(dir)/rank\(r).pid", encoding: .utf8) else { return false }
            let fields = text.split(whereSeparator: \.isWhitespace)
            guard fields.count == 2, let pid = pid_t(fields[0]), fields[1] == host else { return false }
            return kill(pid, 0) != 0 && errno == ESRCH
        }
    }

    private func writeRunFile(_ name: String, _ text: String) {
        guard let dir = ProcessInfo.processInfo.environment[Self.runDirectoryVariable] else { return }
        try? text.write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8)
    }
}
