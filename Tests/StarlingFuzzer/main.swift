// The libFuzzer driver: `scripts/fuzz TARGET SECONDS` builds it with coverage instrumentation and AddressSanitizer
// and links libFuzzer's runtime (without its `main`); STARLING_FUZZ_TARGET names the target, every argument goes
// to libFuzzer. A trap, a sanitizer report or a FuzzFinding (turned into an abort) makes libFuzzer write the input
// as a crash artifact.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import StarlingCore
import StarlingFuzzing

@_silgen_name("LLVMFuzzerRunDriver")
func runLibFuzzer(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

// `scripts/fuzz --write-corpus`: replace the checked-in seed corpus with samples from the encoders.
if getenv("STARLING_FUZZ_WRITE_CORPUS") != nil {
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        do {
            for (target, samples) in try await SeedCorpus.generate() {
                try CheckedInCorpus.write(samples, of: target)
                print("\(target): \(samples.count) samples in \(CheckedInCorpus.directory)/\(target)")
            }
        } catch {
            print("Cannot write the corpus: \(error)")
            exit(1)
        }
        done.signal()
    }
    done.wait()
    exit(0)
}

let names = FuzzTargets.all.map(\.name).joined(separator: ", ")
guard let name = getenv("STARLING_FUZZ_TARGET").map({ String(cString: $0) }), FuzzTargets.named(name) != nil else {
    print("Set STARLING_FUZZ_TARGET to one of: \(names)")
    exit(2)
}

/// Runs one input to completion on the cooperative pool while libFuzzer's thread waits. Detached: top-level code
/// is on the main actor, which the waiting thread would block.
func runOne(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    let finding = LockedBox<FuzzFinding?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        let target = FuzzTargets.named(String(cString: getenv("STARLING_FUZZ_TARGET")))!
        do throws(FuzzFinding) {
            _ = try await target.run(input)
        } catch {
            finding.withLock { $0 = error }
        }
        done.signal()
    }
    done.wait()
    if let finding = finding.value {
        // Straight to the standard error descriptor: buffered output would be lost in the abort.
        let message = Array("FuzzFinding: \(finding)\n".utf8)
        _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        abort()
    }
    return 0
}

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(runLibFuzzer(&argc, &argv, runOne))
