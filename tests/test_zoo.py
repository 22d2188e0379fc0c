"""Zoo networks: exact parameter counts and MACs within 1 % of published figures."""

import pytest

from memsim.workloads import build, list_networks

# name, exact params, published GMACs, source
REFERENCE = [
    # torchvision weights metadata (`num_params`, `_ops` in GMACs, "GFLOPS" in the docs table)
    ("alexnet", 61_100_840, 0.714, "torchvision AlexNet_Weights.IMAGENET1K_V1"),
    ("vgg16", 138_357_544, 15.47, "torchvision VGG16_Weights.IMAGENET1K_V1"),
    ("resnet18", 11_689_512, 1.814, "torchvision ResNet18_Weights.IMAGENET1K_V1"),
    ("resnet34", 21_797_672, 3.664, "torchvision ResNet34_Weights.IMAGENET1K_V1"),
    ("resnet50", 25_557_032, 4.089, "torchvision ResNet50_Weights.IMAGENET1K_V1"),
    ("mobilenet_v2", 3_504_872, 0.301, "torchvision MobileNet_V2_Weights.IMAGENET1K_V1"),
    ("efficientnet_b0", 5_288_548, 0.386, "torchvision EfficientNet_B0_Weights.IMAGENET1K_V1"),
    ("vit_b16", 86_567_656, 17.564, "torchvision ViT_B_16_Weights.IMAGENET1K_V1"),
    # Howard et al. 2017 Table 8: 1.0 MobileNet-224 569M mult-adds; params: Keras MobileNet
    # trainable params (4,253,864 total minus 21,888 batch-norm moving statistics)
    ("mobilenet_v1", 4_231_976, 0.569, "MobileNets paper / Keras applications"),
    # MLPerf Tiny VWW (MobileNetV1 0.25, 96x96x3, 2 classes): 7.49 M MACs (Banbury et al. 2021)
    ("person_detect", 213_586, 0.00749, "MLPerf Tiny v0.5 visual wake words"),
    # Ultralytics YOLOv8n: 3,157,200 parameters; fused summary 8.7 GFLOPs (= 2 x MACs, thop)
    ("yolov8n", 3_157_200, 4.35, "Ultralytics yolov8n.yaml model.info()"),
    # bert-base-uncased: 109,482,240 parameters incl. pooler (HF BertModel); MACs: 12 layers x
    # 128 tokens x (4 d^2 + 2 d ffn) + 12 x 2 x 128^2 x d (Devlin et al. 2019 dimensions)
    ("bert_base", 109_482_240, 11.174, "HF bert-base-uncased"),
    # Hugging Face gpt2: 124,439,808 parameters (GPT2Model with tied head)
    ("gpt2", 124_439_808, None, "HF gpt2"),
    # Llama 3.2 1B: 1,235,814,400 (HF model card 1.24B); Llama 2 7B: 6,738,415,616
    ("llama-1b", 1_235_814_400, None, "HF meta-llama/Llama-3.2-1B config"),
    ("llama-7b", 6_738_415_616, None, "HF meta-llama/Llama-2-7b-hf config"),
    # Llama 3.2 3B: 3,212,749,824 (model card 3.21B); Llama 3 8B: 8,030,261,248 (8.03B)
    ("llama-3b", 3_212_749_824, None, "HF meta-llama/Llama-3.2-3B config"),
    ("llama-8b", 8_030_261_248, None, "HF meta-llama/Meta-Llama-3-8B config"),
    # torchvision GoogLeNet_Weights.IMAGENET1K_V1: 6,624,904 params, 1.50 GFLOPS (GMACs)
    ("inception_v1", 6_624_904, 1.498, "torchvision GoogLeNet_Weights.IMAGENET1K_V1"),
    # bert-large-uncased: 335,141,888 parameters incl. pooler (HF BertModel); MACs at 384 tokens:
    # 24 x 384 x (4 d^2 + 2 d ffn) + 24 x 2 x 384^2 x d with d 1024, ffn 4096
    ("bert_large", 335_141_888, 123.213, "HF bert-large-uncased"),
]


@pytest.mark.parametrize("name,params,gmacs,source", REFERENCE)
def test_params_exact_and_macs(name, params, gmacs, source):
    g = build(name)
    g.validate()
    assert g.params == params, source
    if gmacs is not None:
        assert abs(g.macs / 1e9 - gmacs) / gmacs <= 0.01, (g.macs, source)


def test_mobilenet_v1_width_multiplier():
    # Howard et al. 2017 Table 6: 0.25 MobileNet-224 has 41 M mult-adds and 0.47 M parameters
    g = build("mobilenet_v1", alpha=0.25)
    assert round(g.params / 1e6, 2) == 0.47
    assert abs(g.macs / 41e6 - 1) <= 0.01


