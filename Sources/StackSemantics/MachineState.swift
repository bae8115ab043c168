import SpecElaboration

/// One 8-byte stack slot with its ghost state: what the slot holds, and which write put
/// it there. Both are values of the domain, so they merge at joins.
public struct StackSlot<V> {
    /// What a load reads.
    public var value: V
    /// Event id of the last write (0: never written, garbage) — ghost state for traces:
    /// no claim may read it (loop invariants leave it out).
    public var origin: V
}

/// Where a register's value comes from — ghost state for blame: an exit that finds a
/// wrong value in a register names the instruction that put it there, and the slot it
/// was read from. The concrete replays track it for their words; the search's symbolic
/// runs for its `writer`, to tell a second wrong value at a site from a known one. No
/// claim depends on it.
public struct RegisterOrigin<V> {
    /// Event id of the instruction that last wrote the register (0: its value at entry).
    public var writer: V
    /// Event id of the load or pop that read the value from the stack, carried through
    /// register moves (0: the value was not read from the stack).
    public var load: V
    /// The stack address that load read.
    public var slot: V
    /// What that slot held then: the event id of its last write (0: never written).
    public var slotOrigin: V
}

/// A small map kept as an array sorted by key. A state's slots (a few dozen, by
/// address) and per-CPU variables (a handful, by name) live in these: found by binary
/// search with no hashing, copied as one buffer (a state's first write after a copy
/// copies it once), walked in key order — the same order in every process, so merges
/// and loop checks make their terms in the same order.
public struct SortedMap<Key: Comparable, Value>: Sequence {
    private var entries: [(key: Key, value: Value)] = []

    public init() {}

    public var count: Int { entries.count }
    public var keys: [Key] { entries.map(\.key) }

    /// Where `k` is, or where it would go.
    private func position(_ k: Key) -> (index: Int, found: Bool) {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].key < k { lo = mid + 1 } else { hi = mid }
        }
        return (lo, lo < entries.count && entries[lo].key == k)
    }

    public subscript(_ k: Key) -> Value? {
        get {
            let p = position(k)
            return p.found ? entries[p.index].value : nil
        }
        set {
            let p = position(k)
            switch (p.found, newValue) {
            case (true, let v?): entries[p.index].value = v
            case (true, nil): entries.remove(at: p.index)
            case (false, let v?): entries.insert((k, v), at: p.index)
            case (false, nil): break
            }
        }
    }

    public func makeIterator() -> IndexingIterator<[(key: Key, value: Value)]> { entries.makeIterator() }
}

/// A state's written stack slots by address; an absent slot is garbage.
public typealias StackSlots<V> = SortedMap<UInt64, StackSlot<V>>
/// A state's per-CPU variables by name.
public typealias PerCPUValues<V> = SortedMap<String, V>

/// A `call` that has not returned: what the CPU's return stack buffer / a CET shadow
/// stack holds.
public struct ShadowEntry<V> {
    public var returnAddress: V
    /// The call-site node, or nil for the call that entered the path.
    public var callSite: Int?
    /// rsp right after the return address was pushed: the called routine's frame
    /// (its CFA is 8 above), for the unwind annotations inside it.
    public var frame: V?
}

