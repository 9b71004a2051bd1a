#if canImport(Glibc)
import Glibc
#endif
import CSampleAttn

/// Scratch memory of one call: 64-byte aligned blocks, counted against the context's limit,
/// all freed together (or handed to the context's cache). Allocation failure is an SAError,
/// never a crash. Large zeroed blocks are zeroed on the call's `threads` (tens of MB on one
/// thread were a serial step of the call).
final class Workspace {
    private var blocks: [BlockCache.Block] = []
    private let limit: Int          // bytes, 0 = none
    private let threads: Int
    private let cache: BlockCache?
    private(set) var bytes = 0

    init(limit: Int, threads: Int = 1, cache: BlockCache? = nil) {
        self.limit = limit
        self.threads = threads
        self.cache = cache
    }

    deinit {
        if let cache { cache.keep(blocks) } else { for b in blocks { free(b.pointer) } }
    }

    func allocate<T>(_ count: Int, of: T.Type, zeroed: Bool = false, what: String) throws -> UnsafeMutablePointer<T> {
        let size = try checkedProduct(max(count, 1), MemoryLayout<T>.stride, what: what)
        if limit > 0 && size > limit - bytes {
            throw SAError(SA_ERR_OUT_OF_MEMORY, "\(what): \(size) bytes would exceed the context's memory limit of \(limit) bytes (\(bytes) in use)")
        }
        let block = try cache?.take(atLeast: size) ?? fresh(size, what: what)
        blocks.append(block)
        let raw = block.pointer
        if zeroed { zero(raw, size) } else if poisonWorkspace { memset(raw, 0xff, size) }
        bytes += size
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    private func fresh(_ size: Int, what: String) throws -> BlockCache.Block {
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, size) == 0, let raw else {
            throw SAError(SA_ERR_OUT_OF_MEMORY, "\(what): allocating \(size) bytes failed")
        }
        return BlockCache.Block(pointer: raw, capacity: size)
    }

    /// memset in 64 KiB chunks, one task each, once the block spans a few chunks.
    private func zero(_ raw: UnsafeMutableRawPointer, _ size: Int) {
        let chunk = 1 << 16
        guard threads > 1, size >= 8 * chunk else { memset(raw, 0, size); return }
        parallelFor(threads: threads, tasks: (size + chunk - 1) / chunk) { t, _ in
            memset(raw + t * chunk, 0, min(chunk, size - t * chunk))
        }
    }
}

/// Tests only: SAMPLEATTN_TEST_POISON_WORKSPACE set fills every block not asked zeroed with NaN
/// bytes, so a kernel that reads scratch before writing it (fresh or cached) shows.
private let poisonWorkspace = getenv("SAMPLEATTN_TEST_POISON_WORKSPACE") != nil
