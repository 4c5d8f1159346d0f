import Glibc

/// Which OpenBLAS kernel set ("core") to ask for, and why.
///
/// Debian's OpenBLAS is built with DYNAMIC_ARCH and picks its kernels once, when the library is loaded,
/// from the CPU id or from `OPENBLAS_CORETYPE`. Version 0.3.21 does not know recent CPU models and falls
/// back to "Prescott" (SSE3), 4-5x slower than the AVX2/AVX-512 kernels the CPU actually runs. So onerec
/// chooses from the CPU's feature flags itself and sets the variable before it loads the library.
public struct CoreSelection: Sendable, Equatable, CustomStringConvertible {
    public enum Source: String, Sendable {
        /// Set in the environment (`ONEREC_BLAS_CORE`, else `OPENBLAS_CORETYPE`): respected as given.
        case environment
        /// Chosen by onerec from the CPU flags in /proc/cpuinfo.
        case cpuFlags = "cpu-flags"
        /// Left to the library's own detection (no AVX2 seen, or asked for).
        case library
    }

    /// The value given to `OPENBLAS_CORETYPE`, or nil to let the library detect.
    public let coreType: String?
    public let source: Source

    public init(coreType: String?, source: Source) {
        self.coreType = coreType
        self.source = source
    }

    public var description: String { "\(coreType ?? "library-detected") (\(source.rawValue))" }

    /// The operator's word if there is one, else the best kernel set the CPU supports:
    /// 1. `ONEREC_BLAS_CORE`: `cpu` (choose from the CPU flags, ignoring `OPENBLAS_CORETYPE`), `library`
    ///    (the library's own detection), or a kernel name such as `Haswell`;
    /// 2. `OPENBLAS_CORETYPE`, the variable every OpenBLAS program honours;
    /// 3. the CPU flags.
    public static func automatic(environment: [String: String], cpuFlags: Set<String>) -> CoreSelection {
        switch environment["ONEREC_BLAS_CORE"] {
        case "cpu": return fromCPU(cpuFlags)
        case "library": return CoreSelection(coreType: nil, source: .library)
        case let name? where !name.isEmpty && name != "auto": return CoreSelection(coreType: name, source: .environment)
        default: break
        }
        if let given = environment["OPENBLAS_CORETYPE"], !given.isEmpty {
            return CoreSelection(coreType: given, source: .environment)
        }
        return fromCPU(cpuFlags)
    }

    /// The best kernel set for these CPU flags: AVX-512 (F, BW, DQ, VL: what OpenBLAS's SkylakeX kernels
    /// use) -> SkylakeX; AVX2 with FMA -> Haswell; anything older -> the library's own choice.
    public static func fromCPU(_ flags: Set<String>) -> CoreSelection {
        #if arch(x86_64)
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl"]) {
            return CoreSelection(coreType: "SkylakeX", source: .cpuFlags)
        }
        if flags.isSuperset(of: ["avx2", "fma"]) {
            return CoreSelection(coreType: "Haswell", source: .cpuFlags)
        }
        #endif
        return CoreSelection(coreType: nil, source: .library)
    }

    /// The flags of the first processor in /proc/cpuinfo (empty where there is no such file).
    public static func cpuFlags(cpuinfo path: String = "/proc/cpuinfo") -> Set<String> {
        guard let file = fopen(path, "r") else { return [] }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("flags") || text.hasPrefix("Features"), let colon = text.firstIndex(of: ":") else {
                continue
            }
            return Set(text[text.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        }
        return []
    }
}
