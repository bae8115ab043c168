import SpecElaboration

/// Invariant `args` — calls get the arguments their contract needs (docs/model.md,
/// "7. Call arguments").
///
/// An `.extern` may say what its argument registers must hold at each call (`rdi=ptregs`,
/// `rdi=return-address`, `esi=syscall-nr`, `rsi=0`…). The register is observed at the
/// call, by the callee, which is not an exit: a register that is wrong there is not a
/// restore that fails to match a save (invariant `restore` judges exits), so the
/// obligation is its own, one per (call, register). A 32-bit name (`esi=`) compares the
/// low 32 bits, as the callee reads them.
///
/// What each word means on the path being checked:
/// - `ptregs`: the path's pt_regs base; after a `moves-frame=` call, the copy's (each
///   run its own, where only some runs moved the frame).
/// - `return-address`: the word the caller of an `entry=function` path pushed: its value
///   at entry, whatever the slot holds now.
/// - `syscall-nr`: pt_regs.orig_ax's user value — what a tracer wrote at a stop, if it
///   wrote — its low 32 bits for a 32-bit task; `orig_ax`: all 64 bits.
/// - `error-code`: what the CPU pushed on an `entry=exception-errcode` path.
/// A word the path cannot give a value (no pt_regs, not a function…) makes the path
/// unknown, saying why: the requirement is never taken as met.
///
/// A violation is blamed by provenance, as restore's are: on the instruction that put
/// the wrong value in the register, with the slot it read; the call stays in the words.
///
/// `result=` is the other half of the contract: what the function returns in rax,
/// which the code after the call relies on (set by `applyCallResult`).
extension Interpreter {
    /// The pt_regs pointer of this run: the path's base, or the moved copy's.
    func ptRegsPointer(_ s: MachineState<D>) -> D.Value? {
        let size = UInt64(Layout.ptRegs.size)
        guard let moved = s.movedFrameTop else { return setup.ptRegsBase.map { d.constant($0) } }
        let copy = d.add(moved, d.constant(0 &- size))
        // Runs that did not call the moving function keep 0 as their moved top.
        guard d.knownValue(moved) == nil || d.knownValue(moved) == 0 else { return copy }
        guard let base = setup.ptRegsBase else { return d.knownValue(moved) == 0 ? nil : copy }
        return d.select(d.equal(moved, d.constant(0)), d.constant(base), copy)
    }

    /// The value `value` stands for on this run, and where it is defined; throws
    /// Unsupported when the path has none.
    func argumentExpectation(_ value: ArgumentValue, _ c: ExternContract, _ s: MachineState<D>, node: Int) throws -> (D.Value, D.Bit) {
        func none(_ why: String) -> Unsupported {
            Unsupported(node: node, reason: "\(c.name)'s contract needs \(value.word) in an argument, but \(why)")
        }
        switch value {
        case .ptRegs:
            guard let p = ptRegsPointer(s) else { throw none("the path has no pt_regs (give the .path ptregs=)") }
            return (p, d.bit(true))
        case .returnAddress:
            guard path.entry == .function else { throw none("an entry=\(path.entry.rawValue) path has no return address (only entry=function paths are called)") }
            return (d.input("entry.return_address"), d.bit(true))
        case .syscallNumber, .origAX:
            guard path.entry.isSystemCall || ((path.entry == .function || path.entry == .jump) && setup.ptRegsBase != nil),
                  let u = userField(s, "orig_ax") else {
                throw none("the path has no user orig_ax (a system-call entry, or a function given its caller's pt_regs)")
            }
            let v = value == .syscallNumber && path.userIs32Bit ? d.low32(u.value) : u.value
            return (v, u.known)
        case .errorCode:
            guard path.entry == .exceptionWithErrorCode else { throw none("only entry=exception-errcode paths have an error code") }
            return (d.input("entry.error_code"), d.bit(true))
        case .constant(let k):
            return (d.constant(UInt64(bitPattern: k)), d.bit(true))
        }
    }

    /// At a call (or tail call) to `c`: each argument register holds what the contract says.
    func checkCallArguments(_ c: ExternContract, _ s: MachineState<D>, node: Int) throws {
        for a in c.arguments {
            let (expected, known) = try argumentExpectation(a.value, c, s, node: node)
            let held = s[a.register]
            let agree = a.width == .q ? d.equal(held, expected) : d.equal(d.low32(held), d.low32(expected))
            require(.callArguments, node, "arg \(a.register.name)", whereKnown(known, agree), s,
                    "\(a.registerName) must hold \(argumentWords(a.value)) at \(instructionWords(node: node))"
                        + (originWords(of: a.register, s).map { ": " + $0 } ?? ""),
                    values: [(a.registerName, a.width == .q ? held : d.low32(held)), ("expected", a.width == .q ? expected : d.low32(expected))],
                    blame: tracksOrigins ? s.origins[a.register.rawValue].writer : nil)
        }
    }

    func argumentWords(_ v: ArgumentValue) -> String {
        switch v {
        case .ptRegs: return "the pt_regs pointer"
        case .returnAddress: return "the return address of \(path.name) (the word its caller's call pushed)"
        case .syscallNumber: return "the user's system-call number (pt_regs.orig_ax)"
        case .origAX: return "the user's pt_regs.orig_ax"
        case .errorCode: return "the error code the CPU pushed"
        case .constant(let k): return "the constant \(k)"
        }
    }

    /// What rax holds after a call to a `result=` function: `argument` is what REG of
    /// `arg:REG` held at the call; `s` is the state after the call's stop, if any.
    func callResultValue(_ r: CallResult, _ c: ExternContract, argument: D.Value?, after s: MachineState<D>, node: Int) throws -> D.Value {
        switch r {
        case .ptRegs:
            guard let p = ptRegsPointer(s) else {
                throw Unsupported(node: node, reason: "\(c.name) returns the pt_regs pointer (result=ptregs), but the path has no pt_regs (give the .path ptregs=)")
            }
            return p
        case .argument(let reg):
            guard let argument else { throw Unsupported(node: node, reason: "\(c.name) returns \(reg.name), which was not taken at the call") }
            return argument
        case .syscallNumber: return try argumentExpectation(.syscallNumber, c, s, node: node).0
        case .origAX: return try argumentExpectation(.origAX, c, s, node: node).0
        case .constant(let k): return d.constant(UInt64(bitPattern: k))
        }
    }
}

extension Mechanism {
    /// An argument obligation's subject: the register (`arg rdi` → `rdi`).
    static func argumentSubject(key: String) -> String? {
        key.hasPrefix("arg ") ? String(key.dropFirst("arg ".count)) : nil
    }
}
