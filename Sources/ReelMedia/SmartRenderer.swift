import CFFmpeg

/// The `smart` render mode (placeholder until the parameter-set matching lands: renders `exact`).
struct SmartRenderer {
    let cuts: [CutRange]
    let output: String
    let options: RenderOptions

    func run() throws(MediaError) -> RenderResult {
        var result = try ExactRenderer(cuts: cuts, output: output, options: options).run()
        result.fallbackReason = "smart rendering is not available in this build"
        return result
    }
}