def test_resnet8_layer_by_layer():
    # MLPerf Tiny IC ResNet-8 reference layers (32x32x3; 16/32/64 filters): convolution and
    # dense MACs by hand, and parameters = weights + biases + batch-norm scale and shift
    macs = (32 * 32 * 16 * 27 + 2 * 32 * 32 * 16 * 144                # stem, stack 1
            + 16 * 16 * 32 * (144 + 288 + 16) + 8 * 8 * 64 * (288 + 576 + 32) + 640)
    weights = (27 * 16 + 2 * 144 * 16 + 144 * 32 + 288 * 32 + 16 * 32 + 288 * 64 + 576 * 64
               + 32 * 64 + 640)
    biases = 16 + 2 * 16 + 3 * 32 + 3 * 64 + 10
    bn = 2 * (16 + 2 * 16 + 2 * 32 + 2 * 64)
    g = build("resnet8")
    assert g.macs == macs == 12_501_632
    assert g.params == weights + biases + bn == 78_186


def test_ds_cnn():
    # MLPerf Tiny KWS reference (keras_model.py ds_cnn): Keras summary 24,908 params of which
    # 1,152 are batch-norm moving statistics -> 23,756 learned. Hello Edge (Zhang et al. 2017,
    # DS-CNN small): 5.4 M operations = 2 x 2.7 M MACs (published to 2 digits).
    g = build("ds_cnn")
    assert g.params == 23_756
    assert round(g.macs / 1e6, 1) == 2.7


def test_llm_macs_closed_form():
    # Kaplan et al. 2020 Table 1: per token, forward MACs = linear weights (N incl. the LM head)
    # + attention 2 * n_layer * n_ctx * d_attn (QK^T and AV)
    g = build("gpt2", seq_len=64)
    d, L, V, T = 768, 12, 50257, 64
    linear = L * (4 * d * d + 2 * d * 4 * d) + V * d
    assert g.macs == T * linear + L * 2 * T * T * d


@pytest.mark.parametrize("preset", ["gpt2", "llama-1b", "llama-7b"])
def test_decode_reads_exact_kv_bytes(preset):
    context = 37
    g = build(preset, phase="decode", context=context, dtype="fp16")
    layers, kvh, dh = g.attrs["layers"], g.attrs["kv_heads"], g.attrs["d_head"]
    state = [t for t in g.tensors.values() if t.kind == "state"]
    assert len(state) == 2 * layers
    read = sum(g.tensors[a.tensor].nbytes for o in g.ops if o.kind == "batch_matmul"
               for a in o.loops.accesses if g.tensors[a.tensor].kind == "state")
    assert read == 2 * layers * 1 * kvh * (context + 1) * dh * 2
    # the step writes one token's K and V per layer, at position `context`
    writes = [o for o in g.ops if o.attrs.get("cache_write")]
    assert len(writes) == 2 * layers
    for o in writes:
        acc = o.loops.accesses[-1]
        assert acc.index[2].offset == context and o.loops.dims["d2"] == 1


def test_batch_and_dtype_scale():
    g1 = build("resnet18", batch=1, dtype="int8")
    g4 = build("resnet18", batch=4, dtype="fp16")
    assert g4.macs == 4 * g1.macs and g4.params == g1.params
    x1 = g1.tensors["image"]
    x4 = g4.tensors["image"]
    assert x4.nbytes == 8 * x1.nbytes


def test_list_networks_has_all():
    names = {r["name"] for r in list_networks()}
    for n, *_ in REFERENCE:
        assert n in names
    assert {"ds_cnn", "llm"} <= names


def test_fold_batchnorm_keeps_macs():
    g = build("resnet50")
    f = g.fold_batchnorm()
    f.validate()
    assert f.macs == g.macs
    assert not any(o.kind == "norm" for o in f.ops)
    # every conv gains a bias of K params and loses the 2K batch-norm params
    n_bn = sum(1 for o in g.ops if o.kind == "norm")
    assert n_bn == 53
    bn_params = sum(o.params for o in g.ops if o.kind == "norm")
    assert f.params == g.params - bn_params // 2


def test_config_knows_exactly_the_zoo_networks():
    """The scenario validator checks names against ``memsim.config.networks.ZOO_NETWORKS``
    (config comes before workloads); it must list exactly the zoo's builders."""
    from memsim.config.networks import ZOO_NETWORKS
    from memsim.workloads.zoo import ZOO

    assert tuple(sorted(ZOO)) == ZOO_NETWORKS
