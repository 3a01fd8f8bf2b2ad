#!/usr/bin/env python3
"""Writes hostile TorchScript archives for the inference tests, and manifest.json describing them.

Run with Debian's python3-torch (1.13):
    /usr/bin/python3 src/test/python/hostile/make_hostile.py

Writes into src/test/resources/hostile/ two kinds of files (manifest.json says which is which):

refused_by_check -- the server must refuse them before libtorch sees them:
  * torch.jit.save archives of hostile_models.ReadsFile (forward returns torch.from_file of
    /etc/passwd) whose code record, code/__torch__/hostile_models.py, is renamed (.PY, .Py, a
    trailing space, a NUL, .pyc, no extension, CODE/), doubled (a benign twin differing in case or
    identical in name), or moved (../, another or a nested top-level folder, an absolute name, a
    backslash); a directory record; an unknown record. The code still calls from_file, but the
    refusal must come from the archive layout: the old check read only records ending in ".py",
    while libtorch finds records regardless of case. "torch_1_13" records what torch 1.13 does with
    the file (it looks records up the way libtorch 2.7 does: miniz, case-insensitive).
  * correctly named modules that call torch.from_file or torch.save: the code deny list refuses them.

  * two archives in one file, told apart by where a ZIP reader looks for the central directory
    (split_directory.pt, fake_end_record.pt): libtorch's miniz finds the hostile code, Java's
    ZipFile the harmless one ("python_zipfile_reads" records what a third reader makes of them). The server's ZIP reader must refuse the file
    ("zip_structure"), whatever the code it would find.

reaches_runtime -- they pass every check and must be contained by the sandbox when they run:
  uninitialised memory returned as output, an endless loop, a 1 TiB allocation, a growing one, a
  model whose run time the caller picks, an exact echo of the input for marker tests, and outputs
  bounded by bytes but not by shape (an empty [1, 0, 10^9], and [1, 0] with no classes).

Rezipped archives are written by this script's own ZIP writer: STORED, no data descriptors, fixed
timestamps, each record's data 64-byte aligned through an extra field as torch writes it. Archives
torch.jit.save writes are kept as torch wrote them (torch 1.13 writes fixed timestamps). The models
are compiled under the bare name hostile_models.py (bare_source.py), so no record names a folder of
the machine. Rerunning gives the same bytes anywhere; only the timing it prints for spin.pt differs.
"""
import json
import os
import shutil
import struct
import sys
import tempfile
import time
import zipfile
import zlib

# TorchScript writes some constants in set order, which depends on string hashing: pin it.
if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch

# hostile_models.py compiled under its bare name, so that the TorchScript debug records name
# "hostile_models.py" and no folder of the machine that ran this script.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bare_source import load_module  # noqa: E402

hm = load_module(os.path.join(os.path.dirname(os.path.abspath(__file__)), "hostile_models.py"))

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".."))
OUT = os.path.join(ROOT, "src", "test", "resources", "hostile")
CODE = "code/__torch__/hostile_models.py"
ALIGN = 64


def local_records(records, base=0, shift=0):
    """The local records of (name bytes, data) records written from file offset base, data 64-byte
    aligned, and their central directory; its entries give each record's offset minus shift."""
    out = bytearray()
    central = bytearray()
    for name, data in records:
        offset = base + len(out)
        start = offset + 30 + len(name) + 4
        pad = (-start) % ALIGN
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        crc = zlib.crc32(data) & 0xFFFFFFFF
        # version 20, flags 0x800 (UTF-8 names), STORED, time 0, date 1980-01-01
        fields = struct.pack("<HHHHHIIIHH", 20, 0x800, 0, 0, 0x21, crc, len(data), len(data), len(name), len(extra))
        out += b"PK\x03\x04" + fields + name + extra + data
        central += (b"PK\x01\x02" + struct.pack("<H", 20) + fields[:-2] + struct.pack("<H", 0)
                    + struct.pack("<HHHII", 0, 0, 0, 0, offset - shift) + name)
    return out, central


def end_record(count, cd_size, cd_offset, comment=b""):
    return b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, count, count, cd_size, cd_offset, len(comment)) + comment


