import ReelAPI

/// The upload paths of the OpenAPI document: tus 1.0.0 at `/api/uploads` and the seed's `/api/upload/queue`.
extension OpenAPIDocument {
    static let tusResumable =
        [
            "name": "Tus-Resumable", "in": "header", "required": true, "description": "The tus version",
            "schema": ["type": "string", "enum": ["1.0.0"]],
        ] as JSONValue
    static let uploadParameter = parameter("upload", in: "path", "The upload's id", string)
    static let offsetHeaders: JSONValue = [
        "Upload-Offset": ["description": "Bytes the server holds", "schema": integer],
        "Upload-Expires": ["description": "When an incomplete upload is removed", "schema": string],
        "Reel-Job-Id": ["description": "The job made from the complete upload", "schema": string],
    ]
    /// What every tus request may be refused with.
    static let tusRefusals: [String: JSONValue] = [
        "400": status, "403": status, "404": status, "409": status, "412": status, "413": status, "415": status,
        "422": status, "460": status,
    ]

    static var uploadPaths: [String: JSONValue] {
        [
            "/api/uploads": [
                "options": operation(
                    "tusOptions", "tus discovery: versions, extensions, size limit, checksum algorithms",
                    responses: ["204": response("The server's tus capabilities")], secured: false),
                "post": operation(
                    "createUpload", "Creates a tus upload (creation, creation-defer-length, creation-with-upload)",
                    parameters: [
                        tusResumable,
                        parameter(
                            "Upload-Length", in: "header", "The upload's size in bytes", integer(0, Int(Int64.max))),
                        parameter("Upload-Defer-Length", in: "header", "1: the size comes later", ["enum": ["1"]]),
                        parameter(
                            "Upload-Metadata", in: "header",
                            "filename, filetype and job options (title, priority, provider, splitSeconds, strategy, "
                                + "maxSeconds, name, job): comma-separated `key base64value`", string),
                    ],
                    responses: tusRefusals.merging([
                        "201": [
                            "description": "Created",
                            "headers": .object(
                                offsetHeaders.objectFields.merging([
                                    "Location": ["description": "The upload's URL", "schema": string]
                                ]) { a, _ in a }),
                        ]
                    ]) { a, _ in a }),
                "get": operation(
                    "listUploads", "The namespace's uploads, newest first",
                    responses: ["200": response("Uploads", ref("UploadList"))]),
            ],
            "/api/uploads/{upload}": [
                "parameters": [uploadParameter],
                "head": operation(
                    "uploadOffset", "The upload's offset, length and metadata", parameters: [tusResumable],
                    responses: [
                        "200": ["description": "The upload", "headers": offsetHeaders], "404": status, "412": status,
                    ]),
                "patch": operation(
                    "appendUpload", "Appends bytes at Upload-Offset (checksum: Upload-Checksum sha1|sha256)",
                    parameters: [
                        tusResumable,
                        parameter("Upload-Offset", in: "header", "Where the bytes go", integer(0, Int(Int64.max))),
                        parameter("Upload-Checksum", in: "header", "<algorithm> <base64 digest> of this chunk", string),
                        parameter(
                            "Upload-Length", in: "header", "A deferred size, once known", integer(0, Int(Int64.max))),
                    ],
                    body: [
                        "required": true,
                        "content": [
                            "application/offset+octet-stream": ["schema": ["type": "string", "format": "binary"]]
                        ],
                    ],
                    responses: tusRefusals.merging(["204": ["description": "Appended", "headers": offsetHeaders]]) {
                        a, _ in a
                    }),
                "delete": operation(
                    "terminateUpload", "Removes the upload and its bytes (termination)", parameters: [tusResumable],
                    responses: [
                        "204": response("Removed"), "403": status, "404": status, "409": status, "412": status,
                    ]),
                "get": operation(
                    "getUpload", "The upload as JSON: offset, state, what the probe found, its job",
                    responses: ["200": response("The upload", ref("Upload")), "404": status]),
            ],
            "/api/upload/queue": [
                "post": operation(
                    "queueUpload", "Uploads a file and creates its job in one multipart request (file, job)",
                    body: [
                        "required": true,
                        "content": [
                            "multipart/form-data": [
                                "schema": OpenAPISchemas.object(
                                    [
                                        "file": ["type": "string", "format": "binary"],
                                        "job": OpenAPISchemas.map(of: ["type": ["string", "integer", "boolean"]]),
                                    ], required: ["file"])
                            ]
                        ],
                    ],
                    responses: [
                        "201": response("The upload and its job", ref("QueuedUpload")), "400": status, "403": status,
                        "404": status, "409": status, "413": status, "415": status, "422": status,
                    ])
            ],
        ]
    }
}

extension JSONValue {
    /// The fields of an object (empty for anything else).
    var objectFields: [String: JSONValue] {
        if case .object(let fields) = self { return fields }
        return [:]
    }
}

extension OpenAPISchemas {
    static var uploads: [String: JSONValue] {
        let upload = object(
            [
                "id": string, "namespace": string, "owner": string, "filename": string, "filetype": string,
                "length": integer, "offset": integer,
                "state": ["type": "string", "enum": ["receiving", "complete", "invalid"]], "reason": string,
                "message": string, "metadata": map(of: string), "media": ["type": "object"],
                "job": object(["uid": string, "name": string]), "createdAt": time, "expiresAt": time,
                "completedAt": time, "uri": string,
            ], required: ["id", "namespace", "owner", "filename", "offset", "state", "createdAt"])
        return [
            "Upload": upload,
            "UploadList": object(
                ["kind": string, "items": ["type": "array", "items": ["$ref": "#/components/schemas/Upload"]]],
                required: ["kind", "items"]),
            "QueuedUpload": object(
                ["upload": ["$ref": "#/components/schemas/Upload"], "job": ["$ref": "#/components/schemas/VideoJob"]],
                required: ["upload", "job"]),
        ]
    }
}
