#!/usr/bin/env python3
"""Generates the EAMIngest test fixtures and their expected values.

Run with the project's venv (torch 2.x, numpy, safetensors):
    /work/main/.venv/bin/python scripts/make_ingest_fixtures.py
Writes Tests/EAMIngestTests/Fixtures/* (and runs make_hostile_fixtures.py, which adds the
stdlib-made hostile_* files). Every expected value in expected.json is produced here
from the tensors that were saved (after the same dtype rounding), never typed by hand.
"""
import argparse
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "EAMIngestTests" / "Fixtures"
CANARY_DIR = "/tmp"

DTYPES = {
    "f32": torch.float32,
    "f16": torch.float16,
    "bf16": torch.bfloat16,
    "f64": torch.float64,
}


def state_dict(dtype):
    g = torch.Generator().manual_seed(1234)
    base = {
        "cls_token": torch.randn(1, 1, 4, generator=g),
        "pos_embed": torch.randn(1, 3, 4, generator=g),
        "blocks.0.attn.qkv.weight": torch.randn(6, 4, generator=g),
        "blocks.0.attn.qkv.bias": torch.randn(6, generator=g),
        "norm.weight": torch.randn(4, generator=g) * 1e-3 + 1,
    }
    return {k: v.to(dtype) for k, v in base.items()}


def expected_tensors(sd):
    return {k: {"shape": list(v.shape), "values": [float(x) for x in v.to(torch.float32).reshape(-1).tolist()]}
            for k, v in sd.items()}


def optimizer_state(sd):
    params = [torch.nn.Parameter(v.to(torch.float32).clone()) for v in sd.values()]
    opt = torch.optim.Adam(params, lr=0.1)
    sum(p.sum() for p in params).backward()
    opt.step()
    return opt.state_dict()


def wrappings(sd):
    """name -> (object to save, expected origin substring)."""
    ema = {k: v.clone() for k, v in sd.items()}
    return {
        "bare": (sd, "top-level state dict"),
        "model": ({"model": sd}, "'model'"),
        "lightning": ({"state_dict": {"model." + k: v for k, v in sd.items()}, "epoch": 3,
                       "global_step": 12, "pytorch-lightning_version": "2.1.0"},
                      "'state_dict' (prefix 'model.' removed)"),
        "model_ema": ({"model_ema": ema, "epoch": 1}, "'model_ema'"),
        "ddp": ({"module." + k: v for k, v in sd.items()}, "prefix 'module.' removed"),
        "extras": ({"model": sd, "optimizer": optimizer_state(sd), "epoch": 7,
                    "args": argparse.Namespace(lr=0.1, model="vit_small", drop_path=None),
                    "best_acc": np.float64(0.8125), "seen": np.int64(1024)}, "'model'"),
        "parameters": ({k: torch.nn.Parameter(v, requires_grad=False) for k, v in sd.items()},
                       "top-level state dict"),
        "timm_train": ({"epoch": 5, "arch": "vit_small_patch14", "state_dict": sd,
                        "state_dict_ema": ema, "optimizer": optimizer_state(sd)}, "'state_dict'"),
    }


class Evil:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def canary(name):
    return f"{CANARY_DIR}/eamc_ingest_canary_{name}"


def malicious_objects():
    """name -> (object, global name the error must mention)."""
    return {
        "os_system": (Evil(os.system, (f"touch {canary('os_system')}",)), "system"),
        "eval": (Evil(eval, (f"__import__('os').system('touch {canary('eval')}')",)), "builtins.eval"),
        "popen": (Evil(subprocess.Popen, (["touch", canary("popen")],)), "subprocess.Popen"),
    }


