import Foundation
import Testing
@testable import SwiftletModels

/// The activations against their definitions, computed in Double with libm.
struct FeedForwardActivationTests {
    static let inputs: [Float] = stride(from: -30.0, through: 30.0, by: 0.0007).map { Float($0) } + [0, -0, 1e-30, -1e-30, 88, -88, 1e4, -1e4]

    @Test func geluTanhMatchesItsDefinition() throws {
        var x = Self.inputs
        x.withUnsafeMutableBufferPointer { FeedForwardActivation.geluTanh.apply($0.baseAddress!, count: $0.count) }
        var worst = 0.0
        for (v, got) in zip(Self.inputs, x) {
            let d = Double(v)
            let want = 0.5 * d * (1 + tanh((2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d)))
            let error = abs(Double(got) - want) / max(1, abs(want))
            worst = max(worst, error)
            #expect(error < 1e-6, "gelu_tanh(\(v)) = \(got), want \(want)")
        }
        print("gelu_tanh: \(Self.inputs.count) inputs, worst error \(worst)")
    }

    @Test func exactGeluAndReLU() throws {
        for (activation, f) in [(FeedForwardActivation.gelu, { (d: Double) in 0.5 * d * (1 + erf(d / 2.0.squareRoot())) }),
                                (.relu, { (d: Double) in max(d, 0) })] {
            var x = Self.inputs
            x.withUnsafeMutableBufferPointer { activation.apply($0.baseAddress!, count: $0.count) }
            for (v, got) in zip(Self.inputs, x) {
                let want = f(Double(v))
                #expect(abs(Double(got) - want) <= 1e-6 * max(1, abs(want)), "\(activation)(\(v)) = \(got), want \(want)")
            }
        }
    }
}
