# The Fashion-MNIST test images preprocessed as a model records it (its nacc.preprocess metadata), as one float32
# .npy [N, 1, 28, 28], and their labels as a JSON array: what ONNX Runtime's side of bench/ort-agreement.sh and
# bench/ort-edits.sh classifies. Run with Debian's python3 (numpy, onnx).
# Usage: python3 bench/fmnist_test_npy.py MODEL.onnx IMAGES.npy LABELS.json [COUNT]
import gzip, json, sys
import numpy as np
import onnx

model = onnx.load(sys.argv[1], load_external_data=False)
count = int(sys.argv[4]) if len(sys.argv) > 4 else None
meta = {p.key: p.value for p in model.metadata_props}
pre = json.loads(meta.get("nacc.preprocess", '{"scale": 0.00392156862745098, "mean": [0.286], "std": [0.353]}'))
root = "/usr/share/datasets/fashion-mnist"
with gzip.open(f"{root}/t10k-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32)
with gzip.open(f"{root}/t10k-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)
x = (images[:count] * pre["scale"] - pre["mean"][0]) / pre["std"][0]
np.save(sys.argv[2], x.astype(np.float32))
json.dump(labels[:count].tolist(), open(sys.argv[3], "w"))
