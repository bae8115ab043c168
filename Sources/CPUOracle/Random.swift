/// SplitMix64: a seed names the same programs and inputs on every machine. The native
/// harness has the same `mix` (its stack fill must match the model's garbage inputs).
public struct OracleRandom: Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }

    /// SplitMix64's output function.
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        return Self.mix(state)
    }

    /// 0..<n.
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    mutating func int(in r: ClosedRange<Int>) -> Int { r.lowerBound + int(r.count) }
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
    mutating func pick<T>(_ xs: [T]) -> T { xs[int(xs.count)] }

    mutating func shuffled<T>(_ xs: [T]) -> [T] {
        var a = xs
        if a.count < 2 { return a }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, int(i + 1)) }
        return a
    }

    /// The word the harness leaves at stack word `k` (from the entry rsp) before a run:
    /// what the model calls `garbage[entry stack±8k]`.
    public static func stackFill(seed: UInt64, word k: Int) -> UInt64 {
        mix(seed ^ (UInt64(bitPattern: Int64(k)) &* 0x1_0000_01b3))
    }
}
