#if canImport(Glibc)
import Glibc
#endif

/// The process's memory, as the C allocator manages it.
public enum ProcessMemory {
    /// Returns the pages of memory that was freed to the operating system.
    ///
    /// glibc's allocator keeps freed memory for reuse, and after a large transient allocation — the copy-on-write
    /// copies a checkpoint's snapshot causes while the processor keeps learning — that memory stays resident for
    /// good, growing the process by tens of MiB per million events. `malloc_trim(0)` releases every free page (not
    /// only the top of the heap); call it after such a transient, not on a hot path (it walks the heap: a few
    /// milliseconds for a few hundred MiB). Elsewhere than on glibc it does nothing.
    public static func releaseFreedMemory() {
        #if canImport(Glibc)
        _ = mallocTrim?(0)
        #endif
    }

    #if canImport(Glibc)
    /// glibc's `malloc_trim`, which `<malloc.h>` declares and the Glibc module does not export.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()
    #endif
}
