/// Stage 2, score-based key filtering: the fewest columns that bring the sampled rows' kept mass
/// (window + sinks + columns) to alpha on average.

/// Selected stripe columns (ascending, sinks excluded) for one head.
/// - columnMass: sampled mass per key outside each row's window ([sk]).
/// - windowMass: total mass of the sampled rows inside their windows.
/// - rows: number of sampled rows; sinks: forced first keys (counted as kept before choosing).
/// - candidates: keys that can lie outside a window ([sinks, sk - window)).
func selectColumns(columnMass: UnsafePointer<Float>, sk: Int, window: Int, windowMass: Double,
                   rows: Int, alpha: Float, sinks: Int, minStripes: Int, maxStripes: Int) -> [Int] {
    let firstCandidate = min(sinks, sk)
    let endCandidate = max(firstCandidate, sk - window)
    var kept = windowMass
    for j in 0..<firstCandidate { kept += Double(columnMass[j]) }
    let target = Double(alpha) * Double(rows)

    var positive: [Int] = []
    positive.reserveCapacity(endCandidate - firstCandidate)
    for j in firstCandidate..<endCandidate where columnMass[j] > 0 { positive.append(j) }
    // Descending mass, ties by lower index: deterministic.
    positive.sort { a, b in
        let ma = columnMass[a], mb = columnMass[b]
        return ma != mb ? ma > mb : a < b
    }
    var count = 0
    while count < positive.count && kept < target {
        kept += Double(columnMass[positive[count]])
        count += 1
    }
    count = max(count, min(minStripes, positive.count))
    if maxStripes > 0 { count = min(count, maxStripes) }
    var chosen = Array(positive[0..<count])
    if chosen.count < minStripes {
        // The budget asks for more columns than carry any mass: add the lowest-index others.
        let taken = Set(chosen)
        for j in firstCandidate..<endCandidate where chosen.count < minStripes && !taken.contains(j) {
            chosen.append(j)
        }
    }
    chosen.sort()
    return chosen
}
