#!/usr/bin/env python3
"""Hostile checkpoints for the EAMIngest tests, made with the Python standard library only.

    python3 scripts/make_hostile_fixtures.py

No torch: the pickles name torch's globals (`torch._utils._rebuild_tensor_v2`,
`torch.FloatStorage`) through stand-in modules, exactly as `torch.save` writes them (protocol 2,
storages as persistent ids, a stored zip `archive/data.pkl` + `archive/data/<key>`, or the legacy
five-pickle layout). Nothing hostile is ever called: payloads are references to functions, written
into the pickle, never run. Writes Tests/EAMIngestTests/Fixtures/hostile_* and hostile.json (what
each file must do: be refused with a message fragment, or read with given names and notes).
`scripts/make_ingest_fixtures.py` runs this script too, after it rewrites the fixture folder.
Deterministic: re-running rewrites identical bytes.
"""
import argparse
import codecs
import collections
import io
import json
import os
import pathlib
import pickle
import struct
import subprocess
import sys
import types
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "EAMIngestTests" / "Fixtures"
CANARY = "/tmp/eamc_hostile_canary_"


# Stand-ins for the torch globals a checkpoint names (never called).
def stand_in_module(name):
    module = types.ModuleType(name)
    sys.modules[name] = module
    return module


def named(module, name, obj):
    obj.__module__ = module.__name__
    obj.__qualname__ = obj.__name__ = name
    setattr(module, name, obj)
    return obj


torch = stand_in_module("torch")
torch_utils = stand_in_module("torch._utils")


def never_called(*args):
    raise RuntimeError("a stand-in is never called")


rebuild_tensor_v2 = named(torch_utils, "_rebuild_tensor_v2", types.FunctionType(never_called.__code__, {}))
import_dotted_name = named(torch_utils, "_import_dotted_name", types.FunctionType(never_called.__code__, {}))
FloatStorage = named(torch, "FloatStorage", type("FloatStorage", (), {}))
STORAGE_CLASSES = {"f32": FloatStorage}


class Storage:
    """A storage: saved as a persistent id, its bytes as its own archive member."""

    def __init__(self, key, values):
        self.key, self.values = key, list(values)

    def data(self):
        return struct.pack(f"<{len(self.values)}f", *self.values)


class Tensor:
    """A strided view of a storage, pickled as torch does: _rebuild_tensor_v2(storage, offset,
    size, stride, requires_grad, backward_hooks)."""

    def __init__(self, storage, size, stride=None, offset=0, hooks=None):
        self.storage, self.size, self.offset = storage, tuple(size), offset
        if stride is None:
            stride, step = [], 1
            for d in reversed(self.size):
                stride.insert(0, step)
                step *= d
        self.stride = tuple(stride)
        self.hooks = hooks if hooks is not None else collections.OrderedDict()

    def __reduce__(self):
        return (rebuild_tensor_v2, (self.storage, self.offset, self.size, self.stride, False, self.hooks))


def tensor(key, values, shape):
    return Tensor(Storage(key, values), shape)


class Call:
    """`fn(*args)` when unpickled by Python: a reference to `fn`, never called here."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)

    def __call__(self, *args):
        raise RuntimeError("never called")


class Inst:
    """`module.name(*args)` by the INST opcode (protocol 0), which Python 3 never writes itself."""

    def __init__(self, module, name, *args):
        self.module, self.name, self.args = module, name, args


class DottedCall:
    """`module.<dotted name>(*args)` by STACK_GLOBAL: protocol 4 resolves dotted names
    attribute by attribute (`torch.serialization` + `os.system`)."""

    def __init__(self, module, name, *args):
        self.module, self.name, self.args = module, name, args


class TrainConfig:
    """A user's class from the training script (`__main__.TrainConfig`): benign, unknown."""

    def __init__(self):
        self.lr, self.epochs = 0.1, 3


