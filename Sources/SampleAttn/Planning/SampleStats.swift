/// Stage-1 results of one query head.
struct SampleStats {
    let columnMass: UnsafeMutablePointer<Float>   // [sk]: sum of sampled P_ij with j <= p(i) - w or j < sinks
    let rowLse2: UnsafeMutablePointer<Float>      // [sampled rows]: log2-sum-exp2 of the row's scores
    let rowWindowMass: UnsafeMutablePointer<Float> // [sampled rows]: the row's mass inside its window, sinks excluded
    let bands: WindowBands                        // the other candidate windows

    func windowMass(of rows: [Int]) -> Double {
        var total = 0.0
        for i in rows { total += Double(rowWindowMass[i]) }
        return total
    }

    /// The summed mass of `rows` inside candidate window bands.windows[choice] (sinks excluded).
    func windowMass(of rows: [Int], choice: Int) -> Double {
        if choice == bands.full { return windowMass(of: rows) }
        var total = 0.0
        for i in rows { total += Double(windowMass(ofRow: i, choice: choice)) }
        return total
    }

    /// Sampled row i's mass inside candidate window bands.windows[choice] (sinks excluded).
    func windowMass(ofRow i: Int, choice: Int) -> Float {
        var mass = rowWindowMass[i]
        for b in bands.between(choice) {
            if choice < bands.full { mass += bands.rowMass(b)[i] } else { mass -= bands.rowMass(b)[i] }
        }
        return mass
    }
}
