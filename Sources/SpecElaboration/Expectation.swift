import Foundation
import SpecSyntax

/// What identifies a violation in the domain's words, so an expectation can name the one
/// it accepts: the invariant, what is wrong (the register an exit gives back wrong, the
/// pt_regs field a stop sees wrong, rsp at an exit…) and where it is observed (the exit
/// instruction, the function that reads pt_regs, or the instruction that makes the
/// access). No line number: an unrelated edit above must not break an expectation.
public struct Mechanism: Hashable, Sendable, CustomStringConvertible {
    public var invariant: Invariant
    /// A word of `Mechanism.subjects(of:)`.
    public var subject: String
    /// `sysretq`, `ret`, `syscall_trace_enter`, `movq %rax,-8(%rsp)`…
    public var point: String {
        didSet { pointKey = Self.normalized(point) }
    }
    /// The point without white space, exit mnemonics in one spelling: what names compare.
    private var pointKey: String

    public init(invariant: Invariant, subject: String, point: String) {
        self.invariant = invariant
        self.subject = subject
        self.point = point
        pointKey = Self.normalized(point)
    }

    /// `restore r15 at sysretq`, the words an expectation writes.
    public var description: String {
        let at = point.contains(where: { $0 == " " || $0 == "\t" || $0 == "," }) ? "\"\(point)\"" : point
        return "\(invariant.rawValue) \(subject) at \(at)"
    }

    /// Whether an expectation's mechanism names this one: the same invariant and subject,
    /// and the same point up to white space and the spelling of the exit mnemonic.
    public func isNamed(by other: Mechanism) -> Bool {
        invariant == other.invariant && subject == other.subject && pointKey == other.pointKey
    }

    static func normalized(_ point: String) -> String {
        let compact = String(point.filter { !$0.isWhitespace })
        return pointAliases[compact.lowercased()] ?? compact
    }

    /// The spellings gas accepts for one exit instruction.
    static let pointAliases = ["retq": "ret", "sysret": "sysretl", "sysexitl": "sysexit"]

    /// The subjects an invariant's violations have, each with what it means (for errors
    /// and help). Restore: the register given back wrong. Ptrace: the pt_regs field seen
    /// wrong by C code or a tracer, or returned to user space from a field other than
    /// the one ptrace can write.
    public static func subjects(of invariant: Invariant) -> [(word: String, meaning: String)] {
        InvariantRegistry.descriptor(invariant).subjects
    }
}

