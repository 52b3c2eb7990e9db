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
            fields["properties"] = .object(properties)
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