def write_zip(path, records):
    """A STORED ZIP of (name bytes, data) records, in order, duplicates allowed, data 64-byte aligned."""
    out, central = local_records(records)
    cd_offset = len(out)
    out += central
    out += end_record(len(records), len(central), cd_offset)
    with open(path, "wb") as f:
        f.write(out)


def write_split_directory(path, hostile, harmless):
    """Two archives in one file that ZIP readers tell apart by where they look for the central
    directory: the hostile records, the harmless ones, the hostile central directory, then one of the
    same length for the harmless records, then the end record, which gives the hostile directory's
    offset. libtorch's miniz reads the directory at that offset (hostile); java.util.zip.ZipFile (and
    Python's zipfile) assume it ends right before the end record (harmless), take the difference for
    a prefix of the file, and add it to every offset, which the harmless directory's offsets allow for."""
    out, hostile_cd = local_records(hostile)
    probe, _ = local_records(harmless, len(out))
    harmless_locals, harmless_cd = local_records(harmless, len(out), shift=len(hostile_cd))
    assert probe == harmless_locals and len(hostile_cd) == len(harmless_cd) and len(hostile_cd) < len(out)
    out += harmless_locals
    cd_offset = len(out)
    out += hostile_cd + harmless_cd
    out += end_record(len(hostile), len(hostile_cd), cd_offset)
    with open(path, "wb") as f:
        f.write(out)


def write_fake_end(path, hostile, harmless):
    """A complete harmless archive whose end record's comment holds a second archive: the hostile
    records, their central directory, one byte, an end record of its own and one more byte. miniz
    takes the last end-record signature with 22 bytes after it, whatever the comment length of the
    record says, so it reads the hostile archive; java.util.zip.ZipFile insists that the comment
    reach the end of the file (the inner end record's does not, by the last byte) and reads the
    harmless one. The byte before the inner end record keeps it from taking the hostile directory for
    one right before the end record. (Python's zipfile takes the inner end record but expects its
    directory right before it, so the byte makes it refuse the file.)"""
    out, harmless_cd = local_records(harmless)
    cd_offset = len(out)
    out += harmless_cd
    base = len(out) + 22
    inner, hostile_cd = local_records(hostile, base)
    comment = inner + hostile_cd + b"\x00"
    comment += end_record(len(hostile), len(hostile_cd), base + len(inner)) + b"\x00"
    out += end_record(len(harmless), len(harmless_cd), cd_offset, comment)
    with open(path, "wb") as f:
        f.write(out)


def python_zipfile_reads(path, record):
    """Which code Python's zipfile finds in the file: a third reader's view, informative only."""
    try:
        with zipfile.ZipFile(path) as z:
            code = z.read(record)
    except zipfile.BadZipFile as e:
        return "refuses the file (" + str(e) + ")"
    return "the hidden code (torch.from_file)" if b"from_file" in code else "the harmless code"


def records_of(path):
    """The records of a torch archive as (name relative to its top folder, data), in order."""
    with zipfile.ZipFile(path) as z:
        return [(i.filename.split("/", 1)[1], z.read(i)) for i in z.infolist()]


def jit_save(module, directory, stem):
    """torch.jit.save of the scripted module as directory/stem.pt, so its top folder is stem."""
    path = os.path.join(directory, stem + ".pt")
    torch.jit.save(torch.jit.script(module), path)
    return path


def benign(source):
    """The ReadsFile code with from_file replaced by zeros: what the old deny list would have passed."""
    text = source.decode()
    hostile = 'torch.from_file("/etc/passwd", False, 4, dtype=0)'
    if hostile not in text:
        raise SystemExit("unexpected TorchScript for ReadsFile:\n" + text)
    return text.replace(hostile, "torch.zeros([4], dtype=0)").encode()


