import Foundation

/// What each fuzz target's `main` hands over to: libFuzzer's driver in a `-sanitize=fuzzer` build
/// (`-DFUZZING`), otherwise a replay of the files and directories named on the command line.
///
/// A target defines `LLVMFuzzerTestOneInput` (calling its check) and, under FUZZING, the `main` SwiftPM
/// links an executable to (`<product name with _>_main`), which calls `runFuzzer`.
public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>, Int) -> CInt

#if FUZZING
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, _ callback: FuzzCallback) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &arguments, callback)
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: FuzzCallback) -> CInt
#endif

/// Runs `check` on every file in the directories or files given; prints how many.
public func replay(_ paths: [String], _ check: ([UInt8]) -> Void) throws {
    var count = 0
    for path in paths {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CocoaError(.fileNoSuchFile) }
        let files = isDirectory.boolValue ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" } : [path]
        for file in files {
            check(Array(try Data(contentsOf: URL(fileURLWithPath: file))))
            count += 1
        }
    }
    print("replayed \(count) inputs")
}
