import BLAS

/// The process's OpenBLAS. The daemon and the commands load it first (a missing library is reported
/// there as an environment error); by the time the engine computes, it is loaded.
let blas: OpenBLAS = {
    do {
        return try OpenBLAS.shared()
    } catch {
        preconditionFailure("the engine needs OpenBLAS: \(error)")
    }
}()
