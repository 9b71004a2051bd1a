/// A max-heap of (mass, id), ties to the lower id (deterministic picks): stage 2's candidates
/// pushed back after a pop (RankedCandidates). Sifts move a hole through one buffer instead of
/// swapping through the array.
struct Candidates {
    typealias Item = (mass: Double, id: Int)
    private var items: [Item] = []

    /// a ranks before b.
    @inline(__always) static func above(_ a: Item, _ b: Item) -> Bool {
        a.mass != b.mass ? a.mass > b.mass : a.id < b.id
    }

    init(_ initial: consuming [Item]) {
        items = initial
        items.withUnsafeMutableBufferPointer { heap in
            var i = heap.count / 2
            while i > 0 { i -= 1; Self.siftDown(heap, from: i, heap[i]) }
        }
    }

    var isEmpty: Bool { items.isEmpty }
    var top: Item? { items.first }

    mutating func push(_ x: Item) {
        items.append(x)
        items.withUnsafeMutableBufferPointer { heap in
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                if !Self.above(x, heap[parent]) { break }
                heap[i] = heap[parent]
                i = parent
            }
            heap[i] = x
        }
    }

    /// All items, in heap order; the heap is left empty.
    mutating func removeAll() -> [Item] {
        defer { items = [] }
        return items
    }

    mutating func pop() -> Item {
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty { items.withUnsafeMutableBufferPointer { Self.siftDown($0, from: 0, last) } }
        return top
    }

    /// Places x, which belongs at `start` or below, moving the larger children up.
    private static func siftDown(_ heap: UnsafeMutableBufferPointer<Item>, from start: Int, _ x: Item) {
        let n = heap.count
        var i = start
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var child = l
            if l + 1 < n && above(heap[l + 1], heap[l]) { child = l + 1 }
            if !above(heap[child], x) { break }
            heap[i] = heap[child]
            i = child
        }
        heap[i] = x
    }
}
