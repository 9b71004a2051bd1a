// swift-tools-version:5.9
// SwiftPM builds the same sources as CMake, for development and `swift test`.
// CMake (CMakeLists.txt) is the canonical build of the installed libsampleattn.so.
import PackageDescription

let simdFlags = ["-march=x86-64-v3"]   // AVX2+FMA+F16C: without it FMA becomes a library call

let package = Package(
    name: "sampleattn",
    products: [
        .library(name: "SampleAttnDynamic", type: .dynamic, targets: ["SampleAttn"]),
        .executable(name: "sampleattn", targets: ["sampleattn-cli"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "CSampleAttn",
            cSettings: [.unsafeFlags(simdFlags + ["-fopenmp", "-O2"])],
            linkerSettings: [.linkedLibrary("omp5")]
        ),
        .target(
            name: "SampleAttn",
            dependencies: ["CSampleAttn"],
            swiftSettings: [.unsafeFlags(["-Xcc", "-march=x86-64-v3", "-enforce-exclusivity=unchecked"])]
        ),
        .executableTarget(
            name: "sampleattn-cli",
            dependencies: ["SampleAttn", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: [.unsafeFlags(["-Xcc", "-march=x86-64-v3"])]
        ),
        .testTarget(
            name: "SampleAttnTests",
            dependencies: ["SampleAttn"],
            path: "Tests/SampleAttnTests",
            swiftSettings: [.unsafeFlags(["-Xcc", "-march=x86-64-v3"])]
        ),
    ]
)
