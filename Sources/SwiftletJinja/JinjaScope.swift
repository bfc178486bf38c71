/// A frame of variables. Jinja gives each `for` iteration, macro call and `with` block its
/// own frame, so a `set` inside them does not leak out (hence the `namespace()` idiom), while
/// `if` bodies write to the enclosing frame.
final class JinjaScope {
    var vars: [String: JinjaValue] = [:]
    let parent: JinjaScope?

    init(parent: JinjaScope?) { self.parent = parent }

    func lookup(_ name: String) -> JinjaValue? {
        var s: JinjaScope? = self
        while let cur = s {
            if let v = cur.vars[name] { return v }
            s = cur.parent
        }
        return nil
    }

    func child() -> JinjaScope { JinjaScope(parent: self) }
}
