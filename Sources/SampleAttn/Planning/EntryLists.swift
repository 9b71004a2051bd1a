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

/// One head's recorded entries (SampledEntries) of `rows`, listed by key and by diagonal
/// offset, in row order within each list: built once per head and shared by its selections,
/// each of which skips the rows it does not use.
struct EntryIndex {
    let byKey: EntryLists
    let byOffset: EntryLists

    init(_ e: SampledEntries, rows: [Int], positions: [Int], sk: Int) {
        var keyOf: [Int] = [], offsetOf: [Int] = [], ids: [Int] = []
        let count = rows.reduce(0) { $0 + Int(e.counts[$1]) }
        keyOf.reserveCapacity(count); offsetOf.reserveCapacity(count); ids.reserveCapacity(count)
        for i in rows {
            let p = positions[i]
            for s in 0..<Int(e.counts[i]) {
                let id = i * SampledEntries.capacity + s
                let j = Int(e.keys[id])
                ids.append(id); keyOf.append(j); offsetOf.append(p - j)
            }
        }
        byKey = EntryLists(ids: ids, lists: keyOf, count: sk)
        byOffset = EntryLists(ids: ids, lists: offsetOf, count: sk)
    }
}
