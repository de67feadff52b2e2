/// One counter in the Prometheus text format: its `# HELP` and `# TYPE` lines, then a sample per
/// label set, label values escaped as the format asks. For the node's counters that live outside
/// the metrics exporter (cluster forwards, TLS handshake failures).
func prometheusCounter(_ name: String, help: String, samples: [(labels: [(String, String)], value: Int)]) -> String {
    var lines = ["# HELP \(name) \(help)", "# TYPE \(name) counter"]
    for sample in samples {
        let labels = sample.labels.map { key, value in
            "\(key)=\"\(value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\""
        }
        lines.append("\(name){\(labels.joined(separator: ","))} \(sample.value)")
    }
    return lines.joined(separator: "\n") + "\n"
}
