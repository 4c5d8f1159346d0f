import Engine
import EngineSupport
import Foundation
import Testing

@Suite struct CheckpointTests {
    func tensors() -> [Tensor] {
        let a = randomTensor([3, 4], seed: 1)
        a.name = "encoder.layer0.weight"
        let b = randomTensor([5], seed: 2)
        b.name = "encoder.norm"
        return [a, b]
    }

    func path() -> String { FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID()).safetensors").path }

    @Test func roundTripsExactly() throws {
        let file = path()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let saved = tensors()
        try Safetensors.save(saved, metadata: ["step": "42"], to: file)
        let (loaded, metadata) = try Safetensors.load(file)
        #expect(metadata["step"] == "42")
        for t in saved {
            #expect(loaded[t.name!]?.shape == t.shape)
            #expect(loaded[t.name!]?.values == t.values)
        }
        #expect(!FileManager.default.fileExists(atPath: file + ".tmp-\(getpid())"))
    }

    /// The disk fills while a checkpoint is written (its temporary file is made to point at /dev/full,
    /// which answers every write with ENOSPC): the save fails with the reason, the previous checkpoint
    /// is intact and loads, and nothing is left behind.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/full"), "no /dev/full"))
    func aFullDiskLeavesThePreviousCheckpointIntact() throws {
        let file = path()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let saved = tensors()
        try Safetensors.save(saved, metadata: ["step": "1"], to: file)
        let temporary = file + ".tmp-\(getpid())"
        try FileManager.default.createSymbolicLink(atPath: temporary, withDestinationPath: "/dev/full")
        let failure = #expect(throws: CheckpointError.self) {
            try Safetensors.save(saved.map { t in let u = randomTensor(t.shape, seed: 9); u.name = t.name; return u }, metadata: ["step": "2"], to: file)
        }
        #expect(failure?.description.contains("No space left on device") == true, "\(failure.map { "\($0)" } ?? "")")
        let (loaded, metadata) = try Safetensors.load(file)
        #expect(metadata["step"] == "1" && saved.allSatisfy { loaded[$0.name!]?.values == $0.values })
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: temporary)) == nil)
    }

    @Test func aFlippedByteTruncationOrGarbageIsRefused() throws {
        let file = path()
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Safetensors.save(tensors(), to: file)
        let good = try Data(contentsOf: URL(fileURLWithPath: file))

        var flipped = good
        flipped[flipped.count - 3] ^= 0x40
        try flipped.write(to: URL(fileURLWithPath: file))
        #expect(throws: CheckpointError.self) { try Safetensors.load(file) }

        try good.prefix(good.count - 4).write(to: URL(fileURLWithPath: file))
        let truncated = #expect(throws: CheckpointError.self) { try Safetensors.load(file) }
        #expect(truncated?.description.contains("truncated") == true)

        try Data(repeating: 0xFF, count: 64).write(to: URL(fileURLWithPath: file))
        #expect(throws: CheckpointError.self) { try Safetensors.load(file) }
        try good.prefix(5).write(to: URL(fileURLWithPath: file))
        #expect(throws: CheckpointError.self) { try Safetensors.load(file) }
    }

    @Test func anotherProgramReadsItByTheSpecification() throws {
        // Python's standard library only: the 8-byte length, the JSON header, the raw little-endian floats.
        let file = path()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let saved = tensors()
        try Safetensors.save(saved, to: file)
        let script = """
        import json, struct, sys
        raw = open(sys.argv[1], 'rb').read()
        n = struct.unpack('<Q', raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        info = header['encoder.layer0.weight']
        start, end = info['data_offsets']
        values = struct.unpack('<%df' % ((end - start) // 4), raw[8 + n + start:8 + n + end])
        print(info['dtype'], info['shape'], '%.6f' % values[5])
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, file]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == "F32 [3, 4] \(String(format: "%.6f", saved[0][5]))")
    }

    @Test func optimiserStateRoundTrips() throws {
        let file = path()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let p = randomTensor([2, 2], seed: 3)
        p.name = "w"
        let adam = AdamW(parameters: [p])
        for i in 0..<4 { p.gradBuffer()[i] = Float(i) }
        adam.update()
        try Safetensors.save([p] + adam.state.tensors, metadata: ["step": "\(adam.state.step)"], to: file)
        let (loaded, metadata) = try Safetensors.load(file)
        let restored = AdamW(parameters: [p])
        try restored.restore(step: Int(metadata["step"]!)!, tensors: loaded)
        #expect(restored.step == 1)
        #expect(restored.state.tensors.map(\.values) == adam.state.tensors.map(\.values))
    }
}
