#!/usr/bin/python3
"""PyTorch's training speed on an ONNX model written by nacc: the peer of `nacc train` in bench/compare-torch-train.sh.

Builds the same network as torch.nn modules from the ONNX file's nodes and initializers, trains it on Fashion-MNIST
with the recipe `nacc train` uses (SGD with Nesterov momentum, weight decay on weights only, label smoothing, random
crop after padding and horizontal flip, the batch built from the raw images every step) and prints one JSON line with
the images per second over all the steps, measured as nacc measures them (from the first step to the last).

Usage: bench/torch_train.py MODEL.onnx [--steps N] [--batch B] [--threads T] [--channels-last]
"""
import argparse
import gzip
import json
import sys
import time

import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F

FASHION_MNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
FASHION_MNIST_LABELS = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"
MEAN, STD = 0.2860, 0.3530  # nacc's Fashion-MNIST preprocessing


def attribute(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


class OnnxNet(torch.nn.Module):
    """The ONNX graph as torch.nn modules: Conv, BatchNormalization, Relu, Clip, Add, MaxPool, AveragePool,
    GlobalAveragePool, Flatten and Gemm, which is what nacc's zoo uses."""

    def __init__(self, model):
        super().__init__()
        graph = model.graph
        weights = {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy()) for i in graph.initializer}
        self.input = graph.input[0].name
        self.output = graph.output[0].name
        self.steps = []
        self.layers = torch.nn.ModuleList()
        for node in graph.node:
            layer = self.make_layer(node, weights)
            if layer is not None:
                self.layers.append(layer)
            data_inputs = [name for name in node.input if name and name not in weights]
            self.steps.append((node.op_type, layer, data_inputs, node.output[0], node))

    @staticmethod
    def make_layer(node, weights):
        if node.op_type == "Conv":
            w = weights[node.input[1]]
            pads = attribute(node, "pads", [0, 0, 0, 0])
            conv = torch.nn.Conv2d(w.shape[1] * attribute(node, "group", 1), w.shape[0], tuple(w.shape[2:]),
                                   stride=tuple(attribute(node, "strides", [1, 1])), padding=(pads[0], pads[1]),
                                   dilation=tuple(attribute(node, "dilations", [1, 1])),
                                   groups=attribute(node, "group", 1), bias=len(node.input) > 2)
            conv.weight.data.copy_(w)
            if len(node.input) > 2:
                conv.bias.data.copy_(weights[node.input[2]])
            return conv
        if node.op_type == "BatchNormalization":
            scale = weights[node.input[1]]
            bn = torch.nn.BatchNorm2d(scale.shape[0], eps=attribute(node, "epsilon", 1e-5),
                                      momentum=1 - attribute(node, "momentum", 0.9))
            bn.weight.data.copy_(scale)
            bn.bias.data.copy_(weights[node.input[2]])
            bn.running_mean.copy_(weights[node.input[3]])
            bn.running_var.copy_(weights[node.input[4]])
            return bn
        if node.op_type == "Gemm":
            w = weights[node.input[1]]
            if attribute(node, "transB", 0) != 1:
                w = w.t()
            linear = torch.nn.Linear(w.shape[1], w.shape[0], bias=len(node.input) > 2)
            linear.weight.data.copy_(w)
            if len(node.input) > 2:
                linear.bias.data.copy_(weights[node.input[2]])
            return linear
        if node.op_type in ("Relu", "Add", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Clip"):
            return None
        sys.exit(f"torch_train: expected ops of nacc's zoo, but found {node.op_type} ({node.name})")

    def forward(self, x):
        values = {self.input: x}
        for op, layer, inputs, output, node in self.steps:
            args = [values[name] for name in inputs]
            if layer is not None:
                y = layer(args[0])
            elif op == "Relu":
                y = F.relu(args[0])
            elif op == "Clip":
                y = F.hardtanh(args[0], 0.0, 6.0)
            elif op == "Add":
                y = args[0] + args[1]
            elif op in ("MaxPool", "AveragePool"):
                pads = attribute(node, "pads", [0, 0, 0, 0])
                pool = F.max_pool2d if op == "MaxPool" else F.avg_pool2d
                y = pool(args[0], attribute(node, "kernel_shape", None), attribute(node, "strides", None),
                         (pads[0], pads[1]))
            elif op == "GlobalAveragePool":
                y = F.adaptive_avg_pool2d(args[0], 1)
            else:  # Flatten
                y = torch.flatten(args[0], 1)
            values[output] = y
        return values[self.output]


def read_idx(path, header):
    with gzip.open(path, "rb") as f:
        data = f.read()
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8)


def make_batch(images, labels, order, step, batch, generator, channels_last):
    """Preprocesses a batch as nacc does: scale, normalise, random crop after padding by 2, random flip."""
    index = order[step * batch:(step + 1) * batch]
    x = (images[index].float() / 255.0 - MEAN) / STD
    fill = (0.0 - MEAN) / STD
    padded = F.pad(x, (2, 2, 2, 2), value=fill)
    shifts = torch.randint(0, 5, (batch, 2), generator=generator)
    rows = torch.arange(28).view(1, 28) + shifts[:, 0:1]
    cols = torch.arange(28).view(1, 28) + shifts[:, 1:2]
    flip = torch.rand(batch, generator=generator) < 0.5
    cols = torch.where(flip.view(-1, 1), cols.flip(1), cols)
    x = padded[torch.arange(batch).view(-1, 1, 1, 1), torch.zeros(1, 1, 1, 1, dtype=torch.long),
               rows.view(batch, 1, 28, 1), cols.view(batch, 1, 1, 28)]
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, labels[index]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    net = OnnxNet(onnx.load(args.model))
    if args.channels_last:
        net = net.to(memory_format=torch.channels_last)
    net.train()
    decayed = [p for p in net.parameters() if p.dim() > 1]
    plain = [p for p in net.parameters() if p.dim() <= 1]
    optimizer = torch.optim.SGD([{"params": decayed, "weight_decay": 5e-4}, {"params": plain, "weight_decay": 0}],
                                lr=0.01, momentum=0.9, nesterov=True)

    images = read_idx(FASHION_MNIST, 16).view(-1, 1, 28, 28)
    labels = read_idx(FASHION_MNIST_LABELS, 8).long()
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(images.shape[0], generator=generator)
    if args.steps * args.batch > images.shape[0]:
        sys.exit(f"torch_train: expected --steps x --batch <= {images.shape[0]}, but found {args.steps * args.batch}")

    start = time.perf_counter()
    correct = 0
    for step in range(args.steps):
        x, y = make_batch(images, labels, order, step, args.batch, generator, args.channels_last)
        optimizer.zero_grad()
        logits = net(x)
        loss = F.cross_entropy(logits, y, label_smoothing=0.1)
        loss.backward()
        optimizer.step()
        correct += int((logits.argmax(1) == y).sum())
    seconds = time.perf_counter() - start
    print(json.dumps({"images_per_second": args.steps * args.batch / seconds, "seconds": seconds,
                      "loss": float(loss), "train_top1": correct / (args.steps * args.batch),
                      "channels_last": args.channels_last, "threads": args.threads, "batch": args.batch}))


if __name__ == "__main__":
    main()
