/// Stage 2's candidates popped in rank order: the largest mass first, ties to the lower id, the
/// order of Candidates' pops. A selection pops up to thousands of its ~S_k items, and a heap
/// pays a sift of log2(S_k) levels for each; here the next batch of the best remaining items is
/// picked out (a quickselect: linear) and sorted, batches doubling from `firstBatch`, and items
/// pushed back after a pop (their mass only falls) wait in a heap beside the batch
/// (docs/KERNEL_NOTES.md).
struct RankedCandidates {
    typealias Item = Candidates.Item
    static let firstBatch = 256

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

    /// The best `nextBatch` of the rest, and the pushed-back items that rank with them, into the
    /// batch (ascending); the rest keeps what ranks below them all.
    private mutating func refill() {
        while !pushed.isEmpty { rest.append(pushed.pop()) }
        let k = min(nextBatch, rest.count)
        nextBatch *= 2
        rest.withUnsafeMutableBufferPointer { Self.selectBest(k, of: $0) }
        batch = Array(rest[(rest.count - k)...])
        rest.removeLast(k)
        batch.sort { Self.above($1, $0) }
    }

    /// Moves the k items that rank first to the end of `items` (in no order): quickselect with
    /// median-of-three pivots.
    static func selectBest(_ k: Int, of items: UnsafeMutableBufferPointer<Item>) {
        guard k > 0 && k < items.count else { return }
        var lo = 0, hi = items.count - 1
        let target = items.count - k        // the first index of the best k once sorted ascending
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            // The median of lo, mid, hi as the pivot (a sorted or reversed run costs no more).
            if above(items[lo], items[mid]) { items.swapAt(lo, mid) }
            if above(items[mid], items[hi]) { items.swapAt(mid, hi) }
            if above(items[lo], items[mid]) { items.swapAt(lo, mid) }
            let pivot = items[mid]
            var i = lo, j = hi
            while i <= j {
                while above(pivot, items[i]) { i += 1 }
                while above(items[j], pivot) { j -= 1 }
                if i <= j { items.swapAt(i, j); i += 1; j -= 1 }
            }
            // items[lo...j] rank at most the pivot, items[i...hi] at least; between them, the pivot.
            if target <= j { hi = j } else if target >= i { lo = i } else { return }
        }
    }
}
