import SpecSyntax

/// Instruction decoding: AT&T mnemonics and operands to `Operation`s. Like objtool's
/// arch decoder, this says only what each instruction is; what it does to the stack is
/// StackSemantics' job.
extension Elaborator {
    /// `std` sets DF, which only string instructions read (the model takes none);
    /// `endbr64`/`endbr32` mark indirect-branch targets (CET) and do nothing else;
    /// `lfence` and `serialize` change no state but end speculation (`spec-fence`).
    static let noEffectMnemonics: Set<String> = ["cld", "std", "sti", "cli", "nop", "clac", "stac", "lfence", "mfence", "sfence", "pause", "wrmsr",
                                                 "endbr64", "endbr32", "serialize"]
    static let aluMnemonics: [(String, ALUOp)] = [("add", .add), ("sub", .sub), ("and", .and), ("or", .or), ("xor", .xor),
                                                  ("adc", .adc), ("sbb", .sbb)]
    static let shiftMnemonics: [(String, ShiftOp)] = [("shl", .shl), ("sal", .shl), ("shr", .shr), ("sar", .sar), ("rol", .rol), ("ror", .ror)]
    /// `movzbl` … `movslq`: (signed, source width, destination width).
    static let extensionMnemonics: [String: (Bool, Width, Width)] = [
        "movzbw": (false, .b, .w), "movzbl": (false, .b, .l), "movzbq": (false, .b, .q), "movzwl": (false, .w, .l), "movzwq": (false, .w, .q),
        "movsbw": (true, .b, .w), "movsbl": (true, .b, .l), "movsbq": (true, .b, .q), "movswl": (true, .w, .l), "movswq": (true, .w, .q),
        "movslq": (true, .l, .q), "movsxd": (true, .l, .q),
    ]
    /// Instructions the `lock` prefix may stand before (with a memory destination);
    /// on any other the CPU raises #UD.
    static let lockableMnemonics: [String] = ["add", "adc", "and", "or", "xor", "sub", "sbb", "inc", "dec", "neg", "not",
                                              "bts", "btr", "btc", "xchg", "cmpxchg", "xadd"]
    static let ptRegsFieldNames = Set(Layout.ptRegs.fields.map(\.userName))
    static let unaryMnemonics: [(String, UnaryOp)] = [("inc", .inc), ("dec", .dec), ("neg", .neg), ("not", .not)]

    /// `movq` → ("mov", .q); `movl` → ("mov", .l); `movb` → ("mov", .b); `mov` → ("mov", nil).
    func splitSuffix(_ m: String, bases: [String]) -> (String, Width?)? {
        for base in bases {
            if let w = splitSuffix(m, base: base) { return (base, w) }
        }
        return nil
    }

    /// `m` is `base` (.some(nil)) or `base` with a q, l or b suffix (.some(width)). The
    /// bases are lowercase ASCII words, which only their own bytes equal.
    func splitSuffix(_ m: String, base: String) -> Width?? {
        let mu = m.utf8, bu = base.utf8
        if mu.count == bu.count { return mu.elementsEqual(bu) ? .some(nil) : nil }
        guard mu.count == bu.count + 1, mu.starts(with: bu), let last = mu.last else { return nil }
        switch last {
        case UInt8(ascii: "q"): return .q
        case UInt8(ascii: "l"): return .l
        case UInt8(ascii: "w"): return .w
        case UInt8(ascii: "b"): return .b
        default: return nil
        }
    }

    /// `text` lowercased; ASCII (every real mnemonic) without the Unicode tables.
    static func lowercased(_ text: String) -> String {
        var hasUppercase = false
        for b in text.utf8 {
            if b >= 0x80 { return text.lowercased() }
            if b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") { hasUppercase = true }
        }
        return hasUppercase ? String(decoding: Array(text.utf8.map(\.asciiLowercased)), as: UTF8.self) : text
    }

    /// Opening minus closing parentheses, counted over characters: a parenthesis that
    /// carries a combining mark is another character.
    /// A character constant's `'(` is no parenthesis.
    static func parenthesisBalance(_ text: String) -> Int {
        var depth = 0
        for b in text.utf8 {
            if b >= 0x80 {
                depth = 0
                for ch in text { if ch == "(" { depth += 1 } else if ch == ")" { depth -= 1 } }
                return depth
            }
            if b == UInt8(ascii: "'") { return quotedParenthesisBalance(text) }
            if b == UInt8(ascii: "(") { depth += 1 } else if b == UInt8(ascii: ")") { depth -= 1 }
        }
        return depth
    }

    /// ASCII text with a character constant: its `'(` is no parenthesis.
    static func quotedParenthesisBalance(_ text: String) -> Int {
        let u = Array(text.utf8)
        var depth = 0
        var k = 0
        while k < u.count {
            if u[k] == UInt8(ascii: "'") { k = Lexer.endOfCharacterConstant(u, quoteAt: k, end: u.count); continue }
            if u[k] == UInt8(ascii: "(") { depth += 1 } else if u[k] == UInt8(ascii: ")") { depth -= 1 }
            k += 1
        }
        return depth
    }

