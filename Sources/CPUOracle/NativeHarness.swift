import Foundation
import SpecElaboration

/// Inputs of one native run (and of the model's run of the same program).
public struct RunInputs: Sendable {
    /// The 16 registers at entry in encoding order; rsp is ignored (the harness sets it).
    public var registers: [UInt64]
    public var zf, cf, sf, of: Bool
    /// Seeds the stack words the program finds never written (`garbage[…]`).
    public var stackSeed: UInt64
    /// The caller's return address: a canonical address nothing maps, so a `ret` to it
    /// faults (the harness's epilogue stands in for the path's own `ret`s).
    public var returnAddress: UInt64
    /// The input buffer (`unmodelled[off(%reg)]`), 64 words; words 0–3 are loop counts.
    public var buffer: [UInt64]
    /// The per-CPU value variables at entry (`percpu.oracle_v0`, …).
    public var perCPU: [UInt64]

    public var rflags: UInt64 {
        0x202 | (cf ? 1 : 0) | (zf ? 1 << 6 : 0) | (sf ? 1 << 7 : 0) | (of ? 1 << 11 : 0)
    }

    /// 8 bytes of the buffer from byte `offset`, little-endian (what a load there reads).
    public func bufferWord(at offset: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<8 {
            let b = offset + i
            guard b >= 0, b / 8 < buffer.count else { continue }
            v |= ((buffer[b / 8] >> UInt64(8 * (b % 8))) & 0xff) << UInt64(8 * i)
        }
        return v
    }

    static func random(_ rng: inout OracleRandom) -> RunInputs {
        func value() -> UInt64 {
            switch rng.int(6) {
            case 0: return UInt64(rng.int(4))
            case 1: return rng.pick([0x7fff_ffff, 0x8000_0000, 0xffff_ffff, ~0, 1 << 63, 0x7fff_ffff_ffff_ffff, 0xff, 0x80])
            default: return rng.next()
            }
        }
        let regs = (0..<16).map { _ in value() }
        let buffer = (0..<64).map { k in k < 4 ? UInt64(rng.int(4)) : value() }
        return RunInputs(registers: regs, zf: rng.chance(0.5), cf: rng.chance(0.5), sf: rng.chance(0.5), of: rng.chance(0.5),
                         stackSeed: rng.next(), returnAddress: 0x0000_5eed_0000_0000 | (rng.next() & 0xffff_fff8), buffer: buffer,
                         perCPU: (0..<OracleProgram.perCPUValues).map { _ in value() })
    }
}

/// What the CPU left when a run stopped.
public struct NativeResult: Sendable {
    public enum Status: Sendable, Equatable {
        /// Reached the path's `ret` (the harness stands in for it): the state before it.
        case exited(id: Int)
        /// A signal: a `ret` went to an address that is not code — to data, or to the
        /// caller's return address after a tail call (or a generator bug touched memory
        /// it should not). The state at the fault.
        case signal(Int32)
        /// Stopped at the program's trap (`ud2`, `int3`) with this id: the state at it.
        case trapped(id: Int)
        case timeout
    }
    public var status: Status
    /// Encoding order; rsp included.
    public var registers: [UInt64]
    public var rflags: UInt64
    public var rip: UInt64
    /// The per-CPU value variables.
    public var perCPU: [UInt64]
    /// Stack words that differ from the fill, by word index from the entry rsp.
    public var changed: [Int: UInt64]

    public var zf: Bool { rflags & (1 << 6) != 0 }
    public var cf: Bool { rflags & 1 != 0 }
    public var sf: Bool { rflags & (1 << 7) != 0 }
    public var of: Bool { rflags & (1 << 11) != 0 }
}

/// Where the harness put things, and the native addresses of each program's return points.
public struct NativeLayout: Sendable {
    public var entryRSP: UInt64
    public var buffer: UInt64
    /// Half the size of the private stack mapping: addresses within this of the entry rsp are stack.
    public var stackSpan: UInt64
    public var returnPoints: [[UInt64]]
}

