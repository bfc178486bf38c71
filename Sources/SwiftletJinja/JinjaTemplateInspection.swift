extension JinjaTemplate {
    /// Whether some `for` loop iterates over `x.<member>` or `x['<member>']` (possibly through
    /// filters): how a chat template shows that it reads content parts rather than strings.
    public func loopsOverMember(_ member: String) -> Bool {
        func isMemberAccess(_ e: JinjaExpr) -> Bool {
            switch e.kind {
            case .getattr(_, let name) where name == member: return true
            case .getitem(_, let key):
                if case .literal(.string(let name)) = key.kind, name == member { return true }
                return false
            case .filter(let base, _, _): return isMemberAccess(base)
            default: return false
            }
        }
        func walk(_ nodes: [JinjaNode]) -> Bool {
            for n in nodes {
                switch n.kind {
                case .forLoop(_, let iterable, _, let body, let otherwise, _):
                    if isMemberAccess(iterable) || walk(body) || walk(otherwise) { return true }
                case .ifElse(let branches, let otherwise):
                    if branches.contains(where: { walk($0.1) }) || walk(otherwise) { return true }
                case .setBlock(_, _, let body), .filterBlock(_, let body), .with(_, let body), .scope(let body):
                    if walk(body) { return true }
                case .macro(let m), .callBlock(let m, _):
                    if walk(m.body) { return true }
                default: break
                }
            }
            return false
        }
        return walk(nodes)
    }
}
