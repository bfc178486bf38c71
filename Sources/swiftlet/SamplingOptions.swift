import ArgumentParser
import Foundation
import SwiftletEngine
import SwiftletFormats
import SwiftletGrammar

/// `generate`'s decoding controls: the defaults of every request (`--input` lines may override
/// them), named after vLLM's and the OpenAI API's parameters.
struct SamplingOptions: ParsableArguments {
    @Option(name: .long, help: "Sampling temperature (0 = greedy).")
    var temperature: Double = 0

    @Option(name: .long, help: "Nucleus sampling: keep the most likely tokens up to this probability mass (1 = off).")
    var topP: Double = 1

    @Option(name: .long, help: "Keep only the k most likely tokens (0 = off).")
    var topK: Int = 0

    @Option(name: .long, help: "Drop tokens less likely than this fraction of the most likely one (0 = off).")
    var minP: Double = 0

    @Option(name: .long, help: "Above 1 discourages tokens already in the prompt or output (1 = off).")
    var repetitionPenalty: Double = 1

    @Option(name: .long, help: "Subtracted from the logit of every token already generated.")
    var presencePenalty: Double = 0

    @Option(name: .long, help: "Subtracted from a token's logit once per time it was generated.")
    var frequencyPenalty: Double = 0

    @Option(name: .long, help: "Seed of each request's random stream (request i uses seed + i).")
    var seed: UInt64?

    @Option(name: .customLong("n"), help: "Completions per prompt.")
    var n: Int = 1

    @Option(name: .long, help: "Completions generated per prompt, of which the n with the highest cumulative logprob are returned.")
    var bestOf: Int?

    @Option(name: .long, help: "Beam search with this many beams (returns the n best hypotheses).")
    var beamWidth: Int?

    @Option(name: .long, help: "Beam search: scores are summed logprobs / length ** this.")
    var lengthPenalty: Double = 1

    @Option(name: .long, help: "Beam search: true (stop at beam-width hypotheses), false (heuristic) or never.")
    var earlyStopping: String = "false"

    @Option(name: .long, help: "Report each generated token's logprob and this many alternatives.")
    var logprobs: Int?

    @Option(name: .long, help: "Report each prompt token's logprob and this many alternatives (with --input).")
    var promptLogprobs: Int?

    @Option(name: .long, help: "A string that ends a completion (repeatable).")
    var stop: [String] = []

    @Option(name: .long, help: "Tokens to generate before EOS or a stop may end a completion.")
    var minTokens: Int = 0

    @Option(name: .long, help: ArgumentHelp("Constrain the output to JSON valid under the JSON schema in this file.", valueName: "file"))
    var jsonSchema: String?

    @Option(name: .long, help: "Constrain the output to text that matches this regular expression in full.")
    var regex: String?

    @Option(name: .long, help: ArgumentHelp("Constrain the output to the GBNF grammar (llama.cpp's format, start rule root) in this file.",
                                            valueName: "file"))
    var grammar: String?

    @Option(name: .long, help: "Constrain the output to exactly one of these strings (repeatable).")
    var choice: [String] = []

    /// The output constraint the options ask for (reads the schema or grammar file).
    func structuredOutput() throws -> GrammarSpec? {
        let given = [jsonSchema != nil, regex != nil, grammar != nil, !choice.isEmpty].filter { $0 }.count
        guard given <= 1 else { throw ValidationError("give at most one of --json-schema, --regex, --grammar and --choice") }
        func read(_ path: String, _ option: String) throws -> String {
            do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw ValidationError("\(option): cannot read \(path): \(error.localizedDescription)")
            }
        }
        if let path = jsonSchema {
            let schema: JSONValue
            do { schema = try JSONValue.parse(try read(path, "--json-schema")) } catch let e as ValidationError { throw e } catch {
                throw ValidationError("--json-schema: \(path) is not valid JSON: \(error)")
            }
            guard schema.object != nil else { throw ValidationError("--json-schema: \(path) must hold a JSON object") }
            // Compact text, keys in the file's order (the order the output's keys are generated in).
            return .jsonSchema(schema.serialized())
        }
        if let regex { return .regex(regex) }
        if let path = grammar { return .gbnf(try read(path, "--grammar")) }
        return choice.isEmpty ? nil : .choice(choice)
    }

    static func earlyStopping(_ s: String) -> BeamEarlyStopping? {
        switch s.lowercased() {
        case "true": return .always
        case "false": return .heuristic
        case "never": return .never
        default: return nil
        }
    }

    func validate() throws {
        guard Self.earlyStopping(earlyStopping) != nil else { throw ValidationError("--early-stopping must be true, false or never") }
        if beamWidth == nil, lengthPenalty != 1 || earlyStopping.lowercased() != "false" {
            throw ValidationError("--length-penalty and --early-stopping go with --beam-width")
        }
        if beamWidth != nil, bestOf != nil { throw ValidationError("--beam-width sets the number of beams; leave --best-of out") }
        if let p = params(maxTokens: 1, ignoreEOS: false).problem() { throw ValidationError(p) }
        _ = try structuredOutput()
    }


    func params(maxTokens: Int?, ignoreEOS: Bool, index: Int = 0) -> SamplingParams {
        var p = SamplingParams(n: n, bestOf: beamWidth ?? bestOf, maxTokens: maxTokens, minTokens: minTokens, temperature: temperature,
                               topP: topP, topK: topK, minP: minP, repetitionPenalty: repetitionPenalty,
                               presencePenalty: presencePenalty, frequencyPenalty: frequencyPenalty,
                               seed: seed.map { $0 &+ UInt64(index) }, ignoreEOS: ignoreEOS, stop: stop,
                               logprobs: logprobs, promptLogprobs: promptLogprobs)
        // validate() has read the files already, so this does not fail.
        p.structuredOutput = try? structuredOutput()
        if beamWidth != nil {
            p.useBeamSearch = true
            p.lengthPenalty = lengthPenalty
            p.earlyStopping = Self.earlyStopping(earlyStopping) ?? .heuristic
        }
        return p
    }
}
