import Foundation

/// Short names for the models `scripts/bootstrap.sh` installs in `DefaultModel.directory`, so
/// `--model gemma3` finds the Gemma 3 file wherever the cache is.
public enum ModelAliases {
    /// Alias to file name in `DefaultModel.directory`.
    public static let files: [String: String] = [
        "smollm2": DefaultModel.fileName,
        "gemma3": "gemma-3-270m-q4_k_m.gguf",
    ]

    /// The path `model` names: itself when a file or directory of that name exists (a path always
    /// wins over an alias), else the aliased file, else `model` unchanged.
    public static func resolve(_ model: String) -> String {
        if FileManager.default.fileExists(atPath: model) { return model }
        guard let file = files[model] else { return model }
        return (DefaultModel.directory as NSString).appendingPathComponent(file)
    }
}
