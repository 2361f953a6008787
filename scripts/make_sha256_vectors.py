#!/usr/bin/env python3
"""Writes Tests/Fixtures/sha256_vectors.json: SHA-256 digests by Python's hashlib of the FIPS 180-4
example messages ("abc", the 448- and 896-bit messages, one million 'a') and of messages whose
lengths straddle the 64-byte block and the 56-byte padding boundary. The compiler's own SHA-256
(Sources/EAMCompiler/Support/SHA256.swift) is tested against them."""
import hashlib, json, pathlib

def case(name, data, repeat=1):
    return {"name": name, "hex": data.hex(), "repeat": repeat,
            "sha256": hashlib.sha256(data * repeat).hexdigest()}

cases = [
    case("empty", b""),
    case("abc", b"abc"),
    case("448-bit", b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    case("896-bit", b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
    case("million-a", b"a", repeat=1_000_000),
]
for n in [55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129]:
    cases.append(case(f"bytes-{n}", bytes((i * 37 + 11) & 0xFF for i in range(n))))
out = pathlib.Path(__file__).resolve().parent.parent / "Tests/Fixtures/sha256_vectors.json"
out.write_text(json.dumps(cases, indent=1) + "\n")
print(f"wrote {out} ({len(cases)} vectors)")
