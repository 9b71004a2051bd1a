import ArgumentParser
import CSampleAttn

/// The mode names shared by the CLI, the Python binding and the docs: dense, sample,
/// sample_slash (or its short form slash), in any case.
enum ModeName {
    static func parse(_ name: String, allowDense: Bool = true) throws -> Int32 {
        switch name.lowercased() {
        case "dense" where allowDense: return SA_MODE_DENSE
        case "sample": return SA_MODE_SAMPLE
        case "sample_slash", "slash": return SA_MODE_SAMPLE_SLASH
        default:
            let names = (allowDense ? ["dense"] : []) + ["sample", "sample_slash", "slash"]
            throw ValidationError("unknown mode '\(name)': use one of \(names.joined(separator: ", "))")
        }
    }
}
