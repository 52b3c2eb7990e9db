import ReelYAML

/// A decoded Reel resource.
public enum Resource: Sendable, Equatable {
    case videoJob(VideoJob)
    case workerPool(WorkerPool)

    /// The kind's name.
    public var kind: String {
        switch self {
        case .videoJob: VideoJob.names.kind
        case .workerPool: WorkerPool.names.kind
        }
    }

    /// The resource's metadata.
    public var metadata: ObjectMeta {
        switch self {
        case .videoJob(let job): job.metadata
        case .workerPool(let pool): pool.metadata
        }
    }
}

/// The one way a document becomes a resource, for every entry point (files, Kubernetes, HTTP): check
/// apiVersion and kind, validate against the kind's schema (strict), check the rules the schema cannot say,
/// apply defaults, decode. Every problem is reported, each with its field path and position.
public enum ResourceDecoder {
    /// What a document turned out to be.
    public enum Outcome: Sendable {
        /// A valid Reel resource.
        case resource(Resource)
        /// A Reel document with problems (never empty).
        case invalid([FieldProblem])
        /// An object of another API group (a Deployment in the same GitOps folder): not Reel's to judge.
        case foreign(apiVersion: String, kind: String)
    }

    /// Decodes one document.
    /// A resource served as JSON (the API server's objects), decoded without a text round trip; problems carry
    /// field paths but no positions.
    public static func decode(json: JSONValue) -> Outcome { decode(YAMLNode(json: json)) }

    public static func decode(_ document: YAMLNode) -> Outcome {
        guard document.pairs != nil else {
            let problem = FieldProblem(
                .type, "", document.mark, "a resource must be a mapping, not a \(document.value.kindName)")
            return .invalid([problem])
        }
        var problems: [FieldProblem] = []
        let apiVersion = document["apiVersion"]?.string
        let kind = document["kind"]?.string
        if let apiVersion, !apiVersion.hasPrefix(API.group + "/") {
            return .foreign(apiVersion: apiVersion, kind: kind ?? "")
        }
        if apiVersion == nil {
            problems.append(missingOrMistyped("apiVersion", in: document))
        } else if apiVersion != API.version, let node = document["apiVersion"] {
            problems.append(
                FieldProblem(
                    .notSupported, "apiVersion", node.mark,
                    "unsupported version \"\(apiVersion!)\": must be \(API.version)"))
        }
        switch kind {
        case VideoJob.names.kind:
            return decode(
                VideoJob.self, document, earlier: problems, nameRule: VideoJob.nameRule,
                checkSpec: VideoJob.checkSpec, wrap: Resource.videoJob)
        case WorkerPool.names.kind:
            return decode(
                WorkerPool.self, document, earlier: problems, nameRule: WorkerPool.nameRule,
                checkSpec: WorkerPool.checkSpec, wrap: Resource.workerPool)
        case nil:
            problems.append(missingOrMistyped("kind", in: document))
        case let other?:
            problems.append(
                FieldProblem(
                    .notSupported, "kind", document["kind"]!.mark,
                    "unsupported kind \"\(other)\": must be VideoJob or WorkerPool"))
        }
        return .invalid(problems)
    }

    private static func missingOrMistyped(_ field: String, in document: YAMLNode) -> FieldProblem {
        if let node = document[field], node.value != .null {
            return FieldProblem(.type, field, node.mark, "must be a string, not \(node.value.kindName)")
        }
        return FieldProblem(.required, field, document.mark, "required field is missing")
    }

    private static func decode<K: ResourceKind>(
        _ type: K.Type, _ document: YAMLNode, earlier: [FieldProblem], nameRule: ObjectMeta.NameRule,
        checkSpec: (YAMLNode) -> [FieldProblem], wrap: (K) -> Resource
    ) -> Outcome {
        var problems = earlier
        problems += SchemaValidator.validate(document, against: K.schema)
        if let metadata = document["metadata"], metadata.pairs != nil {
            problems += SchemaValidator.validate(metadata, against: ObjectMeta.schema, path: "metadata")
            problems += ObjectMeta.check(metadata, path: "metadata", nameRule: nameRule)
        }
        let defaulted = SchemaDefaulter.apply(document, K.schema)
        if let spec = defaulted["spec"] { problems += checkSpec(spec) }
        guard problems.isEmpty else { return .invalid(problems.sorted { $0.mark < $1.mark }) }
        do {
            return .resource(wrap(try YAMLNodeDecoder.decode(K.self, from: defaulted)))
        } catch let error as YAMLDecodingError {
            // The schema should have caught this; saying where is still better than crashing.
            return .invalid([FieldProblem(.invalid, error.path, error.mark, error.message)])
        } catch {
            return .invalid([FieldProblem(.invalid, "", document.mark, "\(error)")])
        }
    }
}

/// The resources and problems of one YAML (or JSON) text.
public struct ManifestReport: Sendable {
    /// A resource and where its document starts.
    public struct Entry: Sendable {
        public var resource: Resource
        /// Where the document starts.
        public var mark: YAMLMark
        /// Where `metadata.name` stands (the document's start if it has none).
        public var nameMark: YAMLMark
        /// 0-based index of the document in its stream.
        public var documentIndex: Int
    }

    public var resources: [Entry] = []
    /// Every problem, in document order.
    public var problems: [FieldProblem] = []
    /// Documents of other API groups, passed over.
    public var foreign: [(apiVersion: String, kind: String, mark: YAMLMark)] = []

    /// Reads every document of `text`. A syntax error stops the stream there (libyaml cannot resynchronize),
    /// but every problem of every document before it is reported too.
    public static func read(_ text: String) -> ManifestReport {
        read(bytes: Array(text.utf8))
    }

    /// Reads every document of a byte stream.
    public static func read(bytes: [UInt8]) -> ManifestReport {
        var report = ManifestReport()
        let documents: [YAMLNode]
        do {
            documents = try YAMLParser.parse(bytes: bytes)
        } catch {
            // Parse what precedes the error so its documents are still judged.
            report.problems.append(FieldProblem(error))
            if let mark = error.mark, let prefix = completeDocuments(before: mark, in: bytes) {
                let partial = read(bytes: prefix)
                report.resources = partial.resources
                report.foreign = partial.foreign
                report.problems = partial.problems + report.problems
            }
            return report
        }
        for (index, document) in documents.enumerated() where document.value != .null {
            switch ResourceDecoder.decode(document) {
            case .resource(let resource):
                let nameMark = document["metadata"]?["name"]?.mark ?? document.mark
                report.resources.append(
                    Entry(resource: resource, mark: document.mark, nameMark: nameMark, documentIndex: index))
            case .invalid(let problems): report.problems += problems
            case .foreign(let apiVersion, let kind): report.foreign.append((apiVersion, kind, document.mark))
            }
        }
        return report
    }

    /// The bytes of the documents that end before the line of `mark` (up to the last `---` line before it).
    private static func completeDocuments(before mark: YAMLMark, in bytes: [UInt8]) -> [UInt8]? {
        var line = 1
        var lastSeparatorEnd: Int?
        var index = 0
        while index < bytes.count, line < mark.line {
            if (index == 0 || bytes[index - 1] == UInt8(ascii: "\n")), bytes[index...].starts(with: Array("---".utf8)) {
                lastSeparatorEnd = index
            }
            if bytes[index] == UInt8(ascii: "\n") { line += 1 }
            index += 1
        }
        guard let end = lastSeparatorEnd, end > 0 else { return nil }
        return Array(bytes[..<end])
    }
}
