#if canImport(Glibc)
import Glibc
#endif

/// Workspace blocks a context keeps between calls (sa_context_set_workspace_cache): a later
/// call of a similar shape reuses them instead of allocating, touching fresh pages for the
/// first time and freeing them again, serial steps of a call on many threads.
final class BlockCache {
    struct Block {
        let pointer: UnsafeMutableRawPointer
        let capacity: Int   // bytes allocated
    }

    /// Bytes the cache may hold between calls; 0 keeps nothing.
    private(set) var limit = 0
    private var kept: [Block] = []
    var bytes: Int { kept.reduce(0) { $0 + $1.capacity } }

    deinit { for b in kept { free(b.pointer) } }

    func setLimit(_ bytes: Int) {
        limit = bytes
        keep([])
    }

    /// The smallest kept block of at least `size` bytes, removed from the cache.
    func take(atLeast size: Int) -> Block? {
        var best: Int?
        for (i, b) in kept.enumerated() where b.capacity >= size && (best == nil || b.capacity < kept[best!].capacity) {
            best = i
        }
        return best.map { kept.remove(at: $0) }
    }

    /// Keeps the largest of these blocks and the ones already kept while they fit the limit;
    /// frees the others.
    func keep(_ blocks: [Block]) {
        var total = 0
        var next: [Block] = []
        for b in (kept + blocks).sorted(by: { $0.capacity > $1.capacity }) {
            if total + b.capacity <= limit {
                total += b.capacity
                next.append(b)
            } else {
                free(b.pointer)
            }
        }
        kept = next
    }
}
