import DiskImportCore
import Testing

/// qemu's size_to_str: printf %0.3g of the value in the unit that keeps it under 1000 (values from qemu-img 7.2).
@Suite struct HumanSizeTests {
    @Test(arguments: [
        (UInt64(0), "0 B"), (512, "512 B"), (999, "999 B"), (1000, "0.977 KiB"), (1023, "0.999 KiB"), (1024, "1 KiB"),
        (35_913_728, "34.2 MiB"), (37_068_800, "35.4 MiB"), (1_048_064, "1 MiB"), (1_048_576, "1 MiB"),
        (4_259_840, "4.06 MiB"), (10_484_736, "10 MiB"), (1 << 30, "1 GiB"), (UInt64.max, "16 EiB"),
    ])
    func sizesAreQemusSizeToStr(value: UInt64, text: String) {
        #expect(HumanSize.text(value) == text)
    }
}
