import Foundation
import ReelAPI
import ReelStore

/// The API's OpenAPI 3.1 document, served at `/api/openapi.json` and committed as `docs/openapi.json` (a test
/// fails on drift). The VideoJob schema is the CRD's, from the same `Schema` values.
public enum OpenAPIDocument {
    /// The document as pretty, sorted JSON.
    public static let text: String = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(document)) ?? Data(), as: UTF8.self)
    }()

    static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }
    static func json(_ schema: JSONValue) -> JSONValue { ["application/json": ["schema": schema]] }
    static func response(_ description: String, _ schema: JSONValue? = nil) -> JSONValue {
        var fields: [String: JSONValue] = ["description": .string(description)]
        if let schema { fields["content"] = json(schema) }
        return .object(fields)
    }
    static let status = response("A Kubernetes Status naming what went wrong", ref("Status"))

    static func parameter(_ name: String, in place: String = "query", _ description: String, _ schema: JSONValue)
        -> JSONValue
    {
        [
            "name": .string(name), "in": .string(place), "description": .string(description),
            "required": .bool(place == "path"), "schema": schema,
        ]
    }

    static func operation(
        _ id: String, _ summary: String, parameters: [JSONValue] = [], body: JSONValue? = nil,
        responses: [String: JSONValue], secured: Bool = true
    ) -> JSONValue {
        var fields: [String: JSONValue] = [
            "operationId": .string(id), "summary": .string(summary), "responses": .object(responses),
        ]
        if !parameters.isEmpty { fields["parameters"] = .array(parameters) }
        if let body { fields["requestBody"] = body }
        if !secured { fields["security"] = [] }
        var codes = responses
        if secured {
            codes["401"] = codes["401"] ?? status
            codes["504"] = codes["504"] ?? status  // a database statement over the API's time limit
        }
        fields["responses"] = .object(codes)
        return .object(fields)
    }

    static let string: JSONValue = ["type": "string"]
    static let integer: JSONValue = ["type": "integer"]
    static func integer(_ minimum: Int, _ maximum: Int) -> JSONValue {
        ["type": "integer", "minimum": .int(minimum), "maximum": .int(maximum)]
    }

    static let jobPaths: [(String, [JSONValue])] = [
        ("/api/jobs/{job}", [parameter("job", in: "path", "The job's uid", string)]),
        (
            "/api/jobs/{namespace}/{name}",
            [
                parameter("namespace", in: "path", "The job's namespace (the token's)", string),
                parameter("name", in: "path", "The job's name", string),
            ]
        ),
    ]

    /// A created job, with links to what can be done with it next (followed by clients and stateful tests).
    static var created: JSONValue {
        var links: [String: JSONValue] = [:]
        for (name, id) in [
            ("GetJob", "getJob"), ("PatchJob", "patchJob"), ("DeleteJob", "deleteJob"), ("JobLogs", "jobLogs"),
            ("JobChunks", "jobChunks"),
        ] {
            links[name] = ["operationId": .string(id), "parameters": ["job": "$response.body#/metadata/uid"]]
        }
        return [
            "description": "Created", "content": json(ref("VideoJob")), "links": .object(links),
            "headers": ["Location": ["description": "The job's URL", "schema": string]],
        ]
    }

    static let ifMatch = parameter("If-Match", in: "header", "The resourceVersion the change is based on", string)

    static var paths: [String: JSONValue] {
        var paths: [String: JSONValue] = [
            "/api/jobs": [
                "get": operation(
                    "listJobs", "The namespace's jobs, newest first",
                    parameters: [
                        parameter("limit", "Page size", integer(1, 500)),
                        parameter("continue", "The previous page's metadata.continue", string),
                        parameter("phase", "Phases, comma-separated", string),
                        parameter("labelSelector", "A Kubernetes label selector", string),
                        parameter("owner", "spec.owner", string),
                        parameter("q", "Text in spec.title (case-insensitive)", string),
                    ],
                    responses: ["200": response("A page of jobs", ref("VideoJobList")), "400": status]),
                "post": operation(
                    "createJob", "Creates a job (a VideoJob; name generated when absent)",
                    parameters: [
                        parameter(
                            "Idempotency-Key", in: "header", "Replays the first answer for 24 hours",
                            ["type": "string", "maxLength": 255])
                    ],
                    body: [
                        "required": true,
                        "content": [
                            "application/json": [
                                "schema": ref("VideoJob"),
                                "example": [
                                    "metadata": ["labels": ["team": "media"]],
                                    "spec": ["title": "Keynote", "source": ["uri": "https://example.com/keynote.mp4"]],
                                ],
                            ]
                        ],
                    ],
                    responses: [
                        "201": created, "400": status, "403": status, "409": status, "413": status, "422": status,
                    ]),
            ],
            "/api/whoami": [
                "get": operation(
                    "whoami", "The caller's token: its name, namespace, role and expiry",
                    responses: ["200": response("The token", ["type": "object"])])
            ],
            "/api/queue/stats": [
                "get": operation(
                    "queueStats", "The namespace's queue", responses: ["200": response("Statistics", ref("QueueStats"))]
                )
            ],
            "/api/workers": [
                "get": operation(
                    "listWorkers", "Worker processes and pods",
                    responses: [
                        "200": response("Workers", ["type": "object", "properties": ["items": ["type": "array"]]])
                    ]),
                "post": operation(
                    "workerAction", "Scales a pool or drains a worker (admin)",
                    body: ["required": true, "content": json(ref("WorkerAction"))],
                    responses: [
                        "200": response("The pool as now declared", ["type": "object"]),
                        "202": response("The worker will drain", ref("Status")), "400": status, "403": status,
                        "404": status, "409": status, "413": status, "422": status,
                    ]),
            ],
            "/api/audit": [
                "get": operation(
                    "listAudit", "The namespace's audit log (admin)",
                    parameters: [
                        parameter("limit", "Page size", integer(1, 1000)),
                        parameter("after", "The last id seen", integer(0, Int(Int64.max))),
                    ],
                    responses: [
                        "200": response("Entries", ["type": "object", "properties": ["items": ["type": "array"]]]),
                        "400": status, "403": status,
                    ])
            ],
            "/api/events": [
                "get": operation(
                    "events", "Server-Sent Events of the namespace (job.*, log, queue.stats)",
                    parameters: [
                        parameter("job", "Only this job's events (uid)", string),
                        parameter("types", "Event types, comma-separated (job = every job.*)", string),
                        parameter("lastEventId", "Resume after this event id", integer(0, Int(Int64.max))),
                        parameter("Last-Event-ID", in: "header", "Resume after this event id", string),
                    ],
                    responses: [
                        "200": [
                            "description": "An event stream",
                            "content": ["text/event-stream": ["schema": string]],
                        ],
                        "400": status,
                    ])
            ],
            "/api/openapi.json": [
                "get": operation(
                    "openapi", "This document", responses: ["200": response("OpenAPI 3.1", ["type": "object"])],
                    secured: false)
            ],
            "/healthz": ["get": operation("healthz", "Liveness", responses: ["200": plain("ok")], secured: false)],
            "/readyz": [
                "get": operation(
                    "readyz", "Readiness", responses: ["200": plain("ready"), "503": plain("not ready")], secured: false
                )
            ],
            "/metrics": [
                "get": operation("metrics", "Prometheus metrics", responses: ["200": plain("metrics")], secured: false)
            ],
            "/files/{key}": [
                "get": operation(
                    "file", "A stored object through a signed link (Range supported)",
                    parameters: [
                        parameter("key", in: "path", "The object's key", string),
                        parameter("expires", "Unix time the link expires", integer),
                        parameter("signature", "The link's signature", string),
                        parameter("Range", in: "header", "One byte range", string),
                    ],
                    responses: [
                        "200": bytes("The object"), "206": bytes("Part of the object"), "304": response("Not modified"),
                        "403": status, "404": status, "416": response("Range not satisfiable"),
                    ], secured: false),
                "head": operation(
                    "fileHead", "A stored object's headers through a signed link",
                    parameters: [
                        parameter("key", in: "path", "The object's key", string),
                        parameter("expires", "Unix time the link expires", integer),
                        parameter("signature", "The link's signature", string),
                    ],
                    responses: [
                        "200": response("The object's headers"), "304": response("Not modified"),
                        "403": response("Not valid or expired"), "404": response("No such object"),
                    ], secured: false),
            ],
        ]
        paths.merge(uploadPaths) { a, _ in a }
        paths.merge(thumbnailPaths) { a, _ in a }
        paths.merge(analysisPaths) { a, _ in a }
        paths.merge(dashboardPaths) { a, _ in a }
        for (path, pathParameters) in jobPaths {
            paths[path] = [
                "parameters": .array(pathParameters),
                "get": operation(
                    "getJob" + suffix(path), "One job",
                    responses: ["200": response("The job", ref("VideoJob")), "404": status]),
                "patch": operation(
                    "patchJob" + suffix(path), "Changes spec, labels or annotations (JSON merge patch)",
                    parameters: [ifMatch],
                    body: [
                        "required": true,
                        "content": ["application/merge-patch+json": ["schema": ["type": "object"]]],
                    ],
                    responses: [
                        "200": response("The changed job", ref("VideoJob")), "400": status, "403": status,
                        "404": status,
                        "409": status, "412": status, "413": status, "415": status, "422": status,
                    ]),
                "delete": operation(
                    "deleteJob" + suffix(path), "Cancels and deletes the job", parameters: [ifMatch],
                    responses: [
                        "202": response("Deletion under way", ["oneOf": [ref("VideoJob"), ref("Status")]]),
                        "403": status, "404": status, "409": status, "412": status,
                    ]),
            ]
            paths[path + "/logs"] = [
                "parameters": .array(pathParameters),
                "get": operation(
                    "jobLogs" + suffix(path), "The job's log lines",
                    parameters: [
                        parameter("level", "The least severe level shown", ["enum": .array(levels)]),
                        parameter("since", "RFC 3339 time", ["type": "string", "format": "date-time"]),
                        parameter("limit", "Lines", integer(1, 5000)),
                        parameter("after", "The cursor of the previous page", integer(0, Int(Int64.max))),
                    ],
                    responses: ["200": response("Log lines", ref("LogPage")), "400": status, "404": status]),
            ]
            paths[path + "/chunks"] = [
                "parameters": .array(pathParameters),
                "get": operation(
                    "jobChunks" + suffix(path), "The job's chunks and outputs, with signed URLs",
                    responses: ["200": response("Chunks", ref("ChunkPage")), "404": status]),
            ]
            paths[path + "/chunks/refresh"] = [
                "parameters": .array(pathParameters),
                "post": operation(
                    "refreshChunks" + suffix(path), "New signed URLs",
                    responses: ["200": response("Chunks", ref("ChunkPage")), "404": status]),
            ]
        }
        return paths
    }

    static let levels: [JSONValue] = APIHandlers.levels.map { .string($0) }
    static func suffix(_ path: String) -> String { path.contains("{name}") ? "ByName" : "" }
    static func plain(_ description: String) -> JSONValue {
        ["description": .string(description), "content": ["text/plain": ["schema": string]]]
    }
    static func bytes(_ description: String) -> JSONValue {
        ["description": .string(description), "content": ["*/*": ["schema": ["type": "string", "format": "binary"]]]]
    }

    static var document: JSONValue {
        [
            "openapi": "3.1.0",
            "info": [
                "title": "Reel API", "version": .string(API.reelVersion),
                "description":
                    "Jobs are VideoJob resources of the token's namespace; errors are Kubernetes Status objects.",
            ],
            "servers": [["url": "/"]],
            "security": [["bearer": []]],
            "paths": .object(paths),
            "components": [
                "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]],
                "schemas": .object(OpenAPISchemas.all.merging(OpenAPISchemas.uploads) { a, _ in a }),
            ],
        ]
    }
}
