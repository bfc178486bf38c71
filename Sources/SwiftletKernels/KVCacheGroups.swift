/// How a model's layers share the paged KV cache (vLLM v1's KV cache groups).
///
/// Layers are grouped by attention window into groups of equal size `layersPerGroup`; each group
/// has its own block table per sequence, so a sliding-window group can free the blocks behind
/// its window while a global group keeps them all. The cache has `layersPerGroup` storage slots:
/// a block holds one slot's keys and values for each of them, and the i-th layer of whichever
/// group owns the block uses slot i. A block id belongs to one group at a time, so groups never
/// overwrite each other.
///
/// A model whose layers all share one window (or have none) is one group of all its layers,
/// layer l in slot l: the layout the cache had before groups existed.
public struct KVCacheGroups: Sendable, Equatable, CustomStringConvertible {
    /// The attention window of each group's layers (nil: they read the whole context).
    public let windows: [Int?]
    /// The group of each model layer.
    public let layerGroup: [Int]
    /// The storage slot of each model layer: its index among its group's layers.
    public let layerSlot: [Int]
    /// Layers in every group, and storage slots in the cache.
    public let layersPerGroup: Int

    /// Groups given by each group's window and each layer's group; a layer's slot is its rank
    /// among its group's layers. Every group must have the same number of layers.
    public init(windows: [Int?], layerGroup: [Int]) {
        precondition(!windows.isEmpty && !layerGroup.isEmpty, "KV cache groups need a layer")
        var counts = Array(repeating: 0, count: windows.count)
        var slots: [Int] = []
        for g in layerGroup {
            precondition(g >= 0 && g < windows.count, "layer group \(g) out of range")
            slots.append(counts[g])
            counts[g] += 1
        }
        precondition(counts.allSatisfy { $0 == counts[0] }, "KV cache groups of unequal sizes \(counts)")
        self.windows = windows
        self.layerGroup = layerGroup
        layerSlot = slots
        layersPerGroup = counts[0]
    }

    /// One group holding every layer, layer l in slot l.
    public static func single(numLayers: Int, window: Int? = nil) -> KVCacheGroups {
        KVCacheGroups(windows: [window], layerGroup: Array(repeating: 0, count: numLayers))
    }

    /// Groups layers by window, as vLLM does for a uniform page size: the group size is the
    /// greatest common divisor of the layer counts of each window, so that every layer's group
    /// has the same shape. Windows come in the order of their first layer; each window's layers,
    /// in order, fill its groups one after the other (Gemma 3 270M: 15 sliding layers and 3 global
    /// ones give groups of 3, five sliding then one global).
    public init(layerWindows: [Int?]) {
        var kinds: [Int?] = []
        var members: [[Int]] = []
        for (l, w) in layerWindows.enumerated() {
            if let k = kinds.firstIndex(where: { $0 == w }) {
                members[k].append(l)
            } else {
                kinds.append(w)
                members.append([l])
            }
        }
        let size = members.map(\.count).reduce(0) { Self.gcd($0, $1) }
        var windows: [Int?] = []
        var layerGroup = Array(repeating: 0, count: layerWindows.count)
        for (k, layers) in members.enumerated() {
            for start in stride(from: 0, to: layers.count, by: size) {
                for l in layers[start..<(start + size)] { layerGroup[l] = windows.count }
                windows.append(kinds[k])
            }
        }
        self.init(windows: windows, layerGroup: layerGroup)
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    public var count: Int { windows.count }
    public var numLayers: Int { layerGroup.count }

    /// Whether two layouts put every layer in the same group and slot (windows aside).
    public func sameStorage(as other: KVCacheGroups) -> Bool {
        layerGroup == other.layerGroup && layerSlot == other.layerSlot
    }

    /// E.g. "5 sliding (window 512) + 1 full, 3 layers each".
    public var description: String {
        var parts: [(window: Int?, count: Int)] = []
        for w in windows {
            if let i = parts.firstIndex(where: { $0.window == w }) { parts[i].count += 1 } else { parts.append((w, 1)) }
        }
        let kinds = parts.map { p in p.window.map { "\(p.count) sliding (window \($0))" } ?? "\(p.count) full" }
        return kinds.joined(separator: " + ") + ", \(layersPerGroup) layer\(layersPerGroup == 1 ? "" : "s") each"
    }
}
