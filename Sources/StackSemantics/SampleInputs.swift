/// Deterministic, well-spread input values for concrete runs that no solver chose:
/// the probes, `--explain`, mutation neutrality and the differential test. The same
/// (name, seed) always gives the same value, so their output is reproducible.
public enum SampleInputs {
    /// FNV-1a of the name, perturbed by the seed.
    public static func hash(_ name: String, seed: Int = 0) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 &+ UInt64(truncatingIfNeeded: seed) &* 0x9e37_79b9_7f4a_7c15
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
