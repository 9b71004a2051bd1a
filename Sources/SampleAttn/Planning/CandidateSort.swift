/// Sorts stage 2's candidates by rank, best last (the order RankedCandidates pops from): a
/// quicksort with a median-of-three pivot and insertion sort on short ranges, and the standard
/// library's sort where the quicksort recurses too deep. Ranks with ids are a total order (ties
/// go to the lower id), so any correct sort gives the same result; this one moves items in place
/// where the standard library's stable sort allocates a buffer and merges (docs/KERNEL_NOTES.md).
enum CandidateSort {
    typealias Item = Candidates.Item
    static let insertionLimit = 16

    /// a sorts before b: b ranks above a.
    @inline(__always) static func before(_ a: Item, _ b: Item) -> Bool { Candidates.above(b, a) }

    static func sortBestLast(_ items: UnsafeMutableBufferPointer<Item>) {
        guard items.count > 1 else { return }
        quicksort(items, 0, items.count, depth: 2 * (Int.bitWidth - items.count.leadingZeroBitCount))
    }

    private static func quicksort(_ a: UnsafeMutableBufferPointer<Item>, _ low: Int, _ high: Int, depth: Int) {
        var lo = low, hi = high, depth = depth
        while hi - lo > insertionLimit {
            if depth == 0 {
                var rest = UnsafeMutableBufferPointer(rebasing: a[lo..<hi])
                rest.sort(by: before)
                return
            }
            depth -= 1
            let p = partition(a, lo, hi)
            // Recurse into the shorter side, loop on the longer: the stack stays O(log n).
            if p - lo < hi - p - 1 {
                quicksort(a, lo, p, depth: depth)
                lo = p + 1
            } else {
                quicksort(a, p + 1, hi, depth: depth)
                hi = p
            }
        }
        insertionSort(a, lo, hi)
    }

    /// Partitions [lo, hi) around the median of its first, middle and last items; returns the
    /// pivot's final index (items before it sort before it, items after it after it).
    private static func partition(_ a: UnsafeMutableBufferPointer<Item>, _ lo: Int, _ hi: Int) -> Int {
        let mid = lo + (hi - lo) / 2, last = hi - 1
        if before(a[mid], a[lo]) { a.swapAt(mid, lo) }
        if before(a[last], a[lo]) { a.swapAt(last, lo) }
        if before(a[last], a[mid]) { a.swapAt(last, mid) }
        a.swapAt(mid, last - 1)                 // the median waits at last - 1
        let pivot = a[last - 1]
        var i = lo, j = last - 1
        while true {
            repeat { i += 1 } while before(a[i], pivot)
            repeat { j -= 1 } while before(pivot, a[j])
            if i >= j { break }
            a.swapAt(i, j)
        }
        a.swapAt(i, last - 1)
        return i
    }

    private static func insertionSort(_ a: UnsafeMutableBufferPointer<Item>, _ lo: Int, _ hi: Int) {
        guard hi - lo > 1 else { return }
        for i in (lo + 1)..<hi {
            let x = a[i]
            var j = i
            while j > lo && before(x, a[j - 1]) { a[j] = a[j - 1]; j -= 1 }
            a[j] = x
        }
    }
}
