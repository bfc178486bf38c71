import Foundation

/// A finished beam-search hypothesis and its length-normalised score.
struct BeamHypothesis {
    var sequence: TokenSequence
    var score: Double
}

/// One continuation of a beam: the beam (an index into the group's sequences), the token, and the
/// beam's summed logprob with it.
struct BeamCandidate {
    var parent: Int
    var token: Int
    var logprob: Double
}

/// The rules of beam search as Hugging Face transformers applies them (`num_beams`,
/// `length_penalty`, `early_stopping`), kept apart from the engine so they can be checked alone.
///
/// Each step every running beam proposes its best tokens. Of the best `candidateCount` proposals
/// overall, those among the first `width` that end a sequence (EOS, a stop token, the length limit)
/// become finished hypotheses, scored by summed logprob over generated length ** `lengthPenalty`;
/// the best `width` that do not end become the next beams. The search stops when `width`
/// hypotheses are kept and the early-stopping rule says no running beam can beat them.
enum BeamSearch {
    /// Proposals gathered per step: enough that `width` beams survive even if every beam's best
    /// tokens end it (transformers keeps max(2, 1 + number of EOS ids) * num_beams).
    static func candidateCount(width: Int, endingTokens: Int) -> Int { max(2, 1 + endingTokens) * width }

    /// Normalised score of a hypothesis of `length` generated tokens.
    static func score(logprob: Double, length: Int, lengthPenalty: Double) -> Double {
        logprob / pow(Double(length), lengthPenalty)
    }

    /// The best `count` candidates, best first; ties go to the earlier beam, then the lower token id.
    static func best(_ candidates: [BeamCandidate], count: Int) -> [BeamCandidate] {
        Array(candidates.sorted {
            $0.logprob != $1.logprob ? $0.logprob > $1.logprob : ($0.parent != $1.parent ? $0.parent < $1.parent : $0.token < $1.token)
        }.prefix(count))
    }

    /// What one step decides.
    struct Step {
        /// The next beams, best first (at most `width`).
        var continuing: [BeamCandidate] = []
        /// Candidates that become hypotheses, with their scores (before the keep-best cut).
        var finishing: [(candidate: BeamCandidate, score: Double)] = []
    }

    /// Splits the step's best candidates (sorted, best first) into finishing and continuing ones.
    /// - Parameters:
    ///   - ends: whether a candidate ends its sequence.
    ///   - newLength: generated tokens once this step's token is added.
    ///   - accepting: whether hypotheses may still be added (false once the search could stop).
    static func split(_ sorted: [BeamCandidate], width: Int, newLength: Int, lengthPenalty: Double, accepting: Bool,
                      ends: (BeamCandidate) -> Bool) -> Step {
        var step = Step()
        for (rank, c) in sorted.enumerated() {
            if ends(c) {
                // Only the first `width` proposals may finish; the rest are reserves for the beams.
                if rank < width && accepting {
                    step.finishing.append((c, score(logprob: c.logprob, length: newLength, lengthPenalty: lengthPenalty)))
                }
            } else if step.continuing.count < width {
                step.continuing.append(c)
            }
        }
        return step
    }

    /// Keeps the best `width` of the kept and new hypotheses (scores descending; earlier ones win ties).
    static func keepBest(_ kept: [BeamHypothesis], adding new: [BeamHypothesis], width: Int) -> [BeamHypothesis] {
        let all = kept + new
        let order = all.indices.sorted { all[$0].score != all[$1].score ? all[$0].score > all[$1].score : $0 < $1 }
        return order.prefix(width).map { all[$0] }
    }

    /// Whether a running beam could still beat the worst kept hypothesis (transformers'
    /// early-stop heuristic, evaluated after the step).
    /// - Parameters:
    ///   - bestRunning: summed logprob of the best running beam.
    ///   - length: generated tokens of the running beams.
    ///   - maxLength: the most generated tokens a beam may reach.
    static func canImprove(kept: [BeamHypothesis], width: Int, bestRunning: Double, length: Int, maxLength: Int,
                           lengthPenalty: Double, earlyStopping: BeamEarlyStopping) -> Bool {
        guard kept.count >= width, let worst = kept.map(\.score).min() else { return true }
        let reach = earlyStopping == .never && lengthPenalty > 0 ? maxLength : length
        return score(logprob: bestRunning, length: reach, lengthPenalty: lengthPenalty) > worst
    }
}

