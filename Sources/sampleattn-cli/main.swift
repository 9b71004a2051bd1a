import ArgumentParser

struct SampleAttnCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sampleattn",
        abstract: "libsampleattn tools: demo and benchmarks on real attention inputs.",
        subcommands: [Demo.self, Time.self])
}

SampleAttnCLI.main()
