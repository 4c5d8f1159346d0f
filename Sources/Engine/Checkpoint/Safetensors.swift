import Foundation

/// Why a checkpoint was refused.
public struct CheckpointError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Checkpoints in the safetensors format (8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw little-endian data), so numpy and PyTorch read them.
/// onerec adds a CRC-32C of the data section to the header's `__metadata__` and refuses a file whose
/// data does not match it, whose header is malformed, or whose ranges do not tile the data exactly.
public enum Safetensors {
    static let checksumKey = "onerec.crc32c"

    /// Writes `tensors` (named) and `metadata` to `path` atomically: a temporary file in the same
    /// directory, fsynced, renamed over `path`, and the directory fsynced.
    public static func save(_ tensors: [Tensor], metadata: [String: String] = [:], to path: String) throws {
        var header: [String: Any] = [:]
        var offset = 0
        let named = tensors.map { t -> (String, Tensor) in
            guard let name = t.name else { preconditionFailure("checkpoint tensor without a name, shape \(t.shape)") }
            return (name, t)
        }
        precondition(Set(named.map(\.0)).count == named.count, "checkpoint tensor names must be unique")
        var crc = CRC32C()
        for (name, t) in named {
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + t.count * 4]]
            offset += t.count * 4
            crc.update(UnsafeRawBufferPointer(start: t.data, count: t.count * 4))
        }
        var meta = metadata
        meta[checksumKey] = String(crc.value, radix: 16)
        header["__metadata__"] = meta
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }  // the format pads the header with spaces to 8 bytes

        let directory = (path as NSString).deletingLastPathComponent
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw CheckpointError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        do {
            defer { close(fd) }
            let length = UInt64(json.count).littleEndian
            try withUnsafeBytes(of: length) { try writeAll(fd, $0, temporary) }
            try json.withUnsafeBytes { try writeAll(fd, $0, temporary) }
            for (_, t) in named { try writeAll(fd, UnsafeRawBufferPointer(start: t.data, count: t.count * 4), temporary) }
            guard fsync(fd) == 0 else { throw CheckpointError("fsync \(temporary): \(String(cString: strerror(errno)))") }
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CheckpointError("rename \(temporary) to \(path): \(reason)")
        }
        let dir = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }

    /// Reads a checkpoint. With `requireChecksum` (default) the file must carry onerec's checksum and
    /// match it; files written elsewhere can be read with `requireChecksum: false` (structure still checked).
    public static func load(_ path: String, requireChecksum: Bool = true) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CheckpointError("cannot read checkpoint \(path)")
        }
        guard data.count >= 8 else { throw CheckpointError("\(path) is truncated: \(data.count) bytes") }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8), headerLength <= 100_000_000 else {
            throw CheckpointError("\(path) is truncated or not a safetensors file: header of \(headerLength) bytes")
        }
        let dataStart = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: data[8..<dataStart]) as? [String: Any] else {
            throw CheckpointError("\(path) has a malformed header")
        }
        let metadata = (header["__metadata__"] as? [String: String]) ?? [:]
        var entries: [(name: String, shape: [Int], start: Int, end: Int)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw CheckpointError("\(path): tensor \(name) has a malformed header entry")
            }
            guard dtype == "F32" else { throw CheckpointError("\(path): tensor \(name) is \(dtype); onerec reads F32 only") }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[1] - offsets[0] == shape.reduce(4, *) else {
                throw CheckpointError("\(path): tensor \(name) has \(offsets[1] - offsets[0]) bytes for shape \(shape)")
            }
            entries.append((name, shape, offsets[0], offsets[1]))
        }
        // The ranges must tile the data section exactly: no gaps, no overlaps, nothing past the end.
        entries.sort { $0.start < $1.start }
        var cursor = 0
        for e in entries {
            guard e.start == cursor else { throw CheckpointError("\(path): tensor \(e.name) starts at \(e.start), expected \(cursor)") }
            cursor = e.end
        }
        guard dataStart + cursor == data.count else {
            throw CheckpointError("\(path) is truncated or has trailing bytes: data section of \(data.count - dataStart) bytes, header says \(cursor)")
        }
        try data.withUnsafeBytes { raw in
            let body = UnsafeRawBufferPointer(rebasing: raw[dataStart...])
            if let expected = metadata[checksumKey] {
                let actual = String(CRC32C.checksum(body), radix: 16)
                guard actual == expected else { throw CheckpointError("\(path) is corrupt: checksum \(actual), header says \(expected)") }
            } else if requireChecksum {
                throw CheckpointError("\(path) has no onerec checksum")
            }
        }
        var tensors: [String: Tensor] = [:]
        for e in entries {
            let t = Tensor(shape: e.shape, name: e.name)
            data.withUnsafeBytes { raw in
                UnsafeMutableRawPointer(t.data).copyMemory(from: raw.baseAddress! + dataStart + e.start, byteCount: e.end - e.start)
            }
            tensors[e.name] = t
        }
        return (tensors, metadata)
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw CheckpointError("write \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
    }
}
