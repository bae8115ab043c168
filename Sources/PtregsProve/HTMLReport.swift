import Foundation
import SpecElaboration
import SpecSyntax
import StackSemantics

/// `--format html`: one self-contained page (inline CSS, script and SVG; nothing is
/// fetched): the verdict table (path × invariant), then each violation's mechanism, its
/// requirement, its blamed line and its replayed trace, with a drawing of the stack before
/// every step that buttons and the keyboard step through. The same report gives
/// byte-identical output (no dates, no randomness, ids in report order).
///
/// The stacks per step come from `ProverOptions.stackPerStep` (the command line turns it
/// on for this format); a trace recorded without them draws the blamed step's picture only.
public enum HTMLReport {
    /// Escapes text for HTML element content and attribute values (quoted with `"`).
    public static func escape(_ s: String) -> String {
        // Control characters (C0 and C1) are not allowed in HTML text.
        MarkupText.escape(s, apostrophe: "&#39;") { $0.value < 0x20 || ($0.value >= 0x7F && $0.value < 0xA0) ? "\u{FFFD}" : nil }
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// The hardware frame inside pt_regs: what IRET pops.
    static let iretFields: Set<String> = ["ip", "cs", "flags", "sp", "ss"]

    /// `pt_regs.cx (kernel_stack-0x8)` → `cx`.
    static func ptregsField(_ label: String) -> String? {
        guard label.hasPrefix("pt_regs.") else { return nil }
        let rest = label.dropFirst("pt_regs.".count)
        return String(rest.prefix { $0 != " " })
    }

    static func statusCell(_ r: InvariantResult) -> (word: String, cls: String) {
        switch r.status {
        case .fail: return ("violated", "fail")
        case .stale: return ("stale expectation", "stale")
        case .unknown: return ("unknown", "unknown")
        case .pass:
            if !r.limits.isEmpty && r.expected.isEmpty { return ("limit", "limit") }
            if r.expectedViolation { return ("expected", "expected") }
            return ("proved", "proved")
        }
    }

    public static func render(_ report: CheckReport) -> String {
        var out = """
        <!DOCTYPE html>
        <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
        <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="generator" content="ptregs-prove \(JSONReport.toolVersion)"/>
        <title>ptregs-prove report</title>
        <style>\(css)</style>
        </head>
        <body>
        <h1>ptregs-prove report</h1>

        """
        let summary = TextReport(colour: false).summary(report).trimmingCharacters(in: .whitespacesAndNewlines)
        out += "<p class=\"summary\" id=\"summary\">\(escape(summary))</p>\n"
        out += "<p class=\"exit\">exit status \(report.exitCode)</p>\n"
        if !report.diagnostics.isEmpty || !report.gate.isEmpty {
            out += "<h2>Input errors</h2>\n<ul class=\"diagnostics\">\n"
            for d in report.diagnostics {
                out += "<li><code>\(escape("\(d.location)"))</code>: \(escape(d.message))"
                if !d.notes.isEmpty {
                    out += "<ul>" + d.notes.map { "<li><code>\(escape("\($0.location)"))</code>: note: \(escape($0.message))</li>" }.joined() + "</ul>"
                }
                out += "</li>\n"
            }
            for g in report.gate { out += "<li><code>\(escape("\(g.location)"))</code>: \(escape(g.message))</li>\n" }
            out += "</ul>\n"
        }
        // The verdict table: one row per path, one column per invariant any path checked.
        let invariants = Invariant.allCases.filter { inv in report.paths.contains { $0.results.contains { $0.invariant == inv } } }
        var anchors: [String: String] = [:]   // "path index/invariant" → id of its first violation section
        var sections = ""
        var traceNumber = 0
        for (pi, p) in report.paths.enumerated() {
            for r in p.results {
                // One box per violation: a mechanism at several sites has one per site,
                // each with its own trace and disposition.
                for v in r.violations {
                    traceNumber += 1
                    let id = "v\(traceNumber)"
                    if anchors["\(pi)/\(r.invariant.rawValue)"] == nil { anchors["\(pi)/\(r.invariant.rawValue)"] = id }
                    sections += violationSection(id: id, path: p, result: r, violation: v)
                }
                if !r.staleExpectations.isEmpty || r.undecided != nil {
                    traceNumber += 1
                    let id = "v\(traceNumber)"
                    if anchors["\(pi)/\(r.invariant.rawValue)"] == nil { anchors["\(pi)/\(r.invariant.rawValue)"] = id }
                    sections += "<section class=\"violation\" id=\"\(id)\">\n<h3>\(escape(p.name)): \(escape(r.invariant.title))</h3>\n<ul>\n"
                    for e in r.staleExpectations {
                        sections += "<li class=\"stale\"><code>\(escape("\(e.location)"))</code>: <code>\(escape(e.heading))</code> \(escape(r.staleness(e)))</li>\n"
                    }
                    if let why = r.undecided { sections += "<li class=\"unknown\">unknown: \(escape(why))</li>\n" }
                    sections += "</ul>\n</section>\n"
                }
            }
        }
        if !report.paths.isEmpty {
            out += "<h2>Verdicts</h2>\n<div class=\"scroll\"><table class=\"verdicts\">\n<thead><tr><th>path</th><th>declared at</th>"
            for inv in invariants { out += "<th title=\"\(escape(inv.title))\">\(escape(inv.rawValue))</th>" }
            out += "</tr></thead>\n<tbody>\n"
            for (pi, p) in report.paths.enumerated() {
                out += "<tr><th class=\"path\">\(escape(p.name))\(p.assumptions.isEmpty ? "" : " <span class=\"assume\" title=\"checked under \(escape(RunAssumption.directives(p.assumptions)))\">(assume)</span>")</th><td><code>\(escape("\(p.location.file):\(p.location.line)"))</code></td>"
                for inv in invariants {
                    guard let r = p.results.first(where: { $0.invariant == inv }) else { out += "<td class=\"none\">—</td>"; continue }
                    let (word, cls) = statusCell(r)
                    var text = escape(word)
                    if let a = anchors["\(pi)/\(inv.rawValue)"] { text = "<a href=\"#\(a)\">\(text)</a>" }
                    out += "<td class=\"\(cls)\">\(text)</td>"
                }
                out += "</tr>\n"
            }
            out += "</tbody>\n</table></div>\n"
            out += "<p class=\"legend\"><span class=\"proved\">proved</span> <span class=\"fail\">violated</span> (not expected: the gate fails) <span class=\"expected\">expected</span> (a <code>.expect</code> names it) <span class=\"limit\">limit</span> (a <code>.limit</code>: the model reports it falsely) <span class=\"unknown\">unknown</span> <span class=\"stale\">stale expectation</span></p>\n"
        }
        if !sections.isEmpty {
            out += "<h2>Violations</h2>\n<p class=\"keys\">Step with the buttons, or with <kbd>←</kbd>/<kbd>→</kbd> (<kbd>Home</kbd>, <kbd>End</kbd>, <kbd>b</kbd> the blamed step) in the trace last clicked. A link to <code>#v1@3</code> opens trace <code>v1</code> at its step 3.</p>\n"
            out += sections
        }
        out += "<script>//<![CDATA[\n\(script)\n//]]></script>\n</body>\n</html>\n"
        return out
    }

