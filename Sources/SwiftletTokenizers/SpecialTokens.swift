/// The stages every tokenizer model shares around its vocabulary: added tokens, matched whole
/// before the model runs, and the post-processor's ids around the text, with BOS and EOS.
public struct SpecialTokens: Sendable {
    public var added: [AddedToken] = []
    public var bosTokenID: Int? = nil
    public var eosTokenIDs: [Int] = []
    /// Ids put around the encoded text when special tokens are added (BOS, or `[CLS]` … `[SEP]`).
    public var prefixIDs: [Int] = []
    public var suffixIDs: [Int] = []

    public init(added: [AddedToken] = [], bosTokenID: Int? = nil, eosTokenIDs: [Int] = [], prefixIDs: [Int] = [],
                suffixIDs: [Int] = []) {
        self.added = added
        self.bosTokenID = bosTokenID
        self.eosTokenIDs = eosTokenIDs
        self.prefixIDs = prefixIDs
        self.suffixIDs = suffixIDs
    }

    /// The vocabulary with each added token's text at its id where the vocabulary has none.
    func strings(_ tokens: [String]) -> [String] {
        var strings = tokens
        for t in added {
            while strings.count <= t.id { strings.append("") }
            if strings[t.id].isEmpty { strings[t.id] = t.content }
        }
        return strings
    }

    /// Which of `count` ids are special: those `decode(skipSpecialTokens:)` leaves out.
    func flags(count: Int) -> [Bool] {
        var special = [Bool](repeating: false, count: count)
        for t in added where t.special { special[t.id] = true }
        return special
    }

    /// Whether encoding with special tokens puts BOS first; without a BOS id, whether it puts
    /// anything first when `anyPrefixCounts` (BERT's `[CLS]`).
    func addsBOS(anyPrefixCounts: Bool) -> Bool {
        bosTokenID.map { prefixIDs.contains($0) } ?? (anyPrefixCounts && !prefixIDs.isEmpty)
    }

    /// Matchers for the added tokens found in the raw text and, spelled as the normalizer
    /// spells them, in the normalized text.
    func matchers(spelling: @escaping (AddedToken) -> [UInt8] = { Array($0.content.utf8) })
        -> (raw: AddedTokenMatcher, normalized: AddedTokenMatcher) {
        (AddedTokenMatcher(added.filter { !$0.normalized }), AddedTokenMatcher(added.filter { $0.normalized }, spelling: spelling))
    }
}
