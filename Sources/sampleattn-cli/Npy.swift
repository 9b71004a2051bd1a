import Foundation

/// A float16/float32 C-order .npy array loaded into memory (enough for the attention dumps).
final class NpyArray {
    let shape: [Int]
    let dtype: Int32            // SA_DTYPE_*
    let data: UnsafeMutableRawPointer
    let byteCount: Int

    init(path: String) throws {
        guard let file = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path)") }
        guard file.count > 10, file.prefix(6) == Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) else {
            throw CLIError("\(path) is not a .npy file")
        }
        let major = file[6]
        let headerLength: Int, headerStart: Int
        if major == 1 {
            headerLength = Int(file[8]) | Int(file[9]) << 8; headerStart = 10
        } else {
            headerLength = Int(file[8]) | Int(file[9]) << 8 | Int(file[10]) << 16 | Int(file[11]) << 24; headerStart = 12
        }
        let header = String(decoding: file[headerStart..<headerStart + headerLength], as: UTF8.self)
        if header.contains("'fortran_order': True") { throw CLIError("\(path): Fortran order is not supported") }
        if header.contains("'<f2'") { dtype = 1 } else if header.contains("'<f4'") { dtype = 0 } else {
            throw CLIError("\(path): only float16 and float32 are supported (\(header))")
        }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw CLIError("\(path): no shape in header")
        }
        shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let elementSize = dtype == 1 ? 2 : 4
        byteCount = shape.reduce(1, *) * elementSize
        let offset = headerStart + headerLength
        guard file.count >= offset + byteCount else { throw CLIError("\(path): truncated") }
        data = .allocate(byteCount: max(byteCount, 1), alignment: 64)
        file.withUnsafeBytes { raw in data.copyMemory(from: raw.baseAddress! + offset, byteCount: byteCount) }
    }

    deinit { data.deallocate() }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