    func decode(_ p: PendingInstruction) throws -> Operation {
        let m = Self.lowercased(p.head.text)
        let notes = p.notes
        func err(_ loc: SourceLocation, _ msg: String) -> Diagnostic { Diagnostic(at: loc, msg, notes: notes) }
        if p.operands.count > 1 || !(p.operands.first?.text.isEmpty ?? true), let empty = p.operands.first(where: { $0.text.isEmpty }) {
            throw err(empty.location, "empty operand in '\(p.head.text)'")
        }
        for o in p.operands {
            let depth = Self.parenthesisBalance(o.text)
            if depth != 0 { throw err(o.location, depth > 0 ? "expected ')' to close '(' in '\(o.text)'" : "unbalanced ')' in '\(o.text)'") }
        }
        func count(_ n: Int) throws {
            if p.operands.count != n || p.operands.contains(where: { $0.text.isEmpty }) {
                throw err(p.head.location, "'\(m)' takes \(n) operand\(n == 1 ? "" : "s"), got \(p.operands.filter { !$0.text.isEmpty }.count)")
            }
        }
        func operand(_ i: Int) throws -> Operand { try parseOperand(p.operands[i], notes: notes) }
        func width(_ suffix: Width?, _ ops: [Operand]) throws -> Width {
            let regWidths = ops.compactMap { op -> Width? in if case .register(_, let w) = op { return w }; return nil }
            if let s = suffix {
                if let w = regWidths.first(where: { $0 != s }) {
                    throw err(p.head.location, "'\(m)' is a \(s.bits)-bit operation but has a \(w.bits)-bit register operand")
                }
                return s
            }
            guard let w = regWidths.first else { throw err(p.head.location, "operand size of '\(m)' is ambiguous: add a q or l suffix") }
            if regWidths.contains(where: { $0 != w }) { throw err(p.head.location, "mixed register widths in '\(m)'") }
            return w
        }
        func requireWritable(_ o: Operand, _ loc: SourceLocation) throws {
            if case .immediate = o { throw err(loc, "an immediate cannot be a destination") }
        }

        if Self.noEffectMnemonics.contains(m) {
            try count(0)
            return .noEffect(m)
        }
        if m == "lock" { return try decodeLocked(p) }
        if m == ".byte" {
            let values = try p.operands.map { try evaluate(Expr.parse($0), notes: notes) }
            guard let names = Self.noEffectEncoding(values) else { throw err(p.head.location, "'.byte' among instructions: not an instruction the model has") }
            return .noEffect(names)
        }
        if m == ".skip" || m == ".space" {
            // Padding of nops (0x90), as GasDirectives accepts it among instructions.
            return .noEffect("nop")
        }
        switch m {
        case "swapgs": try count(0); return .swapgs
        case "ud2", "int3": try count(0); return .trap(m)
        case "leave", "leaveq": try count(0); return .leave
        case "cltq", "cdqe": try count(0); return .extend(signed: true, .register(.rax, .l), from: .l, .rax, to: .q)
        // Without a suffix gas assembles the 32-bit forms (0f 35, 0f 07, cf) in 64-bit
        // mode too: they return to compatibility mode and are not the q forms.
        case "sysexitq": try count(0); return .sysexit(.q)
        case "sysexit", "sysexitl": try count(0); return .sysexit(.l)
        case "pushfq", "pushf": try count(0); return .pushFlags
        case "popfq", "popf": try count(0); return .popFlags
        case "rdmsr": try count(0); return .readMSR
        case "rdgsbase", "wrgsbase":
            try count(1)
            guard case .register(let r, .q) = try operand(0) else { throw err(p.operands[0].location, "\(m) takes a 64-bit register") }
            return m == "rdgsbase" ? .readGSBase(r) : .writeGSBase(r)
        case _ where (m == "mov" || m == "movq") && p.operands.count == 2 && p.operands.contains(where: { Self.controlRegister($0.text) != nil }):
            // Control registers: reading one gives a value the model does not know (cr2,
            // the fault address; cr3, the page tables); writing one changes no stack.
            if let c = Self.controlRegister(p.operands[0].text) {
                guard case .register(let r, .q) = try operand(1) else { throw err(p.operands[1].location, "a move from %\(c) goes to a 64-bit register") }
                return .readControlRegister(c, r)
            }
            guard case .register = try operand(0), let c = Self.controlRegister(p.operands[1].text) else {
                throw err(p.operands[0].location, "a move to a control register comes from a 64-bit register")
            }
            return .noEffect("mov to %\(c)")
        case _ where splitSuffix(m, base: "mov") != nil && p.operands.count == 2 && p.operands.contains(where: { Self.segmentRegister($0.text) != nil }):
            return try decodeSegmentMove(p, suffix: splitSuffix(m, base: "mov") ?? nil, notes: notes)
        case "lsl", "lslw", "lsll", "lslq":
            // gas: `lsl %ax, %eax`, `lsl %eax, %eax` or memory; the destination is 16, 32
            // or 64 bits (0f 03).
            try count(2)
            let src = try operand(0)
            if case .immediate = src { throw err(p.operands[0].location, "lsl takes a register or memory selector") }
            guard case .register(let r, let w) = try operand(1), w != .b else { throw err(p.operands[1].location, "lsl writes a 16-, 32- or 64-bit register") }
            return .loadSegmentLimit(src, r, w)
        case "verw":
            try count(1)
            let src = try operand(0)
            if case .immediate = src { throw err(p.operands[0].location, "verw takes a register or memory selector") }
            if case .register(_, let w) = src, w != .w { throw err(p.operands[0].location, "verw takes a 16-bit register (gas: operand size mismatch)") }
            return .verifySegmentWrite(src)
        case "sysretq": try count(0); return .sysret(.q)
        case "sysret", "sysretl": try count(0); return .sysret(.l)
        case "iretq": try count(0); return .iret
        case "iret", "iretl":
            throw err(p.head.location, "'\(p.head.text)' is the 32-bit IRET (gas encodes it as cf, which pops 4-byte eip, cs, eflags, esp and ss): only iretq (48 cf) is modelled")
        case "iretw":
            throw err(p.head.location, "'\(p.head.text)' is the 16-bit IRET (66 cf, which pops 2-byte fields): only iretq (48 cf) is modelled")
        case "ret", "retq":
            if p.operands.isEmpty || (p.operands.count == 1 && p.operands[0].text.isEmpty) { return .ret(0) }
            try count(1)
            // gas encodes 16 bits (c2 iw); the model keeps rsp 8-byte aligned.
            guard case .immediate(let n) = try operand(0), n >= 0, n <= 0xffff, n % 8 == 0 else {
                throw err(p.operands[0].location, "'ret' takes an immediate byte count that is a non-negative multiple of 8 below 65536 (gas encodes 16 bits)")
            }
            return .ret(n)
        case "jmp", "jmpq":
            try count(1)
            // The kernel's RET under CONFIG_RETHUNK is `jmp __x86_return_thunk`, whose one
            // instruction is ret (when the unit does not define the thunk itself).
            let name = p.operands[0].text.trimmingWhitespaces()
            if name == "__x86_return_thunk" && program.labels[name] == nil && labelDefinitions[name] == nil { return .ret(0) }
            return .jump(try target(p.operands[0], at: p.index, isCall: false, notes: notes))
        case "call", "callq":
            try count(1)
            return .call(try target(p.operands[0], at: p.index, isCall: true, notes: notes))
        default: break
        }
        if m.hasPrefix("j"), let cond = FlagCondition.fromSuffix(String(m.dropFirst())) {
            try count(1)
            let t = try target(p.operands[0], at: p.index, isCall: false, notes: notes)
            guard case .code = t else { throw err(p.operands[0].location, "a conditional jump must go to a label of the model") }
            return .branch(cond, t)
        }
        if m.hasPrefix("cmov") {
            var rest = String(m.dropFirst(4))
            if rest.count > 1, rest.hasSuffix("q") || rest.hasSuffix("l"), FlagCondition.fromSuffix(String(rest.dropLast())) != nil { rest.removeLast() }
            guard let cond = FlagCondition.fromSuffix(rest) else { throw err(p.head.location, "unknown mnemonic '\(m)'") }
            try count(2)
            guard case .register(let r, .q) = try operand(1) else { throw err(p.operands[1].location, "cmov needs a 64-bit register destination") }
            let src = try operand(0)
            if case .immediate = src { throw err(p.operands[0].location, "cmov takes no immediate source (gas: operand type mismatch)") }
            return .conditionalMove(cond, src, r)
        }
        if m.hasPrefix("set"), m.count > 3 {
            var rest = String(m.dropFirst(3))
            if FlagCondition.fromSuffix(rest) == nil, rest.count > 1, rest.hasSuffix("b"), FlagCondition.fromSuffix(String(rest.dropLast())) != nil { rest.removeLast() }
            if let cond = FlagCondition.fromSuffix(rest) {
                try count(1)
                let o = try operand(0)
                try requireWritable(o, p.operands[0].location)
                if case .register(_, let rw) = o, rw != .b { throw err(p.operands[0].location, "set\(rest) writes a byte: it needs an 8-bit register or memory") }
                return .setCondition(cond, o)
            }
        }
        if let (signed, from, to) = Self.extensionMnemonics[m] {
            try count(2)
            let a = try operand(0), b = try operand(1)
            if case .immediate = a { throw err(p.operands[0].location, "'\(m)' takes a register or memory source, not an immediate") }
            if case .register(_, let rw) = a, rw != from { throw err(p.operands[0].location, "'\(m)' extends a \(from.bits)-bit source, not a \(rw.bits)-bit register") }
            guard case .register(let r, let rw) = b, rw == to else { throw err(p.operands[1].location, "'\(m)' needs a \(to.bits)-bit register destination") }
            return .extend(signed: signed, a, from: from, r, to: to)
        }
        // gas's other spellings: `movzx`/`movsx` (widths from the registers) and `movzb`,
        // `movzw`, `movsb`, `movsw` with a register destination (without operands, `movsb`
        // and `movsw` are the string instructions, which the model does not take).
        if ["movzx", "movsx", "movzb", "movzw", "movsb", "movsw"].contains(m), p.operands.count == 2 {
            let a = try operand(0), b = try operand(1)
            guard case .register(let r, let to) = b else { throw err(p.operands[1].location, "'\(m)' needs a register destination") }
            let from: Width
            switch (m, a) {
            case ("movzb", _), ("movsb", _): from = .b
            case ("movzw", _), ("movsw", _): from = .w
            case (_, .register(_, let w)): from = w
            default: throw err(p.operands[0].location, "the source size of '\(m)' is ambiguous: write movzbl, movzwq, movsbq… or use a register source")
            }
            if case .immediate = a { throw err(p.operands[0].location, "'\(m)' takes a register or memory source, not an immediate") }
            if case .register(_, let rw) = a, rw != from { throw err(p.operands[0].location, "'\(m)' extends a \(from.bits)-bit source, not a \(rw.bits)-bit register") }
            guard from.bits < to.bits else { throw err(p.head.location, "'\(m)' extends to a wider register: \(from.bits) to \(to.bits) bits is no extension") }
            return .extend(signed: m.hasPrefix("movs"), a, from: from, r, to: to)
        }
        for (base, op) in Self.shiftMnemonics {
            if let w = splitSuffix(m, base: base) {
                // `shl %rax` shifts by 1; otherwise the count is an immediate or %cl.
                guard p.operands.count == 1 || p.operands.count == 2, !p.operands.contains(where: { $0.text.isEmpty }) else {
                    throw err(p.head.location, "'\(m)' takes a count ($imm or %cl) and a destination, or a destination alone (a shift by 1)")
                }
                let dst = try operand(p.operands.count - 1)
                try requireWritable(dst, p.operands[p.operands.count - 1].location)
                var countOperand = Operand.immediate(1)
                if p.operands.count == 2 {
                    countOperand = try operand(0)
                    switch countOperand {
                    case .immediate(let n) where (0...255).contains(n): break
                    case .register(.rcx, .b): break
                    default: throw err(p.operands[0].location, "the count of '\(m)' is an 8-bit immediate (0…255) or %cl")
                    }
                }
                return .shift(op, count: countOperand, dst, try width(w, [dst]))
            }
        }
        if let (base, w) = splitSuffix(m, bases: ["cmpxchg", "xadd"]) {
            try count(2)
            let a = try operand(0), b = try operand(1)
            guard case .register = a else { throw err(p.operands[0].location, "the source of \(base) is a register") }
            try requireWritable(b, p.operands[1].location)
            let wd = try width(w, [a, b])
            return base == "cmpxchg" ? .compareExchange(a, b, wd) : .exchangeAdd(a, b, wd)
        }
        if let w = splitSuffix(m, base: "push") {
            try count(1)
            let o = try operand(0)
            if w == .w { throw err(p.head.location, "pushw moves rsp by 2: the model keeps rsp 8-byte aligned (use pushq)") }
            if let w, w != .q { throw err(p.head.location, "push\(w == .l ? "l" : "b") does not exist in 64-bit mode") }
            if case .register(_, let rw) = o, rw != .q { throw err(p.operands[0].location, "push needs a 64-bit register") }
            try checkImmediate(o, p.operands[0], width: .q, mnemonic: p.head.text, notes: notes)
            return .push(o)
        }
        if let w = splitSuffix(m, base: "pop") {
            try count(1)
            let o = try operand(0)
            if w == .w { throw err(p.head.location, "popw moves rsp by 2: the model keeps rsp 8-byte aligned (use popq)") }
            if let w, w != .q { throw err(p.head.location, "pop\(w == .l ? "l" : "b") does not exist in 64-bit mode") }
            try requireWritable(o, p.operands[0].location)
            if case .register(_, let rw) = o, rw != .q { throw err(p.operands[0].location, "pop needs a 64-bit register") }
            return .pop(o)
        }
        if let w = splitSuffix(m, base: "mov") {
            try count(2)
            // `movq $sym, %reg` with an external symbol loads its address.
            if case .some(.name(let n, _)) = immediateExpr(p.operands[0]), program.externs[n] != nil || labelDefinitions[n] != nil {
                guard case .register(let r, .q) = try operand(1) else { throw err(p.operands[1].location, "a symbol address needs a 64-bit register") }
                return .loadAddress(n, r)
            }
            let a = try operand(0), b = try operand(1)
            try requireWritable(b, p.operands[1].location)
            if case .memory = a, case .memory = b { throw err(p.head.location, "mov cannot have two memory operands") }
            let wd = try width(w, [a, b])
            try checkImmediate(a, p.operands[0], width: wd, mnemonic: p.head.text, takes64Bits: b.register != nil, notes: notes)
            return .move(a, b, wd)
        }
        if m == "movabs" || m == "movabsq" {
            // Only the immediate form: the absolute-address forms read memory outside the model.
            try count(2)
            let a = try operand(0), b = try operand(1)
            guard case .immediate = a, case .register(_, .q) = b else {
                throw err(p.head.location, "only '\(p.head.text) $imm, %reg64' is modelled")
            }
            return .move(a, b, .q)
        }
        if let w = splitSuffix(m, base: "lea") {
            try count(2)
            if let w, w != .q { throw err(p.head.location, "only leaq is modelled") }
            guard case .register(let r, .q) = try operand(1) else { throw err(p.operands[1].location, "lea needs a 64-bit register destination") }
            if let sym = ripSymbol(p.operands[0]) {
                return .loadAddress(try addressedSymbol(sym, at: p.operands[0].location, mnemonic: m, notes: notes), r)
            }
            guard case .memory(let mem) = try operand(0) else { throw err(p.operands[0].location, "lea needs a memory operand") }
            return .lea(mem, r)
        }
        for (base, op) in Self.aluMnemonics {
            if let w = splitSuffix(m, base: base) {
                try count(2)
                let a = try operand(0), b = try operand(1)
                try requireWritable(b, p.operands[1].location)
                if case .memory = a, case .memory = b { throw err(p.head.location, "\(base) cannot have two memory operands") }
                let wd = try width(w, [a, b])
                try checkImmediate(a, p.operands[0], width: wd, mnemonic: p.head.text, notes: notes)
                return .alu(op, a, b, wd)
            }
        }
        for (base, op) in Self.unaryMnemonics {
            if let w = splitSuffix(m, base: base) {
                try count(1)
                let a = try operand(0)
                try requireWritable(a, p.operands[0].location)
                return .unary(op, a, try width(w, [a]))
            }
        }
        if let (base, w) = splitSuffix(m, bases: ["test", "cmp"]) {
            try count(2)
            let a = try operand(0), b = try operand(1)
            if case .immediate = b { throw err(p.operands[1].location, "the second operand of \(base) cannot be an immediate") }
            if case .memory = a, case .memory = b { throw err(p.head.location, "\(base) cannot have two memory operands") }
            let wd = try width(w, [a, b])
            try checkImmediate(a, p.operands[0], width: wd, mnemonic: p.head.text, notes: notes)
            return base == "test" ? .test(a, b, wd) : .compare(a, b, wd)
        }
        if let (base, w) = splitSuffix(m, bases: ["bt", "bts", "btr", "btc"]) {
            try count(2)
            let a = try operand(0), b = try operand(1)
            if base != "bt" { try requireWritable(b, p.operands[1].location) }
            guard case .immediate(let bit) = a else { throw err(p.operands[0].location, "only an immediate bit number is modelled") }
            // imm8 (0f ba /4 ib), whatever the operand size.
            if !(-128...255).contains(bit) {
                throw err(p.operands[0].location, "bit number \(p.operands[0].text) (\(bit)) does not fit the 8-bit immediate of '\(p.head.text)' (-128…255)")
            }
            // Without a suffix or a register, gas picks the 32-bit form (with a warning).
            return .bitTest(base, a, b, (w == nil && b.register == nil) ? .l : try width(w, [b]))
        }
        if let w = splitSuffix(m, base: "xchg") {
            try count(2)
            let a = try operand(0), b = try operand(1)
            try requireWritable(a, p.operands[0].location)
            try requireWritable(b, p.operands[1].location)
            if case .memory = a, case .memory = b { throw err(p.head.location, "xchg cannot have two memory operands") }
            return .exchange(a, b, try width(w, [a, b]))
        }
        if let linkage = Self.linkageMacroMessage(p.head.text, argument: p.rest.text) {
            throw err(p.head.location, linkage)
        }
        if let macroLike = p.head.text.first, macroLike.isUppercase || p.head.text.contains("_") {
            throw err(p.head.location, "unknown macro '\(p.head.text)' (define it with .macro before use)")
        }
        throw err(p.head.location, "unknown mnemonic '\(p.head.text)': the model supports push, pop, mov, movabs, lea, add, sub, and, or, xor, inc, dec, neg, not, test, cmp, xchg, cmovCC, jmp, jCC, call, ret, swapgs, shl/sal/shr/sar/rol/ror, movzb*/movzw*/movsb*/movsw*/movslq, setCC, adc, sbb, cmpxchg, xadd, leave, cltq, ud2, int3, the lock prefix, sysretq, sysretl, sysexitq, sysexitl, iretq, pushfq, popfq, rdmsr, bt/bts/btr/btc and the no-effect instructions \(Self.noEffectMnemonics.sorted().joined(separator: ", "))")
    }

