import SpecElaboration
import SpecSyntax
import StackSemantics

/// The bytes of a verdict-cache entry: each field of a stored report written in a fixed
/// order — numbers as eight little-endian bytes, strings and arrays behind their length.
/// Foundation's `JSONDecoder` spent more reading an entry than proving the path again;
/// this reads one in a single pass with no parsing. An entry ends with a checksum of
/// its fields; anything that does not fit (a short or changed file, an unknown name) is
/// an error, and the path is proved again.
struct CacheEntryWriter {
    private var bytes: [UInt8] = []

    init() { bytes.append(contentsOf: CacheEntryReader.magic) }

    /// The entry: its fields and their checksum.
    var finished: [UInt8] {
        var w = self
        w.u64(CacheEntryReader.checksum(bytes[CacheEntryReader.magic.count...]))
        return w.bytes
    }

    mutating func u64(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func int(_ v: Int) { u64(UInt64(bitPattern: Int64(v))) }
    mutating func bool(_ b: Bool) { bytes.append(b ? 1 : 0) }
    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            int(utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }
    mutating func array<T>(_ xs: [T], _ each: (inout CacheEntryWriter, T) -> Void) {
        int(xs.count)
        for x in xs { each(&self, x) }
    }
    mutating func strings(_ xs: [String]) { array(xs) { $0.string($1) } }

    mutating func location(_ l: SourceLocation) {
        string(l.file); int(l.line); int(l.column)
    }

    mutating func slot(_ s: SlotView) {
        u64(s.address); strings(s.markers); string(s.label); u64(s.value); string(s.holds)
    }

    mutating func step(_ s: TraceStep) {
        int(s.node); location(s.location); string(s.text)
        array(s.expansion) { $0.location($1.location); $0.string($1.message) }
        location(s.sourceLocation); string(s.rsp); int(s.returnStackDepth); bool(s.kernelGS)
        array(s.touched) { $0.slot($1) }
        strings(s.notes)
    }

    mutating func blame(_ b: Counterexample.Blame) {
        location(b.location)
        bool(b.macroLocation != nil)
        if let m = b.macroLocation { location(m) }
        string(b.instruction); string(b.message)
    }

    mutating func counterexample(_ cx: Counterexample) {
        location(cx.location)
        bool(cx.macroLocation != nil)
        if let m = cx.macroLocation { location(m) }
        string(cx.instruction); string(cx.requirement)
        array(cx.values) { $0.string($1.0); $0.string($1.1) }
        array(cx.steps) { $0.step($1) }
        array(cx.picture) { $0.slot($1) }
        string(cx.rsp)
        array(cx.inputs) { $0.string($1.0); $0.u64($1.1) }
        bool(cx.observation != nil)
        if let o = cx.observation { blame(o) }
        int(cx.blamedStep ?? -1)
        array(cx.related) { $0.blame($1) }
    }

    mutating func result(_ r: InvariantResult) {
        string(r.invariant.rawValue)
        switch r.verdict {
        case .proved: bytes.append(0)
        case .violated(let cx): bytes.append(1); counterexample(cx)
        case .unknown(let why): bytes.append(2); string(why)
        }
        bool(r.expectedViolation); int(r.obligations); int(r.solverQueries)
    }

    mutating func report(_ r: PathReport) {
        string(r.name); string(r.file); location(r.location); string(r.models); string(r.entry.rawValue)
        array(r.results) { $0.result($1) }
        array(r.obligations) { w, o in
            w.string(o.invariant.rawValue); w.int(o.node); w.location(o.location); w.string(o.requirement); w.string(o.outcome)
        }
        u64(r.solverSeconds.bitPattern)
    }
}

struct CacheEntryReader {
    /// "ptregs-prove cache entry", format 1.
    static let magic: [UInt8] = Array("PTPCE1".utf8)

    struct Malformed: Error {}

    /// The entry's fields, without the magic and the checksum.
    private let bytes: ArraySlice<UInt8>
    private var at: Int

    init(_ entry: [UInt8]) throws {
        let start = Self.magic.count, end = entry.count - 8
        guard end >= start, entry.starts(with: Self.magic) else { throw Malformed() }
        var sum: UInt64 = 0
        for k in 0..<8 { sum |= UInt64(entry[end + k]) << (8 * UInt64(k)) }
        guard sum == Self.checksum(entry[start..<end]) else { throw Malformed() }
        bytes = entry[start..<end]
        at = start
    }

