/// Topic names and topic filters (section 4.7): validity, matching, shared subscriptions.
///
/// All functions work on the UTF-8 bytes without allocating.
public enum MQTTTopic {
    @usableFromInline static let slash = UInt8(ascii: "/")
    @usableFromInline static let plus = UInt8(ascii: "+")
    @usableFromInline static let hash = UInt8(ascii: "#")
    @usableFromInline static let dollar = UInt8(ascii: "$")

    /// Topic name rules: non-empty, no `+`/`#`, no U+0000, ≤ 65535 bytes.
    public static func isValidName(_ topic: String) -> Bool {
        let utf8 = topic.utf8
        guard !utf8.isEmpty, utf8.count <= 65_535 else { return false }
        // Native strings are contiguous: a plain loop over the bytes is several times faster on
        // the publish path than the generic `contains(where:)`.
        let verdict = utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes where byte == plus || byte == hash || byte == 0 { return false }
            return true
        }
        return verdict ?? !utf8.contains { $0 == plus || $0 == hash || $0 == 0 }
    }

    /// Filter rules: non-empty; `#` only as the whole last level; `+` only as a whole level; `$share/GROUP/FILTER`
    /// (GROUP non-empty, without `+ # /`, FILTER itself valid) and `$queue/FILTER` accepted.
    public static func isValidFilter(_ filter: String) -> Bool {
        guard filter.utf8.count <= 65_535, !filter.utf8.contains(0) else { return false }
        if let shared = parseShared(filter) {
            return !shared.group.utf8.contains { $0 == plus || $0 == hash } && isValidPlainFilter(shared.filter)
        }
        // A `$share/` or `$queue/` prefix that `parseShared` refused is not a plain filter either.
        if filter.utf8.starts(with: "$share/".utf8) || filter.utf8.starts(with: "$queue/".utf8) { return false }
        return isValidPlainFilter(filter)
    }

    /// Wildcard placement, level by level.
    private static func isValidPlainFilter(_ filter: String) -> Bool {
        let utf8 = filter.utf8
        guard !utf8.isEmpty else { return false }
        var levelStart = utf8.startIndex
        while true {
            let levelEnd = utf8[levelStart...].firstIndex(of: slash) ?? utf8.endIndex
            let level = utf8[levelStart..<levelEnd]
            if level.contains(hash) {
                // `#` must be the whole level and the last one.
                guard level.count == 1, levelEnd == utf8.endIndex else { return false }
            } else if level.contains(plus) {
                guard level.count == 1 else { return false }
            }
            if levelEnd == utf8.endIndex { return true }
            levelStart = utf8.index(after: levelEnd)
        }
    }

    /// Whether `filter` (not shared) matches `topic`; a leading `+` or `#` does not match topics starting with `$`.
    ///
    /// `#` also matches the parent level (`a/#` matches `a`), `+` matches an empty level (`a/+` matches `a/`).
    /// The filter is assumed valid.
    public static func matches(filter: String, topic: String) -> Bool {
        var filter = filter, topic = topic
        return filter.withUTF8 { f in topic.withUTF8 { t in matches(filter: f, topic: t) } }
    }

    /// `matches(filter:topic:)` on UTF-8 bytes.
    public static func matches(filter f: UnsafeBufferPointer<UInt8>, topic t: UnsafeBufferPointer<UInt8>) -> Bool {
        if let first = t.first, first == dollar, let wildcard = f.first, wildcard == plus || wildcard == hash {
            return false
        }
        // Start of the current level in each; nil once the string has no more levels.
        var filterLevel: Int? = 0
        var topicLevel: Int? = 0
        while let fs = filterLevel {
            let fe = f[fs...].firstIndex(of: slash) ?? f.count
            if fe - fs == 1 && f[fs] == hash { return true }
            guard let ts = topicLevel else { return false }
            let te = t[ts...].firstIndex(of: slash) ?? t.count
            let isPlus = fe - fs == 1 && f[fs] == plus
            if !isPlus && !f[fs..<fe].elementsEqual(t[ts..<te]) { return false }
            filterLevel = fe < f.count ? fe + 1 : nil
            topicLevel = te < t.count ? te + 1 : nil
        }
        return topicLevel == nil
    }

    /// Splits `$share/g/f` into ("g", "f") and `$queue/f` into ("$queue", "f"); nil for other filters,
    /// including `$share/` forms without a group or a filter.
    public static func parseShared(_ filter: String) -> (group: String, filter: String)? {
        let utf8 = filter.utf8
        if utf8.starts(with: "$queue/".utf8) {
            let rest = utf8.dropFirst(7)
            return rest.isEmpty ? nil : ("$queue", String(Substring(rest)))
        }
        guard utf8.starts(with: "$share/".utf8) else { return nil }
        let rest = utf8.dropFirst(7)
        guard let groupEnd = rest.firstIndex(of: slash), groupEnd != rest.startIndex else { return nil }
        let shared = rest[rest.index(after: groupEnd)...]
        guard !shared.isEmpty else { return nil }
        return (String(Substring(rest[..<groupEnd])), String(Substring(shared)))
    }

    /// Number of levels: one more than the number of `/`.
    public static func levelCount(_ s: String) -> Int {
        let counted = s.utf8.withContiguousStorageIfAvailable { bytes in
            var count = 1
            for byte in bytes where byte == slash { count += 1 }
            return count
        }
        if let counted { return counted }
        var count = 1
        for byte in s.utf8 where byte == slash { count += 1 }
        return count
    }
}