    /// The kernel's symbol annotations (include/linux/linkage.h, arch/x86/include/asm/linkage.h):
    /// cpp macros, not gas ones, so a spec cannot define them with `.macro`.
    static let linkageStarts: Set<String> = [
        "ENTRY", "GLOBAL", "WEAK", "SYM_FUNC_START", "SYM_FUNC_START_LOCAL", "SYM_FUNC_START_NOALIGN",
        "SYM_FUNC_START_LOCAL_NOALIGN", "SYM_FUNC_START_WEAK", "SYM_FUNC_START_WEAK_NOALIGN", "SYM_TYPED_FUNC_START",
        "SYM_CODE_START", "SYM_CODE_START_LOCAL", "SYM_CODE_START_NOALIGN", "SYM_CODE_START_LOCAL_NOALIGN",
        "SYM_INNER_LABEL", "SYM_INNER_LABEL_ALIGN", "SYM_FUNC_ALIAS", "SYM_FUNC_ALIAS_LOCAL", "SYM_FUNC_ALIAS_WEAK",
    ]
    static let linkageEnds: Set<String> = ["END", "ENDPROC", "SYM_FUNC_END", "SYM_CODE_END", "SYM_DATA_END", "SYM_DATA_END_LABEL"]

    /// What to write instead of a kernel linkage macro (`ENTRY(name)`), or nil.
    static func linkageMacroMessage(_ head: String, argument: String) -> String? {
        let inner = argument.trimmingWhitespaces()
        let args = inner.hasPrefix("(") && inner.hasSuffix(")") ? String(inner.dropFirst().dropLast()) : inner
        let name = args.split(separator: ",").first.map { $0.trimmingWhitespaces() } ?? ""
        let symbol = name.isEmpty ? "NAME" : name
        let source = "or check the real .S file with '.source \"FILE.S\" -I …', which runs it through cpp with the kernel's headers"
        if linkageStarts.contains(head) {
            return "'\(head)' is a kernel macro from linkage.h (a cpp macro, not a gas .macro): in a spec write the label it defines, '\(symbol):', \(source)"
        }
        if linkageEnds.contains(head) {
            return "'\(head)' is a kernel macro from linkage.h (a cpp macro, not a gas .macro) that only marks where '\(symbol)' ends: leave it out of the spec, \(source)"
        }
        return nil
    }

    /// `$expr`: a constant expression's value, or for `$label` / `$extern` the symbol's
    /// address. A name that is neither is an error, never address 0.
    func immediateOperand(_ e: Expr, notes: [Diagnostic.Note]) throws -> Operand {
        if case .name(let n, let loc) = e, constants[n] == nil {
            guard let a = program.symbolAddress(n) else {
                throw Diagnostic(at: loc, "unknown constant '\(n)' (define it with #define, .equ or -D; for an address, make it a label of the spec or declare '.extern \(n)')", notes: notes)
            }
            return .immediate(Int64(bitPattern: a))
        }
        return .immediate(try evaluate(e, notes: notes))
    }

    /// An index's scale: an expression as gas reads it (`010` and `2*4` are 8).
    func scale(_ text: String, at loc: SourceLocation, notes: [Diagnostic.Note]) throws -> Int64 {
        let v = text.isEmpty ? nil : try evaluate(Expr.parse(text[...], at: loc), notes: notes)
        guard let v, [1, 2, 4, 8].contains(v) else { throw Diagnostic(at: loc, "scale must be 1, 2, 4 or 8", notes: notes) }
        return v
    }

    /// Rejects an immediate that gas rejects or truncates for this operation: a 64-bit
    /// operation sign-extends a 32-bit immediate (only mov/movabs to a register takes 64
    /// bits: gas says "operand type mismatch"), and 32- and 8-bit ones hold a value that
    /// fits signed or unsigned (gas keeps the low bits of anything else, with a warning or
    /// silently).
    func checkImmediate(_ o: Operand, _ l: Located, width w: Width, mnemonic m: String, takes64Bits: Bool = false,
                        notes: [Diagnostic.Note]) throws {
        guard case .immediate(let v) = o else { return }
        switch w {
        case .q:
            if takes64Bits || (Int64(Int32.min)...Int64(Int32.max)).contains(v) { return }
            throw Diagnostic(at: l.location, "immediate \(l.text) (\(v)) does not fit '\(m)': a 64-bit operation takes a sign-extended 32-bit immediate (-2147483648…2147483647); only mov or movabs to a register takes a 64-bit one", notes: notes)
        case .l, .w, .b:
            let range = w == .l ? Int64(Int32.min)...Int64(UInt32.max) : w == .w ? -32768...65535 : -128...255
            if range.contains(v) { return }
            throw Diagnostic(at: l.location, "immediate \(l.text) (\(v)) does not fit the \(w.bits) bits of '\(m)' (\(range.lowerBound)…\(range.upperBound)): gas would keep only its low \(w.bits) bits", notes: notes)
        }
    }

