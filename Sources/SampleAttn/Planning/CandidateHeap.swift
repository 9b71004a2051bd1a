/// A max-heap of (mass, id), ties to the lower id (deterministic picks).
struct Candidates {
    private var items: [(mass: Double, id: Int)] = []

    private static func above(_ a: (mass: Double, id: Int), _ b: (mass: Double, id: Int)) -> Bool {
        a.mass != b.mass ? a.mass > b.mass : a.id < b.id
    }

    init(_ initial: [(mass: Double, id: Int)]) {
        items = initial
        var i = items.count / 2
        while i > 0 { i -= 1; siftDown(i) }
    }

    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ x: (mass: Double, id: Int)) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !Self.above(items[i], items[parent]) { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (mass: Double, id: Int) {
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty { items[0] = last; siftDown(0) }
        return top
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < items.count && Self.above(items[l], items[best]) { best = l }
            if r < items.count && Self.above(items[r], items[best]) { best = r }
            if best == i { return }
            items.swapAt(i, best)
            i = best
        }
    }
}
