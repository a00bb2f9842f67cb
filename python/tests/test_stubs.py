"""petrel.pyi names what the module has, and every public class and method has a docstring."""
import ast
import inspect
import os

import petrel

PYI = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "petrel.pyi")


def stub_names():
    tree = ast.parse(open(PYI).read())
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)} | {
                n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = set()
    return names


def public(obj):
    return {n for n in dir(obj) if not n.startswith("_")}


def test_stubs_cover_the_module():
    stubs = stub_names()
    module = {n for n in public(petrel) if n not in ("HAS_NIFTI",)}
    missing = sorted(n for n in module if n not in stubs)
    assert not missing, f"not in petrel.pyi: {missing}"
    extra = sorted(n for n in stubs if not hasattr(petrel, n))
    assert not extra, f"in petrel.pyi but not in the module: {extra}"


def test_new_classes_are_stubbed_and_documented():
    stubs = stub_names()
    for name in ("OperatorProjectorDevice", "OperatorProjectorSiddon_GPU", "OperatorProjectorDD_GPU",
                 "ProjectionListDevice", "ProjectionListDeviceOwned", "ProjectionListDeviceAlias",
                 "OSEM"):
        cls = getattr(petrel, name)
        assert cls.__doc__, name
        own = {n for n in vars(cls) if not n.startswith("_")}
        for attr in own:
            assert getattr(cls, attr).__doc__, f"{name}.{attr} has no docstring"
        inherited_stubs = set().union(*(stubs.get(b.__name__, set()) for b in inspect.getmro(cls)))
        missing = sorted(own - inherited_stubs)
        assert not missing, f"{name}: not in petrel.pyi: {missing}"
    assert petrel.createOSEM.__doc__
