import SpecElaboration

/// Where the stacks lie (docs/model.md, "What the model assumes", "Stack placement").
///
/// The model puts each stack at an address of its own choosing (`EntrySetup`'s entry
/// stack base, per-CPU stacks 4 GiB apart). The kernel's stacks lie elsewhere, and all
/// that entry code may rely on is a stack address's offset within its stack and that a
/// stack pointer is 8-byte aligned (the kernel builds with 8-byte stack alignment; an
/// interrupt's 16-byte alignment is a place the frame starts at, not one the model
/// reproduces). An operation whose result depends on more of a stack address would be
/// decided by the model's choice, not by the code: it is unsupported, so every path
/// through it is unknown, never proved. That covers
/// - masks and tests of bits above the low three (`testq $8, %rsp`, `andq $-16, %rsp`),
///   a mask from a register, shifts, rotates, bit tests, negation and complement;
/// - a truncation to 32, 16 or 8 bits (`movl %esp, %eax`, `xchgl`, a narrow read of a
///   slot or per-CPU variable that holds a saved rsp);
/// - a comparison with a constant or with another stack's address (the model's stacks
///   have an order of their own);
/// - pointer arithmetic that leaves the stack it started on for another modelled stack
///   (`addq $0x100000000, %rax` from the entry stack lands on a per-CPU one in the model,
///   on unrelated memory in the machine).
/// Comparing or subtracting two addresses of one stack, adding an offset that stays on
/// it, and comparing one with a value the path does not fix are independent of the
/// placement.
extension Interpreter {
    /// The stack addresses `v` is on some run (a run where it is no constant is left
    /// out: `cmovz %rsp, %rax` over an input leaves rax a stack address on some runs).
    func stackAddresses(_ v: D.Value) -> [UInt64] {
        d.possibleConstants(v).values.filter { setup.region(of: $0) != nil }
    }

    /// The full value an operand names, as far as the placement is concerned: a register
    /// whole (a narrow operand truncates it), otherwise the value read.
    func placementValue(_ o: Operand, read: D.Value, _ s: MachineState<D>) -> D.Value {
        if case .register(let r, _) = o { return s[r] }
        return read
    }

    /// A narrow read of memory that holds a stack address (a saved rsp in a slot or a
    /// per-CPU variable) truncates it.
    func checkNarrowRead(_ stored: D.Value, width: Width, node: Int) throws {
        guard !stackAddresses(stored).isEmpty else { return }
        throw placementDependent("a \(width.bits)-bit read of memory holding", stored, node: node)
    }

    /// "WHAT the stack address entry stack-0x10: its value depends on …".
    func placementDependent(_ what: String, _ address: D.Value, node: Int) -> Unsupported {
        let at = stackAddresses(address).map { setup.describe(address: $0) }
        return Unsupported(node: node, reason: "\(what) the stack address \(at.joined(separator: " or ")): its value depends on where the stack lies, which the model fixes (a stack address is known only relative to its stack, and 8-byte aligned)")
    }

