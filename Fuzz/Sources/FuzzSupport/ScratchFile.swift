import Foundation

/// A file the parsers that read paths are fed through: one per process, rewritten for every input,
/// in /dev/shm when there is one so that no input touches the disk.
public enum ScratchFile {
    public static let path: String = {
        let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        return dir + "/swiftlet-fuzz-\(getpid())"
    }()

    /// Replaces the file's contents with `size` bytes at `data` and returns its path.
    public static func write(_ data: UnsafePointer<UInt8>, _ size: Int, suffix: String = "") -> String {
        let target = path + suffix
        let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "cannot open \(target)")
        var written = 0
        while written < size {
            let n = Foundation.write(fd, data + written, size - written)
            precondition(n > 0, "cannot write \(target)")
            written += n
        }
        close(fd)
        return target
    }
}
