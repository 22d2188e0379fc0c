"""Convolutional networks of the zoo, built from their published architecture parameters.

Layer structure follows the reference definitions named in each docstring (torchvision for the
ImageNet CNNs, Keras / MLPerf Tiny for the microcontroller models); no code is copied, only the
architecture hyper-parameters. Dropout is an identity at inference and is not an op.
"""

from __future__ import annotations

from memsim.workloads.builder import GraphBuilder
from memsim.workloads.ir import Graph


def _image(b: GraphBuilder, channels: int, resolution: int) -> str:
    return b.input("image", (b.batch, channels, resolution, resolution))


def _classifier(b: GraphBuilder, x: str, classes: int, name: str = "fc") -> str:
    x = b.global_pool(x, name="avgpool")
    x = b.flatten(x, name="flatten")
    return b.linear(x, classes, name=name)


def alexnet(batch=1, dtype="int8", resolution=224, classes=1000) -> Graph:
    """torchvision ``alexnet`` (features, adaptive 6x6 pool omitted as identity at 224, classifier)."""
    b = GraphBuilder("alexnet", dtype, batch)
    x = _image(b, 3, resolution)
    for i, (k, kern, s, p, pool) in enumerate(
            [(64, 11, 4, 2, True), (192, 5, 1, 2, True), (384, 3, 1, 1, False),
             (256, 3, 1, 1, False), (256, 3, 1, 1, True)]):
        x = b.conv(x, k, kern, s, p, bias=True, name=f"features.conv{i}")
        x = b.act(x, "relu", name=f"features.relu{i}")
        if pool:
            x = b.pool(x, "max", 3, 2, name=f"features.pool{i}")
    x = b.flatten(x, name="flatten")
    for i, n in enumerate([4096, 4096]):
        x = b.act(b.linear(x, n, name=f"classifier.fc{i}"), "relu", name=f"classifier.relu{i}")
    return b.finish([b.linear(x, classes, name="classifier.fc2")])


def vgg16(batch=1, dtype="int8", resolution=224, classes=1000) -> Graph:
    """torchvision ``vgg16`` (configuration D, no batch norm; adaptive 7x7 pool identity at 224)."""
    b = GraphBuilder("vgg16", dtype, batch)
    x = _image(b, 3, resolution)
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    i = 0
    for v in cfg:
        if v == "M":
            x = b.pool(x, "max", 2, 2, name=f"features.pool{i}")
        else:
            x = b.act(b.conv(x, v, 3, 1, 1, bias=True, name=f"features.conv{i}"), "relu",
                      name=f"features.relu{i}")
        i += 1
    x = b.flatten(x, name="flatten")
    for j in range(2):
        x = b.act(b.linear(x, 4096, name=f"classifier.fc{j}"), "relu", name=f"classifier.relu{j}")
    return b.finish([b.linear(x, classes, name="classifier.fc2")])


def _cbr(b, x, k, kern, s, name, act="relu", groups=1, pad=None):
    x = b.conv(x, k, kern, s, pad, groups=groups, name=f"{name}.conv")
    x = b.batchnorm(x, name=f"{name}.bn")
    return b.act(x, act, name=f"{name}.{act}") if act else x


def _resnet(name, block, layers, batch, dtype, resolution, classes) -> Graph:
    """torchvision ResNet (v1.5: stride on the 3x3 conv of bottlenecks)."""
    b = GraphBuilder(name, dtype, batch)
    x = _image(b, 3, resolution)
    x = _cbr(b, x, 64, 7, 2, "stem")
    x = b.pool(x, "max", 3, 2, 1, name="maxpool")
    inplanes = 64
    expansion = 4 if block == "bottleneck" else 1
    for li, (planes, n) in enumerate(zip([64, 128, 256, 512], layers)):
        for bi in range(n):
            stride = 2 if (bi == 0 and li > 0) else 1
            pre = f"layer{li + 1}.{bi}"
            idn = x
            if block == "basic":
                y = _cbr(b, x, planes, 3, stride, f"{pre}.1")
                y = _cbr(b, y, planes, 3, 1, f"{pre}.2", act=None)
            else:
                y = _cbr(b, x, planes, 1, 1, f"{pre}.1")
                y = _cbr(b, y, planes, 3, stride, f"{pre}.2")
                y = _cbr(b, y, planes * 4, 1, 1, f"{pre}.3", act=None)
            if stride != 1 or inplanes != planes * expansion:
                idn = _cbr(b, x, planes * expansion, 1, stride, f"{pre}.downsample", act=None)
            x = b.act(b.add(y, idn, name=f"{pre}.add"), "relu", name=f"{pre}.relu")
            inplanes = planes * expansion
    return b.finish([_classifier(b, x, classes)])


