import CPostgres

/// The rows a statement returned, copied out of libpq's result (so they outlive it), in text format.
public struct PostgresRows: Sendable, Sequence {
    /// Column names, in order.
    public let columns: [String]
    /// Rows affected by INSERT/UPDATE/DELETE (or returned by SELECT).
    public let affectedRows: Int
    private let values: [[String?]]

    init(_ result: OpaquePointer) {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var values: [[String?]] = []
        values.reserveCapacity(rowCount)
        for r in 0..<Int32(rowCount) {
            var row: [String?] = []
            row.reserveCapacity(columnCount)
            for c in 0..<Int32(columnCount) {
                row.append(PQgetisnull(result, r, c) == 1 ? nil : String(cString: PQgetvalue(result, r, c)))
            }
            values.append(row)
        }
        self.values = values
        affectedRows = Int(String(cString: PQcmdTuples(result))) ?? rowCount
    }

    /// The number of rows.
    public var count: Int { values.count }
    /// Whether no row came back.
    public var isEmpty: Bool { values.isEmpty }
    /// The first row, if any.
    public var first: PostgresRow? { values.first.map { PostgresRow(columns: columns, values: $0) } }

    public func makeIterator() -> some IteratorProtocol<PostgresRow> {
        values.lazy.map { [columns] in PostgresRow(columns: columns, values: $0) }.makeIterator()
    }
}

/// One row: its values by column index or name, decoded on demand.
public struct PostgresRow: Sendable {
    let columns: [String]
    let values: [String?]

    /// The column's value as `T`; throws when it is NULL or cannot be read as `T`.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at index: Int) throws(PostgresError) -> T {
        guard let text = values[index] else {
            throw PostgresError(.decoding, "column \(columns[index]) is NULL, expected \(T.self)")
        }
        return try T(postgresText: text)
    }

    /// The column's value as `T`, or `nil` when it is NULL.
    public func decodeIfPresent<T: PostgresDecodable>(_ type: T.Type = T.self, at index: Int) throws(PostgresError)
        -> T?
    {
        guard let text = values[index] else { return nil }
        return try T(postgresText: text)
    }

    /// The named column's value as `T`.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, _ column: String) throws(PostgresError) -> T {
        try decode(type, at: try index(column))
    }

    /// The named column's value as `T`, or `nil` when it is NULL.
    public func decodeIfPresent<T: PostgresDecodable>(_ type: T.Type = T.self, _ column: String) throws(PostgresError)
        -> T?
    {
        try decodeIfPresent(type, at: try index(column))
    }

    private func index(_ column: String) throws(PostgresError) -> Int {
        guard let i = columns.firstIndex(of: column) else {
            throw PostgresError(.decoding, "no column \(column) (columns: \(columns.joined(separator: ", ")))")
        }
        return i
    }
}