    func immediateExpr(_ l: Located) -> Expr? {
        guard l.text.hasPrefix("$") else { return nil }
        return try? Expr.parse(l.text.dropFirst(), at: SourceLocation(file: l.location.file, line: l.location.line, column: l.location.column + 1))
    }

    /// The symbol whose address `leaq NAME(%rip), %reg` loads. The model gives addresses
    /// only to the unit's labels and to `.extern`s, so anything else is an error here:
    /// a `loadAddress` of a name the model cannot place would read as address 0.
    func addressedSymbol(_ name: String, at loc: SourceLocation, mnemonic: String, notes: [Diagnostic.Note]) throws -> String {
        func err(_ m: String) -> Diagnostic { Diagnostic(at: loc, m, notes: notes) }
        let isIdentifier = name.unicodeScalars.first.map(StatementSplitter.isIdentStart) == true
            && name.unicodeScalars.allSatisfy(StatementSplitter.isIdentChar)
        guard isIdentifier else {
            if let last = name.last, last == "f" || last == "b", name.dropLast().allSatisfy({ $0 >= "0" && $0 <= "9" }), name.count > 1 {
                throw err("the address of the local label '\(name)' is not modelled: give the instruction a named label")
            }
            throw err("'\(name)(%rip)' is not a symbol's address: the model gives addresses only to a label or an .extern named alone (no offset or expression)")
        }
        if program.labels[name] != nil || program.externs[name] != nil { return name }
        if constants[name] != nil {
            throw err("'\(name)' is a constant, not a symbol: '\(name)(%rip)' is rip plus \(name), an address the model does not give")
        }
        throw err("unknown symbol '\(name)' in '\(mnemonic)': the model gives addresses only to labels of the spec and to .extern declarations (add the label '\(name):' or declare '.extern \(name)')")
    }

    func ripSymbol(_ l: Located) -> String? {
        // Foundation's replacing (the original test) leaves a blank that a combining mark
        // makes part of a larger character.
        let t = l.text.isASCII ? String(decoding: l.text.utf8.lazy.filter { $0 != UInt8(ascii: " ") }, as: UTF8.self)
                               : l.text.replacingOccurrences(of: " ", with: "")
        guard t.hasSuffix("(%rip)") else { return nil }
        let sym = String(t.dropLast(6))
        return sym.isEmpty ? nil : sym
    }

    /// `cr0`, `cr2`, `cr3`, `cr4`, `cr8` for `%crN`.
    /// `pv_ops+8(%rip)`, `(pv_ops+8)(%rip)`, `pv_cpu_ops+PV_CPU_swapgs(%rip)`: the slot's
    /// name as `.extern` declares it, `SYMBOL+OFFSET` with the offset evaluated (or the
    /// symbol alone at offset 0). nil for any other operand.
    func paravirtSlot(_ l: Located) -> String? {
        let text = l.text.trimmingWhitespaces()
        guard text.hasSuffix("(%rip)") else { return nil }
        let displacement = text.dropLast("(%rip)".count)
        guard displacement.contains("+"), let placed = try? perCPUPlacement(displacement, at: l.location, notes: []) else { return nil }
        return placed.offset == 0 ? placed.symbol : "\(placed.symbol)+\(placed.offset)"
    }

    static func segmentRegister(_ text: String) -> String? {
        let t = text.trimmingWhitespaces().lowercased()
        return ["%es", "%cs", "%ss", "%ds", "%fs", "%gs"].contains(t) ? String(t.dropFirst()) : nil
    }

    /// Moves to and from segment registers, with the operand sizes gas 2.40 accepts: from
    /// a segment register to a 16-, 32- or 64-bit register (`mov %ds, %rax` is encoded as
    /// the 32-bit form, 8c d8) or, as mov/movw, to memory; to one from a register of
    /// those sizes or, as mov/movw, from memory. `mov …, %cs` is #UD and refused.
    func decodeSegmentMove(_ p: PendingInstruction, suffix: Width?, notes: [Diagnostic.Note]) throws -> Operation {
        func err(_ loc: SourceLocation, _ m: String) -> Diagnostic { Diagnostic(at: loc, m, notes: notes) }
        let m = p.head.text
        if let seg = Self.segmentRegister(p.operands[0].text) {
            if Self.segmentRegister(p.operands[1].text) != nil { throw err(p.head.location, "'\(m)' between two segment registers does not exist") }
            let dst = try parseOperand(p.operands[1], notes: notes)
            switch dst {
            case .immediate: throw err(p.operands[1].location, "an immediate cannot be a destination")
            case .register(_, let w):
                if w == .b || (suffix != nil && suffix != w) { throw err(p.head.location, "'\(m) %\(seg), \(p.operands[1].text)': operand size mismatch") }
                return .readSegmentRegister(seg, dst, w)
            case .memory:
                // gas takes `mov` or `movw` to memory (8c /r, 16 bits); movl and movq
                // are an operand type mismatch.
                if suffix != nil && suffix != .w { throw err(p.head.location, "'\(m) %\(seg), \(p.operands[1].text)': a segment register is stored as 16 bits (mov or movw)") }
                return .readSegmentRegister(seg, dst, .w)
            }
        }
        guard let seg = Self.segmentRegister(p.operands[1].text) else { throw err(p.head.location, "'\(m)': no segment register") }
        if seg == "cs" { throw err(p.operands[1].location, "%cs cannot be loaded by mov (gas: invalid instruction)") }
        let src = try parseOperand(p.operands[0], notes: notes)
        switch src {
        case .immediate: throw err(p.operands[0].location, "a segment register is loaded from a register or memory, not an immediate")
        case .register(_, let w):
            if w == .b || (suffix != nil && suffix != w) { throw err(p.head.location, "'\(m) \(p.operands[0].text), %\(seg)': operand size mismatch") }
        case .memory:
            if suffix != nil && suffix != .w { throw err(p.head.location, "'\(m) \(p.operands[0].text), %\(seg)': a selector is loaded from 16 bits of memory (mov or movw)") }
        }
        return .writeSegmentRegister(seg, src)
    }

    static func controlRegister(_ text: String) -> String? {
        let t = text.trimmingWhitespaces().lowercased()
        return ["%cr0", "%cr2", "%cr3", "%cr4", "%cr8"].contains(t) ? String(t.dropFirst()) : nil
    }

    func target(_ l: Located, at index: Int, isCall: Bool, notes: [Diagnostic.Note]) throws -> Target {
        var text = l.text
        if text.hasPrefix("*") {
            text.removeFirst()
            let inner = Located(text, SourceLocation(file: l.location.file, line: l.location.line, column: l.location.column + 1))
            if text.hasPrefix("%") {
                guard let (r, w) = Register.parse(String(text.dropFirst()).lowercased()), w == .q else {
                    throw Diagnostic(at: inner.location, "unknown register '\(text)'", notes: notes)
                }
                return .indirect(r)
            }
            // A paravirt slot, `*pv_ops+N(%rip)` (6.x) or `*pv_cpu_ops+N(%rip)` (3.x's
            // PARA_INDIRECT): the pointer in that field of the ops table. The sidecar's
            // `.extern pv_ops+N …` is its contract; without one the path is unknown.
            if let slot = paravirtSlot(inner) {
                guard isCall else {
                    throw Diagnostic(at: inner.location, "jmp through the paravirt slot '\(slot)' is not modelled (a tail jump to an ops function, or to iret/sysret: the model cannot tell which)", notes: notes)
                }
                guard program.externs[slot] != nil else {
                    throw Diagnostic(at: inner.location, "call through the paravirt slot '\(slot)': declare its contract with '.extern \(slot) …' (what the native code and every ops function there do)", notes: notes)
                }
                return .external(slot)
            }
            // `*sys_call_table(,%rax,8)`: a call through a table names the contract of the table.
            let sym = String(text.prefix { $0 != "(" })
            let isSymbol = sym.first.map { $0.isLetter || $0 == "_" || $0 == "." } ?? false
                && sym.unicodeScalars.allSatisfy(StatementSplitter.isIdentChar)
            guard isSymbol else {
                throw Diagnostic(at: inner.location, "indirect \(isCall ? "call" : "jmp") through the memory operand '\(text)' is not modelled: the model follows an indirect \(isCall ? "call" : "jmp") through a register ('\(isCall ? "call" : "jmp") *%rax')\(isCall ? ", or a call through a table whose contract is declared with '.extern TABLE …' ('call *TABLE(,%rax,8)')" : ""); load the target into a register first", notes: notes)
            }
            guard isCall, program.externs[sym] != nil else {
                throw Diagnostic(at: inner.location, "indirect \(isCall ? "call" : "jmp") through '\(sym)': declare its contract with '.extern \(sym) …'", notes: notes)
            }
            return .external(sym)
        }
        let name = text.trimmingWhitespaces()
        // Retpoline thunks (`call __x86_indirect_thunk_rax`, and 6.x's _call_/_jump_
        // forms) jump to the address in the register their name ends with.
        if program.labels[name] == nil && labelDefinitions[name] == nil,
           let prefix = ["__x86_indirect_thunk_", "__x86_indirect_call_thunk_", "__x86_indirect_jump_thunk_"].first(where: name.hasPrefix),
           case let (r, .q)? = Register.parse(String(name.dropFirst(prefix.count))) {
            return .indirect(r)
        }
        if let n = name.first, n.isNumber, let dir = name.last, dir == "f" || dir == "b" {
            let key = String(name.dropLast())
            let defs = numericLabels[key] ?? []
            let found = dir == "f" ? defs.first(where: { $0.order > index }) : defs.last(where: { $0.order <= index })
            guard let f = found else { throw Diagnostic(at: l.location, "no local label '\(key)' \(dir == "f" ? "after" : "before") this instruction", notes: notes) }
            guard let t = f.target else {
                throw Diagnostic(at: l.location, "local label '\(name)' labels no instruction (it is in a data section, or at the end of its section)", notes: notes)
            }
            return .code(t, label: name)
        }
        if let i = program.labels[name] { return .code(i, label: name) }
        if program.externs[name] != nil {
            // `jmp sync_regs`: a tail call, which returns where the path's ret would.
            return .external(name)
        }
        throw Diagnostic(at: l.location, "unknown label '\(name)'" + (isCall ? " (declare external functions with '.extern \(name)')" : ""), notes: notes)
    }

