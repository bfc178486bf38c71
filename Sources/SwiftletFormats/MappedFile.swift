#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A read-only memory map of a whole file.
///
/// Model files are mapped rather than read so that weights that are used in their stored
/// format (quantized matmuls) cost no copy, and the page cache is shared between processes.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ModelLoadError.io(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ModelLoadError.io(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw ModelLoadError.io(path: path, reason: (st.st_mode & S_IFMT) == S_IFDIR ? "is a directory, not a file" : "not a regular file")
        }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw ModelLoadError.io(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(p), count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

/// Errors raised while reading model files. Every case names the file and the problem so that a
/// damaged download is diagnosed from the message alone.
public enum ModelLoadError: Error, CustomStringConvertible, Equatable {
    case io(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unsupported(path: String, reason: String)

    public var description: String {
        switch self {
        case .io(let p, let r): return "cannot read \(p): \(r)"
        case .malformed(let p, let r): return "malformed model file \(p): \(r)"
        case .unsupported(let p, let r): return "unsupported model file \(p): \(r)"
        }
    }
}
