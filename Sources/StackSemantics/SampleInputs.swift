/// Deterministic, well-spread input values for concrete runs that no solver chose:
/// the probes, `--explain`, mutation neutrality and the differential test. The same
/// (name, seed) always gives the same value, so their output is reproducible.
public enum SampleInputs {
    /// FNV-1a of the name, perturbed by the seed.
    public static func hash(_ name: String, seed: Int = 0) -> UInt64 {
        fnv1a(name, basis: 0xcbf2_9ce4_8422_2325 &+ UInt64(truncatingIfNeeded: seed) &* 0x9e37_79b9_7f4a_7c15)
    }

    /// FNV-1a over a string's UTF-8 bytes, read in place when the string stores them
    /// contiguously (byte by byte through the view cost twice as much).
    static func fnv1a(_ s: String, basis: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        func run<S: Sequence<UInt8>>(_ bytes: S) -> UInt64 {
            var h = basis
            for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            return h
        }
        return s.utf8.withContiguousStorageIfAvailable { run($0) } ?? run(s.utf8)
    }
}
