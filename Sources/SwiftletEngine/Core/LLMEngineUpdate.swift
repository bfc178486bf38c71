import Foundation

/// The third part of a step: what the forward pass's logits mean for each request (as vLLM's
/// `Scheduler.update_from_output`): prompt logprobs, sampled tokens, forks for `n` and
/// `best_of`, beams, stop checks, and retiring and reporting what finished.
extension LLMEngine {
    func update(from out: SchedulerOutput, logits: UnsafeMutableBufferPointer<Float>, promptRows: [[Int]]) -> [RequestOutput] {
        let V = modelConfig.vocabSize
        var results: [RequestOutput] = []
        var row = 0
        var touched: [SequenceGroup] = []
        var seen = Set<ObjectIdentifier>()
        var beamGroups: [SequenceGroup] = []
        var beamRows: [ObjectIdentifier: [(seq: Int, logits: UnsafeMutableBufferPointer<Float>)]] = [:]
        do {
            let all = logits
            for (i, e) in out.scheduled.enumerated() {
                let g = e.group
                let k = e.seqIndex
                let before = g.sequences[k].numComputedTokens
                if before >= g.sequences[k].promptLength && e.numNewTokens == 1 {
                    // A decode: its token is counted as generated when sampled.
                } else {
                    totals.promptTokens += e.numNewTokens
                }
                for p in i < promptRows.count ? promptRows[i] : [] {
                    let rowPointer = UnsafeBufferPointer(rebasing: all[(row * V)..<((row + 1) * V)])
                    row += 1
                    let target = g.promptTokenIDs[p + 1]
                    g.promptLogprobs![p + 1] = LogprobsComputer(logits: rowPointer).position(chosen: target, top: g.params.promptLogprobs ?? 0)
                }
                g.sequences[k].numComputedTokens = before + e.numNewTokens
                // Before any fork, so that children share only the blocks still in the window.
                scheduler.releaseOutsideWindow(g, k)
                if e.samples {
                    let rowPointer = UnsafeMutableBufferPointer(rebasing: all[(row * V)..<((row + 1) * V)])
                    row += 1
                    let now = Date()
                    if g.metrics.firstToken == nil { g.metrics.firstToken = now }
                    if g.params.useBeamSearch {
                        if beamRows[ObjectIdentifier(g)] == nil { beamGroups.append(g) }
                        beamRows[ObjectIdentifier(g), default: []].append((k, rowPointer))
                    } else {
                        var targets = [k]
                        if g.needsFork { targets += forkCompletions(g, parent: k) }
                        // Samplers write over their row, so forks sampling the same row get a copy.
                        let original = targets.count > 1 ? Array(rowPointer) : []
                        for (j, t) in targets.enumerated() {
                            if j > 0 { _ = rowPointer.initialize(from: original) }
                            sampleNext(g, t, logits: rowPointer)
                        }
                    }
                }
                if seen.insert(ObjectIdentifier(g)).inserted { touched.append(g) }
            }
            for g in beamGroups { beamStep(g, rows: beamRows[ObjectIdentifier(g)]!) }
        }
        for g in touched {
            for k in g.sequences.indices where g.sequences[k].isFinished && scheduler.manager.isResident(g.sequences[k].id) {
                scheduler.releaseSequence(g, k)
            }
            if g.isFinished {
                scheduler.retire(g)
                groups[g.requestID] = nil
                g.metrics.finished = Date()
                totals.numFinished += 1
                results.append(report(g))
            } else if g.params.streamsPartialOutputs, g.sequences.contains(where: { $0.unreportedTokens > 0 }) {
                results.append(report(g))
            }
        }
        return results
    }

    /// Adds the other `n - 1` completions at a request's first sample; they share every block.
    func forkCompletions(_ g: SequenceGroup, parent: Int) -> [Int] {
        var added: [Int] = []
        let seed = g.sequences[parent].generator.next()
        while g.needsFork {
            let index = g.sequences.count
            var child = makeSequence(index: index, prompt: g.promptTokenIDs, params: g.params, seed: seed)
            child.tokenIDs = g.sequences[parent].tokenIDs
            child.numComputedTokens = g.sequences[parent].numComputedTokens
            child.grammar = g.sequences[parent].grammar
            scheduler.fork(g, parent: parent, child: child)
            added.append(index)
        }
        return added
    }
}
