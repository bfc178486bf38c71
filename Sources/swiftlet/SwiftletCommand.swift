import ArgumentParser

@main
struct SwiftletCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlet",
        abstract: "LLM inference and serving with a paged KV cache.",
        subcommands: [GenerateCommand.self, BenchCommand.self, ServeCommand.self])
}
