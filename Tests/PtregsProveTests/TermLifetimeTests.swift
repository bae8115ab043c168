import StackSemantics
import Testing

/// A term is a reference into its factory's store without reference counting; kept past
/// its factory it must never read freed memory. Stores outlive factories (they are
/// emptied and reused), and a term knows its store's generation.
@Suite struct TermLifetimeTests {
    /// Made by a factory that is gone when this returns.
    static func termOfAnEndedFactory() -> Term {
        let f = TermFactory()
        return f.add(f.variable("x"), f.const(1))
    }

    @Test func aTermKeptPastItsFactoryIsNotAlive() {
        let kept = Self.termOfAnEndedFactory()
        #expect(!kept.isAlive)
        // The next factory may reuse the store: its terms are alive, and none is the kept one.
        let g = TermFactory()
        let fresh = [g.variable("x"), g.const(1), g.add(g.variable("x"), g.const(1))]
        #expect(fresh.allSatisfy { $0.isAlive })
        #expect(!fresh.contains(kept))
        #expect(!kept.isAlive)
    }

    @Test func aTermOfALiveFactoryIsAlive() {
        let f = TermFactory()
        let t = f.ite(f.boolVariable("c"), f.variable("x"), f.const(8))
        #expect(t.isAlive && t.args.allSatisfy { $0.isAlive })
        #expect(t.description == "ite(c, x, 8)")
    }

    @Test func readingATermAfterItsFactoryEndedTraps() async {
        await #expect(processExitsWith: .failure) {
            let kept = TermTrapProbe.termOfAnEndedFactory()
            print(kept.op, kept.payload, kept.args.count)
        }
    }

    @Test func readingArgumentsKeptPastTheirFactoryTraps() async {
        await #expect(processExitsWith: .failure) {
            let f = TermFactory()
            let args = f.add(f.variable("x"), f.variable("y")).args
            _ = consume f
            print(args[0].op)
        }
    }

    /// Another factory's term would put an id into this store that points past its end.
    @Test func aTermOfAnotherFactoryIsRefused() async {
        await #expect(processExitsWith: .failure) {
            let f = TermFactory(), g = TermFactory()
            let wrong = f.add(g.variable("x"), f.variable("y"))
            print(wrong.args[0].op, g.count)
        }
    }
}

/// Exit tests run their body in a child process: no captured state, only globals.
enum TermTrapProbe {
    static func termOfAnEndedFactory() -> Term {
        let f = TermFactory()
        return f.add(f.variable("x"), f.const(1))
    }
}