def disguised(base):
    """Variants of the ReadsFile archive: (stem, what it tries, offending record, records)."""
    code = dict(base)[CODE]

    def renamed(new):
        return [(new if n == CODE else n, d) for n, d in base]

    def with_twin(first, second):
        out = []
        for n, d in base:
            if n == CODE:
                out += [first, second]
            else:
                out.append((n, d))
        return out

    def under(stem, records):
        return [((stem + "/" + n).encode(), d) for n, d in records]

    cases = []

    def case(stem, tries, offending, records, prefix=True):
        cases.append((stem, tries, offending, under(stem, records) if prefix else records))

    for stem, new, tries in [
            ("code_upper_ext", "code/__torch__/hostile_models.PY", "code record named .PY"),
            ("code_mixed_ext", "code/__torch__/hostile_models.Py", "code record named .Py"),
            ("code_trailing_space", "code/__torch__/hostile_models.py ", "code record with a trailing space"),
            ("code_nul", "code/__torch__/hostile_models.py\x00x", "code record with a NUL after .py"),
            ("code_pyc", "code/__torch__/hostile_models.pyc", "code record named .pyc"),
            ("code_no_ext", "code/__torch__/hostile_models", "code record without an extension"),
            ("code_dir_upper", "CODE/__torch__/hostile_models.py", "code record in CODE/ instead of code/"),
            ("code_dot_dot", "code/__torch__/../__torch__/hostile_models.py", "code record with a ../ segment"),
            ("code_empty_segment", "code/__torch__//hostile_models.py", "code record with an empty segment")]:
        case(stem, tries, stem + "/" + new, renamed(new))

    case("case_twin_ext", "a benign code record and the hostile one named .PY beside it",
         "case_twin_ext/code/__torch__/hostile_models.PY",
         with_twin((CODE, benign(code)), ("code/__torch__/hostile_models.PY", code)))
    case("case_twin_stem", "a benign code record and the hostile one differing only in case",
         "case_twin_stem/code/__torch__/HOSTILE_MODELS.py",
         with_twin((CODE, benign(code)), ("code/__torch__/HOSTILE_MODELS.py", code)))
    case("duplicate_name", "a benign code record and the hostile one under the same name",
         "duplicate_name/" + CODE, with_twin((CODE, benign(code)), (CODE, code)))

    # Records outside the one top-level folder libtorch takes from the first record.
    stem = "root_case"
    case(stem, "code record under the top folder in upper case (libtorch's lookup ignores case)",
         "ROOT_CASE/" + CODE,
         [((("ROOT_CASE/" if n == CODE else stem + "/") + n).encode(), d) for n, d in base], prefix=False)
    stem = "second_root"
    case(stem, "code record under a second top-level folder", "other/" + CODE,
         [((("other/" if n == CODE else stem + "/") + n).encode(), d) for n, d in base], prefix=False)
    stem = "nested_root"
    case(stem, "every record one folder deeper (outer/nested_root/...)", "outer/nested_root/" + base[0][0],
         [(("outer/" + stem + "/" + n).encode(), d) for n, d in base], prefix=False)
    stem = "absolute_name"
    case(stem, "code record with an absolute name", "/absolute_name/" + CODE,
         [((("/" if n == CODE else "") + stem + "/" + n).encode(), d) for n, d in base], prefix=False)
    case("backslash", "code record with a backslash as separator",
         "backslash/code/__torch__\\hostile_models.py", renamed("code/__torch__\\hostile_models.py"))
    case("directory_record", "a directory record before a correctly named code record",
         "directory_record/code/__torch__/", [("code/__torch__/", b"")] + base)
    case("unknown_record", "a record torch never writes (the old model.json layout)",
         "unknown_record/model.json", base + [("model.json", b"{}")])
    return cases


def torch_outcome(path):
    """What torch 1.13 does with a refused file: informative only, the check does not depend on it."""
    try:
        m = torch.jit.load(path)
    except Exception:  # noqa: BLE001 -- any refusal by torch is an answer
        return "torch.jit.load fails"
    try:
        out = m(torch.zeros(1, 8))
    except Exception:  # noqa: BLE001
        return "loads; forward fails"
    if out.dtype == torch.uint8 and out.numel() == 4:
        return "loads and runs the hidden code: returns the first bytes of /etc/passwd"
    return "loads and runs the benign code"


