import CSampleAttn

/// Stage 2, score-based key filtering: the fewest stripes that bring the sampled rows' kept mass
/// outside the forced sinks (window + stripes) to alpha of that mass. Stripes are key columns
/// (the paper) and, when `maxDiagonals` > 0, diagonals (key p - delta for every row p). Both are
/// taken greedily by the sampled mass they still add: a diagonal's mass comes from many rows at
/// one offset, which is what a repeated passage looks like, and picking one removes its entries
/// from the columns' masses (and the reverse), so a row's key is never paid for twice.

/// The sampled mass on the first `sinks` keys (always kept; alpha applies to the rest).
private func forcedSinkMass(_ columnMass: UnsafePointer<Float>, sinks: Int) -> Double {
    var mass = 0.0
    for j in 0..<sinks { mass += Double(columnMass[j]) }
    return mass
}

/// Selected stripes of one head: key columns (sinks excluded) and diagonal offsets, ascending.
typealias Stripes = (columns: [Int], diagonals: [Int])

/// A selection's stripes and whether they reached alpha (the candidates can run out first), or
/// abandoned: stopped by its EntryBound.
struct StripeSelection {
    var stripes: Stripes
    var reachedAlpha: Bool
    var abandoned = false
}

/// Stops a candidate window's selection once its mask must keep more entries than another
/// candidate of the same head already keeps: a lower bound, the window's and sinks' entries
/// plus each picked column's (diagonals only add), against the fewest entries of the head's
/// finished candidates, which they lower as they finish. A stopped candidate cannot be the
/// cheapest, so the plan is the same whichever candidates finish first.
struct EntryBound {
    let sq: Int
    let base: Int                              // the window's and sinks' entries
    let fewest: UnsafeMutablePointer<Int64>    // shared by the head's candidate tasks

    /// Entries column j adds to rows at positions sk - sq ..< sk outside a window of `window`.
    func columnEntries(_ j: Int, window: Int, sk: Int) -> Int { max(0, sk - max(j + window, sk - sq)) }
}