def resnet18(batch=1, dtype="int8", resolution=224, classes=1000) -> Graph:
    """torchvision ``resnet18``."""
    return _resnet("resnet18", "basic", [2, 2, 2, 2], batch, dtype, resolution, classes)


def resnet34(batch=1, dtype="int8", resolution=224, classes=1000) -> Graph:
    """torchvision ``resnet34``."""
    return _resnet("resnet34", "basic", [3, 4, 6, 3], batch, dtype, resolution, classes)


def resnet50(batch=1, dtype="int8", resolution=224, classes=1000) -> Graph:
    """torchvision ``resnet50`` (v1.5)."""
    return _resnet("resnet50", "bottleneck", [3, 4, 6, 3], batch, dtype, resolution, classes)


def _make_divisible(v: float, divisor: int = 8) -> int:
    # torchvision/_utils._make_divisible (from the TF MobileNet reference): round to a multiple of
    # the divisor, never more than 10 % below v.
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def mobilenet_v2(batch=1, dtype="int8", resolution=224, classes=1000) -> Graph:
    """torchvision ``mobilenet_v2`` (width 1.0)."""
    b = GraphBuilder("mobilenet_v2", dtype, batch)
    x = _image(b, 3, resolution)
    x = _cbr(b, x, 32, 3, 2, "features.0", "relu6")
    inp, i = 32, 1
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for j in range(n):
            stride = s if j == 0 else 1
            pre = f"features.{i}"
            hidden = inp * t
            y = x
            if t != 1:
                y = _cbr(b, y, hidden, 1, 1, f"{pre}.expand", "relu6")
            y = _cbr(b, y, hidden, 3, stride, f"{pre}.dw", "relu6", groups=hidden)
            y = _cbr(b, y, c, 1, 1, f"{pre}.project", None)
            x = b.add(x, y, name=f"{pre}.add") if stride == 1 and inp == c else y
            inp, i = c, i + 1
    x = _cbr(b, x, 1280, 1, 1, "features.18", "relu6")
    return b.finish([_classifier(b, x, classes, "classifier")])


def _mobilenet_v1(name, batch, dtype, resolution, classes, alpha, channels=3) -> Graph:
    """Keras ``applications.MobileNet`` (Howard et al. 2017, Table 1): TensorFlow 'same'
    padding, convolutions without bias followed by batch norm and ReLU6, 1x1 conv classifier with
    bias after global average pooling."""
    b = GraphBuilder(name, dtype, batch)
    x = _image(b, channels, resolution)

    def ch(c):
        return int(c * alpha)

    x = _cbr(b, x, ch(32), 3, 2, "conv1", "relu6", pad="same")
    for i, (c, s) in enumerate([(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                                (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2),
                                (1024, 1)], start=1):
        cin = b.shape(x)[1]
        x = _cbr(b, x, cin, 3, s, f"conv_dw_{i}", "relu6", groups=cin, pad="same")
        x = _cbr(b, x, ch(c), 1, 1, f"conv_pw_{i}", "relu6")
    x = b.global_pool(x, name="avgpool")
    x = b.conv(x, classes, 1, bias=True, name="conv_preds")
    x = b.flatten(x, name="flatten")
    return b.finish([b.softmax(x, name="softmax")])


def mobilenet_v1(batch=1, dtype="int8", resolution=224, classes=1000, alpha=1.0) -> Graph:
    """MobileNetV1 as Keras ``applications.MobileNet``: width multiplier ``alpha`` (1.0, 0.75,
    0.5, 0.25 are the published variants), 1.0-224 by default."""
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1] (got {alpha})")
    return _mobilenet_v1("mobilenet_v1", batch, dtype, resolution, classes, alpha)


