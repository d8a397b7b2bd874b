#!/usr/bin/env python3
# Exports torchvision's classification and segmentation networks and small app networks to
# ONNX with random weights, for `netc import` tests (tools/torch_zoo.mjs, test/tooling/import_zoo.test.ts).
#
#   python3 tools/torch_zoo.py OUTDIR NAME[@SIZE][:OPSET] ...     (or `--list` for the names)
#
# Each model is written as OUTDIR/KEY.onnx with KEY.json (params, input and output names and
# shapes, the PyTorch float64 run's output file) and KEY.in.f32 / KEY.out<i>.f32 (a seeded
# random input and PyTorch's float64 outputs rounded to float32), KEY = NAME_SIZE_oOPSET.
# Weights are torchvision's random initialization (no download); gamma and beta are random and
# batch-norm statistics are the ones a few random batches give in training mode (`realistic`),
# so the statistics are realistic, an epsilon mix-up shows, and the network is well conditioned.
# Export: batch 1 fixed, eval mode, do_constant_folding=True.
import json
import math
import os
import sys
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from torchvision.models.convnext import CNBlockConfig  # noqa: E402

tv = torchvision.models
seg = torchvision.models.segmentation

# ------------------------------------------------------------------------------- app networks


class UNet(nn.Module):
    """A small U-Net: two levels down (max pooling), transposed convolutions up, skip concats."""

    def __init__(self, c=8, classes=2):
        super().__init__()

        def block(i, o):
            return nn.Sequential(
                nn.Conv2d(i, o, 3, padding=1),
                nn.BatchNorm2d(o),
                nn.ReLU(inplace=True),
                nn.Conv2d(o, o, 3, padding=1),
                nn.BatchNorm2d(o),
                nn.ReLU(inplace=True),
            )

        self.d1 = block(3, c)
        self.d2 = block(c, 2 * c)
        self.mid = block(2 * c, 4 * c)
        self.u2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
        self.c2 = block(4 * c, 2 * c)
        self.u1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.c1 = block(2 * c, c)
        self.head = nn.Conv2d(c, classes, 1)

    def forward(self, x):
        a = self.d1(x)
        b = self.d2(F.max_pool2d(a, 2))
        m = self.mid(F.max_pool2d(b, 2))
        b = self.c2(torch.cat([self.u2(m), b], 1))
        a = self.c1(torch.cat([self.u1(b), a], 1))
        return self.head(a)


class ESPCN(nn.Module):
    """ESPCN super-resolution: convolutions with tanh, then PixelShuffle (DepthToSpace, CRD)."""

    def __init__(self, scale=3, channels=1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 64, 5, padding=2),
            nn.Tanh(),
            nn.Conv2d(64, 32, 3, padding=1),
            nn.Tanh(),
            nn.Conv2d(32, channels * scale * scale, 3, padding=1),
        )
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x):
        return torch.sigmoid(self.shuffle(self.body(x)))


