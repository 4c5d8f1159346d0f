import ArgumentParser
import BLAS
import Kafka
import OneRecDaemon
import Store

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the versions of onerec and its libraries, and the BLAS kernels in use.")

    func run() throws {
        print("onerec \(OneRecVersion.current)")
        let blas = try OpenBLAS.shared()
        print("blas: OpenBLAS core \(blas.coreName), selected \(blas.selection)")
        print("blas config: \(blas.config)")
        print("librdkafka \(librdkafkaVersion)")
        print(OpenStore.libraryVersion)
    }
}