def write_zip64(path, members):
    """A stored zip that uses ZIP64 everywhere: 0xFFFFFFFF sentinels with ZIP64 extra fields in
    local and central headers, a ZIP64 end of central directory record and its locator."""
    import zlib
    out = bytearray()
    central = bytearray()
    for name, data in members:
        name_b = name.encode()
        crc = zlib.crc32(data)
        offset = len(out)
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(name_b), len(local_extra)) + name_b + local_extra + data
        cd_extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc,
                               0xFFFFFFFF, 0xFFFFFFFF, len(name_b), len(cd_extra), 0, 0, 0, 0,
                               0xFFFFFFFF) + name_b + cd_extra
    cd_offset = len(out)
    out += central
    end64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(members), len(members),
                       len(central), cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, end64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(bytes(out))
    with zipfile.ZipFile(path) as z:  # Python's own reader must agree.
        assert [i.filename for i in z.infolist()] == [m[0] for m in members]
        assert all(z.read(n) == d for n, d in members)


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    expected = {"dtypes": {}, "fixtures": {}, "views": {}, "malicious": {}, "errors": {}}

    # Every torch container × dtype × wrapping; safetensors and npz × dtype.
    for dname, dtype in DTYPES.items():
        sd = state_dict(dtype)
        expected["dtypes"][dname] = {"names": list(sd.keys()), "tensors": expected_tensors(sd)}
        for wname, (obj, origin) in wrappings(sd).items():
            zip_name = f"torch_{dname}_{wname}.pth"
            torch.save(obj, OUT / zip_name)
            expected["fixtures"][zip_name] = {"dtype": dname, "format": "PyTorch zip", "origin": origin}
            legacy_name = f"legacy_{dname}_{wname}.pt"
            torch.save(obj, OUT / legacy_name, _use_new_zipfile_serialization=False)
            expected["fixtures"][legacy_name] = {"dtype": dname, "format": "PyTorch legacy", "origin": origin}
        # Pickle protocol 4 and 5 (STACK_GLOBAL, MEMOIZE, FRAME, SHORT_BINUNICODE) for the extras.
        obj, origin = wrappings(sd)["extras"]
        for proto in [4, 5]:
            name = f"torch_{dname}_extras_proto{proto}.pth"
            torch.save(obj, OUT / name, pickle_protocol=proto)
            expected["fixtures"][name] = {"dtype": dname, "format": "PyTorch zip", "origin": origin}
        name = f"legacy_{dname}_extras_proto4.pt"
        torch.save(obj, OUT / name, pickle_protocol=4, _use_new_zipfile_serialization=False)
        expected["fixtures"][name] = {"dtype": dname, "format": "PyTorch legacy", "origin": origin}
        st_name = f"st_{dname}.safetensors"
        save_file(sd, str(OUT / st_name), metadata={"format": "pt"})
        expected["fixtures"][st_name] = {"dtype": dname, "format": "safetensors", "origin": "safetensors"}
        if dname != "bf16":
            npz_name = f"np_{dname}.npz"
            np.savez(OUT / npz_name, **{k: v.numpy() for k, v in sd.items()})
            expected["fixtures"][npz_name] = {"dtype": dname, "format": "npz", "origin": "npz"}

    # A different archive folder name inside the torch zip.
    sd = state_dict(torch.float32)
    buf = io.BytesIO()
    torch.save(sd, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, \
            zipfile.ZipFile(OUT / "torch_f32_renamed_folder.pth", "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            name = "my_model_v2/" + info.filename.split("/", 1)[1]
            dst.writestr(name, src.read(info.filename))
    expected["fixtures"]["torch_f32_renamed_folder.pth"] = {"dtype": "f32", "format": "PyTorch zip",
                                                             "origin": "top-level state dict"}

    # Big-endian torch zip: byteorder 'big' and every storage byte-swapped per element.
    for dname in ["f32", "bf16", "f64"]:
        buf = io.BytesIO()
        torch.save(state_dict(DTYPES[dname]), buf)
        size = torch.tensor([], dtype=DTYPES[dname]).element_size()
        name = f"torch_{dname}_bigendian.pth"
        with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, \
                zipfile.ZipFile(OUT / name, "w", zipfile.ZIP_STORED) as dst:
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename.endswith("/byteorder"):
                    data = b"big"
                elif "/data/" in info.filename:
                    data = b"".join(data[i:i + size][::-1] for i in range(0, len(data), size))
                dst.writestr(info.filename, data)
        expected["fixtures"][name] = {"dtype": dname, "format": "PyTorch zip", "origin": "top-level state dict"}

    # ZIP64 structures (torch only writes them past 4 GB): a torch checkpoint and an npz.
    buf = io.BytesIO()
    torch.save(state_dict(torch.float16), buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src:
        write_zip64(OUT / "torch_f16_zip64.pth", [(i.filename, src.read(i.filename)) for i in src.infolist()])
    expected["fixtures"]["torch_f16_zip64.pth"] = {"dtype": "f16", "format": "PyTorch zip",
                                                    "origin": "top-level state dict"}
    members = []
    for k, v in state_dict(torch.float64).items():
        b = io.BytesIO()
        np.save(b, v.numpy())
        members.append((k + ".npy", b.getvalue()))
    write_zip64(OUT / "np_f64_zip64.npz", members)
    expected["fixtures"]["np_f64_zip64.npz"] = {"dtype": "f64", "format": "npz", "origin": "npz"}

    # A torch checkpoint re-packed with deflate: no inflater, so a clear error.
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, \
            zipfile.ZipFile(OUT / "deflated_torch.pth", "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    expected["errors"]["deflated_torch.pth"] = "is deflated; torch.save writes stored entries"

    # Plain pickles of NumPy arrays (numpy _reconstruct + BUILD; protocol 2 bytes via _codecs).
    for dname in ["f32", "f16", "f64"]:
        arrays = {k: v.numpy() for k, v in state_dict(DTYPES[dname]).items()}
        for proto in [2, 4]:
            name = f"numpy_{dname}_p{proto}.pkl"
            with open(OUT / name, "wb") as f:
                pickle.dump({"weights": arrays, "step": np.int64(3)}, f, protocol=proto)
            expected["fixtures"][name] = {"dtype": dname, "format": "PyTorch legacy",
                                          "origin": "plain pickle, entry 'weights'"}

    # Views: transposed, sliced with a storage offset, several tensors sharing one storage.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8
    views = {"base": base, "transposed": base.t(), "slice": base[1:3, 2:5], "row": base[2],
             "column": base[:, 1], "expanded": base[0:1, 0:3].expand(2, 3)}
    for name in ["views.pth", "views_legacy.pt"]:
        torch.save(views, OUT / name, _use_new_zipfile_serialization=name.endswith(".pth"))
    expected["views"] = {"names": list(views.keys()), "tensors": expected_tensors(views)}
    half_views = {k: v.to(torch.float16) for k, v in views.items() if k != "expanded"}
    half_views = {"base": base.half()}
    half_views["transposed"] = half_views["base"].t()
    half_views["slice"] = half_views["base"][1:3, 2:5]
    torch.save(half_views, OUT / "views_f16.pth")
    expected["views_f16"] = {"names": list(half_views.keys()), "tensors": expected_tensors(half_views)}

    # npy: versions 1–3, big-endian, Fortran order, f16/f64.
    arr = (np.arange(12, dtype=np.float64).reshape(3, 4) - 5.5) / 4
    npys = {
        "v1_f4.npy": arr.astype("<f4"),
        "big_f4.npy": arr.astype(">f4"),
        "big_f8.npy": arr.astype(">f8"),
        "fortran_f4.npy": np.asfortranarray(arr.astype("<f4")),
        "f2.npy": arr.astype("<f2"),
        "scalar_f8.npy": np.array(2.5, dtype="<f8"),
        "cube_fortran_f8.npy": np.asfortranarray(np.arange(24, dtype="<f8").reshape(2, 3, 4)),
    }
    for name, a in npys.items():
        np.save(OUT / name, a)
    for version in [(2, 0), (3, 0)]:
        name = f"v{version[0]}_f4.npy"
        with open(OUT / name, "wb") as f:
            np.lib.format.write_array(f, arr.astype("<f4"), version=version)
        npys[name] = arr.astype("<f4")
    expected["npy"] = {name: {"shape": list(a.shape), "values": [float(x) for x in np.asarray(a, dtype=np.float64).reshape(-1, order="C").tolist()]}
                       for name, a in npys.items()}

    # Errors.
    np.savez_compressed(OUT / "compressed.npz", w=arr.astype(np.float32))
    expected["errors"]["compressed.npz"] = "is deflated; only stored (uncompressed) entries can be read (save with np.savez"
    with open(OUT / "oversized_header.safetensors", "wb") as f:
        f.write(struct.pack("<Q", 9_200_000_000) + b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' + b"\0" * 4)
    expected["errors"]["oversized_header.safetensors"] = "header length 9.2 GB exceeds the file size"
    header = b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}'
    with open(OUT / "overlap.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + b"\0" * 12)
    expected["errors"]["overlap.safetensors"] = "overlaps"
    header = b'{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}'
    with open(OUT / "shape_mismatch.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    expected["errors"]["shape_mismatch.safetensors"] = "data_offsets span 8 bytes"
    header = b'{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}'
    with open(OUT / "unknown_dtype.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + b"\0" * 2)
    expected["errors"]["unknown_dtype.safetensors"] = "F8_E4M3"
    class BadView:
        """Pickles as _rebuild_tensor_v2 with a hostile size/stride over a real 4-element storage."""

        def __init__(self, size, stride, offset=0):
            self.size, self.stride, self.offset = size, stride, offset

        def __reduce__(self):
            import collections
            storage = torch.zeros(4).storage()
            return (torch._utils._rebuild_tensor_v2,
                    (storage, self.offset, self.size, self.stride, False, collections.OrderedDict()))

    import warnings
    warnings.filterwarnings("ignore")
    bad_views = {
        "bad_overflow_shape.pth": (BadView((2**32, 2**32), (0, 0)), "too many elements"),
        "bad_overflow_span.pth": (BadView((2**40, 2**40), (2**40, 1)), "overflows"),
        "bad_view_outside.pth": (BadView((10,), (1,)), "reaches element 9 but the storage has only 4"),
        "bad_offset.pth": (BadView((2,), (1,), offset=3), "reaches element 4"),
        "bad_stride_overflow.pth": (BadView((3,), (2**62,)), "overflows"),
    }
    for fname, (obj, fragment) in bad_views.items():
        torch.save({"w": obj, "b": torch.ones(2)}, OUT / fname)
        expected["errors"][fname] = fragment
    torch.save(torch.nn.Linear(2, 2), OUT / "whole_module.pth")
    expected["errors"]["whole_module.pth"] = "torch.nn.modules.linear.Linear', which is not allowed (a pickled object, not a state dict"

    # Malicious pickles: in a torch zip (as the weights, as one tensor, as the whole object) and
    # as plain pickles with protocols 2 and 4 (GLOBAL / STACK_GLOBAL).
    for name, (evil, global_name) in malicious_objects().items():
        sd = dict(state_dict(torch.float32))
        cases = {
            f"evil_{name}_model.pth": ("zip", {"model": evil, "epoch": 1}),
            f"evil_{name}_tensor.pth": ("zip", {**sd, "blocks.0.attn.qkv.weight": evil}),
            f"evil_{name}_root.pth": ("zip", evil),
            f"evil_{name}_p2.pkl": ("p2", {"state_dict": evil}),
            f"evil_{name}_p4.pkl": ("p4", evil),
        }
        for fname, (kind, obj) in cases.items():
            if kind == "zip":
                torch.save(obj, OUT / fname)
            else:
                with open(OUT / fname, "wb") as f:
                    pickle.dump(obj, f, protocol=2 if kind == "p2" else 4)
            expected["malicious"][fname] = {"global": global_name, "canary": canary(name)}

    with open(OUT / "expected.json", "w") as f:
        json.dump(expected, f, indent=None, separators=(",", ":"))
    # Hostile checkpoints made without torch (stand-in torch modules, so a separate process).
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_hostile_fixtures.py")], check=True)
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes to {OUT}")
    assert total < 1_000_000


if __name__ == "__main__":
    main()