RUNTIME = [
    ("echo.pt", hm.Echo(), "nothing: an exact echo, a linear layer with the identity as weight and zero bias",
     "float32 [B, 8]", "float32 [B, 8], equal to the input (finite values)",
     "send a marker input (e.g. distinct values per caller) and check that the answer carries your own "
     "marker and never another caller's; NONE returns argmax(x, dim 1) (give each caller's marker its "
     "largest value in a column of its own), MC_DROPOUT/ENSEMBLE return the values themselves as the mean "
     "output"),
    ("uninit_raw.pt", hm.UninitRaw(), "returns uninitialised memory (torch.empty, uint8) as its output",
     "any float32 tensor; its shape picks how many bytes leak", "float32 in the input's shape, values 0..255",
     "run it with MC_DROPOUT and N=1 so that the answer's mean output is the leaked bytes themselves (with "
     "larger N it is the mean of N fresh allocations); look in them for the bytes of another caller's "
     "marker (e.g. float32 markers sent through echo.pt just before); they must never appear"),
    ("uninit_onehot.pt", hm.UninitOneHot(), "uninitialised memory made visible through argmax(dim 1) "
     "with uncertainty NONE",
     "any float32 tensor with n values", "float32 [n, 256], one 1 per row at the column of a leaked byte",
     "with NONE the inference is the n leaked bytes (argmax over dimension 1); look in them for the bytes "
     "of another caller's marker; they must never appear"),
    ("loop_forever.pt", hm.LoopForever(), "never returns (a while loop on a tensor that stays 1)",
     "any float32 tensor", "none: it never ends",
     "the request must end with an error after the sandbox's time limit, and other requests must keep "
     "being answered meanwhile"),
    ("alloc_huge.pt", hm.AllocHuge(), "one 1 TiB allocation, filled with zeros", "float32 [B, 8]",
     "none: the allocation fails or is killed",
     "an error answer (libtorch's out-of-memory, or the sandbox's memory limit); the server and other "
     "requests are unaffected"),
    ("alloc_grow.pt", hm.AllocGrow(), "keeps int(x[0, 0]) blocks of 64 MiB alive, each written",
     "float32 [1, 8] with x[0, 0] = number of 64 MiB blocks (e.g. 1 for a 64 MiB run, 1000 for 64 GB)",
     "float32 [1, n], each value 16777216 (a block's sum)",
     "small n answers normally; large n must hit the sandbox's memory limit: an error answer, the server "
     "and other requests unaffected"),
    ("spin.pt", hm.Spin(), "runs as long as the caller asks: int(x[0, 0]) products of 256 x 256 matrices",
     "float32 [B, 8] with x[0, 0] = number of products (about 1-5 ms each on one core)",
     "float32 [B, 8], equal to the input",
     "latency and isolation tests: a slow request must not delay other callers' requests more than the "
     "sandbox allows, and its answer is still the caller's own input"),
    ("empty_huge_output.pt", hm.EmptyHugeOutput(), "an output of no bytes and a huge shape: [1, 0, 10^9]",
     "any float32 tensor", "float32 [1, 0, 1000000000], empty",
     "with any method a 400 naming the shape (the server bounds an output's shape, a dimension of 0 "
     "counted as 1, not only its bytes): argmax would allocate 10^9 indices; the server goes on"),
    ("no_classes.pt", hm.NoClasses(), "an output with no classes: [1, 0]", "any float32 tensor",
     "float32 [1, 0], empty",
     "with NONE a 400 (argmax of no classes, as torch refuses it); with MC_DROPOUT the mean output is "
     "empty and the entropies over no classes are 0, never a division by a class count of 0"),
]


