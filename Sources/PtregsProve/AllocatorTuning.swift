#if canImport(Glibc)
import Glibc
#endif

/// A check run is short and allocation-heavy: every path makes and drops a Z3 context
/// (tens of megabytes) and thousands of terms. glibc hands freed memory back to the
/// kernel and faults it in again for the next path — a sixth of the corpus run's time
/// went to page faults. Keeping freed memory in the process avoids that.
public enum AllocatorTuning {
    public static func keepFreedMemory() {
        #if canImport(Glibc)
        // mallopt is in <malloc.h>, which the Glibc module does not export: look it up.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let trimThreshold: Int32 = -1, topPad: Int32 = -2, mmapThreshold: Int32 = -3   // <malloc.h>
        _ = mallopt(trimThreshold, 1 << 30)
        _ = mallopt(topPad, 256 << 20)
        _ = mallopt(mmapThreshold, 32 << 20)   // glibc's upper bound for it
        #endif
    }
}
