/// What to do with a sequence group when the KV cache runs out of blocks.
public enum PreemptionMode: String, Sendable, CaseIterable {
    /// The paper's rule: swap groups of several sequences (their shared blocks are costly to
    /// rebuild), recompute single sequences (a prefill is cheap next to a round trip of copies).
    case auto
    /// Copy the group's blocks to the swap tier and back before it runs again.
    case swap
    /// Free the group's blocks and prefill its prompt and generated tokens again later.
    case recompute
}

/// The order in which requests are served.
public enum SchedulingPolicy: String, Sendable, CaseIterable {
    /// First come, first served.
    case fcfs
    /// Lower `priority` first, then first come, first served.
    case priority
}

/// The scheduler's limits and switches (vLLM's `--max-num-batched-tokens` and friends).
public struct SchedulerConfig: Sendable, Equatable {
    /// Tokens (prompt chunks plus decodes) run in one forward pass.
    public var maxNumBatchedTokens: Int
    /// Sequences that may be running at once.
    public var maxNumSeqs: Int
    /// Longest sequence (prompt plus output); nil: the model's context, capped at what the cache holds.
    public var maxModelLen: Int?
    /// Split long prompts over several steps, so they never hold up running decodes for long.
    public var enableChunkedPrefill: Bool
    public var enablePrefixCaching: Bool
    public var preemptionMode: PreemptionMode
    public var policy: SchedulingPolicy
    /// Share of blocks kept free when admitting new work while others run, so that running
    /// sequences can grow a little before anyone has to be preempted.
    public var watermark: Double

    public init(maxNumBatchedTokens: Int = 2048, maxNumSeqs: Int = 256, maxModelLen: Int? = nil,
                enableChunkedPrefill: Bool = true, enablePrefixCaching: Bool = true,
                preemptionMode: PreemptionMode = .auto, policy: SchedulingPolicy = .fcfs, watermark: Double = 0.01) {
        self.maxNumBatchedTokens = maxNumBatchedTokens
        self.maxNumSeqs = maxNumSeqs
        self.maxModelLen = maxModelLen
        self.enableChunkedPrefill = enableChunkedPrefill
        self.enablePrefixCaching = enablePrefixCaching
        self.preemptionMode = preemptionMode
        self.policy = policy
        self.watermark = watermark
    }

    /// Why this configuration cannot be used, or nil.
    public func problem() -> String? {
        if maxNumBatchedTokens < 1 { return "max-num-batched-tokens must be at least 1" }
        if maxNumSeqs < 1 { return "max-num-seqs must be at least 1" }
        if let m = maxModelLen, m < 2 { return "max-model-len must be at least 2" }
        if !(0..<1).contains(watermark) { return "the watermark must be in [0, 1)" }
        return nil
    }
}
