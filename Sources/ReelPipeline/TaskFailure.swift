import ReelAnalysis
import ReelHTTP
import ReelMedia
import ReelPostgres
import ReelStorage

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

    /// Classifies any error a stage can meet.
    public static func from(_ error: any Error) -> TaskFailure {
        switch error {
        case let failure as TaskFailure: return failure
        case let media as MediaError:
            switch media.code {
            case .invalidData, .unsupported, .incompatible: return .permanent("InvalidMedia", media.description)
            case .notFound: return .permanent("SourceNotFound", media.description)
            case .ioError: return .retryable("MediaIOError", media.description)
            }
        case let storage as StorageError:
            switch storage.code {
            case .notFound: return .permanent("ObjectNotFound", storage.description)
            case .invalidKey, .unsupported: return .permanent("StorageUnsupported", storage.description)
            case .tooLarge: return .permanent("SourceTooLarge", storage.description)
            case .checksumMismatch: return .permanent("ChecksumMismatch", storage.description)
            case .ioError: return .retryable("StorageError", storage.description)
            }
        case let http as HTTPError:
            if http.httpStatus == 404 || http.httpStatus == 410 {
                return .permanent("SourceNotFound", http.description)
            }
            if http.code == .tooLarge { return .permanent("SourceTooLarge", http.description) }
            return TaskFailure("SourceUnavailable", http.description, retryable: http.isRetryable)
        case let analysis as AnalysisError:
            return TaskFailure(analysis.reason, analysis.message, retryable: analysis.retryable)
        case let postgres as PostgresError:
            return .retryable("DatabaseError", postgres.description)
        case is CancellationError:
            return .retryable("Cancelled", "the task was cancelled")
        default:
            return .retryable("InternalError", String(describing: error))
        }
    }
}
