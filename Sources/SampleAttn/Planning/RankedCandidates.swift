/// Stage 2's candidates popped in rank order: the largest mass first, ties to the lower id, the
/// order of Candidates' pops. A selection pops up to thousands of its ~S_k items, and a heap
/// pays a sift of log2(S_k) levels for each; here the next batch of the best remaining items is
/// split off (one pass against a threshold from a sample) and sorted, batches doubling from
/// `firstBatch`, and items pushed back after a pop (their mass only falls) wait in a heap beside
/// the batch (docs/KERNEL_NOTES.md). Any split that leaves the rest below the whole batch gives
/// the same pops.
struct RankedCandidates {
    typealias Item = Candidates.Item
    static let firstBatch = 256
    static let sampleSize = 256

    private var rest: [Item]          // not batched yet, in no order; all rank below the batch
    private var batch: [Item] = []    // ascending: the next pop is the last
    private var pushed = Candidates([])
    private var nextBatch = firstBatch

    init(_ initial: consuming [Item]) { rest = initial }

    var isEmpty: Bool { batch.isEmpty && rest.isEmpty && pushed.isEmpty }

    mutating func push(_ x: Item) { pushed.push(x) }

    mutating func pop() -> Item {
        if batch.isEmpty { refill() }
        if let top = pushed.top, batch.isEmpty || Self.above(top, batch.last!) { return pushed.pop() }
        return batch.removeLast()
    }

    @inline(__always) static func above(_ a: Item, _ b: Item) -> Bool { Candidates.above(a, b) }

    /// About the best `nextBatch` of the rest, and the pushed-back items that rank with them,
    /// into the batch (ascending); the rest keeps what ranks below them all.
    private mutating func refill() {
        rest.append(contentsOf: pushed.removeAll())
        let k = min(nextBatch, rest.count)
        nextBatch *= 2
        let taken = rest.withUnsafeMutableBufferPointer { Self.splitBest(about: k, of: $0) }
        batch = Array(rest[(rest.count - taken)...])
        rest.removeLast(taken)
        batch.withUnsafeMutableBufferPointer { CandidateSort.sortBestLast($0) }
    }

    /// Moves the items that rank at or above a threshold to the end of `items` (in no order) and
    /// returns their count: at least one when items is not empty, about k (all of them when
    /// k >= count). The threshold is the item of an evenly spaced sample that about k items
    /// rank at or above; one pass of comparisons against it, where a quickselect made two or
    /// three.
    static func splitBest(about k: Int, of items: UnsafeMutableBufferPointer<Item>) -> Int {
        let n = items.count
        guard k > 0, n > 0 else { return 0 }
        if k >= n { return n }
        let m = min(n, sampleSize), step = n / m
        var sample = (0..<m).map { items[$0 * step] }
        sample.withUnsafeMutableBufferPointer { CandidateSort.sortBestLast($0) }   // the best last
        let pivot = sample[m - 1 - min(m - 1, k * m / n)]
        var i = 0, end = n                            // items[end...] rank at or above the pivot
        while i < end {
            if above(pivot, items[i]) {
                i += 1
            } else {
                end -= 1
                items.swapAt(i, end)
            }
        }
        return n - end
    }
}