    /// Throws when the operation at `node`, with operand values `values` (full registers,
    /// see `placementValue`), computes something that depends on where a stack lies.
    func checkPlacement(_ op: Operation, _ values: [D.Value], node: Int) throws {
        // A whole-register move copies an address as it is; other operations carry none.
        switch op {
        case .move(_, _, .q): return
        // `xorl %esi, %esi`: zero, whatever the register held.
        case .alu(.xor, let a, let b, _) where a == b && a.register != nil: return
        case .alu(.sub, let a, let b, _) where a == b && a.register != nil: return
        case .exchange(_, _, .q): return
        case .alu, .unary, .test, .compare, .move, .shift, .bitTest, .exchangeAdd, .compareExchange, .extend, .exchange: break
        default: return
        }
        let addressed = values.indices.filter { !stackAddresses(values[$0]).isEmpty }
        guard let first = addressed.first else { return }
        let address = values[first]
        func dependent(_ why: String) -> Unsupported { placementDependent("\(why) of", address, node: node) }
        /// Whether `v` is a constant that keeps within an address's low three bits.
        func lowBitsOnly(_ v: D.Value, complement: Bool) -> Bool {
            guard let k = d.knownValue(v) else { return false }
            return (complement ? ~k : k) & ~UInt64(7) == 0
        }
        /// The stacks `v`'s constants lie on; nil when some constant is on none.
        func stacks(_ v: D.Value) -> Set<UInt64>? {
            var bases: Set<UInt64> = []
            for a in d.possibleConstants(v).values {
                guard let r = setup.region(of: a) else { return nil }
                bases.insert(r.base)
            }
            return bases
        }
        /// Both values on one and the same stack in every case.
        func oneStack(_ a: D.Value, _ b: D.Value) -> Bool {
            guard let x = stacks(a), let y = stacks(b), x.count == 1 else { return false }
            return x == y
        }
        let width: Width? = {
            switch op {
            case .alu(_, _, _, let w), .unary(_, _, let w), .test(_, _, let w), .compare(_, _, let w), .move(_, _, let w),
                 .shift(_, _, _, let w), .bitTest(_, _, _, let w), .exchangeAdd(_, _, let w), .compareExchange(_, _, let w),
                 .exchange(_, _, let w):
                return w
            case .extend(_, _, let from, _, _): return from
            default: return nil
            }
        }()
        if let w = width, w != .q {
            // The test of low bits reads them through any width.
            if case .test = op, values.count == 2, lowBitsOnly(values[1 - first], complement: false) { return }
            throw dependent("a \(w.bits)-bit truncation")
        }
        switch op {
        case .alu(.add, _, _, _), .alu(.sub, _, _, _), .unary(.inc, _, _), .unary(.dec, _, _):
            if addressed.count == 2 {
                // The distance between two slots of one stack is the code's.
                if case .alu(.sub, _, _, _) = op, oneStack(values[0], values[1]) { return }
                throw dependent("a sum or difference of two stacks' addresses")
            }
            // An offset that leaves the stack for another modelled one, or for no stack
            // (`0x1000 - rsp` is a number the placement decides): each stack address
            // the operand may be, with each constant offset the other may be.
            let offsets: ConstantSet
            switch op {
            case .unary: offsets = ConstantSet(1)
            default: offsets = d.possibleConstants(values[1 - first])
            }
            for a in stackAddresses(address) {
                guard let home = setup.region(of: a) else { continue }
                for k in offsets.values {
                    let r: UInt64
                    switch op {
                    case .alu(.add, _, _, _), .unary(.inc, _, _): r = a &+ k
                    case .unary(.dec, _, _): r = a &- k
                    // values are [source, destination]: the address is subtracted from when it is the destination.
                    default: r = first == 1 ? a &- k : k &- a
                    }
                    guard let region = setup.region(of: r) else { throw dependent("arithmetic that leaves every stack") }
                    if region.base != home.base { throw dependent("pointer arithmetic that lands on \(region.name)'s stack") }
                }
            }
        case .alu(.and, _, _, _):
            guard addressed.count == 1, lowBitsOnly(values[1 - first], complement: true) else { throw dependent("a mask") }
        case .alu(.or, _, _, _), .alu(.xor, _, _, _):
            guard addressed.count == 1, lowBitsOnly(values[1 - first], complement: false) else { throw dependent("a mask") }
        case .test:
            guard addressed.count == 1, lowBitsOnly(values[1 - first], complement: false) else { throw dependent("a test of bits") }
        case .compare, .compareExchange:
            if addressed.count == 2 {
                guard oneStack(values[0], values[1]) else { throw dependent("a comparison with another stack's address") }
                return
            }
            if !d.possibleConstants(values[1 - first]).values.isEmpty { throw dependent("a comparison with a constant") }
        case .alu(.adc, _, _, _), .alu(.sbb, _, _, _), .exchangeAdd:
            throw dependent("arithmetic with carry")
        case .unary(.neg, _, _), .unary(.not, _, _):
            throw dependent("a negation")
        case .shift:
            throw dependent("a shift or rotate")
        case .bitTest:
            throw dependent("a bit test")
        default:
            return
        }
    }
}
