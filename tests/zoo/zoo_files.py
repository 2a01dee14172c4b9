"""Where the zoo's exports live, and whether one is up to date; without
torch, so run_zoo.py starts fast when nothing needs exporting."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
# The scripts an export depends on: newer than a model.onnx means re-export.
SCRIPTS = [os.path.join(HERE, "zoo_models.py"), os.path.join(HERE, "..", "e2e", "models.py")]


def model_dir(outdir, name):
    return os.path.join(outdir, name)


def up_to_date(outdir, name):
    """True when OUTDIR/NAME holds a complete export newer than the scripts
    (model.onnx is written last, after meta.json and the .npy files)."""
    d = model_dir(outdir, name)
    onnx_path = os.path.join(d, "model.onnx")
    if not os.path.isfile(onnx_path) or not os.path.isfile(os.path.join(d, "meta.json")):
        return False
    mtime = os.path.getmtime(onnx_path)
    return all(mtime >= os.path.getmtime(s) for s in SCRIPTS)