/// Selected stripes of one head: columns (ascending, sinks excluded) and diagonal offsets
/// (ascending, each >= window).
/// - columnMass: sampled mass per key outside each row's window ([sk]).
/// - windowMass: total mass of the rows inside their windows.
/// - rows: the sampled rows (indices in stage-1 order) the masses come from.
/// - positions: all sampled rows' positions, in stage-1 order; entries: their large entries
///   (nil when maxDiagonals is 0).
/// - index: the entries of a superset of `rows` by key and offset (built from `rows` when nil).
/// - credit: with a window narrower than stage 1's, each column's sampled mass in the band
///   between the two: added to the kept mass when the column is picked, but not to its rank, so
///   a column is not picked for the band mass of the few sampled groups near it.
/// - bound: stops the selection once the mask keeps more entries than the bound allows.
/// - candidates: columns in [sinks, sk - window), diagonals in [window, sk).
func selectStripes(columnMass: UnsafePointer<Float>, sk: Int, window: Int, windowMass: Double,
                   rows: [Int], positions: [Int], entries: SampledEntries?, index: EntryIndex? = nil,
                   alpha: Float, sinks: Int, minStripes: Int, maxStripes: Int, maxDiagonals: Int,
                   credit: UnsafePointer<Float>? = nil, priorRows: Double = 0, bound: EntryBound? = nil) -> StripeSelection {
    let firstCandidate = min(sinks, sk)
    let endCandidate = max(firstCandidate, sk - window)
    // alpha applies to the mass outside the forced sinks: heads that park most of their
    // attention on token 0 would otherwise meet alpha with sinks + window and drop the text part
    // (docs/DEFAULTS.md). With sinks = 0 this is the paper's rule; with sinks > 0 the overall
    // kept share is still >= alpha.
    let sinkMass = forcedSinkMass(columnMass, sinks: firstCandidate)
    var kept = windowMass
    let target = Double(alpha) * (Double(rows.count) - sinkMass)

    let useDiagonals = maxDiagonals > 0 && entries != nil
    // Rank (priorRows > 0): a stripe's mass per sampled row that sees it, plus priorRows rows,
    // i.e. its mass per kept entry: a column late in the prompt costs fewer rows than an early
    // one. The prior keeps a stripe seen by a few rows from ranking first on their noise.
    // rowsFrom[x]: the sampled rows at positions >= x, a table rather than a search per rank.
    var rowsFrom = [Int](repeating: 0, count: priorRows > 0 ? sk + 1 : 0)
    if priorRows > 0 {
        for i in rows { rowsFrom[positions[i]] += 1 }
        for x in stride(from: sk - 1, through: 0, by: -1) { rowsFrom[x] += rowsFrom[x + 1] }
    }
    func key(_ mass: Double, _ id: Int) -> Double {
        guard priorRows > 0 else { return mass }
        let first = id >= sk ? id - sk : id + window       // the first position that keeps it
        return mass / (Double(rowsFrom[min(first, sk)]) + priorRows)
    }
    var column = [Double](repeating: 0, count: sk)
    var initial: [(mass: Double, id: Int)] = []
    initial.reserveCapacity(endCandidate - firstCandidate + (useDiagonals ? sk : 0))
    for j in firstCandidate..<endCandidate where columnMass[j] > 0 {
        column[j] = Double(columnMass[j])
        initial.append((key(column[j], j), j))
    }
    // Diagonal d has id sk + d. Entries are indexed by key and by offset so a pick can take its
    // entries out of the other kind's masses.
    var diagonal = [Double](repeating: 0, count: useDiagonals ? sk : 0)
    var byKey = EntryLists(), byOffset = EntryLists()    // entry ids (row * capacity + slot)
    var alive: [Bool] = []
    if useDiagonals, let e = entries {
        for i in rows {
            let p = positions[i]
            for s in 0..<Int(e.counts[i]) {
                let id = i * SampledEntries.capacity + s
                diagonal[p - Int(e.keys[id])] += Double(e.probs[id])
            }
        }
        let lists = index ?? EntryIndex(e, rows: rows, positions: positions, sk: sk)
        byKey = lists.byKey
        byOffset = lists.byOffset
        // Entries of rows outside `rows` (a shared index lists them) start taken.
        alive = Array(repeating: index == nil, count: positions.count * SampledEntries.capacity)
        if index != nil {
            alive.withUnsafeMutableBufferPointer { a in
                for i in rows { (a.baseAddress! + i * SampledEntries.capacity).update(repeating: true, count: Int(e.counts[i])) }
            }
        }
        for d in window..<sk where diagonal[d] > 0 { initial.append((key(diagonal[d], sk + d), sk + d)) }
    }

    var heap = RankedCandidates(consume initial)
    var columns: [Int] = [], diagonals: [Int] = []
    var maskEntries = bound?.base ?? 0   // a lower bound of the mask's entries (EntryBound)
    var taken = [Bool](repeating: false, count: sk)
    while kept < target && !heap.isEmpty {
        let (rank, id) = heap.pop()
        let isDiagonal = id >= sk
        let current = isDiagonal ? diagonal[id - sk] : column[id]
        if key(current, id) != rank {             // stale: an earlier pick took some of its entries
            if current > 0 { heap.push((key(current, id), id)) }
            continue
        }
        let mass = current
        if isDiagonal {
            if diagonals.count >= maxDiagonals { continue }
            let d = id - sk
            diagonals.append(d)
            diagonal[d] = 0
            for e in byOffset[d] where alive[e] {
                alive[e] = false
                column[Int(entries!.keys[e])] -= Double(entries!.probs[e])
            }
        } else {
            if maxStripes > 0 && columns.count >= maxStripes { continue }
            if let bound {
                maskEntries += bound.columnEntries(id, window: window, sk: sk)
                if maskEntries > sac_read_shared(bound.fewest) { return StripeSelection(stripes: ([], []), reachedAlpha: false, abandoned: true) }
            }
            if let credit { kept += Double(credit[id]) }
            columns.append(id)
            taken[id] = true
            column[id] = 0
            if useDiagonals {
                for e in byKey[id] where alive[e] {
                    alive[e] = false
                    diagonal[positions[e / SampledEntries.capacity] - id] -= Double(entries!.probs[e])
                }
            }
        }
        kept += mass
    }
    if columns.count < minStripes {
        // The budget asks for more columns: the heaviest remaining ones, then the lowest-index.
        var rest = (firstCandidate..<endCandidate).filter { !taken[$0] && column[$0] > 0 }
        rest.sort { column[$0] != column[$1] ? column[$0] > column[$1] : $0 < $1 }
        for j in rest where columns.count < minStripes { columns.append(j); taken[j] = true }
        for j in firstCandidate..<endCandidate where columns.count < minStripes && !taken[j] {
            columns.append(j)
            taken[j] = true
        }
    }
    // Ascending from the flags: a scan of the candidates costs less than sorting the picks.
    return StripeSelection(stripes: ((firstCandidate..<endCandidate).filter { taken[$0] }, diagonals.sorted()),
                           reachedAlpha: kept >= target)
}

