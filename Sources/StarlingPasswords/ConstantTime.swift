/// Comparisons whose duration does not depend on where the inputs differ.
enum ConstantTime {
    /// True when `a` and `b` hold the same bytes; reads every byte of both (up to the shorter) whatever they hold.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        difference |= a.count == b.count ? 0 : 1
        for index in 0..<min(a.count, b.count) { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
