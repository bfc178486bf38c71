/// Replaces every non-overlapping occurrence of `from`, left to right (Rust's `str::replace`).
func replaceBytes(_ s: [UInt8], _ from: [UInt8], _ to: [UInt8]) -> [UInt8] {
    guard !from.isEmpty, s.count >= from.count else { return s }
    var out: [UInt8] = []
    out.reserveCapacity(s.count)
    var i = 0
    let last = s.count - from.count
    while i < s.count {
        if i <= last && s[i] == from[0] && s[i..<(i + from.count)].elementsEqual(from) {
            out.append(contentsOf: to)
            i += from.count
        } else {
            out.append(s[i])
            i += 1
        }
    }
    return out
}

/// UTF-8 of a list of scalar values.
func utf8Bytes(_ scalars: [UInt32]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(scalars.count)
    for v in scalars { out.append(contentsOf: UTF8.encode(Unicode.Scalar(v) ?? "\u{FFFD}")!) }
    return out
}