/// The state of a path at one program point (docs/model.md, "The state of a path").
///
/// A value type kept in one shared box, copied on the first write after a copy: states
/// are handed from step to step, queued at joins and kept for loop checks many times
/// more often than they are changed, and a copy is then one reference, not one per
/// array the state holds.
public struct MachineState<D: ValueDomain> {
    /// Reached only through this struct's accessors, whose access to a state the
    /// compiler checks statically (as it did when the fields were the struct's own):
    /// the runtime's per-access checks would add nothing but their cost.
    final class Storage {
        @exclusivity(unchecked) var registers: [D.Value]
        @exclusivity(unchecked) var zeroFlag: D.Bit
        @exclusivity(unchecked) var carryFlag: D.Bit
        @exclusivity(unchecked) var signFlag: D.Bit
        @exclusivity(unchecked) var overflowFlag: D.Bit
        @exclusivity(unchecked) var slots: StackSlots<D.Value>
        @exclusivity(unchecked) var perCPU: PerCPUValues<D.Value>
        @exclusivity(unchecked) var kernelGS: D.Bit
        @exclusivity(unchecked) var user: UserView<D>
        @exclusivity(unchecked) var shadowStack: [ShadowEntry<D.Value>]
        @exclusivity(unchecked) var reach: D.Bit
        @exclusivity(unchecked) var origins: [RegisterOrigin<D.Value>]
        @exclusivity(unchecked) var movedFrameTop: D.Value?
        init(registers: [D.Value], zeroFlag: D.Bit, carryFlag: D.Bit, signFlag: D.Bit, overflowFlag: D.Bit, slots: StackSlots<D.Value>, perCPU: PerCPUValues<D.Value>, kernelGS: D.Bit, user: UserView<D>, shadowStack: [ShadowEntry<D.Value>], reach: D.Bit, origins: [RegisterOrigin<D.Value>], movedFrameTop: D.Value? = nil) {
            self.registers = registers
            self.zeroFlag = zeroFlag
            self.carryFlag = carryFlag
            self.signFlag = signFlag
            self.overflowFlag = overflowFlag
            self.slots = slots
            self.perCPU = perCPU
            self.kernelGS = kernelGS
            self.user = user
            self.shadowStack = shadowStack
            self.reach = reach
            self.origins = origins
            self.movedFrameTop = movedFrameTop
        }
        func copy() -> Storage {
            Storage(registers: registers, zeroFlag: zeroFlag, carryFlag: carryFlag, signFlag: signFlag, overflowFlag: overflowFlag, slots: slots, perCPU: perCPU, kernelGS: kernelGS, user: user, shadowStack: shadowStack, reach: reach, origins: origins, movedFrameTop: movedFrameTop)
        }
    }

    private var storage: Storage

    /// `origins`: one per register when the run tracks where values come from, else empty.
    public init(registers: [D.Value], zeroFlag: D.Bit, carryFlag: D.Bit, signFlag: D.Bit, overflowFlag: D.Bit, slots: StackSlots<D.Value>, perCPU: PerCPUValues<D.Value>, kernelGS: D.Bit, user: UserView<D>, shadowStack: [ShadowEntry<D.Value>], reach: D.Bit, origins: [RegisterOrigin<D.Value>] = []) {
        storage = Storage(registers: registers, zeroFlag: zeroFlag, carryFlag: carryFlag, signFlag: signFlag, overflowFlag: overflowFlag, slots: slots, perCPU: perCPU, kernelGS: kernelGS, user: user, shadowStack: shadowStack, reach: reach, origins: origins)
    }

    /// The box, made this value's own before a write.
    private mutating func owned() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    public var registers: [D.Value] {
        get { storage.registers }
        _modify { let box = owned(); yield &box.registers }
    }
    public var zeroFlag: D.Bit {
        get { storage.zeroFlag }
        _modify { let box = owned(); yield &box.zeroFlag }
    }
    public var carryFlag: D.Bit {
        get { storage.carryFlag }
        _modify { let box = owned(); yield &box.carryFlag }
    }
    public var signFlag: D.Bit {
        get { storage.signFlag }
        _modify { let box = owned(); yield &box.signFlag }
    }
    public var overflowFlag: D.Bit {
        get { storage.overflowFlag }
        _modify { let box = owned(); yield &box.overflowFlag }
    }
    /// Written stack slots by address; an absent slot is garbage.
    public var slots: StackSlots<D.Value> {
        get { storage.slots }
        _modify { let box = owned(); yield &box.slots }
    }
    public var perCPU: PerCPUValues<D.Value> {
        get { storage.perCPU }
        _modify { let box = owned(); yield &box.perCPU }
    }
    /// True while GS holds the kernel's base (after the entry swapgs).
    public var kernelGS: D.Bit {
        get { storage.kernelGS }
        _modify { let box = owned(); yield &box.kernelGS }
    }
    /// Where a frame-moving call (`.extern … moves-frame=`) put the frame: the top of
    /// its copy; 0 where the frame is still the entry's; nil on a path no such call
    /// reached.
    public var movedFrameTop: D.Value? {
        get { storage.movedFrameTop }
        _modify { let box = owned(); yield &box.movedFrameTop }
    }
    /// The user's register set as the kernel must give it back (pt_regs fields): the
    /// entry values, then whatever a ptrace stop wrote.
    public var user: UserView<D> {
        get { storage.user }
        _modify { let box = owned(); yield &box.user }
    }
    public var shadowStack: [ShadowEntry<D.Value>] {
        get { storage.shadowStack }
        _modify { let box = owned(); yield &box.shadowStack }
    }
    /// The condition under which this point is reached.
    public var reach: D.Bit {
        get { storage.reach }
        _modify { let box = owned(); yield &box.reach }
    }

