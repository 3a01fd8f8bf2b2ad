#!/usr/bin/env python3
"""Writes small hostile weight files for the reader's resource bounds, and pickle-bombs.json with
the reason the reader must give for refusing each (HostileFilesTest reads it).

    /usr/bin/python3 src/test/python/hostile/make_pickle_bombs.py

Writes into src/test/resources/pickle-bombs/. The pickles are written opcode by opcode (no torch
needed, nothing here is ever unpickled): each is a torch.save-shaped ZIP (archive/data.pkl,
archive/version) whose pickle breaks one bound of docs/pytorch-formats.md section d. Cases that
need a large file (an 8 MB string copied a thousand times, a million memo entries, 100,001 tensors)
are built at run time by SymbolicPickleBudgetsTest instead, so nothing large is committed.
Rerunning gives the same bytes: STORED records with fixed timestamps.
"""
import hashlib
import json
import os
import struct
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".."))
OUT = os.path.join(ROOT, "src", "test", "resources", "pickle-bombs")

PROTO2 = b"\x80\x02"
EMPTY_DICT = b"}"
SETITEM = b"s"
STOP = b"."


def binunicode(s):
    b = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(b)) + b


def long_binput(i):
    return b"r" + struct.pack("<I", i)


def long_binget(i):
    return b"j" + struct.pack("<I", i)


def binint1(v):
    return b"K" + bytes([v])


def torch_zip(pickle):
    records = [("archive/data.pkl", pickle), ("archive/version", b"3\n")]
    path = os.path.join(OUT, "tmp.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in records:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            z.writestr(info, data)
    with open(path, "rb") as f:
        data = f.read()
    os.remove(path)
    return data


def long_key():
    """{'k' * 5000: 1}: dict keys become tensor names; at most 4096 characters."""
    return torch_zip(PROTO2 + EMPTY_DICT + binunicode("k" * 5000) + binint1(1) + SETITEM + STOP)


def long_path():
    """{K: {K: {K: 1}}} with a memoised 3000-character K: each key is allowed, the path of names
    (9002 characters) is not (at most 8192). The reviewer's version nested 300 dicts under a 4 MB key,
    and the walk built names of k x 4 MB."""
    p = PROTO2 + binunicode("k" * 3000) + long_binput(0) + b"0"  # memoise K, pop it
    p += EMPTY_DICT  # the root
    for _ in range(2):
        p += long_binget(0) + EMPTY_DICT
    p += long_binget(0) + binint1(1)
    p += SETITEM * 3  # innermost first
    return torch_zip(p + STOP)


def safetensors(header):
    h = header.encode("utf-8")
    return struct.pack("<Q", len(h)) + h + b"\x00"


def non_ascii_digit_fraction():
    """A number whose fraction is ARABIC-INDIC DIGIT THREE: was a NumberFormatException (a 500)."""
    return safetensors('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":1.\u0663}')


def non_ascii_digit_in_shape():
    """A shape with DEVANAGARI DIGIT ONE after an ASCII digit."""
    return safetensors('{"a":{"dtype":"U8","shape":[1\u0967],"data_offsets":[0,1]}}')


CASES = [
    ("long_key.pt", long_key, "pickle dict key of 5000 characters (at most 4096)"),
    ("long_path.pt", long_path, "path longer than 8192 characters"),
    ("non_ascii_digit_fraction.safetensors", non_ascii_digit_fraction, "malformed JSON header"),
    ("non_ascii_digit_in_shape.safetensors", non_ascii_digit_in_shape, "malformed JSON header"),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    files = []
    for name, make, reason in CASES:
        data = make()
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        files.append({"file": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                      "refused_because": reason, "what": " ".join(make.__doc__.split())})
    with open(os.path.join(OUT, "pickle-bombs.json"), "w") as f:
        json.dump({"files": files}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
