import Foundation
import CSampleAttn
import SampleAttn

/// One head-major float16 [H, S, d] .npy file.
final class HeadMajorNpy {
    let heads: Int, tokens: Int, dim: Int
    let data: UnsafeMutableRawPointer
    deinit { data.deallocate() }
    init(_ path: String) throws {
        let file = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = Int(file[8]) | Int(file[9]) << 8
        let header = String(decoding: file[10..<10 + headerLength], as: UTF8.self)
        guard header.contains("'<f2'"), header.contains("'fortran_order': False"),
              let open = header.range(of: "'shape': ("),
              let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw NSError(domain: "npy", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(path): float16 C-order expected"])
        }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        (heads, tokens, dim) = (shape[0], shape[1], shape[2])
        let bytes = file.count - 10 - headerLength
        data = .allocate(byteCount: bytes, alignment: 64)
        file.withUnsafeBytes { data.copyMemory(from: $0.baseAddress! + 10 + headerLength, byteCount: bytes) }
    }
    /// Element (head, token, c) as float32.
    func value(_ h: Int, _ t: Int, _ c: Int) -> Float {
        var x: Float = 0
        sac_load_f32(data + ((h * tokens + t) * dim + c) * 2, SA_DTYPE_F16, &x, 1, 1)
        return x
    }
    /// Every token of every head, as a strided view of the file's memory.
    func view() -> sa_tensor { view(0..<tokens) }
    /// The tokens `range` of every head, as a strided view of the file's memory.
    func view(_ range: Range<Int>) -> sa_tensor {
        sa_tensor(data: data + range.lowerBound * dim * 2, dtype: SA_DTYPE_F16, reserved: 0,
                  n_tokens: Int64(range.count), n_heads: Int64(heads), head_dim: Int64(dim),
                  stride_token: Int64(dim), stride_head: Int64(tokens * dim))
    }
}
