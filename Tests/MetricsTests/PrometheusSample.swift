/// The Prometheus text exposition format read back into families, for checking an export.
struct PrometheusExposition {
    struct Family {
        var type: String?
        var help: String?
        var samples: [(labels: [String: String], value: Double)] = []
    }

    private(set) var families: [String: Family] = [:]
    /// Lines that are neither comments, samples nor blank.
    private(set) var unparsed: [String] = []

    init(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("# TYPE ") || line.hasPrefix("# HELP ") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard parts.count >= 4 else { unparsed.append(String(line)); continue }
                let name = String(parts[2])
                if parts[1] == "TYPE" { families[name, default: Family()].type = String(parts[3]) }
                else { families[name, default: Family()].help = String(parts[3]) }
            } else if let sample = Self.sample(line) {
                families[sample.name, default: Family()].samples.append((sample.labels, sample.value))
            } else {
                unparsed.append(String(line))
            }
        }
    }

    /// The value of the series of `name` with exactly `labels`, or nil.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        families[name]?.samples.first { $0.labels == labels }?.value
    }

    /// `name{a="x",b="y"} 12` (label values without escapes, as the broker's are).
    private static func sample(_ line: Substring) -> (name: String, labels: [String: String], value: Double)? {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
        let series = line[..<space]
        guard let brace = series.firstIndex(of: "{") else { return (String(series), [:], value) }
        guard series.last == "}" else { return nil }
        var labels: [String: String] = [:]
        for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)].split(separator: ",") {
            let keyValue = pair.split(separator: "=", maxSplits: 1)
            guard keyValue.count == 2, keyValue[1].hasPrefix("\""), keyValue[1].hasSuffix("\"") else { return nil }
            labels[String(keyValue[0])] = String(keyValue[1].dropFirst().dropLast())
        }
        return (String(series[..<brace]), labels, value)
    }
}
