/// Byte-level text helpers. Spec syntax is ASCII, and in UTF-8 an ASCII byte never
/// occurs inside a multi-byte scalar, so testing bytes against ASCII gives the same
/// answers as testing scalars, without decoding anything.
extension UInt8 {
    /// Blank within a line: the bytes of `Unicode.Scalar.isSpecSpace`.
    @inlinable public var isSpecSpace: Bool { self == 0x20 || self == 0x09 || self == 0x0D || self == 0x0B || self == 0x0C }
    @inlinable public var isASCIILetter: Bool { (self | 0x20) >= 0x61 && (self | 0x20) <= 0x7A }
    @inlinable public var isASCIIDigit: Bool { self >= 0x30 && self <= 0x39 }
    @inlinable public var isIdentStart: Bool { self == 0x5F || self == 0x2E || isASCIILetter }
    @inlinable public var isIdentChar: Bool { isIdentStart || isASCIIDigit || self == 0x24 }
    /// A byte that continues a multi-byte scalar (it starts no column of its own).
    @inlinable public var isUTF8Continuation: Bool { self & 0xC0 == 0x80 }
    @inlinable public var asciiLowercased: UInt8 { self >= 0x41 && self <= 0x5A ? self | 0x20 : self }
}

extension StringProtocol {
    /// All bytes ASCII: then bytes, scalars and characters coincide (text never holds
    /// `\r\n`, the one ASCII pair that is a single character).
    @inlinable public var isASCII: Bool {
        if let ascii = utf8.withContiguousStorageIfAvailable({ bytes -> Bool in
            for b in bytes where b >= 0x80 { return false }
            return true
        }) { return ascii }
        return utf8.allSatisfy { $0 < 0x80 }
    }

    /// Whether the UTF-8 text has this byte.
    @inlinable public func containsByte(_ byte: UInt8) -> Bool {
        if let found = utf8.withContiguousStorageIfAvailable({ bytes -> Bool in
            for b in bytes where b == byte { return true }
            return false
        }) { return found }
        return utf8.contains(byte)
    }

    /// Foundation's `trimmingCharacters(in: .whitespaces)` without bridging to NSString:
    /// it trims scalars of `CharacterSet.whitespaces`, which in swift-corelibs-foundation
    /// is tab, space, U+00A0, U+1680, U+2000…U+200B, U+202F, U+205F and U+3000.
    public func trimmingWhitespaces() -> String {
        // Blanks are ASCII: when the ends left are ASCII too, the bytes tell.
        let byBytes = utf8.withContiguousStorageIfAvailable { b -> String? in
            var start = 0, end = b.count
            while start < end, b[start] == 0x20 || b[start] == 0x09 { start += 1 }
            while end > start, b[end - 1] == 0x20 || b[end - 1] == 0x09 { end -= 1 }
            guard start == end || (b[start] < 0x80 && b[end - 1] < 0x80) else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
        }
        if let trimmed = byBytes ?? nil { return trimmed }
        var scalars = Substring(self).unicodeScalars
        while let f = scalars.first, f.isFoundationWhitespace { scalars.removeFirst() }
        while let l = scalars.last, l.isFoundationWhitespace { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}

extension Unicode.Scalar {
    /// A member of Foundation's `CharacterSet.whitespaces`.
    @inlinable public var isFoundationWhitespace: Bool {
        switch value {
        case 0x09, 0x20, 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }
}

/// Column counting over UTF-8: a column is a scalar, so continuation bytes add none.
/// Offsets must be asked for in increasing order; the count is kept, so a whole line
/// costs one pass however many locations are taken from it.
public struct ScalarColumnCounter {
    private var byteOffset = 0
    private var scalarOffset = 0

    public init() {}

    public mutating func column(at k: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        if k < byteOffset { byteOffset = 0; scalarOffset = 0 }
        while byteOffset < k {
            if !bytes[byteOffset].isUTF8Continuation { scalarOffset += 1 }
            byteOffset += 1
        }
        return scalarOffset
    }
}
