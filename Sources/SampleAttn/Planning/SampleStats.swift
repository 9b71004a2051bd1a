/// Stage-1 results of one query head.
struct SampleStats {
    let columnMass: UnsafeMutablePointer<Float>   // [sk]: sum of sampled P_ij with j <= p(i) - w or j < sinks
    let rowLse2: UnsafeMutablePointer<Float>      // [sampled rows]: log2-sum-exp2 of the row's scores
    let rowWindowMass: UnsafeMutablePointer<Float> // [sampled rows]: the row's mass inside its window, sinks excluded

    func windowMass(of rows: [Int]) -> Double {
        var total = 0.0
        for i in rows { total += Double(rowWindowMass[i]) }
        return total
    }
}
