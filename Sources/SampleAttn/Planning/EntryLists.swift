/// Entry ids grouped by a list number (a key, or a diagonal offset), in their original order
/// within each list: one flat array and the lists' starts (built once per selection; arrays of
/// arrays cost an allocation per non-empty list).
struct EntryLists {
    private var start: [Int] = []
    private var items: [Int] = []

    init() {}

    init(ids: [Int], lists: [Int], count: Int) {
        start = [Int](repeating: 0, count: count + 1)
        for l in lists { start[l + 1] += 1 }
        for l in 0..<count { start[l + 1] += start[l] }
        var next = start
        items = [Int](repeating: 0, count: ids.count)
        for (id, l) in zip(ids, lists) { items[next[l]] = id; next[l] += 1 }
    }

    subscript(list: Int) -> ArraySlice<Int> { items[start[list]..<start[list + 1]] }
}
