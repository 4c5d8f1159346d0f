/// Big-endian key encoding: LMDB compares keys as bytes, so big-endian integers sort numerically
/// and composite keys (`user, timestamp`) sort by their first field, then the next.
public struct KeyBuilder: Sendable {
    @usableFromInline var storage: [UInt8] = []
    public var bytes: [UInt8] { storage }
    public init() {}

    @inlinable public mutating func append<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { storage.append(contentsOf: $0) }
    }

    @inlinable public mutating func append(_ raw: some Sequence<UInt8>) { storage.append(contentsOf: raw) }

    @inlinable public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes(body)
    }

    /// Empties the key, keeping its storage for the next one.
    @inlinable public mutating func removeAll() { storage.removeAll(keepingCapacity: true) }

    /// The key made of `values`, each big-endian, in order.
    @inlinable public static func key<T: FixedWidthInteger>(_ values: T...) -> [UInt8] {
        var builder = KeyBuilder()
        for v in values { builder.append(v) }
        return builder.bytes
    }
}

/// Reads the fields of a key written by `KeyBuilder`, in order.
public struct KeyReader {
    private let bytes: [UInt8]
    private var offset = 0
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The next big-endian integer; traps if the key is shorter than the layout the caller expects.
    public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) -> T {
        let size = MemoryLayout<T>.size
        precondition(offset + size <= bytes.count, "key of \(bytes.count) bytes has no \(T.self) at \(offset)")
        var value = T.zero
        for i in 0..<size { value = (value << 8) | T(truncatingIfNeeded: bytes[offset + i]) }
        offset += size
        return value
    }
}