/// One fold of the held-out check (the sampled rows at one offset mod 4 in their groups): its
/// rows' column sums, its rows, and the other sampled rows.
struct SampleFold {
    let columnMass: UnsafePointer<Float>
    let rows: [Int]
    let otherRows: [Int]
}

/// Stage 2 of one head from its stage-1 sums (`stats`: totals over all sampled rows).
struct HeadSelection {
    let sq: Int, sk: Int, window: Int, sinks: Int
    let positions: [Int]
    let entries: SampledEntries?
    let index: EntryIndex?       // entries of all sampled rows, by key and offset
    let stats: SampleStats
    let params: Params

    func select(columnMass: UnsafePointer<Float>, rows: [Int], alpha: Float, window: Int, windowMass: Double,
                credit: UnsafePointer<Float>? = nil, bound: EntryBound? = nil) -> StripeSelection {
        selectStripes(columnMass: columnMass, sk: sk, window: window, windowMass: windowMass,
                      rows: rows, positions: positions, entries: entries, index: index, alpha: alpha, sinks: sinks,
                      minStripes: params.minStripes, maxStripes: params.maxStripes,
                      maxDiagonals: params.maxDiagonals, credit: credit, priorRows: Double(params.rankPriorRows),
                      bound: bound)
    }

    /// One fold of the held-out check: the stripes chosen on the other folds' rows at alpha, the
    /// fold's own mass they keep, and the fold's mass outside the sinks. Stripes fitted to the
    /// rows that chose them keep less of other rows' mass (heads that read per-row retrieved
    /// keys; docs/DEFAULTS.md), and stage 2 sees only the rows that chose them. The folds of all
    /// heads are independent tasks; `others` is [sk] scratch. Always with the full window.
    func heldOut(_ fold: SampleFold, others: UnsafeMutablePointer<Float>) -> HeldOutFold {
        for j in 0..<sk { others[j] = stats.columnMass[j] - fold.columnMass[j] }
        let pick = select(columnMass: others, rows: fold.otherRows, alpha: params.alpha, window: window,
                          windowMass: stats.windowMass(of: fold.otherRows)).stripes
        let kept = estimatedKept(indices: pick.columns, diagonals: pick.diagonals, columnMass: fold.columnMass,
                                 windowMass: stats.windowMass(of: fold.rows), rows: fold.rows,
                                 positions: positions, entries: entries, sk: sk)
        return HeldOutFold(kept: kept, total: Double(fold.rows.count) - forcedSinkMass(fold.columnMass, sinks: min(sinks, sk)))
    }

    /// The head's alpha: alpha_correction x the held-out shortfall added to alpha (up to 1; with
    /// fewer than 2 folds, or a correction of 0, the paper's alpha). `folds` are heldOut's
    /// results in fold order, summed in that order.
    func correctedAlpha(heldOut folds: UnsafeBufferPointer<HeldOutFold>) -> Float {
        guard params.alphaCorrection > 0 && folds.count >= 2 else { return params.alpha }
        var kept = 0.0, total = 0.0
        for fold in folds { kept += fold.kept; total += fold.total }
        let shortfall = Double(params.alpha) - (total > 0 ? kept / total : 1)
        guard shortfall > 0 else { return params.alpha }
        return Float(min(1, Double(params.alpha) + Double(params.alphaCorrection) * shortfall))
    }