public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
}

/// The native side: every program of a batch in one gas file with a small C harness,
/// assembled with `as --64`, linked with `cc`, run once for all the batch's inputs.
///
/// The harness gives each run a private stack (a fresh mapping between guard pages,
/// filled with `OracleRandom.stackFill`), writes the caller's return address at the
/// entry rsp, sets all 16 registers and the flags, and jumps to the program. The
/// program's own `ret`s are assembled as a jump to `oracle_exit`, which stores every
/// register and rflags with rip-relative moves (nothing touches the private stack),
/// switches back to the host stack and returns to C — so a broken return address or
/// rsp is recorded, never followed, and the Swift side checks them. A local function's
/// `ret` is a real `ret`: if the program broke its return address it goes to data and
/// faults; after a tail call (`jmp` to a local function) that function's `ret` is the
/// path's, and goes to the caller's return address — a value no mapping holds, so it
/// faults there too, with rip telling which. A SIGSEGV/SIGBUS/SIGILL handler on its
/// own stack records the registers and flags from the signal context and
/// `siglongjmp`s back. An alarm bounds every run.
enum NativeHarness {
    static let stackSpanBytes: UInt64 = 128 * 1024

    static let cSource = #"""
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

extern uint64_t oracle_in[17], oracle_out[17], oracle_exit_id, oracle_input_ptr, oracle_v0, oracle_v1;
extern void *oracle_programs[];
extern uint64_t *oracle_return_points[];
extern uint64_t oracle_return_point_counts[];
extern uint64_t oracle_program_count;
extern void oracle_enter(void *program);

#define SPAN (128 * 1024)
static sigjmp_buf env;
static volatile sig_atomic_t fault;
static uint64_t fault_regs[16], fault_flags, fault_rip;
/* A mapping of its own, far from the code: values computed from its address are data,
   and a local ret to one of them must fault, never land in code. */
static uint64_t *buffer;

static uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static uint64_t fill(uint64_t seed, int64_t k) { return mix(seed ^ ((uint64_t)k * 0x1000001b3ULL)); }

static void on_signal(int sig, siginfo_t *info, void *context) {
    (void)info;
    ucontext_t *uc = context;
    greg_t *g = uc->uc_mcontext.gregs;
    static const int order[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                  REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
    for (int i = 0; i < 16; i++) fault_regs[i] = (uint64_t)g[order[i]];
    fault_flags = (uint64_t)g[REG_EFL];
    fault_rip = (uint64_t)g[REG_RIP];
    fault = sig;
    siglongjmp(env, 1);
}

int main(void) {
    static char altstack[1 << 16];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGALRM};
    for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &sa, 0);

    long page = sysconf(_SC_PAGESIZE);
    /* The stack and the buffer far apart, at addresses with scattered bits (the hints are
       only hints): a value computed from the buffer's address (3 * 2^44 is one) must
       never look like a stack address. */
    char *map = mmap((void *)0x6d39a6c10000ULL, 2 * SPAN + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) { perror("mmap"); return 2; }
    uint64_t *stack = (uint64_t *)(map + page);
    if (mprotect(stack, 2 * SPAN, PROT_READ | PROT_WRITE)) { perror("mprotect"); return 2; }
    uint64_t *entry = stack + SPAN / 8;
    buffer = mmap((void *)0x2b4c7d1e3000ULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buffer == MAP_FAILED) { perror("mmap"); return 2; }
    const int64_t words = SPAN / 8;
    oracle_input_ptr = (uint64_t)buffer;

