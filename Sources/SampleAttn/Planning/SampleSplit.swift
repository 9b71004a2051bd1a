/// How the seed planner splits stage 1's sums: `parts` fixed partitions of the sampled groups
/// (group g in partition g % parts, reduced in a fixed order, so sums do not depend on threads),
/// each split into `folds` by the row's offset in its group, the folds of stage 2's held-out
/// check. Adjacent rows are held out, not whole groups: a held-out group would sit a group
/// spacing further from the rows that chose the stripes than unsampled rows do
/// (docs/DEFAULTS.md, alpha_correction).
struct SampleSplit {
    let parts: Int
    let folds: Int
    let partGroups: [[Int]]     // per partition: its group indices
    let foldRows: [[Int]]       // per fold: its sampled rows (indices in stage-1 order)
    let otherRows: [[Int]]      // per fold: the other sampled rows
    let allRows: [Int]

    init(rows: SampleRows, folds: Int) {
        parts = min(PlanningTraits.partitions, rows.groups.count)
        self.folds = folds
        let parts = self.parts
        partGroups = (0..<parts).map { Array(stride(from: $0, to: rows.groups.count, by: parts)) }
        foldRows = (0..<folds).map { rows.rowIndices(fold: $0, of: folds) }
        let allRows = Array(0..<rows.count)
        otherRows = foldRows.map { own in
            let set = Set(own)
            return allRows.filter { !set.contains($0) }
        }
        self.allRows = allRows
    }
}
