import CSampleAttn

/// A failed call: the public status code and the detailed message the context keeps.
struct SAError: Error {
    let status: sa_status
    let message: String

    init(_ status: sa_status, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// Multiplies non-negative sizes, failing with SA_ERR_OVERFLOW instead of trapping.
func checkedProduct(_ factors: Int..., what: String) throws -> Int {
    var result = 1
    for f in factors {
        let (p, overflow) = result.multipliedReportingOverflow(by: f)
        if overflow { throw SAError(SA_ERR_OVERFLOW, "\(what): size overflows int64") }
        result = p
    }
    return result
}