    printf("E %llx %llx\n", (unsigned long long)entry, (unsigned long long)buffer);
    for (uint64_t p = 0; p < oracle_program_count; p++) {
        printf("P %llu", (unsigned long long)p);
        for (uint64_t k = 0; k < oracle_return_point_counts[p]; k++) printf(" %llx", (unsigned long long)oracle_return_points[p][k]);
        printf("\n");
    }
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        if (line[0] != 'R') continue;
        char *s = line + 1;
        unsigned long long prog = strtoull(s, &s, 10), run = strtoull(s, &s, 10);
        uint64_t regs[16];
        for (int i = 0; i < 16; i++) regs[i] = strtoull(s, &s, 16);
        uint64_t flags = strtoull(s, &s, 16), seed = strtoull(s, &s, 16), ret = strtoull(s, &s, 16);
        oracle_v0 = strtoull(s, &s, 16);
        oracle_v1 = strtoull(s, &s, 16);
        for (int i = 0; i < 64; i++) buffer[i] = strtoull(s, &s, 16);
        if (prog >= oracle_program_count) { printf("X bad program %llu\n", prog); continue; }
        for (int64_t k = -words; k < words; k++) entry[k] = fill(seed, k);
        entry[0] = ret;
        memcpy(oracle_in, regs, sizeof regs);
        oracle_in[4] = (uint64_t)entry;
        oracle_in[16] = flags;
        oracle_exit_id = ~0ULL;
        fault = 0;
        const char *status = "ok";
        uint64_t *out = oracle_out, rip = 0, rfl;
        alarm(2);
        if (sigsetjmp(env, 1) == 0) {
            oracle_enter(oracle_programs[prog]);
            rfl = oracle_out[16];
        } else {
            out = fault_regs;
            rfl = fault_flags;
            rip = fault_rip;
            status = fault == SIGALRM ? "timeout" : "signal";
        }
        alarm(0);
        printf("O %llu %llu %s %d %lld", prog, run, status, (int)fault, (long long)oracle_exit_id);
        for (int i = 0; i < 16; i++) printf(" %llx", (unsigned long long)out[i]);
        printf(" %llx %llx %llx %llx", (unsigned long long)rfl, (unsigned long long)rip,
               (unsigned long long)oracle_v0, (unsigned long long)oracle_v1);
        for (int64_t k = -words; k < words; k++) {
            uint64_t v = entry[k];
            if (v != fill(seed, k)) printf(" %lld:%llx", (long long)k, (unsigned long long)v);
        }
        printf("\n");
        fflush(stdout);
    }
    return 0;
}
"""#

    /// Entry and exit of the harness; all state goes through rip-relative globals.
    static let stubs = #"""
	.text
	.globl oracle_enter
oracle_enter:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, oracle_host_rsp(%rip)
	movq %rdi, oracle_target(%rip)
	leaq oracle_in(%rip), %rsi
	pushq 128(%rsi)
	popfq
	movq 0(%rsi), %rax
	movq 8(%rsi), %rcx
	movq 16(%rsi), %rdx
	movq 24(%rsi), %rbx
	movq 32(%rsi), %rsp
	movq 40(%rsi), %rbp
	movq 56(%rsi), %rdi
	movq 64(%rsi), %r8
	movq 72(%rsi), %r9
	movq 80(%rsi), %r10
	movq 88(%rsi), %r11
	movq 96(%rsi), %r12
	movq 104(%rsi), %r13
	movq 112(%rsi), %r14
	movq 120(%rsi), %r15
	movq 48(%rsi), %rsi
	jmp *oracle_target(%rip)

	.globl oracle_exit
oracle_exit:
	movq %rax, oracle_out+0(%rip)
	movq %rcx, oracle_out+8(%rip)
	movq %rdx, oracle_out+16(%rip)
	movq %rbx, oracle_out+24(%rip)
	movq %rsp, oracle_out+32(%rip)
	movq %rbp, oracle_out+40(%rip)
	movq %rsi, oracle_out+48(%rip)
	movq %rdi, oracle_out+56(%rip)
	movq %r8, oracle_out+64(%rip)
	movq %r9, oracle_out+72(%rip)
	movq %r10, oracle_out+80(%rip)
	movq %r11, oracle_out+88(%rip)
	movq %r12, oracle_out+96(%rip)
	movq %r13, oracle_out+104(%rip)
	movq %r14, oracle_out+112(%rip)
	movq %r15, oracle_out+120(%rip)
	movq oracle_host_rsp(%rip), %rsp
	pushfq
	popq oracle_out+128(%rip)
	cld
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

	.bss
	.balign 8
	.globl oracle_in, oracle_out, oracle_exit_id, oracle_input_ptr, oracle_v0, oracle_v1
