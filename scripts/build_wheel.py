"""Builds a pure-Python wheel from a source tree with the standard library only (no pip, setuptools or
network): a wheel is a zip of the package's files plus `<dist-info>/METADATA`, `WHEEL` and `RECORD`.
The output is reproducible (sorted entries, fixed timestamps and modes), so a wheel kept in the repo
can be checked against its source.

    python3 scripts/build_wheel.py NAME VERSION OUT_DIR SRC_DIR

Every file under SRC_DIR goes into the wheel at its relative path (SRC_DIR/name/__init__.py ->
name/__init__.py). Prints the wheel's path. Used for the example app's vendored dependency
(`npm run example:wheels`) and by the dependency tests (test/support/wheels.ts).
"""
import base64
import hashlib
import os
import sys
import zipfile

EPOCH = (1980, 1, 1, 0, 0, 0)


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build(name, version, out_dir, src_dir):
    files = {}
    for root, dirs, names in os.walk(src_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for file in names:
            if file.endswith(".pyc") or file.startswith("."):
                continue
            full = os.path.join(root, file)
            with open(full, "rb") as f:
                files[os.path.relpath(full, src_dir).replace(os.sep, "/")] = f.read()
    dist = f"{name}-{version}.dist-info"
    files[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    files[f"{dist}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: kubefaas build_wheel.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    entries = sorted(files.items())
    record = "\n".join([record_line(p, d) for p, d in entries] + [f"{dist}/RECORD,,"]) + "\n"
    entries.append((f"{dist}/RECORD", record.encode()))
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, f"{name}-{version}-py3-none-any.whl")
    # Stored, not deflated: a test that needs a large wheel gets one as large as its files.
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for path, data in entries:
            info = zipfile.ZipInfo(path, EPOCH)
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    print(build(*sys.argv[1:]))
