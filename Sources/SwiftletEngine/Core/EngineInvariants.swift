/// A broken engine invariant: the first violation the checker found.
public struct InvariantViolation: Error, CustomStringConvertible, Sendable {
    public let description: String
}

extension Scheduler {
    /// Checks the queues against the block tables; returns what is wrong, first violation first
    /// (empty when all is well). Call it between steps.
    ///
    /// Beyond `KVCacheManager.validate`: each request is in one queue with the matching status;
    /// a waiting request holds no blocks; every unfinished sequence of a running request is
    /// resident with exactly the blocks its computed tokens fill, and of a swapped one is in the
    /// swap tier; finished sequences hold nothing; and no blocks belong to a sequence outside the
    /// queues (a leak). With a sliding window, an unfinished sequence has freed exactly the
    /// blocks before the window of its next token: none it could still read, none it holds for
    /// nothing (in each KV cache group, with the group's window).
    public func validate() -> [String] {
        var problems = manager.validate()
        var owned = Set<Int>()
        var queued = Set<ObjectIdentifier>()
        func check(_ queue: [SequenceGroup], _ status: SequenceGroup.Status) {
            for g in queue {
                let who = "request \(g.requestID)"
                if !queued.insert(ObjectIdentifier(g)).inserted { problems.append("\(who) is queued twice") }
                if g.status != status { problems.append("\(who) is \(g.status) in the \(status) queue") }
                for s in g.sequences {
                    let holds = manager.isResident(s.id) || manager.isSwapped(s.id)
                    if holds { owned.insert(s.id) }
                    if s.isFinished || status == .waiting {
                        if holds { problems.append("\(who), sequence \(s.id) (\(s.isFinished ? "finished" : "waiting")) holds blocks") }
                    } else if status == .running {
                        let want = (s.numComputedTokens + blockSize - 1) / blockSize
                        if !manager.isResident(s.id) {
                            problems.append("\(who), sequence \(s.id) is running without resident blocks")
                        } else if manager.tableLength(s.id) != want {
                            problems.append("\(who), sequence \(s.id): \(manager.tableLength(s.id)) blocks for \(s.numComputedTokens) computed tokens")
                        }
                    } else if !manager.isSwapped(s.id) {
                        problems.append("\(who), sequence \(s.id) is swapped out without swap blocks")
                    }
                    if holds, !s.isFinished, status != .waiting {
                        for group in 0..<manager.numGroups {
                            let dead = manager.deadBlocks(computed: s.numComputedTokens, group: group)
                            let freed = manager.freedEntries(s.id, group: group)
                            if freed != dead {
                                let inGroup = manager.numGroups == 1 ? "" : " in group \(group)"
                                problems.append("\(who), sequence \(s.id): \(freed) blocks freed by the window\(inGroup), \(dead) outside it at \(s.numComputedTokens) computed tokens")
                            }
                        }
                    }
                }
            }
        }
        check(waiting, .waiting)
        check(running, .running)
        check(swapped, .swapped)
        for id in manager.sequenceIDs.sorted() where !owned.contains(id) {
            problems.append("sequence \(id) holds blocks and belongs to no queued request")
        }
        return problems
    }
}

extension LLMEngine {
    /// Checks the engine's bookkeeping between steps: the scheduler's queues, the block tables
    /// and both block pools (`Scheduler.validate`), and that the engine's own request table
    /// names exactly the queued requests. Returns every violation, first first.
    public func validate() -> [String] {
        var problems = scheduler.validate()
        let queued = scheduler.waiting + scheduler.running + scheduler.swapped
        if queued.count != groups.count {
            problems.append("the engine knows \(groups.count) requests, the scheduler queues \(queued.count)")
        }
        for g in queued where groups[g.requestID] !== g {
            problems.append("request \(g.requestID) is queued but not in the engine's request table")
        }
        return problems
    }

    /// Throws the first violation `validate()` finds.
    public func checkInvariants() throws {
        if let first = validate().first { throw InvariantViolation(description: first) }
    }
}