oracle_v0: .skip 8
oracle_v1: .skip 8
oracle_in: .skip 136
oracle_out: .skip 136
oracle_exit_id: .skip 8
oracle_input_ptr: .skip 8
oracle_host_rsp: .skip 8
oracle_target: .skip 8

"""#

    /// The gas file for a batch of programs.
    static func assembly(_ programs: [OracleProgram]) -> String {
        var s = stubs + "\t.text\n"
        for (k, p) in programs.enumerated() {
            s += "\n# program \(k) (seed 0x\(String(p.seed, radix: 16)))\n" + p.gas(prefix: "p\(k)_")
        }
        s += "\n\t.data\n\t.balign 8\n\t.globl oracle_programs, oracle_return_points, oracle_return_point_counts, oracle_program_count\n"
        s += "oracle_program_count: .quad \(programs.count)\noracle_programs:\n"
        for k in programs.indices { s += "\t.quad p\(k)_\(OracleProgram.pathName)\n" }
        s += "oracle_return_points:\n"
        for k in programs.indices { s += "\t.quad p\(k)_return_points\n" }
        s += "oracle_return_point_counts:\n"
        for p in programs { s += "\t.quad \(p.callCount)\n" }
        for (k, p) in programs.enumerated() {
            s += "p\(k)_return_points:\n"
            for c in 0..<p.callCount { s += "\t.quad p\(k)_rp\(c)\n" }
            if p.callCount == 0 { s += "\t.quad 0\n" }
        }
        s += "\t.section .note.GNU-stack,\"\",@progbits\n"
        return s
    }

    /// The first of `as` and `cc` that cannot be found, if any.
    static func missingTool() -> String? {
        for tool in ["as", "cc"] where which(tool) == nil { return tool }
        return nil
    }

    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    @discardableResult
    static func execute(_ tool: String, _ args: [String], input: Data? = nil, timeout: TimeInterval = 120) throws -> Data {
        guard let exe = tool.hasPrefix("/") ? tool : which(tool) else { throw HarnessError(description: "\(tool) not found") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let inPipe = Pipe()
        p.standardInput = inPipe
        try p.run()
        // Read both pipes while the tool runs (a full pipe would stall it).
        let collected = OutputBox()
        let group = DispatchGroup()
        for (k, pipe) in [out, err].enumerated() {
            group.enter()
            DispatchQueue.global().async {
                let d = pipe.fileHandleForReading.readDataToEndOfFile()
                collected.set(k, d)
                group.leave()
            }
        }
        if let input { inPipe.fileHandleForWriting.write(input) }
        try? inPipe.fileHandleForWriting.close()
        if group.wait(timeout: .now() + timeout) == .timedOut {
            p.terminate()
            throw HarnessError(description: "\(tool) did not finish in \(Int(timeout)) s")
        }
        p.waitUntilExit()
        if p.terminationStatus != 0 || p.terminationReason != .exit {
            let e = String(decoding: collected.get(1), as: UTF8.self)
            throw HarnessError(description: "\(tool) \(args.joined(separator: " ")) failed (status \(p.terminationStatus)):\n\(e.prefix(4000))")
        }
        return collected.get(0)
    }

    final class OutputBox: @unchecked Sendable {
        let lock = NSLock()
        var data: [Int: Data] = [:]
        func set(_ k: Int, _ d: Data) { lock.lock(); data[k] = d; lock.unlock() }
        func get(_ k: Int) -> Data { lock.lock(); defer { lock.unlock() }; return data[k] ?? Data() }
    }

    /// Builds the batch's harness in `dir`; returns the executable's path.
    static func build(_ programs: [OracleProgram], in dir: URL) throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let s = dir.appendingPathComponent("programs.s"), o = dir.appendingPathComponent("programs.o")
        let c = dir.appendingPathComponent("harness.c"), exe = dir.appendingPathComponent("harness")
        try assembly(programs).write(to: s, atomically: true, encoding: .utf8)
        try cSource.write(to: c, atomically: true, encoding: .utf8)
        try execute("as", ["--64", "-o", o.path, s.path])
        try execute("cc", ["-O1", "-no-pie", "-o", exe.path, c.path, o.path])
        return exe.path
    }

    /// Runs every (program, run) input through the harness.
    static func run(executable: String, inputs: [(program: Int, run: Int, inputs: RunInputs)], programCount: Int) throws
        -> (NativeLayout, [[NativeResult?]]) {
        func hex(_ v: UInt64) -> String { String(v, radix: 16) }
        var text = ""
        for (p, r, i) in inputs {
            text += "R \(p) \(r) " + i.registers.map(hex).joined(separator: " ")
            text += " \(hex(i.rflags)) \(hex(i.stackSeed)) \(hex(i.returnAddress)) " + i.perCPU.map(hex).joined(separator: " ")
            text += " " + i.buffer.map(hex).joined(separator: " ") + "\n"
        }
        let out = String(decoding: try execute(executable, [], input: Data(text.utf8), timeout: 600), as: UTF8.self)
        var layout = NativeLayout(entryRSP: 0, buffer: 0, stackSpan: stackSpanBytes, returnPoints: Array(repeating: [], count: programCount))
        let runsPer = inputs.reduce(0) { max($0, $1.run + 1) }
        var results: [[NativeResult?]] = Array(repeating: Array(repeating: nil, count: runsPer), count: programCount)
        for line in out.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard let tag = f.first else { continue }
            switch tag {
            case "E":
                layout.entryRSP = UInt64(f[1], radix: 16) ?? 0
                layout.buffer = UInt64(f[2], radix: 16) ?? 0
            case "P":
                guard let p = Int(f[1]), p < programCount else { continue }
                layout.returnPoints[p] = f.dropFirst(2).compactMap { UInt64($0, radix: 16) }
            case "O":
                guard f.count >= 26, let p = Int(f[1]), let r = Int(f[2]), p < programCount, r < runsPer else { continue }
                let sig = Int32(f[4]) ?? 0
                var status: NativeResult.Status = f[3] == "ok" ? .exited(id: Int(f[5]) ?? -1) : f[3] == "timeout" ? .timeout : .signal(sig)
                // A program's ud2 (SIGILL) or int3 (SIGTRAP) after it stored its trap's id.
                if case .signal = status, sig == SIGILL || sig == SIGTRAP, let id = Int(f[5]), id >= OracleProgram.trapIDBase {
                    status = .trapped(id: id - OracleProgram.trapIDBase)
                }
                let regs = (6..<22).map { UInt64(f[$0], radix: 16) ?? 0 }
                var changed: [Int: UInt64] = [:]
                for w in f.dropFirst(26) {
                    let kv = w.split(separator: ":")
                    if kv.count == 2, let k = Int(kv[0]), let v = UInt64(kv[1], radix: 16) { changed[k] = v }
                }
                results[p][r] = NativeResult(status: status, registers: regs, rflags: UInt64(f[22], radix: 16) ?? 0,
                                             rip: UInt64(f[23], radix: 16) ?? 0,
                                             perCPU: [f[24], f[25]].map { UInt64($0, radix: 16) ?? 0 }, changed: changed)
            default:
                throw HarnessError(description: "unexpected harness output: \(line.prefix(200))")
            }
        }
        return (layout, results)
    }
}
