import BLAS
import Foundation
import Testing

@Suite struct CoreSelectionTests {
    @Test func avx512ChoosesSkylakeXAndAVX2ChoosesHaswell() {
        let avx512: Set = ["sse2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"]
        #expect(CoreSelection.fromCPU(avx512) == CoreSelection(coreType: "SkylakeX", source: .cpuFlags))
        #expect(CoreSelection.fromCPU(["sse2", "avx", "avx2", "fma"]) == CoreSelection(coreType: "Haswell", source: .cpuFlags))
        // AVX-512 F alone (no BW/DQ/VL) is not enough for the SkylakeX kernels.
        #expect(CoreSelection.fromCPU(["avx2", "fma", "avx512f"]).coreType == "Haswell")
        #expect(CoreSelection.fromCPU(["sse2", "sse3"]) == CoreSelection(coreType: nil, source: .library))
    }

    @Test func anOperatorsSettingWins() {
        let chosen = CoreSelection.automatic(environment: ["OPENBLAS_CORETYPE": "Zen"], cpuFlags: ["avx2", "fma"])
        #expect(chosen == CoreSelection(coreType: "Zen", source: .environment))
        #expect(CoreSelection.automatic(environment: ["OPENBLAS_CORETYPE": ""], cpuFlags: ["avx2", "fma"]).source == .cpuFlags)
        // onerec's own variable wins over OpenBLAS's.
        let flags: Set = ["avx2", "fma"]
        #expect(CoreSelection.automatic(environment: ["ONEREC_BLAS_CORE": "cpu", "OPENBLAS_CORETYPE": "Zen"], cpuFlags: flags)
            == CoreSelection(coreType: "Haswell", source: .cpuFlags))
        #expect(CoreSelection.automatic(environment: ["ONEREC_BLAS_CORE": "library", "OPENBLAS_CORETYPE": "Zen"], cpuFlags: flags)
            == CoreSelection(coreType: nil, source: .library))
        #expect(CoreSelection.automatic(environment: ["ONEREC_BLAS_CORE": "Sandybridge"], cpuFlags: flags)
            == CoreSelection(coreType: "Sandybridge", source: .environment))
        #expect(CoreSelection.automatic(environment: ["ONEREC_BLAS_CORE": "auto"], cpuFlags: flags).source == .cpuFlags)
    }

    @Test func flagsAreReadFromCpuinfo() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cpuinfo-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(CoreSelection.cpuFlags(cpuinfo: path) == ["fpu", "sse2", "avx2", "fma"])
        #expect(CoreSelection.cpuFlags(cpuinfo: path + ".missing").isEmpty)
    }
}
