"""Loads a module of TorchScript models compiled under its bare file name.

torch.jit.script and torch.save of a module record where the model's code comes from: the
TorchScript debug records name its source file, the module pickles its module name. Imported from
its place on disk, a module's file name is an absolute path of the machine that generated the
fixtures, and the fixture bytes would differ from checkout to checkout. Compiled from its text
under its bare name (and registered in linecache, where inspect and TorchScript look for the source),
the records say only "<name>.py".
"""
import linecache
import os
import sys
import types
from pathlib import Path


def load_module(path):
    """The module in the file at path, compiled as "<stem>.py" and registered as sys.modules[stem]."""
    path = Path(path)
    filename = path.name
    source = path.read_text()
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(path.stem)
    module.__file__ = filename
    sys.modules[path.stem] = module
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


# Runs a script file as __main__ compiled under its bare name (argv: path, then the script's own).
_RERUN = ("import linecache, sys, __main__; path = sys.argv[1]; name = path.rsplit('/', 1)[-1]; "
          "source = open(path).read(); linecache.cache[name] = (len(source), None, source.splitlines(True), name); "
          "sys.argv = sys.argv[1:]; __main__.__file__ = name; exec(compile(source, name, 'exec'), __main__.__dict__)")


def rerun_under_bare_name(script):
    """Re-executes the running script (its path in sys.argv[0]) as "python3 -c" with its code compiled
    under its bare name and PYTHONHASHSEED=0, unless that is already so; returns only in the re-run.

    For generators whose TorchScript models are defined in the script itself: Python gives __main__
    an absolute __file__, and traced modules record every frame of the Python stack, so only code
    compiled from text under a bare name keeps the machine's folders out of the archives. TorchScript
    also writes some constants in set order, which depends on string hashing: hence the fixed seed.
    sys.argv[0] stays the script's real path, so the script can find the files beside it.
    """
    if os.environ.get("PYTHONHASHSEED") == "0" and not os.path.isabs(script):
        return
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, "-c", _RERUN, os.path.abspath(sys.argv[0])] + sys.argv[1:])
