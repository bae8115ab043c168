/// Text inside XML and HTML reports: the five markup characters as entities, tab and
/// newline kept, and the control characters a format forbids replaced.
enum MarkupText {
    /// `control` gives the replacement of a scalar the format forbids (nil: keep it).
    static func escape(_ s: String, apostrophe: String, control: (Unicode.Scalar) -> String?) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += apostrophe
            case "\n", "\t": out.unicodeScalars.append(c)
            default:
                if let r = control(c) { out += r } else { out.unicodeScalars.append(c) }
            }
        }
        return out
    }
}