def person_detect(batch=1, dtype="int8", resolution=96, classes=2) -> Graph:
    """MCU person detector: MobileNetV1 alpha 0.25 at 96x96x3, 2 classes (MLPerf Tiny visual
    wake words reference, Banbury et al. 2021)."""
    return _mobilenet_v1("person_detect", batch, dtype, resolution, classes, 0.25)


def ds_cnn(batch=1, dtype="int8", classes=12) -> Graph:
    """MLPerf Tiny keyword spotting DS-CNN (Zhang et al. 2017 'Hello Edge', small): 49x10 MFCC
    input, conv 10x4/2 'same' with 64 filters, 4 depthwise-separable blocks of 64, average pool,
    dense 12; Keras layers keep their biases."""
    b = GraphBuilder("ds_cnn", dtype, batch)
    x = b.input("mfcc", (batch, 1, 49, 10))
    x = b.conv(x, 64, (10, 4), 2, "same", bias=True, name="conv1")
    x = b.act(b.batchnorm(x, name="conv1.bn"), "relu", name="conv1.relu")
    for i in range(1, 5):
        x = b.conv(x, 64, 3, 1, "same", groups=64, bias=True, name=f"dw{i}")
        x = b.act(b.batchnorm(x, name=f"dw{i}.bn"), "relu", name=f"dw{i}.relu")
        x = b.conv(x, 64, 1, 1, "same", bias=True, name=f"pw{i}")
        x = b.act(b.batchnorm(x, name=f"pw{i}.bn"), "relu", name=f"pw{i}.relu")
    x = b.global_pool(x, name="avgpool")
    x = b.flatten(x, name="flatten")
    return b.finish([b.softmax(b.linear(x, classes, name="dense"), name="softmax")])