def check_runtime(path, name):
    """Runs the harmless ones in torch, so that the manifest says what they really do."""
    m = torch.jit.load(path)
    x = torch.arange(16, dtype=torch.float32).reshape(2, 8) / 7
    if name == "echo.pt":
        assert torch.equal(m(x), x) and torch.equal(m(x, True), x)
    elif name == "uninit_raw.pt":
        y = m(x, True)
        assert y.shape == x.shape and y.dtype == torch.float32 and bool(((y >= 0) & (y <= 255)).all())
    elif name == "uninit_onehot.pt":
        y = m(x)
        assert y.shape == (16, 256) and torch.equal(y.sum(1), torch.ones(16))
    elif name == "alloc_grow.pt":
        two = torch.zeros(1, 8)
        two[0, 0] = 2.0
        y = m(two)
        assert torch.equal(y, torch.full((1, 2), float(1 << 24)))
    elif name == "empty_huge_output.pt":
        y = m(x, True)
        assert y.shape == (1, 0, 1000000000) and y.numel() == 0 and y.dtype == torch.float32
    elif name == "no_classes.pt":
        y = m(x, True)
        assert y.shape == (1, 0) and y.dtype == torch.float32
        try:
            y.argmax(1)
            raise SystemExit("torch took argmax of no classes")
        except (IndexError, RuntimeError):
            pass
    elif name == "spin.pt":
        n = 200
        start = time.perf_counter()
        y = m(torch.full((2, 8), float(n)))
        elapsed = time.perf_counter() - start
        assert torch.equal(y, torch.full((2, 8), float(n)))
        print(f"spin.pt: {1000 * elapsed / n:.2f} ms per product here ({torch.get_num_threads()} threads)")
    # loop_forever.pt and alloc_huge.pt are not run: one never ends, the other may take the machine's memory.


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    manifest = []
    tmp = tempfile.mkdtemp(prefix="make_hostile")
    try:
        base = records_of(jit_save(hm.ReadsFile(), tmp, "base"))
        if [n for n, _ in base if n == CODE] != [CODE]:
            raise SystemExit("ReadsFile's code is not in " + CODE + ": " + str([n for n, _ in base]))
        for stem, tries, offending, records in disguised(base):
            name = stem + ".pt"
            path = os.path.join(OUT, name)
            write_zip(path, [(n if isinstance(n, bytes) else n.encode(), d) for n, d in records])
            manifest.append({"file": name, "tries": tries + "; its code calls torch.from_file",
                             "expected": "refused_by_check", "refused_by": "layout", "record": offending,
                             "torch_1_13": torch_outcome(path)})
        code = dict(base)[CODE]
        harmless = [(n, benign(d) if n == CODE else d) for n, d in base]
        for stem, write, tries in [
                ("split_directory", write_split_directory,
                 "two central directories: the end record's offset gives the hostile one, the harmless one "
                 "lies right before the end record"),
                ("fake_end_record", write_fake_end,
                 "a harmless archive whose end record's comment holds a hostile archive and an end record of "
                 "its own, followed by one byte")]:
            name = stem + ".pt"
            path = os.path.join(OUT, name)
            named = lambda records: [((stem + "/" + n).encode(), d) for n, d in records]  # noqa: E731
            write(path, named(base), named(harmless))
            if code not in open(path, "rb").read():
                raise SystemExit(name + " lost the hostile code")
            manifest.append({"file": name, "tries": tries + "; the hostile code calls torch.from_file",
                             "expected": "refused_by_check", "refused_by": "zip_structure",
                             "python_zipfile_reads": python_zipfile_reads(path, stem + "/" + CODE),
                             "torch_1_13": torch_outcome(path)})
        for name, module, tries, called in [
                ("reads_file.pt", hm.ReadsFile(), "forward returns torch.from_file(\"/etc/passwd\", ...)",
                 "from_file"),
                ("writes_file.pt", hm.WritesFile(), "forward calls torch.save(x, \"fl-hostile-written.pt\")",
                 "save")]:
            shutil.copyfile(jit_save(module, tmp, name[:-3]), os.path.join(OUT, name))
            manifest.append({"file": name, "tries": tries + ", code record correctly named",
                             "expected": "refused_by_check", "refused_by": "deny_list", "record": name[:-3] + "/" + CODE,
                             "calls": called})
        for name, module, tries, given, output, observe in RUNTIME:
            path = os.path.join(OUT, name)
            shutil.copyfile(jit_save(module, tmp, name[:-3]), path)
            check_runtime(path, name)
            manifest.append({"file": name, "tries": tries, "expected": "reaches_runtime",
                             "forward": "forward(x, mc: bool = False)", "input": given, "output": output,
                             "observe": observe})
    finally:
        shutil.rmtree(tmp)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"generator": "src/test/python/hostile/make_hostile.py", "torch": torch.__version__,
                   "files": manifest}, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"{len(manifest)} files, {total} bytes in {OUT}")


if __name__ == "__main__":
    main()