    /// FNV-1a over the fields.
    static func checksum(_ fields: ArraySlice<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in fields { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    var isAtEnd: Bool { at == bytes.endIndex }

    mutating func u64() throws -> UInt64 {
        guard bytes.endIndex - at >= 8 else { throw Malformed() }
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[at + k]) << (8 * UInt64(k)) }
        at += 8
        return v
    }
    mutating func int() throws -> Int { Int(Int64(bitPattern: try u64())) }
    /// A count of things each at least one byte long: never more than the bytes left.
    mutating func count() throws -> Int {
        let n = try int()
        guard n >= 0, n <= bytes.endIndex - at else { throw Malformed() }
        return n
    }
    mutating func bool() throws -> Bool {
        guard at < bytes.endIndex, bytes[at] <= 1 else { throw Malformed() }
        at += 1
        return bytes[at - 1] == 1
    }
    mutating func tag() throws -> UInt8 {
        guard at < bytes.endIndex else { throw Malformed() }
        at += 1
        return bytes[at - 1]
    }
    mutating func string() throws -> String {
        let n = try count()
        defer { at += n }
        return String(decoding: bytes[at..<(at + n)], as: UTF8.self)
    }
    mutating func array<T>(_ each: (inout CacheEntryReader) throws -> T) throws -> [T] {
        let n = try count()
        var out: [T] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try each(&self)) }
        return out
    }
    mutating func strings() throws -> [String] { try array { try $0.string() } }
    mutating func named<T: RawRepresentable<String>>(_: T.Type) throws -> T {
        guard let v = T(rawValue: try string()) else { throw Malformed() }
        return v
    }

    mutating func location() throws -> SourceLocation {
        SourceLocation(file: try string(), line: try int(), column: try int())
    }

    mutating func slot() throws -> SlotView {
        SlotView(address: try u64(), markers: try strings(), label: try string(), value: try u64(), holds: try string())
    }

    mutating func step() throws -> TraceStep {
        TraceStep(node: try int(), location: try location(), text: try string(),
                  expansion: try array { Diagnostic.Note(location: try $0.location(), message: try $0.string()) },
                  sourceLocation: try location(), rsp: try string(), returnStackDepth: try int(), kernelGS: try bool(),
                  touched: try array { try $0.slot() }, notes: try strings())
    }

    mutating func blame() throws -> Counterexample.Blame {
        let location = try location()
        let macroLocation = try bool() ? try self.location() : nil
        return Counterexample.Blame(location: location, macroLocation: macroLocation, instruction: try string(), message: try string())
    }

    mutating func counterexample() throws -> Counterexample {
        let location = try location()
        let macroLocation = try bool() ? try self.location() : nil
        return Counterexample(location: location, macroLocation: macroLocation, instruction: try string(), requirement: try string(),
                              values: try array { (try $0.string(), try $0.string()) },
                              steps: try array { try $0.step() }, picture: try array { try $0.slot() }, rsp: try string(),
                              inputs: try array { (try $0.string(), try $0.u64()) },
                              observation: try bool() ? try blame() : nil,
                              blamedStep: try { let k = try int(); return k >= 0 ? k : nil }(),
                              related: try array { try $0.blame() })
    }

    mutating func result() throws -> InvariantResult {
        let invariant = try named(Invariant.self)
        let verdict: Verdict
        switch try tag() {
        case 0: verdict = .proved
        case 1: verdict = .violated(try counterexample())
        case 2: verdict = .unknown(try string())
        default: throw Malformed()
        }
        return InvariantResult(invariant: invariant, verdict: verdict, expectedViolation: try bool(),
                               obligations: try int(), solverQueries: try int())
    }

    mutating func report() throws -> PathReport {
        var r = PathReport(name: try string(), file: try string(), location: try location(), models: try string(),
                           entry: try named(EntryKind.self), results: try array { try $0.result() })
        r.obligations = try array {
            ObligationOutcome(invariant: try $0.named(Invariant.self), node: try $0.int(), location: try $0.location(),
                              requirement: try $0.string(), outcome: try $0.string())
        }
        r.solverSeconds = Double(bitPattern: try u64())
        return r
    }
}