    /// Candidate window `choice`'s stripes to `alpha` and the entries its mask keeps; nil when
    /// they do not reach alpha (stage 1's window always qualifies: the paper's mask when nothing
    /// reaches alpha). Columns are ranked by their sampled mass outside the candidate, or, for a
    /// window narrower than stage 1's, outside stage 1's and credited with what they keep of the
    /// bands given up (a band near a sampled group is seen by that group alone, and would buy
    /// columns that help no other row). Each candidate is its own task; one that must keep more
    /// entries than `fewest` (the head's finished candidates lower it) stops and gives nil, as
    /// it cannot be the cheapest. `scratch` is [sk].
    func candidate(_ choice: Int, alpha: Float, allRows: [Int], fewest: UnsafeMutablePointer<Int64>,
                   scratch: UnsafeMutablePointer<Float>) -> HeadChoice? {
        let bands = stats.bands
        let w = bands.windows[choice]
        let narrower = choice > bands.full
        func plan(_ stripes: Stripes) -> HeadPlan {
            HeadPlan(dense: false, window: w, indices: Array(0..<sinks) + stripes.columns, keptEntries: 0,
                     causalEntries: 0, craMean: 0, craMin: 0, diagonals: stripes.diagonals)
        }
        let bound = EntryBound(sq: sq, base: plan(([], [])).seedKeptEntries(sq: sq, sk: sk), fewest: fewest)
        let selection = select(columnMass: narrower ? UnsafePointer(stats.columnMass) : columnMass(choice: choice, scratch: scratch),
                               rows: allRows, alpha: alpha, window: w, windowMass: stats.windowMass(of: allRows, choice: choice),
                               credit: narrower ? bandMass(choice: choice, scratch: scratch) : nil, bound: bound)
        if selection.abandoned || (!selection.reachedAlpha && choice != bands.full) { return nil }
        let kept = plan(selection.stripes).seedKeptEntries(sq: sq, sk: sk)
        sac_lower_to(fewest, Int64(kept))
        return HeadChoice(stripes: selection.stripes, choice: choice, keptEntries: kept)
    }

    /// The head's mask: of its qualifying candidates (candidate's results, in window order), the
    /// one that keeps the fewest entries, the earlier on a tie.
    static func cheapest(_ candidates: UnsafeBufferPointer<HeadChoice?>) -> HeadChoice {
        var best: HeadChoice? = nil
        for case let c? in candidates where best == nil || c.keptEntries < best!.keptEntries { best = c }
        return best!
    }

    /// The sampled column sums outside candidate window `choice`: stage 1's, less (a wider
    /// window) or plus (a narrower one) the bands between the two, in band order, in `scratch`.
    func columnMass(choice: Int, scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        if choice == stats.bands.full { return UnsafePointer(stats.columnMass) }
        scratch.update(from: stats.columnMass, count: sk)
        let sign: Float = choice < stats.bands.full ? -1 : 1
        for b in stats.bands.between(choice) {
            let band = stats.bands.columns(b)
            for j in 0..<sk { scratch[j] += sign * band[j] }
        }
        return UnsafePointer(scratch)
    }

    /// The sampled column sums in the bands between stage 1's window and a narrower candidate.
    func bandMass(choice: Int, scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        scratch.update(repeating: 0, count: sk)
        for b in stats.bands.between(choice) { addInto(scratch, stats.bands.columns(b), sk) }
        return UnsafePointer(scratch)
    }
}

/// A head's chosen stripes, the index of its window among the candidates, and its kept entries.
struct HeadChoice {
    var stripes: Stripes
    var choice: Int
    var keptEntries: Int
}

/// One fold's part of the held-out kept share: kept / total summed over the folds.
struct HeldOutFold {
    var kept = 0.0
    var total = 0.0
}