extension LLMEngine {
    /// One beam-search step of a group whose running beams all have logits this step (the
    /// scheduler runs a beam group all or nothing): candidates fork from their beams, beams that
    /// are not continued free their blocks, and blocks the beams share are copied only when one
    /// of them writes into a shared block (copy-on-write, at the next step's scheduling).
    func beamStep(_ g: SequenceGroup, rows: [(seq: Int, logits: UnsafeMutableBufferPointer<Float>)]) {
        let params = g.params
        let width = params.beamWidth
        let ending = endingTokens(params)
        let count = BeamSearch.candidateCount(width: width, endingTokens: ending.count)
        precondition(rows.count == g.unfinishedCount, "beam group \(g.requestID): \(rows.count) of \(g.unfinishedCount) beams ran")
        let beams = g.sequences
        let newLength = beams[rows[0].seq].outputCount + 1

        // Raw rows are kept only where the processor changes the row and logprobs are reported
        // from the model's own distribution.
        var raw: [Int: [Float]] = [:]
        var processed: [Int: LogprobsComputer] = [:]
        var candidates: [BeamCandidate] = []
        candidates.reserveCapacity(rows.count * count)
        for (k, row) in rows {
            // Each beam's constraint masks its own row before its candidates are chosen.
            if let matcher = beams[k].grammar { applyGrammarMask(matcher, to: row) }
            if !LogitsProcessor.isIdentity(params, outputCount: beams[k].outputCount) {
                raw[k] = Array(row)
                LogitsProcessor.apply(to: row, params: params, tokens: beams[k].tokenIDs, promptLength: beams[k].promptLength,
                                      stopTokens: ending)
            }
            let lp = LogprobsComputer(logits: UnsafeBufferPointer(row))
            processed[k] = lp
            for t in StandardSampler.topIndices(UnsafeBufferPointer(row), count: count) where row[t] > -.infinity {
                candidates.append(BeamCandidate(parent: k, token: t, logprob: beams[k].beamLogprob + lp.logprob(t)))
            }
        }
        let maxLength = min(params.maxTokens ?? maxModelLen, maxModelLen - g.promptTokenIDs.count)
        // A candidate whose token completes its beam's constraint ends it too.
        let completes = { (c: BeamCandidate) -> Bool in
            guard var m = beams[c.parent].grammar else { return false }
            return m.accept(c.token) && m.isComplete
        }
        let ends = { (c: BeamCandidate) -> Bool in ending.contains(c.token) || newLength >= maxLength || completes(c) }
        let accepting = g.beamsCanImprove && !(g.beamHypotheses.count >= width && params.earlyStopping == .always)
        let step = BeamSearch.split(BeamSearch.best(candidates, count: count), width: width, newLength: newLength,
                                    lengthPenalty: params.lengthPenalty, accepting: accepting, ends: ends)

        /// The beam `c.parent` extended by `c.token`, as a sequence under `id`.
        func extend(_ c: BeamCandidate, id: Int) -> TokenSequence {
            var s = beams[c.parent]
            if s.id != id { s = s.forked(id: id, index: s.index, generator: s.generator) }
            if params.needsLogprobs {
                let position: PositionLogprobs = raw[c.parent].map { r in
                    r.withUnsafeBufferPointer { LogprobsComputer(logits: $0).position(chosen: c.token, top: params.logprobs ?? 0) }
                } ?? processed[c.parent]!.position(chosen: c.token, top: params.logprobs ?? 0)
                record(position, into: &s, params: params)
            }
            s.beamLogprob = c.logprob
            // Candidates come from masked rows, so the constraint accepts the token.
            if s.grammar != nil { _ = advanceGrammar(&s, by: c.token) }
            s.accept(c.token, params: params, eos: eosTokenIDs, maxModelLen: maxModelLen)
            if s.grammar?.isComplete == true { s.finish(.stop) }
            totals.generationTokens += 1
            return s
        }

        let finished = step.finishing.map { BeamHypothesis(sequence: extend($0.candidate, id: beams[$0.candidate.parent].id), score: $0.score) }
        g.beamHypotheses = BeamSearch.keepBest(g.beamHypotheses, adding: finished, width: width)
        if let best = step.continuing.first {
            g.beamsCanImprove = g.beamsCanImprove && BeamSearch.canImprove(
                kept: g.beamHypotheses, width: width, bestRunning: best.logprob, length: newLength, maxLength: maxLength,
                lengthPenalty: params.lengthPenalty, earlyStopping: params.earlyStopping)
        }
        let done = step.continuing.isEmpty || !g.beamsCanImprove
            || (g.beamHypotheses.count >= width && params.earlyStopping == .always)

        // Beams nobody continues give their blocks back before the forks take references.
        var continued = Set<Int>()
        if !done { for c in step.continuing { continued.insert(c.parent) } }
        for k in g.unfinishedIndices where !continued.contains(k) { scheduler.manager.free(beams[k].id) }
        if done {
            var best = g.beamHypotheses.prefix(params.n).map(\.sequence)
            for j in best.indices { best[j].index = j }
            g.sequences = best
            return
        }
        var next: [TokenSequence] = []
        var used = Set<Int>()
        for c in step.continuing {
            let parentID = beams[c.parent].id
            if used.insert(c.parent).inserted {
                next.append(extend(c, id: parentID))
            } else {
                let id = nextSequenceID
                nextSequenceID += 1
                scheduler.manager.fork(parent: parentID, child: id)
                next.append(extend(c, id: id))
            }
        }
        // A beam's index is its rank among the running beams.
        for j in next.indices { next[j].index = j }
        g.sequences = next
    }
}
