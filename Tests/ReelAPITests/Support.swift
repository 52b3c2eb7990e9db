import ReelAPI
import ReelYAML
import Testing

/// The problems of the first document of `text` (none when it decodes).
func problems(_ text: String) -> [FieldProblem] {
    ManifestReport.read(text).problems
}

/// The one resource of `text`, failing the test when there are problems.
func resource(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> Resource? {
    let report = ManifestReport.read(text)
    #expect(report.problems.isEmpty, "\(report.problems)", sourceLocation: sourceLocation)
    return report.resources.first?.resource
}

/// A minimal valid VideoJob with `spec` lines added under `spec:` (indented by the caller at two spaces).
func videoJob(name: String = "keynote", metadata: String = "", spec: String = "") -> String {
    """
    apiVersion: reel.dev/v1alpha1
    kind: VideoJob
    metadata:
      name: \(name)
    \(metadata)
    spec:
      source:
        uri: file:///data/keynote.mp4
    \(spec)
    """
}

/// A minimal valid WorkerPool with extra `spec` lines.
func workerPool(name: String = "analyze", spec: String = "") -> String {
    """
    apiVersion: reel.dev/v1alpha1
    kind: WorkerPool
    metadata:
      name: \(name)
    spec:
      stages: [analyze]
    \(spec)
    """
}
