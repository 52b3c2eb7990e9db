import CoreMetrics
import Metrics
import ReelSupport

/// The reconciler's metrics, named as controller-runtime names its own (`reel_` instead of `controller_runtime_`),
/// through swift-metrics: whatever backend the process bootstrapped (Prometheus in `reel operator`) gets them.
struct ReconcilerMetrics: Sendable {
    let reconciles: Counter
    let errors: Counter
    /// Status writes that changed something (an idle operator makes none).
    let statusWrites: Counter
    let time: Metrics.Timer
    let depth: Gauge

    init(controller: String) {
        let dimensions = [("controller", controller)]
        depth = Gauge(label: "reel_workqueue_depth", dimensions: [("name", controller)])
        reconciles = Counter(label: "reel_reconcile_total", dimensions: dimensions)
        errors = Counter(label: "reel_reconcile_errors_total", dimensions: dimensions)
        statusWrites = Counter(label: "reel_status_writes_total", dimensions: dimensions)
        time = Metrics.Timer(
            label: "reel_reconcile_time_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
    }
}

/// Gauges the autoscaler keeps: queue depth and age per stage, replicas per pool, the work queue's depth.
struct ScalingMetrics: Sendable {
    func queueDepth(stage: String, _ value: Int) {
        Gauge(label: "reel_queue_depth", dimensions: [("stage", stage)]).record(value)
    }

    func oldestReady(stage: String, seconds: Double) {
        Gauge(label: "reel_queue_oldest_ready_seconds", dimensions: [("stage", stage)]).record(seconds)
    }

    func replicas(pool: String, _ value: Int) {
        Gauge(label: "reel_pool_replicas", dimensions: [("pool", pool)]).record(value)
    }
}
