import COpenBLAS
import Glibc
import Synchronization

/// Why OpenBLAS could not be used.
public struct BLASError: Error, CustomStringConvertible {
    public let description: String
}

/// OpenBLAS, opened once per process with the kernel set chosen by `CoreSelection`.
///
/// The library is opened with dlopen (not linked) so that `OPENBLAS_CORETYPE` is in place before the
/// library's constructor reads it. Every process gets the fast kernels on its own: the daemon, the CLI
/// and the test runners alike.
public final class OpenBLAS: Sendable {
    /// The selection that was asked for.
    public let selection: CoreSelection
    /// The kernel set the library reports it is running (`openblas_get_corename`).
    public let coreName: String
    /// The library's build configuration (`openblas_get_config`).
    public let config: String

    let sgemmFn: onerec_sgemm_fn
    let sgemvFn: onerec_sgemv_fn
    let saxpyFn: onerec_saxpy_fn
    let sdotFn: onerec_sdot_fn
    private let setThreadsFn: onerec_set_threads_fn
    private let getThreadsFn: onerec_get_threads_fn

    private static let loaded = Mutex<Result<OpenBLAS, BLASError>?>(nil)

    /// The process's OpenBLAS. The first call opens it with `selection` (default: automatic); later calls
    /// return the same library whatever they pass, since the kernel set cannot change once loaded.
    public static func shared(_ selection: @autoclosure () -> CoreSelection = .automatic(
        environment: ProcessInfoLite.environment, cpuFlags: CoreSelection.cpuFlags())
    ) throws -> OpenBLAS {
        try loaded.withLock { state in
            if let state { return try state.get() }
            let result = Result { () throws(BLASError) in try OpenBLAS(selection: selection()) }
            state = result
            return try result.get()
        }
    }

    private init(selection: CoreSelection) throws(BLASError) {
        if let core = selection.coreType {
            setenv("OPENBLAS_CORETYPE", core, 1)
        } else {
            unsetenv("OPENBLAS_CORETYPE")
        }
        guard let handle = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown reason"
            throw BLASError(description: "cannot load OpenBLAS (\(reason)): install it with 'apt-get install libopenblas0-pthread'")
        }
        func symbol<F>(_ name: String, as _: F.Type) throws(BLASError) -> F {
            guard let pointer = dlsym(handle, name) else {
                throw BLASError(description: "OpenBLAS has no symbol \(name): the installed libopenblas is not usable")
            }
            return unsafeBitCast(pointer, to: F.self)
        }
        self.selection = selection
        sgemmFn = try symbol("cblas_sgemm", as: onerec_sgemm_fn.self)
        sgemvFn = try symbol("cblas_sgemv", as: onerec_sgemv_fn.self)
        saxpyFn = try symbol("cblas_saxpy", as: onerec_saxpy_fn.self)
        sdotFn = try symbol("cblas_sdot", as: onerec_sdot_fn.self)
        setThreadsFn = try symbol("openblas_set_num_threads", as: onerec_set_threads_fn.self)
        getThreadsFn = try symbol("openblas_get_num_threads", as: onerec_get_threads_fn.self)
        let coreNameFn = try symbol("openblas_get_corename", as: onerec_get_string_fn.self)
        let configFn = try symbol("openblas_get_config", as: onerec_get_string_fn.self)
        coreName = coreNameFn().map { String(cString: $0) } ?? "unknown"
        config = configFn().map { String(cString: $0) } ?? "unknown"
    }

    /// Threads OpenBLAS uses for one call.
    public var threads: Int {
        get { Int(getThreadsFn()) }
    }

    /// Sets the threads OpenBLAS uses for one call (at least 1).
    public func setThreads(_ count: Int) {
        precondition(count >= 1, "OpenBLAS needs at least one thread, got \(count)")
        setThreadsFn(Int32(count))
    }
}

/// The environment without Foundation (this module sits below it in the layering).
public enum ProcessInfoLite {
    public static var environment: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            pointer += 1
        }
        return result
    }
}