    static func violationSection(id: String, path p: PathReport, result r: InvariantResult, violation first: Violation) -> String {
        let cx = first.counterexample, mechanism = first.mechanism
        let (word, cls): (String, String) = {
            switch first.acceptedBy {
            case nil: return ("violated", "fail")
            case let e? where e.kind == .violation: return ("expected violation", "expected")
            case _?: return ("model limit", "limit")
            }
        }()
        var s = "<section class=\"violation\" id=\"\(id)\">\n"
        s += "<h3><span class=\"badge \(cls)\">\(escape(word))</span> \(escape(p.name)): \(escape(r.invariant.title)) <code class=\"mechanism\">[\(escape("\(mechanism)"))]</code></h3>\n"
        s += "<dl>\n"
        s += "<dt>requirement</dt><dd>\(escape(cx.requirement))</dd>\n"
        s += "<dt>blamed line</dt><dd><code>\(escape("\(cx.location)"))</code> <code class=\"insn\">\(escape(cx.instruction))</code></dd>\n"
        if let m = cx.macroLocation { s += "<dt>expanded from</dt><dd><code>\(escape("\(m)"))</code></dd>\n" }
        if let o = cx.observation { s += "<dt>observed at</dt><dd><code>\(escape("\(o.location)"))</code> <code class=\"insn\">\(escape(o.instruction))</code></dd>\n" }
        for b in cx.related {
            s += "<dt>also wrong there</dt><dd><code>\(escape("\(b.location)"))</code> \(escape(b.message))</dd>\n"
        }
        let sites = r.sites(of: mechanism)
        if sites.count > 1 {
            s += "<dt>site</dt><dd><code>\(escape(first.site.label(among: sites)))</code>, one of \(sites.count): <code>\(escape(Site.list(sites)))</code></dd>\n"
        }
        if let exceeded = r.siteCountExceeded(first) {
            s += "<dt>not accepted</dt><dd>\(escape(exceeded))</dd>\n"
        }
        if let e = first.acceptedBy {
            s += "<dt>accepted by</dt><dd><code>\(escape("\(e.location)"))</code>\(e.reason.map { " " + escape($0) } ?? "")</dd>\n"
        }
        s += "<dt>why it matters</dt><dd>\(escape(TextReport.why(r.invariant)))</dd>\n"
        if !cx.values.isEmpty {
            s += "<dt>values</dt><dd>" + cx.values.map { "<code>\(escape($0.0)) = \(escape($0.1))</code>" }.joined(separator: ", ") + "</dd>\n"
        }
        if !cx.inputs.isEmpty {
            s += "<dt>inputs</dt><dd class=\"inputs\"><details><summary>\(cx.inputs.count) input\(cx.inputs.count == 1 ? "" : "s") of the replayed run</summary>" + cx.inputs.map { "<code>\(escape($0.0))=\(hex($0.1))</code>" }.joined(separator: " ") + "</details></dd>\n"
        }
        s += "</dl>\n"
        if !cx.steps.isEmpty { s += trace(id: id, cx) }
        s += "</section>\n"
        return s
    }

