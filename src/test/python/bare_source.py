"""Loads a module of TorchScript models compiled under its bare file name.

torch.jit.script and torch.save of a module record where the model's code comes from: the
TorchScript debug records name its source file, the module pickles its module name. Imported from
its place on disk, a module's file name is an absolute path of the machine that generated the
fixtures, and the fixture bytes would differ from checkout to checkout. Compiled from its text
under its bare name (and registered in linecache, where inspect and TorchScript look for the source),
the records say only "<name>.py".
"""
import linecache
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