class CheckpointPickler(pickle._Pickler):
    """Protocol 2, storages as `('storage', FloatStorage, key, 'cpu', numel)` persistent ids."""

    def __init__(self, file, protocol=2, legacy=False):
        super().__init__(file, protocol=protocol)
        self.storages, self.legacy = [], legacy

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Inst):
            self.write(pickle.MARK)
            for a in obj.args:
                self.save(a)
            self.write(pickle.INST + f"{obj.module}\n{obj.name}\n".encode())
        elif isinstance(obj, DottedCall):
            self.save(obj.module)
            self.save(obj.name)
            self.write(pickle.STACK_GLOBAL)
            self.save(obj.args)
            self.write(pickle.REDUCE)
        else:
            super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        if all(s is not obj for s in self.storages):
            self.storages.append(obj)
        pid = ("storage", STORAGE_CLASSES["f32"], obj.key, "cpu", len(obj.values))
        return pid + (None,) if self.legacy else pid


def pickled(obj, protocol=2, legacy=False):
    out = io.BytesIO()
    p = CheckpointPickler(out, protocol=protocol, legacy=legacy)
    p.dump(obj)
    return out.getvalue(), p.storages


def stored_zip(members):
    """A stored zip with fixed timestamps (name → bytes, in order)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def torch_zip(obj, protocol=2):
    """What torch.save writes (without torch's 64-byte alignment padding)."""
    data, storages = pickled(obj, protocol)
    members = [("archive/data.pkl", data), ("archive/byteorder", b"little")]
    members += [(f"archive/data/{s.key}", s.data()) for s in storages]
    members.append(("archive/version", b"3\n"))
    return stored_zip(members)


def torch_legacy(obj):
    """torch.save(..., _use_new_zipfile_serialization=False): magic, protocol, sys info, the
    object, the storage keys, then each storage as a u64 count and its elements."""
    out = io.BytesIO()
    for head in [0x1950A86A20F9469CFC6C, 1001,
                 {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}]:
        pickle.dump(head, out, protocol=2)
    data, storages = pickled(obj, legacy=True)
    out.write(data)
    pickle.dump([s.key for s in storages], out, protocol=2)
    for s in storages:
        out.write(struct.pack("<q", len(s.values)) + s.data())
    return out.getvalue()


def safetensors(tensors):
    """name → (dtype, shape, values); F32 or F64, little-endian, header padded to 8 bytes."""
    header, data = {}, b""
    for name, (dtype, shape, values) in tensors.items():
        raw = struct.pack(f"<{len(values)}{'f' if dtype == 'F32' else 'd'}", *values)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def npy(shape, values):
    """A version 1.0 `<f4` C-order .npy."""
    text = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join(f"{d}, " for d in shape)
    text += " " * (-(10 + len(text) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode() + struct.pack(f"<{len(values)}f", *values)


def zlib_crc32(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def zip_layout(data):
    """name → (local header offset, data offset, central record offset) of a zip in memory."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        infos, start_dir = z.infolist(), z.start_dir
    layout, p = {}, start_dir
    for info in infos:
        assert data[p:p + 4] == b"PK\x01\x02"
        n, m, k = struct.unpack_from("<HHH", data, p + 28)
        local = info.header_offset
        ln, lm = struct.unpack_from("<HH", data, local + 26)
        layout[info.filename] = (local, local + 30 + ln + lm, p)
        p += 46 + n + m + k
    return layout


def patched(data, changes):
    """`data` with (offset, struct format, value) fields overwritten."""
    out = bytearray(data)
    for offset, fmt, value in changes:
        struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def tiny_vit():
    """A timm-layout ViT small enough for a fixture (width 16, one block, 8×8 images of 4×4
    patches), weights from a fixed linear congruential sequence in [-0.1, 0.1)."""
    state = [12345]

    def values(n):
        out = []
        for _ in range(n):
            state[0] = (state[0] * 1103515245 + 12345) % (1 << 31)
            out.append((state[0] / (1 << 31) - 0.5) * 0.2)
        return out

    d, hidden, tokens = 16, 32, 5
    shapes = [("cls_token", (1, 1, d)), ("pos_embed", (1, tokens, d)), ("patch_embed.proj.weight", (d, 3, 4, 4)),
              ("patch_embed.proj.bias", (d,)), ("blocks.0.norm1.weight", (d,)), ("blocks.0.norm1.bias", (d,)),
              ("blocks.0.attn.qkv.weight", (3 * d, d)), ("blocks.0.attn.qkv.bias", (3 * d,)),
              ("blocks.0.attn.proj.weight", (d, d)), ("blocks.0.attn.proj.bias", (d,)),
              ("blocks.0.norm2.weight", (d,)), ("blocks.0.norm2.bias", (d,)),
              ("blocks.0.mlp.fc1.weight", (hidden, d)), ("blocks.0.mlp.fc1.bias", (hidden,)),
              ("blocks.0.mlp.fc2.weight", (d, hidden)), ("blocks.0.mlp.fc2.bias", (d,)),
              ("norm.weight", (d,)), ("norm.bias", (d,))]
    sd = collections.OrderedDict()
    for i, (name, shape) in enumerate(shapes):
        n = 1
        for s in shape:
            n *= s
        sd[name] = tensor(f"v{i}", values(n), shape)
    return sd


def small_state_dict(prefix="k"):
    return collections.OrderedDict([
        ("cls_token", tensor(prefix + "0", [0.25, -0.5, 1.0, 2.0], (1, 1, 4))),
        ("norm.weight", tensor(prefix + "1", [1.0, 1.0, 0.5, 0.5], (4,))),
    ])


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("hostile_*"):
        old.unlink()
    expected = {"refused": {}, "nonfinite": {}, "zip_lies": {}, "unsafe": {}, "benign": {}}

    def write(name, data):
        (OUT / name).write_bytes(data)
        return name

    # Budget: a stride-0 view describing far more values than the file holds. 5000 real
    # elements (20 kB) viewed as 1150 × 1000 (stride 0 on the rows): 1.15 million values, more
    # than 4 bytes per file byte + 4 MiB allows (about 1.07 million for this file), though fewer
    # than the 8 per byte + 1 Mi the reader allowed before (a 86 MB file could ask for 2.2 GB).
    wide = Storage("w", [float(i % 7) for i in range(5000)])
    sd = small_state_dict()
    sd["pos_embed"] = Tensor(wide, (1150, 1000), (0, 1))
    for name, data in [("hostile_stride0_budget.pth", torch_zip(sd)), ("hostile_stride0_budget.pt", torch_legacy(sd))]:
        write(name, data)
        assert 1150 * 1000 > len(data) + (1 << 20) and 1150 * 1000 < 8 * len(data) + (1 << 20), len(data)
        expected["refused"][name] = "would take the checkpoint's tensors past the limit of"

    # Non-finite weights: NaN and ±∞ in a weight, an f64 beyond float32's range.
    nan, inf = float("nan"), float("inf")
    qkv = [0.5] * 24
    qkv[3], qkv[7], qkv[8], qkv[20], qkv[23] = nan, nan, inf, -inf, nan
    sd = small_state_dict()
    sd["blocks.0.attn.qkv.weight"] = tensor("q", qkv, (6, 4))
    sd["norm.bias"] = tensor("b", [0.0, inf, 0.0, 0.0], (4,))
    cases = {
        "hostile_nan_weight.pth": (torch_zip(sd), "blocks.0.attn.qkv.weight", 3, 2, 24, 1),
        "hostile_nan_weight.pt": (torch_legacy(sd), "blocks.0.attn.qkv.weight", 3, 2, 24, 1),
        "hostile_inf_weight.safetensors": (safetensors({"a": ("F32", (2,), [1.0, 2.0]),
                                                        "w": ("F32", (2, 2), [1.0, -inf, inf, 0.0])}), "w", 0, 2, 4, 0),
        "hostile_f64_overflow.safetensors": (safetensors({"w": ("F64", (3,), [1.0, 1e300, -1e39])}), "w", 0, 2, 3, 0),
        "hostile_nan.npy": (npy((2, 3), [0.0, nan, 1.0, 2.0, 3.0, 4.0]), "array", 1, 0, 6, 0),
    }
    for name, (data, bad, nans, infs, count, others) in cases.items():
        write(name, data)
        expected["nonfinite"][name] = {"tensor": bad, "nan": nans, "infinite": infs, "values": count, "others": others}

    # Zip members whose headers lie: each file reads without complaint unless the CRC-32, the
    # member extents and the local headers are checked. (offsets: local header +8 method, +14 CRC,
    # +18 and +22 sizes; central record +10 method, +16 CRC, +20 and +24 sizes)
    base = torch_zip(small_state_dict())
    layout = zip_layout(base)
    pkl_local, pkl_data, pkl_central = layout["archive/data.pkl"]
    k1_local, k1_data, k1_central = layout["archive/data/k1"]
    pkl_size = struct.unpack_from("<I", base, pkl_local + 18)[0]
    # A weight changed after writing (its CRC-32 is the old one).
    flipped = bytearray(base)
    flipped[k1_data + 5] ^= 0x40
    # A tensor renamed inside the pickle, still a valid pickle: 'norm.weight' → 'norm.weighs'.
    renamed = bytearray(base)
    at = base.index(b"norm.weight", pkl_data)
    renamed[at + 10] = ord("s")
    # data.pkl grown into the next member in both headers, its CRC-32 recomputed: the pickle
    # still reads (STOP comes first), the member overlaps 'archive/byteorder'.
    grown_size = layout["archive/byteorder"][0] - pkl_data + 10
    grown_crc = zlib_crc32(base[pkl_data:pkl_data + grown_size])
    grown = patched(base, [(pkl_local + 14, "<I", grown_crc), (pkl_local + 18, "<I", grown_size), (pkl_local + 22, "<I", grown_size),
                           (pkl_central + 16, "<I", grown_crc), (pkl_central + 20, "<I", grown_size), (pkl_central + 24, "<I", grown_size)])
    lies = {
        "hostile_zip_crc_data.pth": (bytes(flipped), "zip entry 'archive/data/k1' is damaged: its CRC-32 is"),
        "hostile_zip_crc_pickle.pth": (bytes(renamed), "zip entry 'archive/data.pkl' is damaged: its CRC-32 is"),
        "hostile_zip_overlap.pth": (grown, "zip entry 'archive/data.pkl' (bytes 0..<"),
        "hostile_zip_local_method.pth": (patched(base, [(k1_local + 8, "<H", 8)]),
                                         "the local header's compression method (deflated) disagrees with the central directory's (stored)"),
        "hostile_zip_local_size.pth": (patched(base, [(pkl_local + 18, "<I", pkl_size - 2), (pkl_local + 22, "<I", pkl_size - 2)]),
                                       f"the local header's compressed size ({pkl_size - 2}) disagrees with the central directory's ({pkl_size})"),
        "hostile_zip_local_crc.pth": (patched(base, [(k1_local + 14, "<I", 0x12345678)]),
                                      "the local header's CRC-32 (0x12345678) disagrees"),
        "hostile_zip_central_size.pth": (patched(base, [(k1_central + 20, "<I", 12), (k1_central + 24, "<I", 12)]),
                                         "the local header's compressed size (16) disagrees with the central directory's (12)"),
    }
    npz = stored_zip([("w.npy", npy((2,), [1.0, 2.0])), ("b.npy", npy((1,), [3.0]))])
    w_data = zip_layout(npz)["w.npy"][1]
    lies["hostile_zip_crc.npz"] = (npz[:w_data + 130] + bytes([npz[w_data + 130] ^ 1]) + npz[w_data + 131:],
                                   "zip entry 'w.npy' is damaged")
    for name, (data, fragment) in lies.items():
        write(name, data)
        expected["zip_lies"][name] = fragment

    # Live payloads: references Python's unpickler would call. Each file also holds a sound
    # state dict, so it would compile if the payload were ignored.
    def touch(case):
        return f"touch {CANARY}{case}"

    names = list(small_state_dict().keys())
    hooked = small_state_dict()
    hooked["cls_token"].hooks = collections.OrderedDict([(0, Call(eval, f"__import__('os').system('{touch('hooks')}')"))])
    with_metadata = small_state_dict()
    with_metadata._metadata = collections.OrderedDict([("", {"version": 1}), ("payload", Inst("os", "system", touch("inst")))])
    payloads = {
        "hostile_eval_unrelated.pth": (torch_zip({"model": small_state_dict(), "note": Call(eval, f"__import__('os').system('{touch('eval')}')")}),
                                       "builtins.eval"),
        "hostile_eval_hooks.pth": (torch_zip(hooked), "builtins.eval"),
        "hostile_inst_metadata.pth": (torch_zip(with_metadata), "os.system"),
        "hostile_dotted_os.pth": (torch_zip({"state_dict": small_state_dict(), "x": DottedCall("torch.serialization", "os.system", touch("dotted"))}, protocol=4),
                                  "torch.serialization.os.system"),
        "hostile_import_dotted.pth": (torch_zip({"state_dict": small_state_dict(), "x": Call(Call(import_dotted_name, "os.system"), touch("import"))}),
                                      "torch._utils._import_dotted_name"),
        "hostile_getattr.pth": (torch_zip({"model": small_state_dict(), "x": Call(getattr, collections.OrderedDict, "fromkeys")}), "builtins.getattr"),
        "hostile_codecs_open.pth": (torch_zip({"model": small_state_dict(), "log": Call(codecs.open, CANARY + "codecs", "w")}), "codecs.open"),
        "hostile_path_method.pth": (torch_zip({"model": small_state_dict(), "x": DottedCall("pathlib", "Path.touch", pathlib.PurePosixPath(CANARY + "path"))}, protocol=4),
                                    "pathlib.Path.touch"),
        "hostile_subprocess.pt": (torch_legacy({"state_dict": small_state_dict(), "cb": Call(subprocess.run, ["touch", CANARY + "legacy"])}), "subprocess.run"),
    }
    for name, (data, global_name) in payloads.items():
        write(name, data)
        expected["unsafe"][name] = {"global": global_name, "names": names, "canary_prefix": CANARY}

    # A compilable ViT with a payload in an unrelated entry, for the command line.
    write("hostile_vit_eval.pth", torch_zip({"model": tiny_vit(), "note": Call(eval, f"__import__('os').system('{touch('vit')}')")}))
    expected["unsafe"]["hostile_vit_eval.pth"] = {"global": "builtins.eval", "names": list(tiny_vit().keys()), "canary_prefix": CANARY}

    # Benign globals a real checkpoint carries: a user's class, a path, argparse's Namespace.
    benign = {"state_dict": small_state_dict(), "config": TrainConfig(), "out_dir": pathlib.PurePosixPath("runs/1"),
              "args": argparse.Namespace(lr=0.1, model="vit_small")}
    write("hostile_benign_globals.pth", torch_zip(benign))
    expected["benign"]["hostile_benign_globals.pth"] = {"names": names, "inert": ["__main__.TrainConfig", "pathlib.PurePosixPath"]}

    with open(OUT / "hostile.json", "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(list(OUT.glob('hostile_*')))} hostile fixtures to {OUT}")


if __name__ == "__main__":
    main()