/// A violation the spec declares known, pinned to its mechanism: `.expect` for a real bug
/// of the modelled code (the "before" code), `.limit` for a false report the model is
/// known to make on this code, with the reason. Either accepts only the violations of
/// its mechanism, at as many sites as it states (`sites=N`, default 1); any other
/// violation of the path fails the gate, and an expectation that matches nothing — or
/// fewer sites than it states — is stale.
public struct Expectation: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        /// `.expect`: the code has this bug.
        case violation = "expect"
        /// `.limit`: the model reports this falsely.
        case limit
    }
    public var kind: Kind
    public var mechanism: Mechanism
    /// Why the model reports it falsely (limits).
    public var reason: String?
    public var location: SourceLocation
    /// How many distinct sites (instructions where the obligation is judged: an exit, an
    /// accessing instruction) the mechanism is accepted at. The mechanism has no line
    /// number, so without a count one declaration would accept the same words at a
    /// second place in the code — a second bug.
    public var sites: Int

    public init(kind: Kind, mechanism: Mechanism, reason: String?, location: SourceLocation, sites: Int = 1) {
        self.kind = kind
        self.mechanism = mechanism
        self.reason = reason
        self.location = location
        self.sites = sites
    }

    /// The directive as written: `.expect restore r15 at sysretq`, `… sites=2`.
    public var description: String { directive(sites: sites) }

    /// The directive with another site count: what to write when the code has changed.
    public func directive(sites n: Int) -> String {
        heading(sites: n) + (reason.map { " reason=\"\($0)\"" } ?? "")
    }

    /// The directive without its reason, as messages name it: `.limit frame rsp at sysretl sites=2`.
    public var heading: String { heading(sites: sites) }

    func heading(sites n: Int) -> String {
        ".\(kind.rawValue) \(mechanism)" + (n == 1 ? "" : " sites=\(n)")
    }

    /// Parses `INVARIANT SUBJECT… at POINT [reason="…"]` (the words after `.expect` or
    /// `.limit`, split by the directive's attribute reader: a quoted point is one word).
    /// One expectation per subject.
    public static func parse(kind: Kind, words: [Located], reason: Located?, keyed: [String: Located], at head: SourceLocation,
                             notes: [Diagnostic.Note]) throws -> [Expectation] {
        let directive = ".\(kind.rawValue)"
        let form = "\(directive) INVARIANT SUBJECT… at POINT [sites=N]" + (kind == .limit ? " reason=\"WHY\"" : "")
        for (k, v) in keyed.sorted(by: { $0.key < $1.key }) where k != "sites" && (k != "reason" || kind != .limit) {
            throw Diagnostic(at: v.location, "unknown \(directive) attribute '\(k)' (expected '\(form)')", notes: notes)
        }
        var sites = 1
        if let n = keyed["sites"] {
            guard let count = Int(n.text), count >= 1, count <= 1000 else {
                throw Diagnostic(at: n.location, "sites= takes how many distinct sites the mechanism is accepted at, a number from 1 (the default) up, not '\(n.text)'", notes: notes)
            }
            sites = count
        }
        guard let first = words.first else {
            throw Diagnostic(at: head, "expected '\(form)', e.g. '\(directive) restore r15 at sysretq'", notes: notes)
        }
        guard let invariant = Invariant.named(first.text) else {
            throw Diagnostic(at: first.location, "unknown invariant '\(first.text)' (expected \(InvariantRegistry.namesChoice))", notes: notes)
        }
        let known = Mechanism.subjects(of: invariant)
        let valid = known.map(\.word).joined(separator: ", ")
        if words.count == 2 && words[1].text == "violated" {
            throw Diagnostic(at: words[1].location,
                             "'\(directive) \(invariant.rawValue) violated' would accept any violation and hide a second bug: name the mechanism, '\(form)' (the report of an unexpected violation prints the line to write)",
                             notes: notes)
        }
        guard let atIndex = words.firstIndex(where: { $0.text == "at" }) else {
            throw Diagnostic(at: words.last?.location ?? head, "expected 'at POINT' (the exit, the function that reads pt_regs, or the instruction): '\(form)'", notes: notes)
        }
        let subjectWords = words[1..<atIndex]
        if subjectWords.isEmpty {
            throw Diagnostic(at: words[atIndex].location, "expected what is wrong before 'at' (for \(invariant.rawValue): \(valid))", notes: notes)
        }
        guard atIndex + 2 == words.count else {
            let loc = atIndex + 1 < words.count ? words[atIndex + 2].location : words[atIndex].location
            throw Diagnostic(at: loc, atIndex + 1 < words.count
                             ? "one point after 'at' (quote an instruction: at \"movq %rax, -8(%rsp)\")"
                             : "expected the point after 'at' (the exit, the function that reads pt_regs, or the instruction)", notes: notes)
        }
        let point = words[atIndex + 1]
        if point.text.trimmingCharacters(in: .whitespaces).isEmpty {
            throw Diagnostic(at: point.location, "empty point after 'at'", notes: notes)
        }
        if kind == .limit && (reason?.text.trimmingCharacters(in: .whitespaces).isEmpty ?? true) {
            throw Diagnostic(at: reason?.location ?? head, "a .limit says why the model reports it falsely: reason=\"…\"", notes: notes)
        }
        var out: [Expectation] = []
        for w in subjectWords {
            guard known.contains(where: { $0.word == w.text }) else {
                throw Diagnostic(at: w.location, "unknown \(invariant.rawValue) mechanism '\(w.text)' (expected one of: \(valid))", notes: notes)
            }
            if out.contains(where: { $0.mechanism.subject == w.text }) {
                throw Diagnostic(at: w.location, "'\(w.text)' named twice", notes: notes)
            }
            out.append(Expectation(kind: kind, mechanism: Mechanism(invariant: invariant, subject: w.text, point: point.text),
                                   reason: reason?.text, location: w.location, sites: sites))
        }
        return out
    }
}

extension Mechanism {
    /// Where a violation at `instruction` is observed, in the words an expectation uses:
    /// the exit's mnemonic, the called or jumped-to symbol, or else the instruction as
    /// written (after macro expansion).
    public static func point(of instruction: Instruction) -> String {
        switch instruction.operation {
        case .ret: return "ret"
        case .sysret(let w): return w == .q ? "sysretq" : "sysretl"
        case .sysexit(let w): return w == .q ? "sysexitq" : "sysexit"
        case .iret: return "iretq"
        case .call(.external(let name)), .jump(.external(let name)): return name
        case .call(.code(_, let label)), .jump(.code(_, let label)): return label
        case .call(.indirect(let r)), .jump(.indirect(let r)): return "*%\(r.name)"
        default:
            return instruction.text.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        }
    }
}