    func parseOperand(_ l: Located, notes: [Diagnostic.Note]) throws -> Operand {
        guard l.text.isASCII else { return try parseOperandCharacterwise(l, notes: notes) }
        // ASCII: bytes, scalars and characters coincide, so byte offsets are columns and
        // the operand is taken apart by bytes.
        let text = l.text
        let u = text.utf8
        func loc(_ k: Int) -> SourceLocation { SourceLocation(file: l.location.file, line: l.location.line, column: l.location.column + k) }
        func index(_ k: Int) -> String.Index { u.index(u.startIndex, offsetBy: k) }
        func register(_ name: Substring) -> (Register, Width)? { Register.parse(Self.lowercased(String(name))) }
        if u.starts(with: "%gs:".utf8) || u.starts(with: "%GS:".utf8) {
            return try segmentOperand(l, notes: notes)
        }
        if u.first == UInt8(ascii: "%") {
            let name = Self.lowercased(String(text.dropFirst()))
            guard let (r, w) = Register.parse(name) else {
                throw Diagnostic(at: l.location, "unknown register '%\(name)' (the model has the 64-bit and 32-bit general-purpose registers)", notes: notes)
            }
            return .register(r, w)
        }
        if u.first == UInt8(ascii: "$") {
            // A malformed immediate throws its parse error.
            return try immediateOperand(Expr.parse(text.dropFirst(), at: loc(1)), notes: notes)
        }
        if u.starts(with: "PER_CPU_VAR(".utf8) {
            guard let closeOffset = u.firstIndex(of: UInt8(ascii: ")")).map({ u.distance(from: u.startIndex, to: $0) }) else {
                throw Diagnostic(at: l.location, "expected ')' in PER_CPU_VAR(…)", notes: notes)
            }
            let name = try perCPUVariable(text[index(12)..<index(closeOffset)], at: loc(12), notes: notes)
            guard program.perCPU[name] != nil else {
                throw Diagnostic(at: loc(12), unknownPerCPU(name), notes: notes)
            }
            if !text[index(closeOffset + 1)...].trimmingWhitespaces().isEmpty {
                throw Diagnostic(at: loc(closeOffset + 1), "offsets into per-CPU variables are not modelled", notes: notes)
            }
            return .memory(MemoryOperand(perCPU: name, text: text))
        }
        // disp(%base,%index,scale)
        var mem = MemoryOperand(text: text)
        var dispEnd = u.count
        if u.last == UInt8(ascii: ")"), let open = Self.matchingOpen(u) {
            dispEnd = open
            let innerStart = open + 1
            let parts = Self.commaSeparatedFields(text[index(innerStart)..<index(u.count - 1)])
            if parts.count > 3 { throw Diagnostic(at: loc(innerStart), "malformed memory operand", notes: notes) }
            // `pcpu_unit_offsets(%rip)`: a global, never the stack; reads are unknown values.
            if parts.count == 1, Self.lowercased(String(parts[0])) == "%rip", open > 0 {
                mem.symbol = text
                return .memory(mem)
            }
            if let b = parts.first, !b.isEmpty {
                guard b.utf8.first == UInt8(ascii: "%"), let (r, w) = register(b.dropFirst()) else {
                    throw Diagnostic(at: loc(innerStart), "unknown base register '\(b)'", notes: notes)
                }
                if w != .q { throw Diagnostic(at: loc(innerStart), "addresses use 64-bit registers", notes: notes) }
                mem.base = r
            }
            if parts.count > 1 {
                let ix = parts[1]
                guard ix.utf8.first == UInt8(ascii: "%"), let (r, _) = register(ix.dropFirst()) else {
                    throw Diagnostic(at: loc(innerStart), "unknown index register '\(ix)'", notes: notes)
                }
                mem.index = r
                if parts.count > 2 {
                    mem.scale = try scale(parts[2], at: loc(innerStart), notes: notes)
                }
            }
        } else if Self.containsRIPRelative(u) {
            mem.symbol = text
            return .memory(mem)
        }
        return try withDisplacement(mem, text[..<index(dispEnd)].trimmingWhitespaces()[...], at: l.location, notes: notes)
    }

    /// `%gs:sym`, `%gs:sym+off`, `%gs:(sym+off)`, alone or `(%rip)`-relative: the forms
    /// `PER_CPU_VAR` takes after the preprocessor. The kernel's GS base points at the
    /// CPU's per-CPU area, so each is the per-CPU variable at that symbol and offset.
    func segmentOperand(_ l: Located, notes: [Diagnostic.Note]) throws -> Operand {
        let text = l.text
        var body = text.dropFirst(4)
        let bodyColumn = l.location.column + 4
        let compact = body.filter { $0 != " " && $0 != "\t" }
        if compact.hasSuffix("(%rip)"), let open = body.range(of: "(", options: .backwards) {
            body = body[..<open.lowerBound]
        }
        let trimmed = body.trimmingWhitespaces()
        guard !trimmed.isEmpty, !trimmed.contains("%") else {
            throw Diagnostic(at: l.location, "'\(text)': only a per-CPU variable (%gs:symbol or %gs:symbol+offset) is modelled after a segment prefix", notes: notes)
        }
        let at = SourceLocation(file: l.location.file, line: l.location.line, column: bodyColumn)
        let name = try perCPUVariable(body, at: at, notes: notes)
        guard program.perCPU[name] != nil else {
            throw Diagnostic(at: at, unknownPerCPU(name), notes: notes)
        }
        return .memory(MemoryOperand(perCPU: name, text: text))
    }

    /// An undeclared per-CPU variable, `sym` or `sym+N` (as `perCPUVariable` names it):
    /// how to declare it, and which fields of the same symbol are declared.
    func unknownPerCPU(_ name: String) -> String {
        let symbol = name.split(separator: "+").first.map(String.init) ?? name
        let siblings = program.perCPU.keys.filter { $0 == symbol || $0.hasPrefix(symbol + "+") }.sorted()
        let declared = siblings.isEmpty ? "" : ", of which only \(siblings.joined(separator: ", ")) \(siblings.count == 1 ? "is" : "are") declared"
        let offset = name.count > symbol.count ? " (offset \(name.dropFirst(symbol.count + 1)) into '\(symbol)'\(declared))" : ""
        return "unknown per-CPU variable '\(name)'\(offset): declare it with '.percpu \(name)'" + (offset.isEmpty ? "" : " (a field of a per-CPU symbol is a variable of its own, its offset written without blanks)")
    }

    /// The per-CPU variable `sym` or `sym+off` (off a constant expression) names: `sym`
    /// at offset 0, else `sym+N` with N in decimal, so every spelling of one field is
    /// one variable. A symbol is a name that is no constant.
    func perCPUVariable(_ text: Substring, at location: SourceLocation, notes: [Diagnostic.Note]) throws -> String {
        let placed = try perCPUPlacement(text, at: location, notes: notes)
        return placed.offset == 0 ? placed.symbol : "\(placed.symbol)+\(placed.offset)"
    }

    func perCPUPlacement(_ text: Substring, at location: SourceLocation, notes: [Diagnostic.Note]) throws -> (symbol: String, offset: Int64) {
        func notAVariable() -> Diagnostic {
            Diagnostic(at: location, "'\(text.trimmingWhitespaces())' is not a per-CPU variable: expected a symbol, or a symbol plus a constant offset", notes: notes)
        }
        // `sym + a + b` parses as `(sym + a) + b`: the symbol is the leftmost operand.
        var current = try Expr.parse(text, at: location)
        var offsets: [Expr] = []
        while case .binary("+", let left, let right, _) = current, offsets.count < Self.maximumEvaluationDepth {
            offsets.append(right)
            current = left
        }
        guard case .name(let symbol, _) = current, constants[symbol] == nil else {
            if (try? evaluate(current, notes: notes)) != nil {
                throw Diagnostic(at: location, "'\(text.trimmingWhitespaces())' is an offset into the per-CPU area with no symbol: the model knows per-CPU variables by name, so write the symbol the kernel places there ('%gs:SYMBOL', 'PER_CPU_VAR(SYMBOL)' or SYMBOL+OFFSET), declared with '.percpu SYMBOL'", notes: notes)
            }
            throw notAVariable()
        }
        var offset: Int64 = 0
        for o in offsets {
            let (sum, overflow) = offset.addingReportingOverflow(try evaluate(o, notes: notes))
            if overflow { throw Self.overflow(location, notes) }
            offset = sum
        }
        guard offset >= 0 else { throw Diagnostic(at: location, "per-CPU offset \(offset) is negative", notes: notes) }
        return (symbol, offset)
    }

    /// A memory operand with its displacement text (blank-trimmed) evaluated, or marked
    /// as a symbol outside the model.
    func withDisplacement(_ operand: MemoryOperand, _ dt: Substring, at location: SourceLocation,
                          notes: [Diagnostic.Note]) throws -> Operand {
        var mem = operand
        if !dt.isEmpty {
            let e = try Expr.parse(dt, at: location)
            if mem.base == nil && mem.index == nil && e.containsName(where: { constants[$0] == nil }) {
                mem.symbol = mem.text      // `some_global(,,)`-style or `some_global`: not a constant
                return .memory(mem)
            }
            mem.displacement = try evaluate(e, notes: notes)
        }
        if mem.base == nil && mem.index == nil {
            // Absolute memory (a global variable): outside the model. Reads give an
            // unknown value; a write makes the path unknown (it could be anything).
            mem.symbol = mem.text
        }
        return .memory(mem)
    }

