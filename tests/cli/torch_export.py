#!/usr/bin/env python3
"""Exports image classifiers the way PyTorch users do, for tests/cli/torch_export_test.cc.

For each model: torchvision's architecture (random weights, BatchNorm statistics measured on random images so that
activations keep their scale), exported by torch.onnx.export with a dynamic batch axis at the opset listed, plus a
batch of 2 random inputs and PyTorch's outputs for them, as .npy files:

    torch_export.py OUT_DIR   ->   OUT_DIR/NAME.onnx, NAME-input.npy, NAME-output.npy, one line "NAME OPSET" per model
"""
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class SmallResNet(nn.Module):
    """A small residual network written as PyTorch users write one: it flattens with x.view(x.size(0), -1)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 14 * 14, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)) + x)
        x = F.max_pool2d(x, 2)
        x = x.view(x.size(0), -1)
        return self.fc(x)


# name, opset, input shape (C, H, W)
MODELS = [
    ("small_resnet_view", 13, (1, 28, 28)),
    ("resnet18", 11, (3, 96, 96)),
    ("mobilenet_v2", 13, (3, 96, 96)),
    ("mobilenet_v3_small", 17, (3, 96, 96)),
    ("efficientnet_b0", 13, (3, 96, 96)),
    ("regnet_x_400mf", 13, (3, 96, 96)),
    ("squeezenet1_1", 12, (3, 96, 96)),
    ("shufflenet_v2_x0_5", 13, (3, 96, 96)),
    ("mnasnet0_5", 15, (3, 96, 96)),
]


def build(name):
    if name == "small_resnet_view":
        return SmallResNet()
    return getattr(torchvision.models, name)(weights=None)


def measure_batchnorm(model, shape):
    """BatchNorm's running statistics as the average over random batches, so that each layer normalises."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(8, *shape))
    model.eval()


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    torch.set_num_threads(2)
    for name, opset, shape in MODELS:
        model = build(name)
        measure_batchnorm(model, shape)
        x = torch.randn(2, *shape)
        with torch.no_grad():
            y = model(x)
        torch.onnx.export(model, x, f"{out}/{name}.onnx", opset_version=opset, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
        np.save(f"{out}/{name}-input.npy", x.numpy())
        np.save(f"{out}/{name}-output.npy", y.numpy())
        print(name, opset, flush=True)


if __name__ == "__main__":
    main()