def efficientnet_b0(batch=1, dtype="int8", resolution=224, classes=1000) -> Graph:
    """torchvision ``efficientnet_b0`` (MBConv with squeeze-excitation, SiLU; stochastic depth
    is an identity at inference)."""
    b = GraphBuilder("efficientnet_b0", dtype, batch)
    x = _image(b, 3, resolution)
    x = _cbr(b, x, 32, 3, 2, "features.0", "silu")
    inp, stage = 32, 1
    for t, k, s, c, n in [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]:
        for j in range(n):
            stride = s if j == 0 else 1
            pre = f"features.{stage}.{j}"
            hidden = _make_divisible(inp * t)
            y = x
            if hidden != inp:
                y = _cbr(b, y, hidden, 1, 1, f"{pre}.expand", "silu")
            y = _cbr(b, y, hidden, k, stride, f"{pre}.dw", "silu", groups=hidden)
            sq = max(1, inp // 4)  # torchvision: squeeze channels = max(1, input_channels // 4)
            z = b.global_pool(y, name=f"{pre}.se.pool")
            z = b.act(b.conv(z, sq, 1, bias=True, name=f"{pre}.se.fc1"), "silu", name=f"{pre}.se.silu")
            z = b.act(b.conv(z, hidden, 1, bias=True, name=f"{pre}.se.fc2"), "sigmoid",
                      name=f"{pre}.se.sigmoid")
            y = b.mul(y, z, name=f"{pre}.se.scale")
            y = _cbr(b, y, c, 1, 1, f"{pre}.project", None)
            x = b.add(x, y, name=f"{pre}.add") if stride == 1 and inp == c else y
            inp = c
        stage += 1
    x = _cbr(b, x, 1280, 1, 1, "features.8", "silu")
    return b.finish([_classifier(b, x, classes, "classifier")])


def _inception(b, x, pre, c1, c3r, c3, c5r, c5, pool_proj):
    """torchvision ``Inception`` block: four branches concatenated on channels; the "5x5" branch
    uses a 3x3 kernel, as torchvision's (and TF-slim's) GoogLeNet do."""
    y1 = _cbr(b, x, c1, 1, 1, f"{pre}.branch1")
    y2 = _cbr(b, _cbr(b, x, c3r, 1, 1, f"{pre}.branch2.0"), c3, 3, 1, f"{pre}.branch2.1")
    y3 = _cbr(b, _cbr(b, x, c5r, 1, 1, f"{pre}.branch3.0"), c5, 3, 1, f"{pre}.branch3.1")
    y4 = b.pool(x, "max", 3, 1, 1, name=f"{pre}.branch4.pool")
    y4 = _cbr(b, y4, pool_proj, 1, 1, f"{pre}.branch4.1")
    return b.concat([y1, y2, y3, y4], axis=1, name=f"{pre}.concat")


# PyTorch ceil_mode=True pooling: the extra window at the end is an extra row/column of padding
# at the bottom/right (the same output size and the same elements read).
_CEIL = (0, 0, 1, 1)


def inception_v1(batch=1, dtype="int8", resolution=224, classes=1000) -> Graph:
    """GoogLeNet / Inception v1 (Szegedy et al. 2015) as torchvision ``googlenet`` without the
    auxiliary heads (inference): BasicConv2d = conv without bias + batch norm + ReLU, max pools
    with ceil mode; the input normalisation (``transform_input``) is preprocessing, not an op."""
    b = GraphBuilder("inception_v1", dtype, batch)
    x = _image(b, 3, resolution)
    x = _cbr(b, x, 64, 7, 2, "conv1")
    x = b.pool(x, "max", 3, 2, _CEIL, name="maxpool1")
    x = _cbr(b, x, 64, 1, 1, "conv2")
    x = _cbr(b, x, 192, 3, 1, "conv3")
    x = b.pool(x, "max", 3, 2, _CEIL, name="maxpool2")
    blocks = {"3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
              "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
              "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
              "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
              "5b": (384, 192, 384, 48, 128, 128)}
    for key, cfg in blocks.items():
        if key == "4a":
            x = b.pool(x, "max", 3, 2, _CEIL, name="maxpool3")
        elif key == "5a":
            x = b.pool(x, "max", 2, 2, _CEIL, name="maxpool4")
        x = _inception(b, x, f"inception{key}", *cfg)
    return b.finish([_classifier(b, x, classes)])


def resnet8(batch=1, dtype="int8", resolution=32, classes=10) -> Graph:
    """MLPerf Tiny image-classification ResNet-8 (Banbury et al. 2021; the EEMBC/Keras reference
    ``resnet_v1_eembc``): 32x32x3 input, conv 3x3 16, three residual stacks of 16/32/64 filters
    (stride 2 and a 1x1 projection shortcut in the last two), average pool, dense 10; Keras
    convolutions keep their biases, batch norm after each."""
    b = GraphBuilder("resnet8", dtype, batch)
    x = _image(b, 3, resolution)

    def cbr(y, k, kern, s, name, act="relu"):
        y = b.batchnorm(b.conv(y, k, kern, s, "same", bias=True, name=f"{name}.conv"),
                        name=f"{name}.bn")
        return b.act(y, act, name=f"{name}.relu") if act else y

    x = cbr(x, 16, 3, 1, "stem")
    for i, (k, s) in enumerate([(16, 1), (32, 2), (64, 2)], start=1):
        y = cbr(cbr(x, k, 3, s, f"stack{i}.1"), k, 3, 1, f"stack{i}.2", act=None)
        if s != 1:
            x = b.conv(x, k, 1, s, "same", bias=True, name=f"stack{i}.shortcut")
        x = b.act(b.add(x, y, name=f"stack{i}.add"), "relu", name=f"stack{i}.relu")
    x = b.global_pool(x, name="avgpool")
    x = b.flatten(x, name="flatten")
    return b.finish([b.softmax(b.linear(x, classes, name="dense"), name="softmax")])
