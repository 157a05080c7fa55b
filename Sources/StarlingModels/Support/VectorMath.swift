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
}
