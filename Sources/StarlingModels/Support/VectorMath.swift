#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Dense float kernels written with SIMD types, so that they vectorise without relying on the optimiser to
/// reassociate floating-point sums (which it may not do on its own).
enum VectorMath {
    /// `Σ a[k] · b[k]` over `count` floats.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var k = 0
        var sum0 = SIMD8<Float>()
        var sum1 = SIMD8<Float>()
        let rawA = UnsafeRawPointer(a)
        let rawB = UnsafeRawPointer(b)
        while k + 16 <= count {
            sum0 += rawA.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
            sum1 += rawA.loadUnaligned(fromByteOffset: (k + 8) * 4, as: SIMD8<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: (k + 8) * 4, as: SIMD8<Float>.self)
            k += 16
        }
        var sum = (sum0 + sum1).sum()
        while k < count {
            sum += a[k] * b[k]
            k += 1
        }
        return sum
    }

    /// `Σ (a[k] − b[k])²` over `count` floats.
    @inline(__always)
    static func squaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var k = 0
        var sum = SIMD8<Float>()
        let rawA = UnsafeRawPointer(a)
        let rawB = UnsafeRawPointer(b)
        while k + 8 <= count {
            let diff = rawA.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
                - rawB.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
            sum += diff * diff
            k += 8
        }
        var total = sum.sum()
        while k < count {
            let diff = a[k] - b[k]
            total += diff * diff
            k += 1
        }
        return total
    }

    /// One stochastic-gradient step of Bayesian personalised ranking, in place: with `x = u · (i − j)` and
    /// `g = rate · σ(−x)`, `u += g (i − j) − decay · u`, `i += g u − decay · i`, `j −= g u + decay · j` (the item
    /// steps use `u` before its update). The three vectors must not overlap.
    @inline(__always)
    static func bprStep(
        user u: UnsafeMutablePointer<Float>,
        positive i: UnsafeMutablePointer<Float>,
        negative j: UnsafeMutablePointer<Float>,
        count: Int,
        rate: Float,
        decay: Float
    ) {
        let rawU = UnsafeMutableRawPointer(u)
        let rawI = UnsafeMutableRawPointer(i)
        let rawJ = UnsafeMutableRawPointer(j)
        var k = 0
        var sum = SIMD8<Float>()
        while k + 8 <= count {
            let offset = k * 4
            sum += rawU.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                * (rawI.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                    - rawJ.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self))
            k += 8
        }
        var x = sum.sum()
        while k < count {
            x += u[k] * (i[k] - j[k])
            k += 1
        }
        let g = rate / (1 + expf(x))
        let keep = 1 - decay
        k = 0
        while k + 8 <= count {
            let offset = k * 4
            let vu = rawU.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            let vi = rawI.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            let vj = rawJ.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            rawU.storeBytes(of: vu * keep + g * (vi - vj), toByteOffset: offset, as: SIMD8<Float>.self)
            rawI.storeBytes(of: vi * keep + g * vu, toByteOffset: offset, as: SIMD8<Float>.self)
            rawJ.storeBytes(of: vj * keep - g * vu, toByteOffset: offset, as: SIMD8<Float>.self)
            k += 8
        }
        while k < count {
            let uk = u[k]
            let diff = i[k] - j[k]
            u[k] = uk * keep + g * diff
            i[k] = i[k] * keep + g * uk
            j[k] = j[k] * keep - g * uk
            k += 1
        }
    }
}
