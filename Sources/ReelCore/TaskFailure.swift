/// Why a task failed: a CamelCase reason that becomes the job's condition reason, a message for people, and
/// whether another attempt may succeed. Permanent failures fail the job at once; retryable ones back off.
public struct TaskFailure: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var message: String
    public var retryable: Bool

    public init(_ reason: String, _ message: String, retryable: Bool) {
        self.reason = reason
        self.message = message
        self.retryable = retryable
    }

    public var description: String { "\(reason): \(message)" }

    /// The lease was rescued or the job cancelled while the task ran: nothing may be written.
    public static let leaseLost = TaskFailure("LeaseLost", "the task's lease is no longer held", retryable: true)

    public static func permanent(_ reason: String, _ message: String) -> TaskFailure {
        TaskFailure(reason, message, retryable: false)
    }

    public static func retryable(_ reason: String, _ message: String) -> TaskFailure {
        TaskFailure(reason, message, retryable: true)
    }
}
