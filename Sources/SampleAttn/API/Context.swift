import CSampleAttn

/// What sa_context points to: thread count, memory limit, the workspace kept between calls,
/// the last error message, and a busy flag that refuses a second thread using the same context
/// at once.
final class Context {
    let threads: Int
    var memoryLimit: Int = 0
    let cache = BlockCache()
    private let message: UnsafeMutablePointer<CChar>
    private static let messageCapacity = 1024
    private let busy: UnsafeMutablePointer<Int32>
    /// Rendezvous of sa_attention_team's host threads (nil if its allocation failed).
    let team: OpaquePointer? = sac_team_new()

    init(threads: Int) {
        self.threads = threads
        message = .allocate(capacity: Context.messageCapacity)
        message[0] = 0
        busy = .allocate(capacity: 1)
        busy.pointee = 0
    }

    deinit {
        message.deallocate()
        busy.deallocate()
        sac_team_free(team)
    }

    var lastError: UnsafePointer<CChar> { UnsafePointer(message) }

    private func setMessage(_ text: String) {
        var utf8 = Array(text.utf8.prefix(Context.messageCapacity - 1))
        utf8.append(0)
        utf8.withUnsafeBufferPointer { src in
            UnsafeMutableRawPointer(message).copyMemory(from: src.baseAddress!, byteCount: src.count)
        }
    }

    /// Runs one API call on this context: refuses concurrent use, turns thrown SAErrors into
    /// their status and keeps the message (cleared on success).
    func call(_ body: () throws -> Void) -> sa_status {
        guard sac_try_acquire(busy) == 1 else { return SA_ERR_CONTEXT_BUSY }
        defer { sac_release(busy) }
        do {
            try body()
            message[0] = 0
            return SA_OK
        } catch let e as SAError {
            setMessage(e.message)
            return e.status
        } catch {
            setMessage("unexpected error: \(error)")
            return SA_ERR_INTERNAL
        }
    }
}
