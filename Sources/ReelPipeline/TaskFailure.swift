import ReelAnalysis
import ReelCore
import ReelHTTP
import ReelMedia
import ReelStorage
import ReelStore

extension TaskFailure {
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
            // Credentials and policies get fixed (and IAM changes take a while to reach S3): try again later.
            case .unauthorized: return .retryable("StorageUnauthorized", storage.description)
            }
        case let http as HTTPError:
            if http.httpStatus == 404 || http.httpStatus == 410 {
                return .permanent("SourceNotFound", http.description)
            }
            if http.code == .tooLarge { return .permanent("SourceTooLarge", http.description) }
            if http.code == .refused { return .permanent("SourceForbidden", http.description) }
            return TaskFailure("SourceUnavailable", http.description, retryable: http.isRetryable)
        case let analysis as AnalysisError:
            return TaskFailure(analysis.reason, analysis.message, retryable: analysis.retryable)
        case _ where Database.isDatabaseError(error):
            return .retryable("DatabaseError", String(describing: error))
        case is CancellationError:
            return .retryable("Cancelled", "the task was cancelled")
        default:
            return .retryable("InternalError", String(describing: error))
        }
    }
}
