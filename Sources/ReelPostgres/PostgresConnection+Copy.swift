import CPostgres

extension PostgresConnection {
    /// Runs `sql`, a `COPY … FROM STDIN` in text format, sending `data` (rows as `CopyRows` writes them) as its
    /// input; returns the rows copied. One statement: all rows go in, or none (the server's error, such as a
    /// unique violation, is thrown with its SQLSTATE) — and the connection is ready for the next statement either
    /// way.
    @discardableResult
    public func copyIn(_ sql: String, data: [UInt8]) async throws(PostgresError) -> Int {
        try await withHandle { handle throws(PostgresError) in
            let start = PQexec(handle, sql)
            guard PQresultStatus(start) == PGRES_COPY_IN else {
                defer { PQclear(start) }
                try Self.check(start, handle, sql)
                throw PostgresError(.server, "not a COPY FROM STDIN statement", query: sql)
            }
            PQclear(start)
            let sent = data.withUnsafeBytes { bytes in
                bytes.isEmpty ? 1 : PQputCopyData(handle, bytes.baseAddress, Int32(bytes.count))
            }
            // Ended with an error message when the rows could not all be sent: the server then copies none.
            let ended = PQputCopyEnd(handle, sent == 1 ? nil : "Reel could not send every row")
            // The outcome, then nothing more: read results until libpq has none, so the session is idle again.
            var outcome: Result<Int, PostgresError>?
            while let result = PQgetResult(handle) {
                defer { PQclear(result) }
                if PQresultStatus(result) == PGRES_COPY_IN { break }  // libpq could not end the copy: the link is down
                guard outcome == nil else { continue }
                do throws(PostgresError) {
                    try Self.check(result, handle, sql)
                    outcome = .success(Int(String(cString: PQcmdTuples(result))) ?? 0)
                } catch {
                    outcome = .failure(error)
                }
            }
            guard let outcome, sent == 1, ended == 1 else {
                let message = String(cString: PQerrorMessage(handle))
                throw PostgresError(.connectionLost, message.isEmpty ? "COPY did not complete" : message, query: sql)
            }
            return try outcome.get()
        }
    }
}

extension PostgresPool {
    /// `PostgresConnection.copyIn` on a pooled connection; like `query`, sent once more on a fresh connection
    /// when the first turns out dead.
    @discardableResult
    public func copyIn(_ sql: String, data: [UInt8]) async throws -> Int {
        try await retryingOnceIfDead { try await $0.copyIn(sql, data: data) }
    }
}

/// Writes rows in `COPY`'s text format: fields separated by tabs, rows ended by a newline, `\N` for NULL, and a
/// backslash before each backslash, and `\n`, `\r`, `\t` for those characters inside a field.
public struct CopyRows: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var fieldsInRow = 0

    public init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Appends a field: `nil` is NULL; other values as their `postgresText`.
    public mutating func field(_ value: (any PostgresEncodable)?) {
        separate()
        guard let value else {
            bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "N")])
            return
        }
        for byte in value.postgresText.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            default: bytes.append(byte)
            }
        }
    }

    /// Appends a field written as is: text the caller knows holds no backslash, tab, newline or carriage return.
    public mutating func plainField(_ text: String) {
        separate()
        bytes.append(contentsOf: text.utf8)
    }

    /// Ends the current row.
    public mutating func endRow() {
        bytes.append(UInt8(ascii: "\n"))
        fieldsInRow = 0
    }

    private mutating func separate() {
        if fieldsInRow > 0 { bytes.append(UInt8(ascii: "\t")) }
        fieldsInRow += 1
    }
}