    /// ASCII text split at every comma, each field without blanks at its ends.
    static func commaSeparatedFields(_ text: Substring) -> [String] {
        var fields: [String] = []
        var start = text.startIndex
        while let comma = text[start...].utf8.firstIndex(of: UInt8(ascii: ",")) {
            fields.append(text[start..<comma].trimmingWhitespaces())
            start = text.utf8.index(after: comma)
        }
        fields.append(text[start...].trimmingWhitespaces())
        return fields
    }

    /// Byte offset of the `(` that the final `)` closes.
    static func matchingOpen(_ u: String.UTF8View) -> Int? {
        var depth = 0
        var k = u.count
        for b in u.reversed() {
            k -= 1
            if b == UInt8(ascii: ")") { depth += 1 }
            if b == UInt8(ascii: "(") { depth -= 1; if depth == 0 { return k } }
        }
        return nil
    }

    static func containsRIPRelative(_ u: String.UTF8View) -> Bool {
        let needle = Array("(%rip)".utf8)
        guard u.count >= needle.count else { return false }
        var start = u.startIndex
        while let open = u[start...].firstIndex(of: UInt8(ascii: "(")) {
            if u[open...].starts(with: needle) { return true }
            start = u.index(after: open)
        }
        return false
    }

    /// The operand decoder over characters, for text that is not ASCII: `hasPrefix`,
    /// `split` and friends treat a character with a combining mark as one character, and
    /// the diagnostics for such text stay what they were.
    func parseOperandCharacterwise(_ l: Located, notes: [Diagnostic.Note]) throws -> Operand {
        let text = l.text
        func loc(_ k: Int) -> SourceLocation { SourceLocation(file: l.location.file, line: l.location.line, column: l.location.column + k) }
        if text.hasPrefix("%") {
            let name = String(text.dropFirst()).lowercased()
            guard let (r, w) = Register.parse(name) else {
                throw Diagnostic(at: l.location, "unknown register '%\(name)' (the model has the 64-bit and 32-bit general-purpose registers)", notes: notes)
            }
            return .register(r, w)
        }
        if text.hasPrefix("$") {
            guard let e = immediateExpr(l) else {
                _ = try Expr.parse(Located(String(text.dropFirst()), loc(1)))
                throw Diagnostic(at: loc(1), "malformed immediate", notes: notes)
            }
            return try immediateOperand(e, notes: notes)
        }
        if text.hasPrefix("PER_CPU_VAR(") {
            guard let close = text.firstIndex(of: ")") else { throw Diagnostic(at: l.location, "expected ')' in PER_CPU_VAR(…)", notes: notes) }
            let name = String(text[text.index(text.startIndex, offsetBy: 12)..<close]).trimmingWhitespaces()
            guard program.perCPU[name] != nil else {
                throw Diagnostic(at: loc(12), unknownPerCPU(name), notes: notes)
            }
            let after = String(text[text.index(after: close)...]).trimmingWhitespaces()
            if !after.isEmpty { throw Diagnostic(at: loc(text.distance(from: text.startIndex, to: close) + 1), "offsets into per-CPU variables are not modelled", notes: notes) }
            return .memory(MemoryOperand(perCPU: name, text: text))
        }
        // disp(%base,%index,scale)
        var mem = MemoryOperand(text: text)
        var dispText = text
        if text.hasSuffix(")"), let open = matchingOpen(text) {
            dispText = String(text[..<open])
            let inner = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
            let innerStart = text.distance(from: text.startIndex, to: open) + 1
            let parts = inner.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingWhitespaces() }
            if parts.count > 3 { throw Diagnostic(at: loc(innerStart), "malformed memory operand", notes: notes) }
            if let b = parts.first, !b.isEmpty {
                guard b.hasPrefix("%"), let (r, w) = Register.parse(String(b.dropFirst()).lowercased()) else {
                    throw Diagnostic(at: loc(innerStart), "unknown base register '\(b)'", notes: notes)
                }
                if w != .q { throw Diagnostic(at: loc(innerStart), "addresses use 64-bit registers", notes: notes) }
                mem.base = r
            }
            if parts.count > 1 {
                let ix = parts[1]
                guard ix.hasPrefix("%"), let (r, _) = Register.parse(String(ix.dropFirst()).lowercased()) else {
                    throw Diagnostic(at: loc(innerStart), "unknown index register '\(ix)'", notes: notes)
                }
                mem.index = r
                if parts.count > 2 {
                    mem.scale = try scale(parts[2], at: loc(innerStart), notes: notes)
                }
            }
        } else if text.contains("(%rip)") {
            mem.symbol = text
            return .memory(mem)
        }
        return try withDisplacement(mem, dispText.trimmingWhitespaces()[...], at: l.location, notes: notes)
    }

    func matchingOpen(_ s: String) -> String.Index? {
        var depth = 0
        var i = s.endIndex
        while i > s.startIndex {
            i = s.index(before: i)
            if s[i] == ")" { depth += 1 }
            if s[i] == "(" { depth -= 1; if depth == 0 { return i } }
        }
        return nil
    }

    // MARK: - Declarations

    func declareExtern(_ rest: Located, at loc: SourceLocation, notes: [Diagnostic.Note]) throws {
        let attrs = try parseAttributes(rest, notes: notes)
        guard let declared = attrs.positional.first else { throw Diagnostic(at: loc, ".extern needs a function name", notes: notes) }
        var name = declared
        if let prev = program.externs[name.text] {
            throw Diagnostic(at: name.location, "duplicate .extern '\(name.text)' (first declared at \(prev.location.map { "\($0)" } ?? "?"))", notes: notes)
        }
        if labelDefinitions[name.text] != nil { throw Diagnostic(at: name.location, "'\(name.text)' is a label of the model and cannot be .extern", notes: notes) }
        // `.extern pv_ops+PV_IRQ_save_fl`: the contract of a paravirt slot, named by its
        // symbol and evaluated offset as the call sites are.
        if name.text.contains("+") {
            let placed = try perCPUPlacement(name.text[...], at: name.location, notes: notes)
            name.text = placed.offset == 0 ? placed.symbol : "\(placed.symbol)+\(placed.offset)"
            if let prev = program.externs[name.text] {
                throw Diagnostic(at: name.location, "duplicate .extern '\(name.text)' (first declared at \(prev.location.map { "\($0)" } ?? "?"))", notes: notes)
            }
        }
        var c = ExternContract(name: name.text, location: name.location)
        for flag in attrs.positional.dropFirst() {
            switch flag.text {
            case "stop": c.isPtraceStop = true
            case "maystop": c.isPtraceStop = true; c.mayStop = true
            case "indirect":
                if let other = program.externs.values.first(where: \.isIndirectTarget) {
                    throw Diagnostic(at: flag.location, "'\(other.name)' is already the contract of unresolved indirect calls", notes: notes)
                }
                c.isIndirectTarget = true
            default: throw Diagnostic(at: flag.location, "unknown .extern flag '\(flag.text)' (expected 'stop', 'maystop', 'indirect' or key=value)", notes: notes)
            }
        }
        let fieldNames = Self.ptRegsFieldNames
        for (key, value) in attrs.keyed.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "clobbers":
                c.clobbers = try registerSet(value, notes: notes)
            case "ptregs":
                if value.text.hasPrefix("%") || Register.parse(value.text) != nil {
                    let n = value.text.hasPrefix("%") ? String(value.text.dropFirst()) : value.text
                    guard case let (r, .q)? = Register.parse(n) else { throw Diagnostic(at: value.location, "unknown register '\(value.text)'", notes: notes) }
                    c.ptRegs = .register(r)
                } else {
                    c.ptRegs = .stackOffset(try evaluate(Expr.parse(value), notes: notes))
                }
            case "observes":
                if value.text == "all" { c.observes = Layout.ptRegs.fields.map(\.userName) }
                else if value.text == "none" { c.observes = [] }
                else {
                    c.observes = value.text.split(separator: ",").map(String.init)
                    for f in c.observes where !fieldNames.contains(f) {
                        throw Diagnostic(at: value.location, "unknown pt_regs field '\(f)' (fields: \(Layout.ptRegs.fields.map(\.userName).joined(separator: ",")))", notes: notes)
                    }
                }
            case "reason":
                c.reason = value.text
            case "moves-frame":
                let v = try perCPUVariable(value.text[...], at: value.location, notes: notes)
                guard program.perCPU[v] == .stack else {
                    throw Diagnostic(at: value.location, "moves-frame= names the per-CPU variable that holds the top of the stack the frame is copied to: declare '.percpu \(v) stack' before this .extern", notes: notes)
                }
                c.movesFrameTo = v
            case "writes":
                c.writes = value.text == "all" ? Layout.ptRegs.fields.map(\.userName) : value.text.split(separator: ",").map(String.init)
                for f in c.writes where !fieldNames.contains(f) {
                    throw Diagnostic(at: value.location, "unknown pt_regs field '\(f)'", notes: notes)
                }
            case "result":
                c.result = try callResult(value, notes: notes)
            case "returns":
                throw Diagnostic(at: value.location, "an .extern says what it returns in rax with 'result=' (result=ptregs, arg:REG, syscall-nr, orig_ax or a constant); 'returns=ptregs' is a .path attribute", notes: notes)
            default:
                // A pt_regs field name (r8…r15 are both) keeps its meaning, FIELD=value;
                // `%r8=` names the register.
                if !fieldNames.contains(key), let (r, w) = Register.parse(key.hasPrefix("%") ? String(key.dropFirst()) : key) {
                    guard r != .rsp else { throw Diagnostic(at: value.location, "rsp is the stack, not an argument register", notes: notes) }
                    guard w == .q || w == .l else {
                        throw Diagnostic(at: value.location, "an argument requirement names a 64-bit register (rdi=) or its low 32 bits (edi=), not '\(key)'", notes: notes)
                    }
                    if let prev = c.arguments.first(where: { $0.register == r }) {
                        throw Diagnostic(at: value.location, "two requirements on \(r.name) ('\(prev.registerName)=' and '\(key)=')", notes: notes)
                    }
                    c.arguments.append(ArgumentRequirement(register: r, width: w, value: try argumentValue(value, key: key, notes: notes), location: value.location))
                    continue
                }
                guard fieldNames.contains(key) else {
                    throw Diagnostic(at: value.location, "unknown .extern attribute '\(key)' (expected clobbers=, ptregs=, observes=, writes=, moves-frame=, result=, reason=, REG=VALUE for an argument register, stop, maystop, or FIELD=value for a pt_regs field)", notes: notes)
                }
                c.expectedFields[key] = try evaluate(Expr.parse(value), notes: notes)
            }
        }
        c.arguments.sort { $0.register < $1.register }
        if c.result != nil && c.movesFrameTo != nil {
            throw Diagnostic(at: name.location, "a moves-frame= function returns the copy's address in rax: it cannot have a result= too", notes: notes)
        }
        if c.result != nil && attrs.keyed["clobbers"] != nil && !c.clobbers.contains(.rax) {
            throw Diagnostic(at: name.location, "a result= function returns in rax: rax cannot be preserved (clobbers= must include rax)", notes: notes)
        }
        if c.isPtraceStop && attrs.keyed["observes"] == nil { c.observes = Layout.ptRegs.fields.map(\.userName) }
        if (c.isPtraceStop || !c.observes.isEmpty || !c.writes.isEmpty || c.movesFrameTo != nil) && c.ptRegs == nil { c.ptRegs = .register(.rdi) }
        if c.movesFrameTo != nil && !c.clobbers.contains(.rax) {
            throw Diagnostic(at: name.location, "a moves-frame= function returns the copy's address in rax: rax cannot be preserved", notes: notes)
        }
        if c.clobbers.contains(.rsp) { throw Diagnostic(at: name.location, "an external function cannot clobber rsp", notes: notes) }
        program.externs[name.text] = c
    }

    /// The value of `REG=VALUE` in an `.extern`: a word, or a constant expression.
    func argumentValue(_ value: Located, key: String, notes: [Diagnostic.Note]) throws -> ArgumentValue {
        if let v = ArgumentValue.parse(value.text) { return v }
        do {
            return .constant(try evaluate(Expr.parse(value), notes: notes))
        } catch {
            let words = ArgumentValue.words
            let near = words.min { Self.editDistance(value.text, $0) < Self.editDistance(value.text, $1) }
            let hint = near.flatMap { Self.editDistance(value.text, $0) <= 3 ? " (did you mean '\($0)'?)" : nil } ?? ""
            throw Diagnostic(at: value.location, "unknown argument value '\(value.text)' in '\(key)='\(hint): expected \(words.dropLast().joined(separator: ", ")) or \(words.last ?? ""), or a constant expression", notes: notes)
        }
    }

    /// `result=ptregs|arg:REG|CONSTANT`.
    func callResult(_ value: Located, notes: [Diagnostic.Note]) throws -> CallResult {
        if value.text == "ptregs" { return .ptRegs }
        if value.text == "syscall-nr" { return .syscallNumber }
        if value.text == "orig_ax" { return .origAX }
        if value.text.hasPrefix("arg:") {
            let n = String(value.text.dropFirst(4))
            guard case let (r, .q)? = Register.parse(n.hasPrefix("%") ? String(n.dropFirst()) : n), r != .rsp else {
                throw Diagnostic(at: value.location, "result=arg:REG names the 64-bit argument register the function returns (arg:rdi), not '\(n)'", notes: notes)
            }
            return .argument(r)
        }
        do {
            return .constant(try evaluate(Expr.parse(value), notes: notes))
        } catch {
            throw Diagnostic(at: value.location, "unknown result '\(value.text)': expected ptregs (rax = the pt_regs pointer), arg:REG (rax = what REG held at the call), syscall-nr or orig_ax (rax = the user's orig_ax after the call), or a constant expression", notes: notes)
        }
    }

    /// Levenshtein distance, for "did you mean" (short words only).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.lowercased().unicodeScalars), y = Array(b.unicodeScalars)
        guard !x.isEmpty, !y.isEmpty, x.count <= 32, y.count <= 32 else { return max(x.count, y.count) }
        var row = Array(0...y.count)
        for i in 1...x.count {
            var previous = row[0]
            row[0] = i
            for j in 1...y.count {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (x[i - 1] == y[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[y.count]
    }

    func registerSet(_ value: Located, notes: [Diagnostic.Note]) throws -> Set<Register> {
        switch value.text {
        case "caller": return Register.callerClobbered
        case "callee": return Register.calleeSaved
        case "none": return []
        case "all": return Set(Register.allCases).subtracting([.rsp])
        default:
            var s: Set<Register> = []
            for part in value.text.split(separator: ",") {
                let n = part.hasPrefix("%") ? String(part.dropFirst()) : String(part)
                guard case let (r, .q)? = Register.parse(n.lowercased()) else {
                    let words = ["caller", "callee", "none", "all"]
                    let near = words.map { ($0, Self.editDistance(String(part), $0)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
                    throw Diagnostic(at: value.location, "unknown register '\(part)' in register list\(near.map { " (did you mean '\($0)'?)" } ?? ""): expected one of the words \(words.map { "'\($0)'" }.joined(separator: ", ")), or 64-bit registers separated by commas ('rbx,rbp,r12')", notes: notes)
                }
                s.insert(r)
            }
            return s
        }
    }

    func buildPath(_ p: PendingPath) throws -> PathSpec {
        guard let entryIndex = program.labels[p.name.text] else {
            throw Diagnostic.error(p.name.location, "path '\(p.name.text)' names no label of the code")
        }
        let known: Set<String> = ["entry", "from", "models", "preserves", "ptregs", "valid", "kstack", "kstack-offset", "usersp", "thread-size", "abi", "returns", "r8-r11", "xen-frame", "ist", "vector"]
        for (k, v) in p.attributes where !known.contains(k) {
            throw Diagnostic.error(v.location, "unknown .path attribute '\(k)' (expected \(known.sorted().joined(separator: ", ")))")
        }
        guard let e = p.attributes["entry"] else {
            throw Diagnostic.error(p.name.location, "path '\(p.name.text)' needs entry=function|jump|syscall|compat-syscall|sysenter|int80|interrupt|exception|exception-errcode")
        }
        guard let entry = EntryKind(rawValue: e.text) else {
            throw Diagnostic.error(e.location, "unknown entry kind '\(e.text)' (expected function, jump, syscall, compat-syscall, sysenter, int80, interrupt, exception or exception-errcode)")
        }
        var returnsPtRegs = false
        if let r = p.attributes["returns"] {
            guard r.text == "ptregs" else { throw Diagnostic.error(r.location, "expected returns=ptregs (a function that returns with pt_regs built below the hardware frame)") }
            guard entry == .function else { throw Diagnostic.error(r.location, "returns=ptregs applies to function paths") }
            returnsPtRegs = true
        }
        var mode = EntryMode.either
        if let f = p.attributes["from"] {
            guard let m = EntryMode(rawValue: f.text) else { throw Diagnostic.error(f.location, "expected from=user|kernel|either") }
            guard (entry != .function || returnsPtRegs) && entry != .jump && !entry.isSystemCall else {
                throw Diagnostic.error(f.location, "from= applies to interrupt and exception entries, and to returns=ptregs functions")
            }
            mode = m
        }
        if entry.isSystemCall { mode = .user }
        var userIs32Bit = entry == .sysenter || entry == .compatSyscall
        if let a = p.attributes["abi"] {
            guard a.text == "32" || a.text == "64" else { throw Diagnostic.error(a.location, "expected abi=32 or abi=64 (the user task's width)") }
            guard entry.isCompatSystemCall || ((entry == .function || entry == .jump) && p.attributes["ptregs"] != nil) else {
                throw Diagnostic.error(a.location, "abi= applies to the 32-bit system-call entries (int80, sysenter, compat-syscall) and to function or jump paths given their pt_regs")
            }
            if a.text == "64" && entry != .int80 && entry.isCompatSystemCall {
                throw Diagnostic.error(a.location, "\(entry.rawValue) is entered from 32-bit tasks only: abi=64 does not apply")
            }
            userIs32Bit = a.text == "32"
        }
        var compatHighRegisters = CompatHighRegisters.any
        if let h = p.attributes["r8-r11"] {
            guard let v = CompatHighRegisters(rawValue: h.text) else {
                throw Diagnostic.error(h.location, "expected r8-r11=preserve, zero, preserve-or-zero or any (what a 32-bit task's r8–r11 hold when it gets back to user space)")
            }
            guard userIs32Bit else {
                throw Diagnostic.error(h.location, "r8-r11= applies to a 32-bit task (abi=32, the default of sysenter and compat-syscall): a 64-bit task is owed all its registers")
            }
            compatHighRegisters = v
        }
        if (entry == .function && !returnsPtRegs) || entry == .jump { mode = .kernel }
        // A function that builds pt_regs clears the registers it saved there.
        var preserves = returnsPtRegs ? [] : Register.calleeSaved
        if let pr = p.attributes["preserves"] {
            guard entry == .function else { throw Diagnostic.error(pr.location, "preserves= applies to function paths (user-mode exits preserve every register the ABI gives back)") }
            preserves = try registerSet(pr, notes: [])
        }
        // How far below the stack top the syscall entry's kernel stack pointer points:
        // 3.16's KERNEL_STACK_OFFSET (5*8, the IRET frame's room above it, filled in by
        // FIXUP_TOP_OF_STACK); 0 from v4.1, where the entry pushes the frame below
        // cpu_current_top_of_stack.
        var kstackOffset: Int64 = 40
        if let o = p.attributes["kstack-offset"] {
            guard entry.loadsKernelStack else { throw Diagnostic.error(o.location, "kstack-offset= applies to syscall, compat-syscall and sysenter paths (where the kernel stack pointer comes from a per-CPU variable)") }
            let v = try evaluate(Expr.parse(o))
            guard (0...4096).contains(v), v % 8 == 0 else { throw Diagnostic.error(o.location, "kstack-offset= is a multiple of 8 from 0 to 4096 (bytes below the stack top)") }
            kstackOffset = v
        }
        var assumptions = p.assumptions
        /// The word `.assume feature NAME` stands for: the one the units' headers give NAME,
        /// or NAME as a constant expression (a spec's #define, a number like 8*32+16).
        func featureWord(_ name: String, at location: SourceLocation) throws -> String {
            if let w = program.featureNames.filter({ $0.value.contains(name) }).keys.sorted().first { return w }
            if let e = try? Expr.parse(Located(name, location)), let v = try? evaluate(e) {
                return Program.featureWord(v)
            }
            throw Diagnostic.error(location, "'\(name)' is no feature the path's units define (an X86_FEATURE_* name from the .source's headers, or a feature number such as 8*32+16)")
        }
        for (k, a) in assumptions.enumerated() {
            guard a.feature != nil else {
                if program.labels[a.label] == nil { throw Diagnostic.error(a.location, ".assume names '\(a.label)', which is no label of the code") }
                continue
            }
            assumptions[k].feature = try featureWord(a.label, at: a.location)
        }
        var ptregs: Int64?
        switch entry {
        case .syscall, .sysenter, .compatSyscall: ptregs = kstackOffset - 168   // pt_regs = top - 168 (3.16: kernel_stack - 128)
        case .interrupt, .exception, .int80: ptregs = -128   // rip at the entry rsp
        case .exceptionWithErrorCode: ptregs = -120  // error code (orig_ax) at the entry rsp
        case .function: ptregs = returnsPtRegs ? 8 + 8 - 128 : nil   // above the return address: orig_ax, then ip
        case .jump: ptregs = 0              // landing on a complete pt_regs
        }
        if let o = p.attributes["ptregs"] {
            ptregs = o.text == "none" ? nil : try evaluate(Expr.parse(o))
        }
        // What the caller of a returns=ptregs function has in place: the hardware frame
        // and orig_ax (the error code, or what the entry pushed for it).
        var valid = returnsPtRegs ? ["orig_ax", "ip", "cs", "flags", "sp", "ss"] : Set(Layout.ptRegs.fields.map(\.userName))
        if let v = p.attributes["valid"] {
            guard entry == .function || entry == .jump, ptregs != nil else { throw Diagnostic.error(v.location, "valid= applies to function and jump paths given ptregs=") }
            if v.text == "none" { valid = [] }
            else if v.text != "all" {
                let names = v.text.split(separator: ",").map(String.init)
                for n in names where !valid.contains(n) { throw Diagnostic.error(v.location, "unknown pt_regs field '\(n)'") }
                valid = Set(names)
            }
        }
        var userSP: String?
        if let u = p.attributes["usersp"] {
            let name = (try? perCPUVariable(u.text[...], at: u.location, notes: [])) ?? u.text
            guard entry == .function || entry == .jump, program.perCPU[name] != nil else {
                throw Diagnostic.error(u.location, "usersp= names a declared per-CPU variable, on a function path")
            }
            userSP = name
        }
        // `kstack=cpu_tss_rw+TSS_sp0` names the variable as `.percpu` does.
        let kstack = try p.attributes["kstack"].map { try perCPUVariable($0.text[...], at: $0.location, notes: []) } ?? "kernel_stack"
        if entry.loadsKernelStack {
            guard program.perCPU[kstack] == .stack else {
                throw Diagnostic.error(p.name.location, "a syscall path loads its kernel stack from a per-CPU variable: declare '.percpu \(kstack) stack' (or name another with kstack=)")
            }
        }
        // thread_info at the base of a task stack (3.16's GET_THREAD_INFO and
        // THREAD_INFO(%rsp, off)): the stack's size tells where it is.
        var threadSize: Int64?
        if let t = p.attributes["thread-size"] {
            let v = try evaluate(Expr.parse(t))
            guard v >= 4096, v <= 1 << 20, v & (v - 1) == 0 else {
                throw Diagnostic.error(t.location, "thread-size= is the task stack's size, a power of two from 4096 to 1 MiB (THREAD_SIZE)")
            }
            threadSize = v
        }
        // Xen PV's callback frame: the words the hypervisor pushes below the IRET frame.
        var hypervisorWords: [String] = []
        if let x = p.attributes["xen-frame"] {
            guard entry == .interrupt || entry == .exception else {
                throw Diagnostic.error(x.location, "xen-frame= applies to interrupt and exception entries (the words Xen pushes below the IRET frame of a callback)")
            }
            hypervisorWords = x.text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            for w in hypervisorWords where !PathSpec.hypervisorWordNames.contains(w) {
                throw Diagnostic.error(x.location, "xen-frame= lists the words below the IRET frame, lowest first, from \(PathSpec.hypervisorWordNames.joined(separator: ", ")); '\(w)' is none of them")
            }
            guard Set(hypervisorWords).count == hypervisorWords.count else {
                throw Diagnostic.error(x.location, "xen-frame= names a word twice")
            }
        }
        var spec = PathSpec(name: p.name.text, location: p.name.location, entryIndex: entryIndex, models: p.attributes["models"]?.text ?? "",
                            entry: entry, mode: mode, preserves: preserves, ptRegsOffset: ptregs, validFields: valid,
                            kernelStack: kstack, kernelStackOffset: kstackOffset, userSP: userSP, expectations: p.expectations,
                            assumptions: assumptions, threadSize: threadSize, userIs32Bit: userIs32Bit, compatHighRegisters: compatHighRegisters, returnsPtRegs: returnsPtRegs)
        spec.hypervisorWords = hypervisorWords
        if let i = p.attributes["ist"] {
            let name = (try? perCPUVariable(i.text[...], at: i.location, notes: [])) ?? i.text
            guard entry == .interrupt || entry == .exception || entry == .exceptionWithErrorCode else {
                throw Diagnostic.error(i.location, "ist= applies to interrupt and exception entries (the IST stack pointer of their vector)")
            }
            guard program.perCPU[name] == .value else {
                throw Diagnostic.error(i.location, "ist= names a per-CPU variable declared with '.percpu \(name)' (a value: the IST stack pointer)")
            }
            spec.istVariable = name
        }
        if let v = p.attributes["vector"] {
            guard entry == .exception || entry == .exceptionWithErrorCode || returnsPtRegs else {
                throw Diagnostic.error(v.location, "vector= applies to exception entries (and the returns=ptregs helpers they call)")
            }
            let n = try evaluate(Expr.parse(v))
            guard (0...255).contains(n) else { throw Diagnostic.error(v.location, "vector= is an exception vector, 0 to 255") }
            spec.vector = Int(n)
        }
        return spec
    }
}

extension Elaborator {
    /// Whether `lock` may stand before this instruction: a read-modify-write the CPU
    /// locks (`lockableMnemonics`) with a memory destination. Elsewhere it raises #UD.
    func isLockable(_ p: PendingInstruction) -> Bool {
        let m = Self.lowercased(p.head.text)
        guard Self.lockableMnemonics.contains(where: { splitSuffix(m, base: $0) != nil }),
              let dst = p.operands.last?.text.trimmingWhitespaces(), !dst.isEmpty else { return false }
        return !dst.hasPrefix("%") && !dst.hasPrefix("$")
    }

    /// `lock INSN …` (one statement) or `lock` alone before the instruction it prefixes
    /// (`lock; cmpxchgq …`, as the kernel's LOCK_PREFIX writes it). The lock makes the
    /// read-modify-write atomic against other CPUs; the model has one CPU, so the
    /// instruction means what it means without it.
    func decodeLocked(_ p: PendingInstruction) throws -> Operation {
        let why = "the lock prefix needs a read-modify-write instruction (add, adc, and, or, xor, sub, sbb, inc, dec, neg, not, bts, btr, btc, xchg, cmpxchg, xadd) with a memory destination: before anything else the CPU raises #UD"
        if p.operands.allSatisfy({ $0.text.isEmpty }) {
            guard p.index + 1 < pending.count, pending[p.index + 1].section == p.section, isLockable(pending[p.index + 1]) else {
                throw Diagnostic(at: p.head.location, why, notes: p.notes)
            }
            return .noEffect("lock")
        }
        // The instruction is the first operand's text up to its first blank.
        let first = p.operands[0]
        let u = Array(first.text.utf8)
        guard let blank = u.firstIndex(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) else {
            throw Diagnostic(at: first.location, why, notes: p.notes)
        }
        var start = blank
        while start < u.count, u[start] == UInt8(ascii: " ") || u[start] == UInt8(ascii: "\t") { start += 1 }
        var inner = p
        inner.head = Located(String(decoding: u[..<blank], as: UTF8.self), first.location)
        let column = first.location.column + String(decoding: u[..<start], as: UTF8.self).count
        inner.operands[0] = Located(String(decoding: u[start...], as: UTF8.self),
                                    SourceLocation(file: first.location.file, line: first.location.line, column: column))
        guard Self.lowercased(inner.head.text) != "lock", isLockable(inner) else { throw Diagnostic(at: first.location, why, notes: p.notes) }
        return try decode(inner)
    }
}
