import Foundation
import SwiftletKernels
import SwiftletModels
#if canImport(Glibc)
import Glibc
#endif

/// The swap tier: a memory-mapped file that holds KV blocks of preempted sequence groups.
///
/// The paper swaps to CPU memory because its cache lives on the GPU; here the cache already is in
/// RAM, so the tier is a file mapping instead, which the kernel can page out to disk under memory
/// pressure, the point of swapping being to give the cache's RAM to other sequences. The file is
/// unlinked as soon as it is mapped, so it disappears with the process.
///
/// A swap block holds one device block of every storage layer (every model layer, or one KV
/// cache group's layers): the keys, then the values, layer by layer.
public final class SwapSpace: @unchecked Sendable {
    public let numBlocks: Int
    /// Bytes of one swap block (keys and values of all layers).
    public let bytesPerBlock: Int
    private let region: UnsafeMutableRawPointer
    private let regionBytes: Int
    private let layers: Int
    private let blockBytes: Int

    public enum SwapError: Error, CustomStringConvertible {
        case cannotCreate(String)
        public var description: String {
            switch self { case .cannotCreate(let why): return "cannot create the swap space: \(why)" }
        }
    }

    /// Maps a swap file of about `bytes` bytes laid out for `cache`'s blocks, in `directory`
    /// (the temporary directory by default). Throws if not even one block fits.
    public init(bytes: Int, cache: PagedKVCache, directory: String? = nil) throws {
        layers = cache.numLayers
        blockBytes = cache.blockBytes
        bytesPerBlock = 2 * cache.numLayers * cache.blockBytes
        numBlocks = bytes / bytesPerBlock
        guard numBlocks > 0 else { throw SwapError.cannotCreate("\(bytes) bytes hold no block of \(bytesPerBlock) bytes") }
        regionBytes = numBlocks * bytesPerBlock
        let dir = directory ?? NSTemporaryDirectory()
        var template = Array((dir as NSString).appendingPathComponent("swiftlet-swap-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SwapError.cannotCreate("mkstemp in \(dir) failed (errno \(errno))") }
        defer { close(fd) }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        guard ftruncate(fd, off_t(regionBytes)) == 0 else { throw SwapError.cannotCreate("cannot size the file to \(regionBytes) bytes (errno \(errno))") }
        guard let p = mmap(nil, regionBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw SwapError.cannotCreate("mmap of \(regionBytes) bytes failed (errno \(errno))")
        }
        region = p
    }

    deinit { munmap(region, regionBytes) }

    public var totalBytes: Int { regionBytes }

    private func slot(_ block: Int32, layer: Int) -> (key: UnsafeMutableRawPointer, value: UnsafeMutableRawPointer) {
        let base = region + Int(block) * bytesPerBlock + 2 * layer * blockBytes
        return (base, base + blockBytes)
    }

    /// Copies device blocks to swap blocks (`source` is a device block, `destination` a swap block).
    public func swapOut(_ copies: [BlockCopy], from cache: PagedKVCache) {
        for c in copies {
            for l in 0..<layers {
                let d = cache.blockPointers(layer: l, block: Int(c.source)), s = slot(c.destination, layer: l)
                s.key.copyMemory(from: d.key, byteCount: blockBytes)
                s.value.copyMemory(from: d.value, byteCount: blockBytes)
            }
        }
    }

    /// Copies swap blocks back to device blocks (`source` is a swap block, `destination` a device block).
    public func swapIn(_ copies: [BlockCopy], into cache: PagedKVCache) {
        for c in copies {
            for l in 0..<layers {
                let d = cache.blockPointers(layer: l, block: Int(c.destination)), s = slot(c.source, layer: l)
                d.key.copyMemory(from: s.key, byteCount: blockBytes)
                d.value.copyMemory(from: s.value, byteCount: blockBytes)
            }
        }
    }
}
