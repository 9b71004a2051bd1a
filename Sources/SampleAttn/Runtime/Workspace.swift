#if canImport(Glibc)
import Glibc
#endif
import CSampleAttn

/// Scratch memory of one call: 64-byte aligned blocks, counted against the context's limit,
/// all freed together. Allocation failure is an SAError, never a crash.
final class Workspace {
    private var blocks: [UnsafeMutableRawPointer] = []
    private let limit: Int          // bytes, 0 = none
    private(set) var bytes = 0

    init(limit: Int) { self.limit = limit }

    deinit { for b in blocks { free(b) } }

    func allocate<T>(_ count: Int, of: T.Type, zeroed: Bool = false, what: String) throws -> UnsafeMutablePointer<T> {
        let size = try checkedProduct(max(count, 1), MemoryLayout<T>.stride, what: what)
        if limit > 0 && size > limit - bytes {
            throw SAError(SA_ERR_OUT_OF_MEMORY, "\(what): \(size) bytes would exceed the context's memory limit of \(limit) bytes (\(bytes) in use)")
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, size) == 0, let raw else {
            throw SAError(SA_ERR_OUT_OF_MEMORY, "\(what): allocating \(size) bytes failed")
        }
        if zeroed { memset(raw, 0, size) }
        blocks.append(raw)
        bytes += size
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }
}
