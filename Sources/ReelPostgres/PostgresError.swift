import CPostgres

/// An error from Postgres or from talking to it: a code Reel can branch on, the server's SQLSTATE, message,
/// detail and hint, and the statement that failed.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: String, Sendable {
        /// Could not connect (bad URL, server down, authentication).
        case connectionFailed
        /// The connection broke during or before a statement (server restart, `pg_terminate_backend`).
        case connectionLost
        /// SQLSTATE 23505.
        case uniqueViolation
        /// SQLSTATE 23503.
        case foreignKeyViolation
        /// SQLSTATE 23502, 23514 and other integrity constraint violations.
        case constraintViolation
        /// SQLSTATE 40001 / 40P01: retry the transaction.
        case serializationFailure
        /// SQLSTATE 57014: statement timeout or cancel.
        case queryCanceled
        /// SQLSTATE class 42: syntax errors, unknown tables and columns.
        case syntaxOrAccess
        /// Any other server error; see `sqlState`.
        case server
        /// A value could not be decoded into the Swift type asked for.
        case decoding
        /// The pool was closed.
        case poolClosed
    }

    public var code: Code
    /// The server's five-character SQLSTATE, when the server answered.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    /// The statement, for server errors.
    public var query: String?

    /// An error of `code`.
    public init(
        _ code: Code, _ message: String, sqlState: String? = nil, detail: String? = nil, hint: String? = nil,
        query: String? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.query = query
    }

    public var description: String {
        var text = "postgres \(code.rawValue)"
        if let sqlState { text += " (\(sqlState))" }
        text += ": \(message)"
        if let detail { text += "; detail: \(detail)" }
        if let hint { text += "; hint: \(hint)" }
        return text
    }

    /// The code for a SQLSTATE.
    static func code(forSQLState state: String) -> Code {
        switch state {
        case "23505": .uniqueViolation
        case "23503": .foreignKeyViolation
        case "40001", "40P01": .serializationFailure
        case "57014": .queryCanceled
        case "57P01", "57P02", "57P03": .connectionLost  // admin shutdown, crash shutdown, cannot connect now
        default:
            if state.hasPrefix("23") {
                .constraintViolation
            } else if state.hasPrefix("42") {
                .syntaxOrAccess
            } else if state.hasPrefix("08") {
                .connectionLost
            } else {
                .server
            }
        }
    }

    /// The error a failed result reports.
    static func from(result: OpaquePointer, connection: OpaquePointer?, query: String) -> PostgresError {
        func field(_ code: Character) -> String? {
            PQresultErrorField(result, Int32(code.asciiValue!)).map { String(cString: $0) }
        }
        let state = field("C")
        let primary = field("M") ?? String(cString: PQresultErrorMessage(result)).trimmingTrailingNewlines
        var code = state.map(code(forSQLState:)) ?? .connectionLost
        if let connection, PQstatus(connection) == CONNECTION_BAD { code = .connectionLost }
        return PostgresError(
            code, primary.isEmpty ? "statement failed" : primary, sqlState: state, detail: field("D"),
            hint: field("H"), query: query)
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = self
        while s.last == "\n" || s.last == " " { s.removeLast() }
        return s
    }
}
