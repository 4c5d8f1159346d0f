import Foundation
import LMDB

/// A fresh directory under the system temp folder, removed by `cleanup()`.
struct TempDirectory {
    let path: String

    init(_ name: String = #function) {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("onerec-lmdb-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// The path of an executable built next to the test bundle.
func builtExecutable(_ name: String) -> String {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = bundle.deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path) && dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    return dir.appendingPathComponent(name).path
}