class StyleTransfer(nn.Module):
    """Johnson et al.'s fast style transfer: reflection padding, InstanceNorm, residual blocks,
    nearest upsampling by interpolate, at reduced width."""

    def __init__(self, c=16):
        super().__init__()

        def conv(i, o, k, s=1, up=False, norm=True, relu=True):
            layers = []
            if up:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            layers += [nn.ReflectionPad2d(k // 2), nn.Conv2d(i, o, k, stride=s)]
            if norm:
                layers.append(nn.InstanceNorm2d(o, affine=True))
            if relu:
                layers.append(nn.ReLU())
            return nn.Sequential(*layers)

        self.down = nn.Sequential(conv(3, c, 9), conv(c, 2 * c, 3, 2), conv(2 * c, 4 * c, 3, 2))
        self.res = nn.ModuleList(
            [
                nn.Sequential(conv(4 * c, 4 * c, 3), conv(4 * c, 4 * c, 3, relu=False))
                for _ in range(2)
            ]
        )
        self.up = nn.Sequential(
            conv(4 * c, 2 * c, 3, up=True),
            conv(2 * c, c, 3, up=True),
            conv(c, 3, 9, norm=False, relu=False),
        )

    def forward(self, x):
        x = self.down(x)
        for r in self.res:
            x = x + r(x)
        return self.up(x)


class TinyYolo(nn.Module):
    """Tiny-YOLOv3-like: conv + BN + LeakyReLU(0.1), max pooling (one of stride 1 after a
    ZeroPad2d), a route concat after nearest upsampling, two detection heads (two outputs)."""

    def __init__(self, c=8, anchors=3, classes=4):
        super().__init__()

        def cbl(i, o, k=3):
            return nn.Sequential(
                nn.Conv2d(i, o, k, padding=k // 2, bias=False),
                nn.BatchNorm2d(o),
                nn.LeakyReLU(0.1),
            )

        self.s1 = nn.Sequential(
            cbl(3, c), nn.MaxPool2d(2, 2), cbl(c, 2 * c), nn.MaxPool2d(2, 2), cbl(2 * c, 4 * c)
        )
        self.s2 = nn.Sequential(
            nn.MaxPool2d(2, 2),
            cbl(4 * c, 8 * c),
            nn.ZeroPad2d((0, 1, 0, 1)),
            nn.MaxPool2d(2, 1),
            cbl(8 * c, 16 * c),
            cbl(16 * c, 4 * c, 1),
        )
        out = anchors * (5 + classes)
        self.head1 = nn.Sequential(cbl(4 * c, 8 * c), nn.Conv2d(8 * c, out, 1))
        self.lat = cbl(4 * c, 2 * c, 1)
        self.head2 = nn.Sequential(cbl(6 * c, 4 * c), nn.Conv2d(4 * c, out, 1))

    def forward(self, x):
        a = self.s1(x)
        b = self.s2(a)
        y1 = self.head1(b)
        up = F.interpolate(self.lat(b), scale_factor=2, mode="nearest")
        y2 = self.head2(torch.cat([up, a], 1))
        return y1, y2


class SEBlock(nn.Module):
    """Squeeze-and-excitation as SENet writes it: mean, Linear, view(b, c, 1, 1), scale."""

    def __init__(self, c, r=4):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(c, c // r), nn.ReLU(inplace=True), nn.Linear(c // r, c), nn.Sigmoid()
        )

    def forward(self, x):
        b, c, _, _ = x.size()
        y = self.fc(x.mean((2, 3))).view(b, c, 1, 1)
        return x * y.expand_as(x)


class SENet(nn.Module):
    """A small SE-ResNet: basic blocks with SE, a strided projection shortcut, GAP, Linear."""

    def __init__(self, c=16, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())

        def body(i, o, s):
            return nn.Sequential(
                nn.Conv2d(i, o, 3, stride=s, padding=1, bias=False),
                nn.BatchNorm2d(o),
                nn.ReLU(),
                nn.Conv2d(o, o, 3, padding=1, bias=False),
                nn.BatchNorm2d(o),
                SEBlock(o),
            )

        self.b1 = body(c, c, 1)
        self.b2 = body(c, 2 * c, 2)
        self.proj = nn.Sequential(nn.Conv2d(c, 2 * c, 1, stride=2, bias=False), nn.BatchNorm2d(2 * c))
        self.fc = nn.Linear(2 * c, classes)

    def forward(self, x):
        x = self.stem(x)
        x = F.relu(x + self.b1(x))
        x = F.relu(self.proj(x) + self.b2(x))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(x.view(x.size(0), -1))


class PReLUNet(nn.Module):
    """PReLU per channel and shared, ReLU6, Hardswish, a residual, GAP and softmax."""

    def __init__(self, c=12, classes=5):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.PReLU(c))
        self.b = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, groups=c), nn.PReLU())
        self.c = nn.Sequential(nn.Conv2d(c, 2 * c, 1), nn.Hardswish(), nn.Conv2d(2 * c, c, 1), nn.ReLU6())
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = self.a(x)
        x = x + self.b(x)
        x = self.c(x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return torch.softmax(self.fc(x), dim=1)


class SegOut(nn.Module):
    """A segmentation model's `out` tensor (they return a dict)."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)["out"]


def segm(fn, **kw):
    return lambda: SegOut(fn(weights=None, weights_backbone=None, num_classes=21, aux_loss=False, **kw))


def cls(fn, **kw):
    return lambda: fn(weights=None, **kw)


# name: (constructor, default input size [C, H, W], what it is)
MODELS = {
    # torchvision classification
    "alexnet": (cls(tv.alexnet), [3, 224, 224]),
    "vgg11": (cls(tv.vgg11), [3, 224, 224]),
    "vgg11_bn": (cls(tv.vgg11_bn), [3, 224, 224]),
    "resnet18": (cls(tv.resnet18), [3, 224, 224]),
    "resnet50": (cls(tv.resnet50), [3, 224, 224]),
    "resnext50_32x4d": (cls(tv.resnext50_32x4d), [3, 224, 224]),
    "wide_resnet50_2": (cls(tv.wide_resnet50_2), [3, 224, 224]),
    "densenet121": (cls(tv.densenet121), [3, 224, 224]),
    "squeezenet1_0": (cls(tv.squeezenet1_0), [3, 224, 224]),
    "squeezenet1_1": (cls(tv.squeezenet1_1), [3, 224, 224]),
    "mobilenet_v2": (cls(tv.mobilenet_v2), [3, 224, 224]),
    "mobilenet_v3_small": (cls(tv.mobilenet_v3_small), [3, 224, 224]),
    "mobilenet_v3_large": (cls(tv.mobilenet_v3_large), [3, 224, 224]),
    "mnasnet0_5": (cls(tv.mnasnet0_5), [3, 224, 224]),
    "mnasnet1_0": (cls(tv.mnasnet1_0), [3, 224, 224]),
    "efficientnet_b0": (cls(tv.efficientnet_b0), [3, 224, 224]),
    "efficientnet_v2_s": (cls(tv.efficientnet_v2_s), [3, 224, 224]),
    "regnet_x_400mf": (cls(tv.regnet_x_400mf), [3, 224, 224]),
    "regnet_y_400mf": (cls(tv.regnet_y_400mf), [3, 224, 224]),
    "shufflenet_v2_x0_5": (cls(tv.shufflenet_v2_x0_5), [3, 224, 224]),
    "shufflenet_v2_x1_0": (cls(tv.shufflenet_v2_x1_0), [3, 224, 224]),
    "googlenet": (cls(tv.googlenet, aux_logits=False, init_weights=True), [3, 224, 224]),
    "inception_v3": (cls(tv.inception_v3, aux_logits=False, init_weights=True), [3, 299, 299]),
    "convnext_tiny": (cls(tv.convnext_tiny), [3, 224, 224]),
    # ConvNeXt's layer kinds at a tenth of the width and depth (for the tests)
    "convnext_mini": (
        lambda: torchvision.models.convnext.ConvNeXt(
            [CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)], num_classes=10
        ),
        [3, 32, 32],
    ),
    "vit_b_16": (cls(tv.vit_b_16), [3, 224, 224]),
    "swin_t": (cls(tv.swin_t), [3, 224, 224]),
    # torchvision segmentation
    "fcn_resnet50": (segm(seg.fcn_resnet50), [3, 224, 224]),
    "deeplabv3_resnet50": (segm(seg.deeplabv3_resnet50), [3, 224, 224]),
    "deeplabv3_mobilenet_v3_large": (segm(seg.deeplabv3_mobilenet_v3_large), [3, 224, 224]),
    "lraspp_mobilenet_v3_large": (segm(seg.lraspp_mobilenet_v3_large), [3, 224, 224]),
    # app networks
    "unet": (lambda: UNet(), [3, 64, 64]),
    "espcn": (lambda: ESPCN(), [1, 32, 32]),
    "style_transfer": (lambda: StyleTransfer(), [3, 64, 64]),
    "tiny_yolo": (lambda: TinyYolo(), [3, 64, 64]),
    "se_resnet": (lambda: SENet(), [3, 32, 32]),
    "prelu_net": (lambda: PReLUNet(), [3, 24, 24]),
}


def realistic(model, shape, seed):
    """Random gamma and beta, then batch-norm statistics from random batches, so the statistics
    are realistic (an epsilon mix-up shows) and the network is well conditioned.

    The statistics are gathered after gamma and beta are set, with only the batch norms in
    training mode (dropout and stochastic depth stay off), so every batch norm sees in eval
    mode the distribution it was calibrated on and activations stay O(1) at any depth
    (perturbing gamma and beta after calibrating grew inception_v3's activations to ~7000).
    beta / gamma is about N(1, 0.5), so most of a ReLU's inputs are positive: a batch norm
    followed by a ReLU with beta = 0 multiplies relative perturbations by about 1.2 (it
    removes the mean the ReLU adds), which over inception_v3's depth made float32 itself
    1e-4 off float64; at beta / gamma ~ 1 the gain is about 1, and float32 stays within ~1e-5
    of float64 on every zoo model (PyTorch's own float32 run). Squeeze-and-excitation gates
    then see inputs of standard deviation ~1.5, so their sigmoids spread over (0, 1)."""
    g = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in bns:
            if m.weight is not None:
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(m.weight * (1 + 0.5 * torch.randn(m.bias.shape, generator=g)))
        # Everything else with a default of exactly 1 or 0 (InstanceNorm's affine, layer
        # scales, LayerNorm) gets random values, so a weight that is dropped shows.
        for name, p in model.named_parameters():
            if p.dim() <= 3 and "bn" not in name and not any(p is m.weight or p is m.bias for m in bns):
                if torch.all(p == p.flatten()[0]):
                    p.copy_(p + 0.5 * torch.rand(p.shape, generator=g))
        # A Linear layer that amplifies (std * sqrt(fan_in) > 2: only inception_v3's head, whose
        # init draws std 0.1 over 2048 inputs, a gain of 4.5) is scaled to a gain of 1, so the
        # logits are O(1) rather than sums of 2048 terms of O(0.1) that cancel: with gain 4.5,
        # PyTorch's own float32 run was 1e-4 off float64 at 96x96.
        for m in model.modules():
            if isinstance(m, nn.Linear):
                gain = m.weight.std().item() * math.sqrt(m.in_features)
                if gain > 2:
                    m.weight.mul_(1 / gain)
    model.eval()
    if bns:
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average
            m.train()
        # Enough examples that the last stages see a spread: about 16 images' worth of 64x64
        # pixels, and at least 2 (inception_v3 at 96 reaches 1x1 maps; from batches of 2 its
        # statistics left activations ~150 and float32 5e-4 off float64).
        batch = max(2, math.ceil(16 * 64 * 64 / (shape[1] * shape[2])))
        with torch.no_grad():
            for _ in range(2):
                model(torch.randn([batch, *shape], generator=g))
        # A batch norm of globally pooled features (deeplabv3's image-pooling branch) sees
        # almost no spread between noise images, whose pooled features are nearly equal: its
        # variance came out ~1e-6 of the features' mean square at 224, so it subtracted two
        # nearly equal numbers and multiplied float32's rounding by ~1000 (PyTorch's own
        # float32 run was 1.1e-4 off float64). Photos differ far more; the variance is floored
        # at 1/255 of the mean square (|x| / std <= 16; deeplabv3_resnet50's other batch norms
        # stay below about 11 and are unchanged).
        for m in bns:
            floor = (m.running_mean.square() + m.running_var) / 256
            m.running_var.copy_(torch.maximum(m.running_var, floor))
        model.eval()


def export(outdir, spec):
    name, _, rest = spec.partition("@")
    size, _, opset = rest.partition(":")
    if ":" in name:
        name, _, opset = name.partition(":")
    make, shape = MODELS[name]
    if size:
        shape = [shape[0], int(size), int(size)]
    opset = int(opset) if opset else 13
    key = f"{name}_{shape[1]}_o{opset}"
    path = os.path.join(outdir, key)
    if os.path.exists(path + ".json"):
        return key
    torch.manual_seed(0)
    model = make()
    realistic(model, shape, 0)
    x = torch.randn([1, *shape], generator=torch.Generator().manual_seed(7))
    info = {
        "name": name,
        "key": key,
        "opset": opset,
        "params": sum(p.numel() for p in model.parameters()),
        "input": list(shape),
    }
    try:
        # Not under no_grad: in eval mode without gradients, nn.MultiheadAttention takes a fused
        # fast path (aten::_native_multi_head_attention) that has no ONNX export.
        torch.onnx.export(
            model,
            (x,),
            path + ".onnx",
            opset_version=opset,
            do_constant_folding=True,
            input_names=["input"],
        )
    except Exception as e:  # noqa: BLE001 (reported, not hidden)
        info["error"] = f"PyTorch's ONNX export failed: {type(e).__name__}: {str(e).splitlines()[0]}"
        with open(path + ".json", "w") as f:
            json.dump(info, f)
        return key
    with torch.no_grad():
        y = model.double()(x.double())
    ys = list(y) if isinstance(y, (tuple, list)) else [y]
    x.numpy().astype("<f4").tofile(path + ".in.f32")
    info["outputs"] = []
    for i, t in enumerate(ys):
        t.float().numpy().astype("<f4").tofile(f"{path}.out{i}.f32")
        info["outputs"].append(list(t.shape))
    with open(path + ".json", "w") as f:
        json.dump(info, f)
    return key


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(MODELS))
        return
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    for spec in sys.argv[2:]:
        print(export(outdir, spec), flush=True)


if __name__ == "__main__":
    main()