    /// The step list, the controls and one drawing per step (only the current one shown).
    static func trace(id: String, _ cx: Counterexample) -> String {
        let blamed = min(max(cx.blamedStepIndex, 0), cx.steps.count - 1)
        var s = "<div class=\"trace\" id=\"\(id)-trace\" data-blamed=\"\(blamed)\" data-steps=\"\(cx.steps.count)\" tabindex=\"0\">\n"
        s += "<div class=\"controls\"><button type=\"button\" class=\"prev\">◀ back</button> <button type=\"button\" class=\"next\">forward ▶</button> <button type=\"button\" class=\"toblamed\">blamed step</button> <span class=\"counter\" aria-live=\"polite\"></span></div>\n"
        s += "<div class=\"cols\">\n<ol class=\"steps\">\n"
        for (k, step) in cx.steps.enumerated() {
            let isBlamed = k == blamed
            let observed = k == cx.steps.count - 1 && !isBlamed
            var cls = [String]()
            if isBlamed { cls.append("blamed") }
            if observed { cls.append("observed") }
            if isBlamed { cls.append("cur") }
            let mark = isBlamed ? "<span class=\"mark\" title=\"blamed\">&gt;</span>" : observed ? "<span class=\"mark\" title=\"observed here\">*</span>" : "<span class=\"mark\"> </span>"
            s += "<li data-k=\"\(k)\"\(cls.isEmpty ? "" : " class=\"\(cls.joined(separator: " "))\"")>\(mark)<span class=\"ln\">\(step.sourceLocation.line)</span> <code>\(escape(step.text))</code></li>\n"
        }
        s += "</ol>\n<div class=\"pictures\">\n"
        for (k, step) in cx.steps.enumerated() {
            let isBlamed = k == blamed
            s += "<div class=\"step\" data-k=\"\(k)\"\(isBlamed ? "" : " hidden=\"hidden\"")>\n"
            var where_ = "\(step.location.file):\(step.location.line)"
            if let m = step.macro { where_ += " (macro \(m))" }
            s += "<p class=\"stephead\">before <code>\(escape(where_))</code> <code class=\"insn\">\(escape(step.text))</code>"
            if isBlamed { s += " <span class=\"badge fail\">blamed</span>" }
            if k == cx.steps.count - 1 && !isBlamed { s += " <span class=\"badge unknown\">observed here</span>" }
            s += "</p>\n<p class=\"regs\">rsp = <code>\(escape(step.rsp))</code>, return stack depth \(step.returnStackDepth), gs \(step.kernelGS ? "kernel" : "user")</p>\n"
            var picture = step.stack
            if picture.isEmpty && isBlamed { picture = cx.picture }
            let touched = Set(step.touched.map(\.address))
            if picture.isEmpty {
                s += "<p class=\"nopicture\">(no stack picture for this step: rsp is outside the stacks the path knows)</p>\n"
            } else {
                s += "<p class=\"pichead\">the stack before the step, highest address at the top (<span class=\"k-touched\">yellow</span>: slots this step reads or writes; <span class=\"k-garbage\">grey</span>: never written; <span class=\"k-ptregs\">blue outline</span>: pt_regs; <span class=\"k-iret\">orange dashes</span>: the IRET frame)</p>\n"
                s += svg(picture, touched: touched)
            }
            if !step.touched.isEmpty {
                s += "<p class=\"touchedhead\">slots the step read or wrote, after it ran:</p>\n<ul class=\"touched\">\n"
                for v in step.touched {
                    s += "<li><code>\(escape(v.label))</code>: <code>\(hex(v.value))</code> \(escape(v.holds))</li>\n"
                }
                s += "</ul>\n"
            }
            for n in step.notes { s += "<p class=\"note\">(\(escape(n)))</p>\n" }
            s += "</div>\n"
        }
        s += "</div>\n</div>\n</div>\n"
        return s
    }

    /// One slot per row, the highest address at the top: label, value, what it holds;
    /// the rsp arrow; pt_regs and the IRET frame inside it outlined.
    static func svg(_ slots: [SlotView], touched: Set<UInt64>) -> String {
        let rowH = 22, top = 8, left = 70, width = 860
        let labelX = left + 8, valueX = left + 290, holdsX = left + 440
        let height = top + rowH * slots.count + 8
        var s = "<svg class=\"stack\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"the stack, top down to rsp\">\n"
        func clip(_ t: String, _ n: Int) -> String { t.count > n ? String(t.prefix(n - 1)) + "…" : t }
        for (i, v) in slots.enumerated() {
            let y = top + i * rowH
            var cls = ["slot"]
            if v.holds == "garbage" { cls.append("garbage") }
            if touched.contains(v.address) { cls.append("touched") }
            if ptregsField(v.label) != nil { cls.append("ptregs") }
            s += "<g class=\"\(cls.joined(separator: " "))\">"
            // The whole text as a tooltip where the row cuts it short.
            if v.label.count > 40 || v.holds.count > 46 { s += "<title>\(escape("\(v.label) = \(hex(v.value)): \(v.holds)"))</title>" }
            s += "<rect x=\"\(left)\" y=\"\(y)\" width=\"\(width - left - 4)\" height=\"\(rowH)\"/>"
            s += "<text x=\"\(labelX)\" y=\"\(y + 15)\" class=\"label\">\(escape(clip(v.label, 40)))</text>"
            s += "<text x=\"\(valueX)\" y=\"\(y + 15)\" class=\"value\">\(hex(v.value))</text>"
            s += "<text x=\"\(holdsX)\" y=\"\(y + 15)\" class=\"holds\">\(escape(clip(v.holds, 46)))</text></g>\n"
            for marker in v.markers {
                if marker == "rsp" {
                    s += "<g class=\"rsp\"><line x1=\"4\" y1=\"\(y + rowH / 2)\" x2=\"\(left - 4)\" y2=\"\(y + rowH / 2)\"/><path d=\"M\(left - 4) \(y + rowH / 2) l-8 -5 v10 z\"/><text x=\"6\" y=\"\(y + rowH / 2 - 3)\">rsp</text></g>\n"
                } else {
                    s += "<text class=\"marker\" x=\"6\" y=\"\(y + rowH - 3)\">\(escape(marker))</text>\n"
                }
            }
        }
        // Outline contiguous runs of pt_regs slots, and of IRET frame slots inside them.
        func runs(_ inRun: (SlotView) -> Bool) -> [(Int, Int)] {
            var out: [(Int, Int)] = []
            var start: Int?
            for (i, v) in slots.enumerated() {
                if inRun(v) { if start == nil { start = i } } else if let st = start { out.append((st, i - 1)); start = nil }
            }
            if let st = start { out.append((st, slots.count - 1)) }
            return out
        }
        for (a, b) in runs({ ptregsField($0.label) != nil }) {
            let y = top + a * rowH, h = (b - a + 1) * rowH
            s += "<rect class=\"frame-ptregs\" x=\"\(left - 2)\" y=\"\(y - 2)\" width=\"\(width - left)\" height=\"\(h + 4)\"/>"
            s += "<text class=\"frame-label ptregs-label\" x=\"\(width - 10)\" y=\"\(y + h - 6)\" text-anchor=\"end\">pt_regs</text>\n"
        }
        for (a, b) in runs({ ptregsField($0.label).map(iretFields.contains) ?? false }) {
            let y = top + a * rowH, h = (b - a + 1) * rowH
            s += "<rect class=\"frame-iret\" x=\"\(left + 1)\" y=\"\(y + 1)\" width=\"\(width - left - 6)\" height=\"\(h - 2)\"/>"
            s += "<text class=\"frame-label iret-label\" x=\"\(width - 10)\" y=\"\(y + 15)\" text-anchor=\"end\">IRET frame</text>\n"
        }
        s += "</svg>\n"
        return s
    }

    static let css = """
    body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:1.2em 2em;color:#1b1b1b;background:#fff;line-height:1.4}
    h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin-top:1.4em;border-bottom:1px solid #ccc}h3{font-size:1.05em}
    code,kbd,.ln{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.92em}
    .summary{font-weight:600}.exit{color:#555;margin-top:-.6em}
    .scroll{overflow-x:auto}
    table.verdicts{border-collapse:collapse}table.verdicts th,table.verdicts td{border:1px solid #bbb;padding:3px 8px;text-align:left}
    table.verdicts thead th{background:#eee;font-weight:600}
    .proved{background:#dff3df}.fail{background:#f8d0d0;font-weight:600}.expected{background:#dbe8f7}.limit{background:#ece2f5}
    .unknown{background:#fbefc7}.stale{background:#f8d9b8}.none{color:#999}
    .legend span{padding:1px 6px;border-radius:3px;margin-right:.3em}
    .badge{padding:1px 7px;border-radius:3px;font-size:.9em}
    section.violation{border:1px solid #ccc;border-radius:6px;padding:.4em 1em 1em;margin:1em 0}
    dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{font-weight:600;color:#444}dd{margin:0}
    .inputs code{margin-right:.6em}
    .controls{margin:.6em 0}.controls button{font-size:1em;padding:3px 12px;margin-right:.3em}
    .counter{font-weight:600;margin-left:.6em}
    .trace:focus{outline:2px solid #7aa7e0;outline-offset:3px}
    .cols{display:flex;gap:1.2em;align-items:flex-start}
    ol.steps{list-style:none;padding:0;margin:0;min-width:22em;max-height:40em;overflow-y:auto;border:1px solid #ddd}
    ol.steps li{padding:1px 6px;cursor:pointer;white-space:nowrap}ol.steps li:hover{background:#f0f0f0}
    ol.steps li.cur{background:#d6e6fa}ol.steps li.blamed code{color:#b00000;font-weight:600}
    .mark{display:inline-block;width:1em;color:#b00000;font-weight:700}.ln{display:inline-block;width:3em;text-align:right;color:#777;margin-right:.5em}
    .stephead{margin:.1em 0}.regs{margin:.1em 0 .4em;color:#444}
    svg.stack{display:block;max-width:100%;height:auto;font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px}
    svg .slot rect{fill:#fff;stroke:#999}svg .slot.garbage rect{fill:#eee}svg .slot.garbage text{fill:#888}
    svg .slot.ptregs rect{fill:#f3f8ff}svg .slot.touched rect{fill:#fff3b0;stroke:#c9a000}
    svg .value{fill:#0a3a8a}svg .holds{fill:#333}
    svg .rsp line{stroke:#c00000;stroke-width:2}svg .rsp path{fill:#c00000}svg .rsp text,svg .marker{fill:#c00000;font-weight:700}
    svg .frame-ptregs{fill:none;stroke:#1f5fbf;stroke-width:2.5}svg .frame-iret{fill:none;stroke:#d07000;stroke-width:2;stroke-dasharray:6 3}
    svg .frame-label{font-weight:700;font-family:system-ui,sans-serif}svg .ptregs-label{fill:#1f5fbf}svg .iret-label{fill:#d07000}
    .pichead{margin:.2em 0;color:#444;font-size:.9em}.k-touched{background:#fff3b0}.k-garbage{background:#eee}
    .k-ptregs{color:#1f5fbf;font-weight:600}.k-iret{color:#d07000;font-weight:600}
    .pictures{flex:1;min-width:0}
    .touched{margin:.3em 0}.note{color:#555;margin:.2em 0}
    """

    /// Steps the trace last clicked or focused; no network, no storage.
    static let script = """
    (function(){
    var traces=document.querySelectorAll('.trace');var active=traces.length?traces[0]:null;
    function show(t,k){var steps=t.querySelectorAll('.step');var n=steps.length;if(!n)return;
    if(k<0)k=0;if(k>n-1)k=n-1;
    for(var i=0;i!==n;i++){steps[i].hidden=(i!==k);}
    var items=t.querySelectorAll('ol.steps li');for(var j=0;j!==items.length;j++){items[j].classList.toggle('cur',j===k);}
    if(items[k]&&items[k].scrollIntoView&&t.dataset.shown){items[k].scrollIntoView({block:'nearest'});}
    t.dataset.shown='1';t.dataset.current=String(k);var b=Number(t.dataset.blamed);
    t.querySelector('.counter').textContent='step '+(k+1)+' of '+n+(k===b?' (blamed)':(k===n-1?' (observed)':''));
    t.querySelector('.prev').disabled=(k===0);t.querySelector('.next').disabled=(k===n-1);}
    function cur(t){return Number(t.dataset.current||t.dataset.blamed||0);}
    Array.prototype.forEach.call(traces,function(t){
    t.querySelector('.prev').addEventListener('click',function(){active=t;show(t,cur(t)-1);});
    t.querySelector('.next').addEventListener('click',function(){active=t;show(t,cur(t)+1);});
    t.querySelector('.toblamed').addEventListener('click',function(){active=t;show(t,Number(t.dataset.blamed));});
    Array.prototype.forEach.call(t.querySelectorAll('ol.steps li'),function(li){li.addEventListener('click',function(){active=t;show(t,Number(li.dataset.k));});});
    t.addEventListener('focusin',function(){active=t;});t.addEventListener('mousedown',function(){active=t;});
    show(t,Number(t.dataset.blamed));});
    var m=/^#(v[0-9]+)@([0-9]+)$/.exec(location.hash);
    if(m){var t0=document.getElementById(m[1]+'-trace');if(t0){active=t0;show(t0,Number(m[2])-1);t0.scrollIntoView();}}
    document.addEventListener('keydown',function(e){if(!active||e.altKey||e.ctrlKey||e.metaKey)return;
    var k=cur(active);var n=active.querySelectorAll('.step').length;
    if(e.key==='ArrowRight'||e.key==='ArrowDown'||e.key==='j'){show(active,k+1);}
    else if(e.key==='ArrowLeft'||e.key==='ArrowUp'||e.key==='k'){show(active,k-1);}
    else if(e.key==='Home'){show(active,0);}else if(e.key==='End'){show(active,n-1);}
    else if(e.key==='b'){show(active,Number(active.dataset.blamed));}else{return;}
    e.preventDefault();});
    document.body.setAttribute('data-ready','1');
    })();
    """
}