    /// Where each register's value comes from, by register number; empty when the run
    /// does not track it (the proof run: merges and loop heads carry no provenance).
    public var origins: [RegisterOrigin<D.Value>] {
        get { storage.origins }
        _modify { let box = owned(); yield &box.origins }
    }

    public var rsp: D.Value {
        get { registers[Register.rsp.rawValue] }
        set { registers[Register.rsp.rawValue] = newValue }
    }
    public subscript(_ r: Register) -> D.Value {
        get { registers[r.rawValue] }
        set { registers[r.rawValue] = newValue }
    }
}

/// The user's register set, one entry per `struct pt_regs` field (in layout order, so
/// joins and loop checks walk an array instead of hashing field names).
public struct UserView<D: ValueDomain> {
    /// The user's value of each field, nil where no run reaching here defines it.
    public var values: [D.Value?]
    /// Whether the value holds on this state: runs merged at a join may define a field
    /// on one side only (a ptrace stop on one branch sets orig_ax there). nil means
    /// known wherever `values` has the field.
    public var known: [D.Bit?]

    public init() {
        values = Array(repeating: nil, count: PtRegsField.count)
        known = Array(repeating: nil, count: PtRegsField.count)
    }

    public subscript(_ field: String) -> D.Value? {
        get { PtRegsField.index(field).flatMap { values[$0] } }
        set { if let i = PtRegsField.index(field) { values[i] = newValue } }
    }

    /// Defined fields by name, in layout order.
    public var fields: [(String, D.Value)] {
        values.enumerated().compactMap { i, v in v.map { (Layout.ptRegs.fields[i].userName, $0) } }
    }
}

/// pt_regs field positions by user-visible name.
public enum PtRegsField {
    public static let count = Layout.ptRegs.fields.count
    static let byName: [String: Int] = Dictionary(uniqueKeysWithValues: Layout.ptRegs.fields.enumerated().map { ($1.userName, $0) })
    public static func index(_ name: String) -> Int? { byName[name] }
    /// Which fields a list names, by position (for tests inside loops over the layout).
    public static func named(_ names: [String]) -> [Bool] {
        var named = [Bool](repeating: false, count: count)
        for n in names { if let i = byName[n] { named[i] = true } }
        return named
    }
}

/// A stack the model knows: its slots are modelled memory.
public struct StackRegion: Sendable, Hashable {
    public var name: String
    public var base: UInt64
    /// Addresses within this distance of the base belong to the region.
    public static let span: UInt64 = 1 << 22

    public func contains(_ a: UInt64) -> Bool { a &- (base &- Self.span) < 2 * Self.span }
}

/// Event ids are derived from node ids so the proof run and the replay agree on them.
public enum EventID {
    public static func at(node: Int, _ k: Int = 0) -> UInt64 { UInt64(node + 1) * 64 + UInt64(k) }
    public static let callerReturnAddress: UInt64 = 1
    public static let hardwareFrame: UInt64 = 2
    public static let callerPtRegs: UInt64 = 3
    public static let hypervisorFrame: UInt64 = 4
    public static func node(of e: UInt64) -> Int? { e >= 64 ? Int(e / 64) - 1 : nil }
}
