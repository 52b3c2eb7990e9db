import ReelAPI

/// The component schemas of the OpenAPI document.
enum OpenAPISchemas {
    static let string: JSONValue = ["type": "string"]
    static let integer: JSONValue = ["type": "integer"]
    static let number: JSONValue = ["type": "number"]
    static let time: JSONValue = ["type": "string", "format": "date-time"]
    static func nullable(_ type: String) -> JSONValue { ["type": [.string(type), "null"]] }
    static func object(_ properties: [String: JSONValue], required: [String] = []) -> JSONValue {
        var fields: [String: JSONValue] = ["type": "object", "properties": .object(properties)]
        if !required.isEmpty { fields["required"] = .array(required.map { .string($0) }) }
        return .object(fields)
    }
    static func map(of value: JSONValue) -> JSONValue { ["type": "object", "additionalProperties": value] }

    static var videoJob: JSONValue {
        guard case .object(var fields) = CRDGenerator.jsonSchema(VideoJob.self) else { return [:] }
        // A client may leave apiVersion, kind and metadata (or just the name) to the server.
        fields["required"] = ["spec"]
        if case .object(var properties)? = fields["properties"], case .object(var metadata)? = properties["metadata"] {
            metadata["required"] = nil
            properties["metadata"] = .object(metadata)
            properties["apiVersion"] = ["type": "string", "enum": [.string(API.version)]]
            properties["kind"] = ["type": "string", "enum": [.string(VideoJob.names.kind)]]
            fields["properties"] = .object(properties)
        }
        return nullableOptionals(.object(fields))
    }

    /// The schema with every optional property also allowed to be `null`: Reel reads `null` as absent, as the
    /// Kubernetes API server does.
    static func nullableOptionals(_ schema: JSONValue) -> JSONValue {
        guard case .object(var fields) = schema else { return schema }
        var required: Set<String> = []
        if case .array(let names)? = fields["required"] {
            required = Set(names.compactMap { if case .string(let name) = $0 { name } else { nil } })
        }
        if case .object(var properties)? = fields["properties"] {
            for (name, property) in properties {
                var inner = nullableOptionals(property)
                if !required.contains(name) { inner = allowingNull(inner) }
                properties[name] = inner
            }
            fields["properties"] = .object(properties)
        }
        for key in ["items", "additionalProperties"] {
            if let inner = fields[key] { fields[key] = nullableOptionals(inner) }
        }
        return .object(fields)
    }

    static func allowingNull(_ schema: JSONValue) -> JSONValue {
        guard case .object(var fields) = schema else { return schema }
        if case .string(let type)? = fields["type"] { fields["type"] = [.string(type), "null"] }
        if case .array(var values)? = fields["enum"], !values.contains(.null) {
            values.append(.null)
            fields["enum"] = .array(values)
        }
        return .object(fields)
    }

    static var all: [String: JSONValue] {
        [
            "VideoJob": videoJob,
            "VideoJobList": object(
                [
                    "apiVersion": string, "kind": string,
                    "metadata": object(["continue": string, "remainingItemCount": integer]),
                    "items": ["type": "array", "items": ["$ref": "#/components/schemas/VideoJob"]],
                ], required: ["apiVersion", "kind", "metadata", "items"]),
            "Status": object(
                [
                    "kind": string, "apiVersion": string, "status": string, "message": string, "reason": string,
                    "code": integer,
                    "details": object([
                        "name": string, "kind": string, "uid": string, "retryAfterSeconds": integer,
                        "causes": [
                            "type": "array",
                            "items": object(["reason": string, "message": string, "field": string]),
                        ],
                    ]),
                ], required: ["kind", "status", "message", "reason", "code"]),
            "WorkerAction": object(
                [
                    "action": ["type": "string", "enum": ["scale", "drain"]], "pool": string,
                    "minReplicas": ["type": "integer", "minimum": 0], "maxReplicas": ["type": "integer", "minimum": 0],
                    "worker": string,
                ], required: ["action"]),
            "QueueStats": object(
                [
                    "stages": map(of: map(of: integer)), "readyByPriority": map(of: integer),
                    "oldestReadySeconds": map(of: number),
                    "completed": object(["lastMinute": integer, "last5Minutes": integer, "last15Minutes": integer]),
                ], required: ["stages", "readyByPriority", "oldestReadySeconds", "completed"]),
            "LogPage": object(
                [
                    "items": [
                        "type": "array",
                        "items": object(
                            [
                                "id": integer, "time": time, "level": string, "message": string,
                                "fields": ["type": "object"], "stage": string, "chunk": integer,
                            ], required: ["id", "time", "level", "message"]),
                    ],
                    "cursor": string,
                ], required: ["items", "cursor"]),
            "ChunkPage": object(
                [
                    "items": [
                        "type": "array",
                        "items": object(
                            [
                                "index": integer, "start": number, "duration": number, "bytes": integer,
                                "sha256": string, "analysis": ["type": ["object", "null"]], "analyzedAt": time,
                                "url": string, "expiresAt": time,
                            ], required: ["index", "start", "duration", "bytes", "sha256", "url", "expiresAt"]),
                    ],
                    "outputs": map(of: object(["uri": string, "url": string, "expiresAt": time], required: ["uri"])),
                ], required: ["items", "outputs"]),
        ]
    }
}
